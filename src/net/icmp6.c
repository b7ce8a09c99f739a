/*
 * ICMPv6 (RFC 4443): echo replies, the errors refnet sends, echo requests
 * for a ping client, and the hand-off of neighbour discovery messages.
 *
 *   rn__net_ip6_input() -> rn__net_icmp6_input() -> echo reply via rn__net_ip6_output()
 *                                              -> the echo-reply observer
 *                                              -> rn__net_nd_input() (NS, NA)
 *                                              -> rd6.c (RA, redirect, too big)
 *                                              -> mld6.c (MLD queries)
 *                                              -> icmp6_err_input() -> the
 *                                                 transport's error handler
 *
 * Errors refnet sends are rate limited by a token bucket of their own (1000
 * a second, bursts of 50, as for ICMP), and never sent about an ICMPv6
 * error, from the unspecified or a multicast source, or to a multicast
 * destination unless RFC 4443 2.4 (e.3) allows it (a parameter problem
 * about an unknown option, code 2).
 *
 * Errors received (unreachable, packet too big, time exceeded, parameter
 * problem) about a datagram we sent go to the transport that sent it,
 * through the handler it registered (rn__ip6_register()), in the record
 * ICMP uses (struct rn_ip_err, ie_v6 set): the wire parser has walked the
 * quoted datagram's extension headers to its upper-layer header, bounded
 * by the quote.  A quote that cannot be walked that far, or holds less
 * than 8 bytes of TCP or UDP (ports and sequence number), is dropped as
 * "bad_icmp6_quote"; an error about a datagram from an address not ours
 * as "icmp6_err_not_ours".  A packet too big first lowers the
 * destination's path MTU (rd6.c), and the transport is told the path MTU
 * that results.
 */
#include <stdlib.h>
#include <string.h>

#include "net/net_priv.h"
#include "refnet/error.h"
#include "wire/bytes.h"
#include "wire/csum.h"
#include "wire/icmpv6.h"

#define ICMP6_RATE_PER_SEC 1000.0
#define ICMP6_BURST 50.0

/* Takes a token from the error bucket; false if none is left. */
static bool icmp6_rate_ok(struct rn_stack *st)
{
    struct net_stack *ns = net_st(st);
    rn_time_t now = st->st_now;

    if (now > ns->ns_icmp6_refill) {
        ns->ns_icmp6_tokens += (double)(now - ns->ns_icmp6_refill) * ICMP6_RATE_PER_SEC / 1e9;
        if (ns->ns_icmp6_tokens > ICMP6_BURST)
            ns->ns_icmp6_tokens = ICMP6_BURST;
        ns->ns_icmp6_refill = now;
    }
    if (ns->ns_icmp6_tokens < 1.0) {
        ns->ns_icmp6_ratelimited++;
        return false;
    }
    ns->ns_icmp6_tokens -= 1.0;
    return true;
}

void rn__net_icmp6_error(struct rn_stack *st, struct rn_iface *ifp, uint8_t type, uint8_t code,
                         uint32_t rest, const uint8_t *orig, size_t orig_len)
{
    struct ip6_out out = {.o6_proto = RN_IPPROTO_ICMPV6, .o6_iface = ifp};
    struct rn_ip6 src, dst;
    struct rn_netbuf *nb;
    uint8_t *p;
    size_t n, cap;

    if (orig_len < RN_IP6_HLEN)
        return;
    memcpy(src.i6_octet, orig + 8, RN_IP6_LEN);
    memcpy(dst.i6_octet, orig + 24, RN_IP6_LEN);
    /* RFC 4443 2.4 (e): not to an unspecified or multicast source, not
     * about a datagram to a group (but for too-big and unknown options). */
    if (rn_ip6_is_any(&src) || rn_ip6_is_multicast(&src))
        return;
    if (rn_ip6_is_multicast(&dst) && type != RN_ICMP6_PACKET_TOO_BIG &&
        !(type == RN_ICMP6_PARAM_PROBLEM && code == RN_ICMP6_PP_OPTION))
        return;
    /* Not about an ICMPv6 error (its type is right after the fixed header
     * when no extension header comes first). */
    if (orig[6] == RN_IPPROTO_ICMPV6 && orig_len > RN_IP6_HLEN &&
        rn_icmp6_is_error(orig[RN_IP6_HLEN]))
        return;
    if (!icmp6_rate_ok(st))
        return;
    out.o6_dst = src;
    /* Answer from the address it was sent to, if it is ours. */
    if (!rn_ip6_is_multicast(&dst) && rn__net_ip6_is_local(st, &dst, false))
        out.o6_src = dst;
    else if (ifp == NULL || !rn__net_ip6_pick_src(ifp, &src, &out.o6_src))
        return;
    nb = rn__ip_alloc(st, rn__net_types.nt_own_icmp);
    if (nb == NULL)
        return;
    cap = RN_ICMP6_ERR_MAXLEN;
    if (ifp != NULL && ifp->if_mtu - RN_IP6_HLEN < cap)
        cap = ifp->if_mtu - RN_IP6_HLEN;
    if (cap > rn_nb_tailroom(nb))
        cap = rn_nb_tailroom(nb);
    p = rn_nb_put(nb, cap);
    if (p == NULL) {
        rn__net_drop(st, ifp, nb, RN_DROP_NO_BUFFER);
        return;
    }
    n = rn__icmp6_emit_error(p, cap, &out.o6_src, &out.o6_dst, type, code, rest, orig, orig_len);
    rn_nb_trim(nb, n);
    net_st(st)->ns_icmp6_out++;
    rn__net_ip6_output(st, nb, &out);
}

static void icmp6_echo(struct rn_stack *st, const struct rn_icmp6_hdr *ic,
                       const struct ip6_rx *rx)
{
    struct ip6_out out = {.o6_proto = RN_IPPROTO_ICMPV6, .o6_iface = rx->r6_iface,
                          .o6_dst = rx->r6_src, .o6_tclass = rx->r6_tclass};
    size_t len = RN_ICMP6_HLEN + ic->ic6_datalen;
    struct rn_netbuf *reply;
    uint8_t *p;

    /* From the address the request went to; for a group, the one the
     * interface would pick. */
    if (!rx->r6_mcast)
        out.o6_src = rx->r6_dst;
    else if (!rn__net_ip6_pick_src(rx->r6_iface, &rx->r6_src, &out.o6_src))
        return;
    reply = rn__ip_alloc(st, rn__net_types.nt_own_icmp);
    if (reply == NULL)
        return;
    p = rn_nb_put(reply, RN_ICMP6_HLEN);
    if (p == NULL || rn_nb_copyin(reply, RN_ICMP6_HLEN, ic->ic6_data, ic->ic6_datalen) < 0) {
        rn__net_drop(st, rx->r6_iface, reply, RN_DROP_NO_BUFFER);
        return;
    }
    p[0] = RN_ICMP6_ECHO_REPLY;
    p[1] = 0;
    rn_put_be16(p + 2, 0);
    rn_put_be32(p + 4, ic->ic6_rest);
    rn_put_be16(p + 2, rn_csum_fold(rn_nb_csum(
                           reply, 0, len,
                           rn_csum_pseudo6(&out.o6_src, &out.o6_dst, RN_IPPROTO_ICMPV6,
                                           (uint32_t)len))));
    net_st(st)->ns_icmp6_out++;
    net_st(st)->ns_icmp6_echo_replies++;
    rn__net_ip6_output(st, reply, &out);
}

int rn__icmp6_err_code(uint8_t type, uint8_t code, bool *hard)
{
    /* Destination unreachable by code (RFC 4443 3.1), as Linux reads it. */
    static const struct {
        int err;
        bool hard;
    } unreach[] = {
        {RN_ENETUNREACH, false},   /* 0 no route to destination */
        {RN_EACCES, true},         /* 1 administratively prohibited */
        {RN_EHOSTUNREACH, false},  /* 2 beyond the scope of the source */
        {RN_EHOSTUNREACH, false},  /* 3 address unreachable */
        {RN_ECONNREFUSED, true},   /* 4 port unreachable */
        {RN_EACCES, true},         /* 5 source address failed policy */
        {RN_EACCES, true},         /* 6 reject route to destination */
    };

    switch (type) {
    case RN_ICMP6_DEST_UNREACH:
        if (code < sizeof(unreach) / sizeof(unreach[0])) {
            *hard = unreach[code].hard;
            return unreach[code].err;
        }
        *hard = true;
        return RN_EPROTO;
    case RN_ICMP6_PACKET_TOO_BIG:
        *hard = false;
        return RN_EMSGSIZE;
    case RN_ICMP6_TIME_EXCEEDED:
        *hard = false;
        return RN_EHOSTUNREACH;
    default:
        *hard = true;
        return RN_EPROTO;
    }
}

/* Hands the error ic, about a datagram we sent, to the transport whose
 * datagram it quotes (ifp: where it came in, NULL if made here).
 * Consumes nothing; a quote it cannot use is counted as a drop. */
static void icmp6_err_deliver(struct rn_stack *st, const struct rn_icmp6_hdr *ic,
                              struct rn_iface *ifp)
{
    struct net_stack *ns = net_st(st);
    struct rn_ip_err e;
    rn_ip_err_fn fn;

    /* The parser stops at what it cannot walk: a header running past the
     * quote, a bad one, a later fragment (RN_IP6_NH_NONE then). */
    if (ic->ic6_qproto == RN_IP6_NH_NONE || rn_ip6_is_ext(ic->ic6_qproto) ||
        ((ic->ic6_qproto == RN_IPPROTO_TCP || ic->ic6_qproto == RN_IPPROTO_UDP) &&
         ic->ic6_ql4len < 8)) {
        rn__stack_count_drop(st, ifp, RN_DROP_BAD_ICMP6_QUOTE);
        return;
    }
    fn = ns->ns_errs6[ic->ic6_qproto];
    if (fn == NULL)
        return;
    e.ie_v6 = true;
    e.ie_type = ic->ic6_type;
    e.ie_code = ic->ic6_code;
    e.ie_mtu = ic->ic6_type == RN_ICMP6_PACKET_TOO_BIG ? rn__net_rd6_path_mtu(st, &ic->ic6_qdst)
                                                        : 0;
    e.ie_src = rn_inaddr_v6(&ic->ic6_qsrc);
    e.ie_dst = rn_inaddr_v6(&ic->ic6_qdst);
    e.ie_proto = ic->ic6_qproto;
    e.ie_l4 = ic->ic6_ql4;
    e.ie_l4len = ic->ic6_ql4len > UINT32_MAX ? UINT32_MAX : (uint32_t)ic->ic6_ql4len;
    ns->ns_icmp6_err_to_transport++;
    fn(st, &e);
}

/* Takes the error ic (unreachable, too big, time exceeded or parameter
 * problem) received as rx says: only about a datagram we sent. */
static void icmp6_err_input(struct rn_stack *st, const struct rn_icmp6_hdr *ic,
                            const struct ip6_rx *rx)
{
    if (ic->ic6_type == RN_ICMP6_PACKET_TOO_BIG) {
        if (!rn__net_rd6_too_big_input(st, ic, rx))
            return;
    } else if (!rn__net_ip6_is_local(st, &ic->ic6_qsrc, true)) {
        rn__stack_count_drop(st, rx->r6_iface, RN_DROP_ICMP6_ERR_NOT_OURS);
        return;
    }
    icmp6_err_deliver(st, ic, rx->r6_iface);
}

void rn__net_icmp6_local_unreach(struct rn_stack *st, const struct rn_netbuf *nb, uint8_t code)
{
    /* The error a router would send, quoting as much as the transports
     * read (the chain walked within it). */
    uint8_t msg[RN_ICMP6_HLEN + 256];
    struct rn_icmp6_hdr ic;
    size_t n = nb->nb_pktlen < 256 ? nb->nb_pktlen : 256;

    memset(msg, 0, RN_ICMP6_HLEN);
    msg[0] = RN_ICMP6_DEST_UNREACH;
    msg[1] = code;
    rn_nb_copyout(nb, 0, msg + RN_ICMP6_HLEN, n);
    if (rn__icmp6_parse(msg, RN_ICMP6_HLEN + n, &RN_IP6_ANY, &RN_IP6_ANY, RN_CSUM_VERIFIED, &ic) !=
        RN_DROP_NONE)
        return;
    /* Our own datagrams: a fragment after the first, or an ICMPv6
     * message, has no transport to tell, and no bad quote to count. */
    if (ic.ic6_qproto != RN_IPPROTO_TCP && ic.ic6_qproto != RN_IPPROTO_UDP)
        return;
    icmp6_err_deliver(st, &ic, NULL);
}

static void icmp6_dispatch(struct rn_stack *st, struct rn_netbuf *nb,
                           const struct rn_icmp6_hdr *icp, const struct ip6_rx *rx);

void rn__net_icmp6_input(struct rn_stack *st, struct rn_netbuf *nb, const struct ip6_rx *rx)
{
    struct rn_icmp6_hdr ic;
    enum rn_drop reason;
    const uint8_t *msg;
    uint8_t *copy;

    RN__RX_COUNT(st, net_st(st)->ns_icmp6_in++);
    msg = rn__net_ip6_linear(nb, nb->nb_pktlen, &copy);
    if (msg == NULL) {
        rn__net_drop(st, rx->r6_iface, nb, RN_DROP_NO_BUFFER);
        return;
    }
    reason = rn__icmp6_parse(msg, nb->nb_pktlen, &rx->r6_src, &rx->r6_dst, 0, &ic);
    if (reason == RN_DROP_NONE)
        icmp6_dispatch(st, nb, &ic, rx);
    else
        rn__net_drop(st, rx->r6_iface, nb, reason);
    free(copy);
}

/* Acts on a valid ICMPv6 message ic, held in nb.  Consumes nb. */
static void icmp6_dispatch(struct rn_stack *st, struct rn_netbuf *nb,
                           const struct rn_icmp6_hdr *icp, const struct ip6_rx *rx)
{
    struct rn_icmp6_hdr ic = *icp;

    if (ic.ic6_type == RN_ICMP6_NEIGHBOR_SOLICIT || ic.ic6_type == RN_ICMP6_NEIGHBOR_ADVERT) {
        rn__net_nd_input(st, &ic, rx);
        rn_nb_free(nb);
        return;
    }
    /* Router advertisements go to all nodes, or to us while our
     * link-local address may still be tentative (answers to a
     * solicitation from ::). */
    if (ic.ic6_type == RN_ICMP6_ROUTER_ADVERT) {
        rn__net_rd6_ra_input(st, &ic, rx);
        rn_nb_free(nb);
        return;
    }
    /* An address under DAD takes nothing else (RFC 4862 5.4). */
    if (rx->r6_tentative) {
        rn__net_drop(st, rx->r6_iface, nb, RN_DROP_NOT_FOR_US);
        return;
    }
    if (ic.ic6_type == RN_ICMP6_ECHO_REQUEST) {
        if (ic.ic6_code != 0) {
            rn__net_drop(st, rx->r6_iface, nb, RN_DROP_BAD_ICMP);
            return;
        }
        icmp6_echo(st, &ic, rx);
    } else if (ic.ic6_type == RN_ICMP6_REDIRECT) {
        rn__net_rd6_redirect_input(st, &ic, rx);
    } else if (ic.ic6_type == RN_ICMP6_MLD_QUERY) {
        rn__net_mld6_query_input(st, &ic, rx);
    } else if (ic.ic6_type == RN_ICMP6_DEST_UNREACH || ic.ic6_type == RN_ICMP6_PACKET_TOO_BIG ||
               ic.ic6_type == RN_ICMP6_TIME_EXCEEDED || ic.ic6_type == RN_ICMP6_PARAM_PROBLEM) {
        icmp6_err_input(st, &ic, rx);
    } else if (ic.ic6_type == RN_ICMP6_ECHO_REPLY) {
        net_st(st)->ns_icmp6_echo_replies_in++;
        if (net_st(st)->ns_echo6_fn != NULL) {
            struct rn_icmp_echo_rx er = {
                .er_id = (uint16_t)(ic.ic6_rest >> 16),
                .er_seq = (uint16_t)ic.ic6_rest,
                .er_ttl = rx->r6_hlim,
                .er_data = ic.ic6_data,
                .er_datalen = ic.ic6_datalen,
                .er_iface = rx->r6_iface,
                .er_v6 = true,
                .er_src6 = rx->r6_src,
                .er_dst6 = rx->r6_dst,
            };

            net_st(st)->ns_echo6_fn(st, &er, net_st(st)->ns_echo6_ctx);
        }
    }
    /* Other messages (router solicitations, which a host answers not,
     * other nodes' MLD reports, errors of unknown types) are received and
     * counted. */
    rn_nb_free(nb);
}

int rn_icmp6_echo_send(struct rn_stack *st, const struct rn_icmp6_echo *req)
{
    struct ip6_out out = {.o6_dst = req->ie6_dst, .o6_proto = RN_IPPROTO_ICMPV6};
    size_t len = RN_ICMP6_HLEN + req->ie6_len;
    struct rn_netbuf *nb;
    uint8_t *p;
    int err;

    if (req->ie6_len > RN_IP6_MAX_PAYLOAD - RN_ICMP6_HLEN)
        return RN_EMSGSIZE;
    nb = rn__ip_alloc(st, rn__net_types.nt_own_icmp);
    if (nb == NULL)
        return RN_ENOBUFS;
    p = rn_nb_put(nb, RN_ICMP6_HLEN);
    if (p == NULL ||
        (req->ie6_len > 0 && rn_nb_copyin(nb, RN_ICMP6_HLEN, req->ie6_data, req->ie6_len) < 0)) {
        rn__net_drop(st, NULL, nb, RN_DROP_NO_BUFFER);
        return RN_ENOBUFS;
    }
    /* The checksum covers the source, which the route picks: pick it
     * here the same way. */
    {
        struct ip6_hop hop;

        if (!rn__net_ip6_route(st, &req->ie6_dst, NULL, &hop) ||
            !rn__net_ip6_pick_src(hop.h_iface, &req->ie6_dst, &out.o6_src)) {
            rn__net_drop(st, NULL, nb, RN_DROP_NO_ROUTE);
            return RN_ENETUNREACH;
        }
        out.o6_iface = hop.h_iface;
    }
    p[0] = RN_ICMP6_ECHO_REQUEST;
    p[1] = 0;
    rn_put_be16(p + 2, 0);
    rn_put_be16(p + 4, req->ie6_id);
    rn_put_be16(p + 6, req->ie6_seq);
    rn_put_be16(p + 2, rn_csum_fold(rn_nb_csum(
                           nb, 0, len,
                           rn_csum_pseudo6(&out.o6_src, &out.o6_dst, RN_IPPROTO_ICMPV6,
                                           (uint32_t)len))));
    net_st(st)->ns_icmp6_out++;
    err = rn__net_ip6_output(st, nb, &out);
    return err;
}

int rn_icmp6_set_echo_observer(struct rn_stack *st, rn_icmp_echo_fn fn, void *ctx)
{
    if (fn != NULL && net_st(st)->ns_echo6_fn != NULL)
        return RN_EBUSY;
    net_st(st)->ns_echo6_fn = fn;
    net_st(st)->ns_echo6_ctx = fn != NULL ? ctx : NULL;
    return 0;
}
