/*
 * pcap replay link: a recorded .pcap file as the input of a stack.
 *
 * A driver at the bottom of the link layer (see include/refnet/link.h), for
 * replaying captures into the stack (tests, fuzz reproduction, the lab).
 * The file is read through libpcap.  It is read once completely at open, so
 * that a file which is not pcap, not Ethernet or truncated is refused with a
 * clear error then, instead of ending the replay early; replay then streams
 * it again from the start.  Timestamps are read at nanosecond precision.
 */
#include <assert.h>
#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "link/link_priv.h"
#include "refnet/error.h"
#include "refnet/report.h"
#include "refnet/strbuf.h"

#define PCAP_DEFAULT_MTU 1500u

struct pcap_link {
    struct rn_link pl_link;            /* [L] common part; first */
    pcap_t *pl_pcap;                   /* [L] the file, positioned after the lookahead */
    char *pl_path;                     /* [I] file name, for errors */
    struct rn_nbpool *pl_pool;         /* [I] pool frames are read into */
    bool pl_timed;                     /* [I] honour recorded gaps */
    uint32_t pl_mtu;                   /* [I] reported MTU */
    rn_nb_owner_t pl_own_rx;           /* [I] owner of returned frames */
    uint64_t pl_total;                 /* [I] frames in the file */
    bool pl_started;                   /* [L] rx was called once: pl_t0 is set */
    bool pl_eof;                       /* [L] every frame was returned (or the file failed) */
    rn_time_t pl_t0;                   /* [L] now at the first rx call */
    uint64_t pl_ts0;                   /* [L] timestamp of the first frame, ns */
    struct pcap_pkthdr *pl_hdr;        /* [L] lookahead frame's header, or NULL */
    const u_char *pl_data;             /* [L] lookahead frame's bytes (libpcap's buffer) */
    uint64_t pl_returned;              /* [L] frames returned */
    uint64_t pl_short;                 /* [L] frames recorded shorter than on the wire */
};

static struct pcap_link *pcap_of(struct rn_link *link)
{
    return (struct pcap_link *)link;
}

static uint64_t ts_ns(const struct pcap_pkthdr *h)
{
    /* Opened at nanosecond precision: tv_usec holds nanoseconds. */
    return (uint64_t)h->ts.tv_sec * RN_NSEC_PER_SEC + (uint64_t)h->ts.tv_usec;
}

/* Makes pl_hdr the next frame, or sets pl_eof.  Returns false at the end. */
static bool pcap_lookahead(struct pcap_link *pl)
{
    int r;

    if (pl->pl_hdr)
        return true;
    if (pl->pl_eof)
        return false;
    r = pcap_next_ex(pl->pl_pcap, &pl->pl_hdr, &pl->pl_data);
    if (r == 1) {
        if (pl->pl_returned == 0)
            pl->pl_ts0 = ts_ns(pl->pl_hdr);
        return true;
    }
    if (r != PCAP_ERROR_BREAK) {
        /* The file changed since it was checked at open. */
        pl->pl_link.lk_stats.ls_rx_errors++;
        rn_report(RN_REPORT_INFO, "pcap replay %s: %s; replay ends\n", pl->pl_path,
                  pcap_geterr(pl->pl_pcap));
    }
    pl->pl_hdr = NULL;
    pl->pl_eof = true;
    return false;
}

static rn_time_t pcap_due(const struct pcap_link *pl)
{
    uint64_t ts = ts_ns(pl->pl_hdr);

    return pl->pl_t0 + (ts > pl->pl_ts0 ? ts - pl->pl_ts0 : 0);
}

static int pcap_rx(struct rn_link *link, struct rn_netbuf **pkts, unsigned max, rn_time_t now)
{
    struct pcap_link *pl = pcap_of(link);
    unsigned n = 0;

    if (!pl->pl_started) {
        pl->pl_started = true;
        pl->pl_t0 = now;
    }
    while (n < max && pcap_lookahead(pl)) {
        struct rn_netbuf *nb;

        if (pl->pl_timed && pcap_due(pl) > now)
            break;
        if (pl->pl_hdr->caplen < pl->pl_hdr->len)
            pl->pl_short++;
        nb = rn_nb_alloc(pl->pl_pool, pl->pl_own_rx);
        if (nb && rn_nb_copyin(nb, 0, pl->pl_data, pl->pl_hdr->caplen) != 0) {
            rn_nb_free(nb);
            nb = NULL;
        }
        pl->pl_hdr = NULL;
        pl->pl_returned++;
        if (nb == NULL) {
            link->lk_stats.ls_rx_drops++;
            continue;
        }
        nb->nb_rxtime = now;
        rn__link_count_rx(link, nb);
        pkts[n++] = nb;
    }
    return (int)n;
}

static int pcap_tx(struct rn_link *link, struct rn_netbuf **pkts, unsigned n, rn_time_t now)
{
    unsigned i;

    /* A recording cannot answer: what the stack sends is discarded. */
    for (i = 0; i < n; i++) {
        link->lk_stats.ls_tx_drops++;
        rn_nb_free(pkts[i]);
    }
    return 0;
}

static rn_time_t pcap_next_deadline(struct rn_link *link)
{
    struct pcap_link *pl = pcap_of(link);
    rn_time_t due;

    if (!pl->pl_started)
        return 1;  /* the first frame is due at the first call */
    if (!pcap_lookahead(pl))
        return RN_LINK_NO_DEADLINE;
    if (!pl->pl_timed)
        return 1;
    due = pcap_due(pl);
    return due ? due : 1;
}

static void pcap_caps(struct rn_link *link, struct rn_link_caps *caps)
{
    caps->lc_mtu = pcap_of(link)->pl_mtu;
    caps->lc_has_hwaddr = false;
}

static void pcap_values(struct rn_link *link, rn_value_fn fn, void *ctx)
{
    struct pcap_link *pl = pcap_of(link);
    const struct rn_value v[] = {
        {"file", pl->pl_path, 0},
        {"replayed", NULL, pl->pl_returned},
        {"frames", NULL, pl->pl_total},
        {"at_end", pl->pl_eof ? "yes" : "no", 0},
        {"recorded_short", NULL, pl->pl_short},
    };
    size_t i;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        fn(&v[i], ctx);
}

static void pcap_close_link(struct rn_link *link)
{
    struct pcap_link *pl = pcap_of(link);

    pcap_close(pl->pl_pcap);
    free(pl->pl_path);
    free(pl);
}

static const struct rn_link_ops pcap_ops = {
    .kind = "pcap-replay",
    .tx = pcap_tx,
    .rx = pcap_rx,
    .poll_fd = NULL,
    .next_deadline = pcap_next_deadline,
    .caps = pcap_caps,
    .values = pcap_values,
    .close = pcap_close_link,
};

/* Opens path, checks it is Ethernet.  Returns the handle or NULL with errbuf
 * filled. */
static pcap_t *pcap_open_checked(const char *path, char *errbuf, int *err)
{
    char perr[PCAP_ERRBUF_SIZE] = "";
    pcap_t *p;
    FILE *f;
    int dlt, e;

    /* Opened here rather than by libpcap, so that errno says what is wrong. */
    f = fopen(path, "rb");
    if (f == NULL) {
        e = errno;
        *err = rn__link_err(errbuf, e == ENOENT ? RN_ENOENT : e == EACCES ? RN_EACCES : RN_EIO,
                            "pcap replay %s: %s", path, strerror(e));
        return NULL;
    }
    p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, perr);
    if (p == NULL) {
        fclose(f);
        *err = rn__link_err(errbuf, RN_EFORMAT, "pcap replay %s: %s", path, perr);
        return NULL;
    }
    dlt = pcap_datalink(p);
    if (dlt != DLT_EN10MB) {
        const char *name = pcap_datalink_val_to_name(dlt);

        *err = rn__link_err(errbuf, RN_EFORMAT,
                            "pcap replay %s: link type %s (%d) is not Ethernet (EN10MB)", path,
                            name ? name : "unknown", dlt);
        pcap_close(p);
        return NULL;
    }
    return p;
}

int rn_link_pcap_open(const struct rn_link_pcap_params *params, struct rn_link **out,
                      char *errbuf)
{
    const struct rn__link_owners *own = rn__link_owners();
    struct pcap_pkthdr *hdr;
    const u_char *data;
    struct pcap_link *pl;
    uint64_t frames = 0;
    pcap_t *p;
    int err, r;

    assert(params && out);
    if (params->pp_path == NULL || params->pp_pool == NULL)
        return rn__link_err(errbuf, RN_EINVAL, "pcap replay: no file or no buffer pool given");
    if (own == NULL)
        return rn__link_err(errbuf, RN_ENOSPC, "pcap replay: netbuf owner table full");
    /* Pass 1: read everything, so a damaged file fails now. */
    p = pcap_open_checked(params->pp_path, errbuf, &err);
    if (p == NULL)
        return err;
    while ((r = pcap_next_ex(p, &hdr, &data)) == 1)
        frames++;
    if (r != PCAP_ERROR_BREAK) {
        err = rn__link_err(errbuf, RN_EFORMAT, "pcap replay %s: after frame %llu: %s",
                           params->pp_path, (unsigned long long)frames, pcap_geterr(p));
        pcap_close(p);
        return err;
    }
    pcap_close(p);
    /* Pass 2 streams from the start. */
    p = pcap_open_checked(params->pp_path, errbuf, &err);
    if (p == NULL)
        return err;
    pl = calloc(1, sizeof(*pl));
    if (pl == NULL || (pl->pl_path = strdup(params->pp_path)) == NULL) {
        free(pl);
        pcap_close(p);
        return rn__link_err(errbuf, RN_ENOMEM, "pcap replay %s: out of memory", params->pp_path);
    }
    rn_link_init(&pl->pl_link, &pcap_ops, NULL, "pcap");
    pl->pl_pcap = p;
    pl->pl_pool = params->pp_pool;
    pl->pl_timed = params->pp_timed;
    pl->pl_mtu = params->pp_mtu ? params->pp_mtu : PCAP_DEFAULT_MTU;
    pl->pl_own_rx = own->lo_pcap_rx;
    pl->pl_total = frames;
    *out = &pl->pl_link;
    return 0;
}

bool rn_link_pcap_eof(const struct rn_link *link)
{
    struct pcap_link *pl = (struct pcap_link *)link;

    assert(link->lk_ops == &pcap_ops);
    return !pcap_lookahead(pl);
}
