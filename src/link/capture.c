/*
 * Capture filter: records every frame passing through it to a .pcap file.
 *
 * A filter in the link layer (see include/refnet/link.h): stack it on any
 * link and it writes what goes down (tx) and what comes up (rx), in the
 * order it sees them, with libpcap's dump writer.  Frames pass unchanged.
 * The file is Ethernet with nanosecond timestamps taken from the injected
 * now, so captures from the simulator carry virtual time and are the same
 * from one replay of a seed to the next.
 */
#include <assert.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "link/link_priv.h"
#include "refnet/error.h"
#include "refnet/report.h"
#include "refnet/strbuf.h"

#define CAPTURE_DEFAULT_SNAPLEN 65535u

/* The file, shared by the capture filters of a device's queues
 * (rn_link_capture_share()), each on its own loop thread. */
struct capture_sink {
    pthread_mutex_t cs_lock;        /* guards the dumper */
    pcap_t *cs_dead;                /* [I] libpcap handle describing the file */
    pcap_dumper_t *cs_dumper;       /* [cs_lock] the open file */
    rn_time_t cs_last;              /* [cs_lock] the last frame's time */
    atomic_uint cs_refs;            /* [A] one per filter writing to it */
};

struct capture_link {
    struct rn_link cl_link;         /* [L] common part; first */
    struct capture_sink *cl_sink;   /* [I] held */
    uint8_t *cl_scratch;            /* [L] cl_snaplen bytes, to flatten chains */
    uint32_t cl_snaplen;            /* [I] bytes kept per frame */
    rn_time_t cl_flush_interval;    /* [I] 0: flush only at close */
    int64_t cl_time_offset;         /* [I] added to now in timestamps */
    rn_time_t cl_last_flush;        /* [L] now at the last flush */
    bool cl_enabled;                /* [L] false: frames pass unrecorded */
    uint64_t cl_frames;             /* [L] frames written */
    uint64_t cl_write_errors;       /* [L] failed flushes */
};

static void sink_put(struct capture_sink *cs);

static struct capture_link *capture_of(struct rn_link *link)
{
    return (struct capture_link *)link;
}

static void capture_flush(struct capture_link *cl, rn_time_t now)
{
    int rc;

    cl->cl_last_flush = now;
    pthread_mutex_lock(&cl->cl_sink->cs_lock);
    rc = pcap_dump_flush(cl->cl_sink->cs_dumper);
    pthread_mutex_unlock(&cl->cl_sink->cs_lock);
    if (rc != 0 && cl->cl_write_errors++ == 0)
        rn_report(RN_REPORT_INFO, "capture %s: cannot write the capture file\n",
                  cl->cl_link.lk_name);
}

static void capture_write(struct capture_link *cl, const struct rn_netbuf *nb, rn_time_t now)
{
    rn_time_t t = (rn_time_t)((int64_t)now + cl->cl_time_offset);
    struct pcap_pkthdr hdr;
    const void *data;

    memset(&hdr, 0, sizeof(hdr));
    hdr.len = nb->nb_pktlen;
    hdr.caplen = nb->nb_pktlen < cl->cl_snaplen ? nb->nb_pktlen : cl->cl_snaplen;
    data = rn_nb_header(nb, 0, hdr.caplen, cl->cl_scratch);
    pthread_mutex_lock(&cl->cl_sink->cs_lock);
    /* Each queue stamps its frames with its own pass's now: a frame of a
     * pass that began earlier on another loop may come after a later
     * one's.  The file's times never go back: such a frame takes the
     * time of the one before it. */
    if (t < cl->cl_sink->cs_last)
        t = cl->cl_sink->cs_last;
    cl->cl_sink->cs_last = t;
    hdr.ts.tv_sec = (time_t)(t / RN_NSEC_PER_SEC);
    hdr.ts.tv_usec = (suseconds_t)(t % RN_NSEC_PER_SEC);  /* nanoseconds in this file */
    pcap_dump((u_char *)cl->cl_sink->cs_dumper, &hdr, data);
    pthread_mutex_unlock(&cl->cl_sink->cs_lock);
    cl->cl_frames++;
}

static void capture_tick(struct capture_link *cl, rn_time_t now)
{
    if (cl->cl_flush_interval && now - cl->cl_last_flush >= cl->cl_flush_interval)
        capture_flush(cl, now);
}

static int capture_tx(struct rn_link *link, struct rn_netbuf **pkts, unsigned n, rn_time_t now)
{
    struct capture_link *cl = capture_of(link);
    unsigned i;

    for (i = 0; i < n; i++) {
        if (cl->cl_enabled)
            capture_write(cl, pkts[i], now);
        rn__link_count_tx(link, pkts[i]);
    }
    if (cl->cl_enabled)
        capture_tick(cl, now);
    return rn_link_tx(link->lk_lower, pkts, n, now);
}

static int capture_rx(struct rn_link *link, struct rn_netbuf **pkts, unsigned max, rn_time_t now)
{
    struct capture_link *cl = capture_of(link);
    int n = rn_link_rx(link->lk_lower, pkts, max, now);
    int i;

    for (i = 0; i < n; i++) {
        if (cl->cl_enabled)
            capture_write(cl, pkts[i], now);
        rn__link_count_rx(link, pkts[i]);
    }
    if (cl->cl_enabled)
        capture_tick(cl, now);
    return n;
}

static void capture_values(struct rn_link *link, rn_value_fn fn, void *ctx)
{
    struct capture_link *cl = capture_of(link);
    const struct rn_value v[] = {
        {"state", cl->cl_enabled ? "recording" : "paused", 0},
        {"written", NULL, cl->cl_frames},
        {"write_errors", NULL, cl->cl_write_errors},
    };
    size_t i;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        fn(&v[i], ctx);
}

static void capture_close(struct rn_link *link)
{
    struct capture_link *cl = capture_of(link);

    capture_flush(cl, cl->cl_last_flush);
    sink_put(cl->cl_sink);
    rn_link_close(link->lk_lower);
    free(cl->cl_scratch);
    free(cl);
}

static void sink_put(struct capture_sink *cs)
{
    if (atomic_fetch_sub(&cs->cs_refs, 1) != 1)
        return;
    pcap_dump_close(cs->cs_dumper);
    pcap_close(cs->cs_dead);
    pthread_mutex_destroy(&cs->cs_lock);
    free(cs);
}

static const struct rn_link_ops capture_ops = {
    .kind = "capture",
    .tx = capture_tx,
    .rx = capture_rx,
    .values = capture_values,
    .close = capture_close,
    .tx_keeps_none = true,
};

int rn_link_capture_open(struct rn_link *lower, const struct rn_link_capture_params *params,
                         struct rn_link **out, char *errbuf)
{
    struct capture_link *cl;
    int err;

    assert(lower && params && out);
    if (params->cp_path == NULL)
        return rn__link_err(errbuf, RN_EINVAL, "capture: no file given");
    cl = calloc(1, sizeof(*cl));
    if (cl == NULL)
        return rn__link_err(errbuf, RN_ENOMEM, "capture %s: out of memory", params->cp_path);
    cl->cl_snaplen = params->cp_snaplen ? params->cp_snaplen : CAPTURE_DEFAULT_SNAPLEN;
    cl->cl_flush_interval = params->cp_flush_interval;
    cl->cl_time_offset = params->cp_time_offset;
    cl->cl_enabled = true;
    cl->cl_scratch = malloc(cl->cl_snaplen);
    if (cl->cl_scratch == NULL) {
        err = rn__link_err(errbuf, RN_ENOMEM, "capture %s: out of memory", params->cp_path);
        goto out_free;
    }
    cl->cl_sink = calloc(1, sizeof(*cl->cl_sink));
    if (cl->cl_sink == NULL) {
        err = rn__link_err(errbuf, RN_ENOMEM, "capture %s: out of memory", params->cp_path);
        goto out_free;
    }
    cl->cl_sink->cs_dead = pcap_open_dead_with_tstamp_precision(
        DLT_EN10MB, (int)cl->cl_snaplen, PCAP_TSTAMP_PRECISION_NANO);
    if (cl->cl_sink->cs_dead == NULL) {
        err = rn__link_err(errbuf, RN_ENOMEM, "capture %s: out of memory", params->cp_path);
        goto out_free;
    }
    cl->cl_sink->cs_dumper = pcap_dump_open(cl->cl_sink->cs_dead, params->cp_path);
    if (cl->cl_sink->cs_dumper == NULL) {
        err = rn__link_err(errbuf, RN_EIO, "capture: %s", pcap_geterr(cl->cl_sink->cs_dead));
        goto out_close_dead;
    }
    pthread_mutex_init(&cl->cl_sink->cs_lock, NULL);
    atomic_init(&cl->cl_sink->cs_refs, 1);
    rn_link_init(&cl->cl_link, &capture_ops, lower, "capture");
    *out = &cl->cl_link;
    return 0;

out_close_dead:
    pcap_close(cl->cl_sink->cs_dead);
out_free:
    free(cl->cl_sink);
    free(cl->cl_scratch);
    free(cl);
    return err;
}

int rn_link_capture_share(struct rn_link *capture, struct rn_link *lower, struct rn_link **out)
{
    const struct capture_link *from;
    struct capture_link *cl;

    assert(capture->lk_ops == &capture_ops && lower != NULL && out != NULL);
    from = (const struct capture_link *)capture;
    cl = calloc(1, sizeof(*cl));
    if (cl == NULL)
        return RN_ENOMEM;
    cl->cl_snaplen = from->cl_snaplen;
    cl->cl_flush_interval = from->cl_flush_interval;
    cl->cl_time_offset = from->cl_time_offset;
    cl->cl_enabled = true;
    cl->cl_scratch = malloc(cl->cl_snaplen);
    if (cl->cl_scratch == NULL) {
        free(cl);
        return RN_ENOMEM;
    }
    cl->cl_sink = from->cl_sink;
    atomic_fetch_add(&cl->cl_sink->cs_refs, 1);
    rn_link_init(&cl->cl_link, &capture_ops, lower, "capture");
    *out = &cl->cl_link;
    return 0;
}

void rn_link_capture_set_enabled(struct rn_link *link, bool enabled)
{
    assert(link->lk_ops == &capture_ops);
    capture_of(link)->cl_enabled = enabled;
}

uint64_t rn_link_capture_frames(const struct rn_link *link)
{
    assert(link->lk_ops == &capture_ops);
    return ((const struct capture_link *)link)->cl_frames;
}
