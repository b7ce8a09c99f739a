/*
 * ICMP (RFC 792, RFC 1122 section 3.2.2): echo replies, the errors refnet
 * sends, and the errors it receives, handed to the transport that sent the
 * quoted datagram.
 *
 *   rn__net_ip_deliver() -> rn__net_icmp_input() -> echo reply via rn__ip_output()
 *                                          -> the echo-reply observer (ping)
 *                                          -> registered error handler
 *
 * Errors we send are rate limited by a token bucket (1000 a second, bursts
 * of 50), as Linux does, so a flood of bad input cannot make refnet flood
 * back.  Broadcast echo requests are ignored, also as Linux does.
 */
#include <stdlib.h>
#include <string.h>

#include "net/net_priv.h"
#include "refnet/error.h"
#include "wire/bytes.h"
#include "wire/csum.h"
#include "wire/icmp.h"

#define ICMP_RATE_PER_SEC 1000.0
#define ICMP_BURST 50.0

/* Returns the message linearised: in place if it is in one buffer, else
 * copied into a buffer the caller frees (*copy). */
static const uint8_t *icmp_linear(const struct rn_netbuf *nb, uint8_t **copy)
{
    *copy = NULL;
    if (nb->nb_next == NULL)
        return nb->nb_data;
    *copy = malloc(nb->nb_pktlen);
    if (*copy == NULL)
        return NULL;
    rn_nb_linearize(nb, *copy, nb->nb_pktlen);
    return *copy;
}

static void icmp_echo(struct rn_stack *st, const uint8_t *msg, const struct rn_icmp_hdr *ic,
                      const struct rn_ip_rx *rx)
{
    size_t len = RN_ICMP_HLEN + ic->ic_datalen;
    struct rn_netbuf *reply;
    struct rn_ip_out out = {0};
    uint8_t *p;

    (void)msg;
    reply = rn__ip_alloc(st, rn__net_types.nt_own_icmp);
    if (reply == NULL)
        return;
    /* Build the reply in a fresh packet: header, then the echoed data. */
    p = rn_nb_put(reply, RN_ICMP_HLEN);
    if (p == NULL || rn_nb_copyin(reply, RN_ICMP_HLEN, ic->ic_data, ic->ic_datalen) < 0) {
        rn__net_drop(st, rx->rx_iface, reply, RN_DROP_NO_BUFFER);
        return;
    }
    p[0] = RN_ICMP_ECHO_REPLY;
    p[1] = 0;
    rn_put_be16(p + 2, 0);
    rn_put_be32(p + 4, ic->ic_rest);
    rn_put_be16(p + 2, rn_csum_fold(rn_nb_csum(reply, 0, len, 0)));
    out.io_src = rx->rx_dst;
    out.io_dst = rx->rx_src;
    out.io_proto = RN_IPPROTO_ICMP;
    out.io_tos = rx->rx_tos;
    net_st(st)->ns_icmp_out++;
    net_st(st)->ns_icmp_echo_replies++;
    rn__ip_output(st, reply, &out);
}

void rn__net_icmp_input(struct rn_stack *st, struct rn_netbuf *nb, const struct rn_ip_rx *rx)
{
    struct rn_icmp_hdr ic;
    const uint8_t *msg;
    uint8_t *copy;
    enum rn_drop reason;

    net_st(st)->ns_icmp_in++;
    msg = icmp_linear(nb, &copy);
    if (msg == NULL) {
        rn__net_drop(st, rx->rx_iface, nb, RN_DROP_NO_BUFFER);
        return;
    }
    reason = rn__icmp_parse(msg, nb->nb_pktlen, &ic);
    if (reason != RN_DROP_NONE) {
        free(copy);
        rn__net_drop(st, rx->rx_iface, nb, reason);
        return;
    }
    if (ic.ic_type == RN_ICMP_ECHO) {
        if (!rx->rx_bcast)
            icmp_echo(st, msg, &ic, rx);
    } else if (ic.ic_type == RN_ICMP_ECHO_REPLY) {
        net_st(st)->ns_icmp_echo_replies_in++;
        if (net_st(st)->ns_echo_fn != NULL) {
            struct rn_icmp_echo_rx er = {
                .er_src = rx->rx_src,
                .er_dst = rx->rx_dst,
                .er_id = rn_icmp_echo_id(&ic),
                .er_seq = rn_icmp_echo_seq(&ic),
                .er_ttl = rx->rx_ttl,
                .er_data = ic.ic_data,
                .er_datalen = ic.ic_datalen,
                .er_iface = rx->rx_iface,
            };

            net_st(st)->ns_echo_fn(st, &er, net_st(st)->ns_echo_ctx);
        }
    } else if (rn_icmp_is_error(ic.ic_type) && rn__ip_is_local(st, ic.ic_qsrc)) {
        const struct proto_handlers *ph = &net_st(st)->ns_protos[ic.ic_qproto];
        struct rn_ip_err e = {
            .ie_v6 = false,
            .ie_type = ic.ic_type,
            .ie_code = ic.ic_code,
            .ie_mtu = ic.ic_type == RN_ICMP_DEST_UNREACH &&
                              ic.ic_code == RN_ICMP_UNREACH_FRAG_NEEDED
                          ? (ic.ic_rest & 0xffff)
                          : 0,
            .ie_src = rn_inaddr_v4(ic.ic_qsrc),
            .ie_dst = rn_inaddr_v4(ic.ic_qdst),
            .ie_proto = ic.ic_qproto,
            .ie_l4 = ic.ic_ql4,
            .ie_l4len = (uint32_t)ic.ic_ql4len,
        };

        if (ph->ph_err != NULL)
            ph->ph_err(st, &e);
    }
    free(copy);
    rn_nb_free(nb);
}

void rn__net_icmp_local_unreach(struct rn_stack *st, const struct rn_netbuf *nb, uint8_t code)
{
    uint8_t scratch[60 + 8];
    const uint8_t *ip;
    uint32_t ihl, l4len;
    const struct proto_handlers *ph;
    struct rn_ip_err e = {.ie_type = RN_ICMP_DEST_UNREACH, .ie_code = code};

    ip = rn_nb_header(nb, 0, 20, scratch);
    if (ip == NULL || ip[0] >> 4 != 4)
        return;
    ihl = (uint32_t)(ip[0] & 0x0f) * 4;
    if (ihl < 20 || nb->nb_pktlen < ihl)
        return;
    l4len = nb->nb_pktlen - ihl < 8 ? nb->nb_pktlen - ihl : 8;
    ip = rn_nb_header(nb, 0, ihl + l4len, scratch);
    if (ip == NULL)
        return;
    e.ie_proto = ip[9];
    e.ie_src = rn_inaddr_v4(rn_get_be32(ip + 12));
    e.ie_dst = rn_inaddr_v4(rn_get_be32(ip + 16));
    e.ie_l4 = ip + ihl;
    e.ie_l4len = l4len;
    ph = &net_st(st)->ns_protos[e.ie_proto];
    if (ph->ph_err != NULL)
        ph->ph_err(st, &e);
}

int rn_icmp_echo_send(struct rn_stack *st, const struct rn_icmp_echo *req)
{
    struct rn_ip_out out = {.io_dst = req->ie_dst, .io_proto = RN_IPPROTO_ICMP};
    size_t len = RN_ICMP_HLEN + req->ie_len;
    struct rn_netbuf *nb;
    uint8_t *p;

    if (req->ie_len > RN_ICMP_ECHO_DATA_MAX)
        return RN_EMSGSIZE;
    nb = rn__ip_alloc(st, rn__net_types.nt_own_icmp);
    if (nb == NULL)
        return RN_ENOBUFS;
    p = rn_nb_put(nb, RN_ICMP_HLEN);
    if (p == NULL ||
        (req->ie_len > 0 && rn_nb_copyin(nb, RN_ICMP_HLEN, req->ie_data, req->ie_len) < 0)) {
        rn__net_drop(st, NULL, nb, RN_DROP_NO_BUFFER);
        return RN_ENOBUFS;
    }
    p[0] = RN_ICMP_ECHO;
    p[1] = 0;
    rn_put_be16(p + 2, 0);
    rn_put_be16(p + 4, req->ie_id);
    rn_put_be16(p + 6, req->ie_seq);
    rn_put_be16(p + 2, rn_csum_fold(rn_nb_csum(nb, 0, len, 0)));
    net_st(st)->ns_icmp_out++;
    return rn__ip_output(st, nb, &out);
}

int rn_icmp_set_echo_observer(struct rn_stack *st, rn_icmp_echo_fn fn, void *ctx)
{
    if (fn != NULL && net_st(st)->ns_echo_fn != NULL)
        return RN_EBUSY;
    net_st(st)->ns_echo_fn = fn;
    net_st(st)->ns_echo_ctx = fn != NULL ? ctx : NULL;
    return 0;
}

/* Takes a token from the error bucket; false if none is left. */
static bool icmp_rate_ok(struct rn_stack *st)
{
    rn_time_t now = st->st_now;

    if (now > net_st(st)->ns_icmp_refill) {
        net_st(st)->ns_icmp_tokens += (double)(now - net_st(st)->ns_icmp_refill) * ICMP_RATE_PER_SEC / 1e9;
        if (net_st(st)->ns_icmp_tokens > ICMP_BURST)
            net_st(st)->ns_icmp_tokens = ICMP_BURST;
        net_st(st)->ns_icmp_refill = now;
    }
    if (net_st(st)->ns_icmp_tokens < 1.0) {
        net_st(st)->ns_icmp_ratelimited++;
        return false;
    }
    net_st(st)->ns_icmp_tokens -= 1.0;
    return true;
}

void rn__net_icmp_error(struct rn_stack *st, uint8_t type, uint8_t code, uint32_t rest,
                     const uint8_t *orig, size_t orig_len, uint32_t to)
{
    struct rn_ip_out out = {0};
    struct rn_netbuf *nb;
    uint8_t *p;
    size_t n;

    if (!icmp_rate_ok(st))
        return;
    nb = rn__ip_alloc(st, rn__net_types.nt_own_icmp);
    if (nb == NULL)
        return;
    p = rn_nb_put(nb, RN_ICMP_ERR_MAXLEN);
    if (p == NULL) {
        rn__net_drop(st, NULL, nb, RN_DROP_NO_BUFFER);
        return;
    }
    n = rn__icmp_emit_error(p, type, code, rest, orig, orig_len);
    rn_nb_trim(nb, n);
    out.io_dst = to;
    out.io_proto = RN_IPPROTO_ICMP;
    net_st(st)->ns_icmp_out++;
    rn__ip_output(st, nb, &out);
}

void rn__icmp_unreach(struct rn_stack *st, const struct rn_ip_rx *rx, const struct rn_netbuf *nb,
                     uint8_t code)
{
    uint8_t orig[RN_IP4_MAX_HLEN + RN_ICMP_QUOTE_L4];
    size_t n;

    /* RFC 1122 3.2.2: never about broadcasts, non-initial fragments or
     * unspecified sources.  (ICMP errors never reach a transport.) */
    if (rx->rx_bcast || rx->rx_src == 0 || rx->rx_iphlen < RN_IP4_HLEN ||
        (rn_get_be16(rx->rx_iphdr + 6) & 0x1fff) != 0)
        return;
    n = nb->nb_pktlen < RN_ICMP_QUOTE_L4 ? nb->nb_pktlen : RN_ICMP_QUOTE_L4;
    memcpy(orig, rx->rx_iphdr, rx->rx_iphlen);
    rn_nb_copyout(nb, 0, orig + rx->rx_iphlen, n);
    rn__net_icmp_error(st, RN_ICMP_DEST_UNREACH, code, 0, orig, rx->rx_iphlen + n, rx->rx_src);
}
