/*
 * A link filter plug-in (an NDIS lightweight filter): the filter "ethcount"
 * sits on top of an interface's chain of links, counts the frames that
 * pass each way by EtherType (IPv4, ARP, IPv6, other) and drops those of
 * the EtherTypes it is told to block.  Build it with the Makefile beside
 * it and load it into a running daemon:
 *
 *   refnet daemon ... --plugin ./plugin-filter.so:rn0
 *   refnet plugin load ./plugin-filter.so:rn0,block=0x86dd
 *   refnet ifconfig             # the chain shows "plugin ethcount" and its counters
 *   refnet plugin unload ethcount
 *
 * ARGS: the interface, then optionally ",block=" and EtherTypes in hex
 * joined by '+' (at most 4).  It reads frames and never keeps or changes
 * them; unloading takes it out of the chain at once.
 *
 * Everything runs on the stack's loop thread; the plug-in uses the public
 * API only (refnet/plugin.h, refnet/link.h, refnet/netbuf.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <refnet/refnet.h>

#define ETHCOUNT_BLOCK_MAX 4

enum { K_IPV4, K_ARP, K_IPV6, K_OTHER, K_COUNT };

struct ethcount {
    unsigned e_nblock;
    uint16_t e_block[ETHCOUNT_BLOCK_MAX];  /* EtherTypes dropped */
    uint64_t e_rx[K_COUNT];                /* frames seen each way, by kind */
    uint64_t e_tx[K_COUNT];
};

static struct ethcount counts;

/* The frame's EtherType, or 0 if it is too short to have one. */
static uint16_t ethertype(const struct rn_netbuf *nb)
{
    if (nb->nb_len < 14)
        return 0;
    return (uint16_t)(nb->nb_data[12] << 8 | nb->nb_data[13]);
}

static int ethcount_frame(struct ethcount *e, uint64_t *by_kind, const struct rn_netbuf *nb)
{
    uint16_t t = ethertype(nb);
    unsigned i;

    by_kind[t == 0x0800 ? K_IPV4 : t == 0x0806 ? K_ARP : t == 0x86dd ? K_IPV6 : K_OTHER]++;
    for (i = 0; i < e->e_nblock; i++)
        if (e->e_block[i] == t)
            return RN_FILTER_BLOCK;
    return RN_FILTER_PERMIT;
}

static int ethcount_rx(void *ctx, const struct rn_netbuf *nb)
{
    struct ethcount *e = ctx;

    return ethcount_frame(e, e->e_rx, nb);
}

static int ethcount_tx(void *ctx, const struct rn_netbuf *nb)
{
    struct ethcount *e = ctx;

    return ethcount_frame(e, e->e_tx, nb);
}

static void ethcount_values(void *ctx, rn_value_fn fn, void *vctx)
{
    static const char *const rx_names[K_COUNT] = {"rx_ipv4", "rx_arp", "rx_ipv6", "rx_other"};
    static const char *const tx_names[K_COUNT] = {"tx_ipv4", "tx_arp", "tx_ipv6", "tx_other"};
    struct ethcount *e = ctx;
    char block[8 * ETHCOUNT_BLOCK_MAX + 1] = "";
    unsigned i;
    size_t off = 0;

    for (i = 0; i < e->e_nblock; i++)
        off += (size_t)snprintf(block + off, sizeof(block) - off, "%s0x%04x", i ? "+" : "",
                                e->e_block[i]);
    rn_value_text(fn, vctx, "block", e->e_nblock ? block : "none");
    for (i = 0; i < K_COUNT; i++)
        rn_value_counter(fn, vctx, rx_names[i], e->e_rx[i]);
    for (i = 0; i < K_COUNT; i++)
        rn_value_counter(fn, vctx, tx_names[i], e->e_tx[i]);
}

static const struct rn_plugin_filter_ops ethcount_ops = {
    .pf_name = "ethcount",
    .pf_rx = ethcount_rx,
    .pf_tx = ethcount_tx,
    .pf_values = ethcount_values,
};

/* Parses "0x86dd+0x0806" into e's block list.  Returns 0 or -1. */
static int parse_block(struct ethcount *e, const char *s)
{
    while (*s != '\0') {
        char *end;
        unsigned long v = strtoul(s, &end, 16);

        if (end == s || v == 0 || v > 0xffff || e->e_nblock == ETHCOUNT_BLOCK_MAX ||
            (*end != '\0' && *end != '+'))
            return -1;
        e->e_block[e->e_nblock++] = (uint16_t)v;
        s = *end == '+' ? end + 1 : end;
    }
    return 0;
}

static int ethcount_load(struct rn_plugin *pl, struct rn_stack *st, const char *args, char *err,
                         size_t errlen)
{
    char iface[16];
    const char *comma = strchr(args, ',');
    size_t n = comma ? (size_t)(comma - args) : strlen(args);
    int e;

    memset(&counts, 0, sizeof(counts));
    if (n == 0 || n >= sizeof(iface)) {
        snprintf(err, errlen, "needs an interface: PATH:IFACE[,block=ETHERTYPE+...]");
        return RN_EINVAL;
    }
    memcpy(iface, args, n);
    iface[n] = '\0';
    if (comma != NULL && (strncmp(comma + 1, "block=", 6) != 0 ||
                          parse_block(&counts, comma + 7) < 0)) {
        snprintf(err, errlen, "bad '%s': expected block= and up to %d EtherTypes in hex "
                 "joined by '+'", comma + 1, ETHCOUNT_BLOCK_MAX);
        return RN_EINVAL;
    }
    e = rn_plugin_filter_attach(pl, st, iface, &ethcount_ops, &counts);
    if (e == RN_ENOENT)
        snprintf(err, errlen, "no interface '%s'", iface);
    return e;
}

const struct rn_plugin_desc rn_plugin_v1 = {
    .pd_abi = RN_PLUGIN_ABI,
    .pd_name = "ethcount",
    .pd_version = "1.0",
    .pd_load = ethcount_load,
    .pd_unload = NULL,  /* nothing to give back: refnet takes the filter out */
};
