/*
 * The link layer: drivers that move Ethernet frames, and filters stacked on
 * them.
 *
 * This is refnet's miniport/lightweight-filter level.  A *link* is anything
 * with the operations below.  A *driver* is a link at the bottom (TAP,
 * loopback, simulated cable, pcap replay); a *filter* is a link that wraps
 * another link (its lower link) and sees every frame in both directions
 * (capture, fault injection).  The network layer holds the top link of a
 * stack and cannot tell a driver from a filter.
 *
 *     network layer (src/net)
 *         |  rn_link_tx / rn_link_rx / rn_link_next_deadline / rn_link_poll_fd
 *     capture  ->  fault  ->  tap | loopback | sim cable | pcap replay
 *
 * Frames are whole Ethernet frames (destination MAC first, no preamble and
 * no FCS) in netbufs (netbuf.h).  Received frames come from the pool the
 * link was opened with, carry nb_rxtime = now and are counted against the
 * driver's receive owner (e.g. "link.tap.rx") until the caller moves them
 * with rn_nb_set_owner().  Links leave nb_ingress 0: the layer that knows
 * the interface index stamps it.
 *
 * Time is injected: every call that can move frames gets `now`
 * (nanoseconds, clock.h) from the host, and no link reads the OS clock.
 * Calls to one link must pass a non-decreasing now.
 *
 * Driving a link (what a host loop does):
 *   - wait until rn_link_poll_fd() is readable or rn_link_next_deadline()
 *     passes, whichever is first;
 *   - call rn_link_rx(now) until it returns fewer than asked.  rx also does
 *     the link's deferred work that is due (a filter sends delayed transmit
 *     frames then), so call it at a deadline even with no fd event.
 *
 * Thread safety: a link belongs to the loop thread of its stack, like the
 * pool it allocates from ([L]).  Nothing here locks.
 *
 * Offloads: a link says in its caps' lc_offloads what it does for the
 * layers above, and packets say in nb_offload (netbuf.h) what is left to
 * it.  The TAP driver opened with tp_vnet_hdr (IFF_VNET_HDR) offers all
 * three: it fills checksums left partial, marks received frames whose
 * checksums the kernel verified, and takes TCP segments of up to 64 KiB
 * that the kernel cuts to the MTU (and hands over coalesced segments of
 * the same size).  A filter reports its lower link's offloads, less what
 * it cannot preserve: the fault filter that corrupts frames it sends
 * withdraws transmit checksum offload and TSO.  Other drivers offer none,
 * and the layers above then compute every checksum.
 *
 * RN_LINK_OFF_TX_REF is the promise that lets TCP send from its send
 * buffer without copying a segment's payload into the pool: the TAP
 * driver writes every frame before its tx returns, and the simulated
 * cable copies what it keeps (rn_nb_unref()).  A filter that keeps frames
 * (the fault filter's delays) withdraws it, and the interface then copies
 * such a frame before handing it down.
 *
 * A stack in a few lines (errors unchecked):
 *
 *     struct rn_nbpool *pool;
 *     struct rn_link *tap, *fault, *top;
 *     struct rn_fault_params fp;
 *     struct rn_link_tap_params tp = {.tp_ifname = "rn0", .tp_up = true};
 *
 *     rn_nbpool_create(NULL, &pool);
 *     tp.tp_pool = pool;
 *     rn_link_tap_open(&tp, &tap, errbuf);
 *     rn_fault_parse("drop=1%,seed=7", &fp, errbuf, RN_LINK_ERRLEN);
 *     rn_link_fault_open(tap, &fp, &fault);
 *     rn_link_capture_open(fault, &(struct rn_link_capture_params){
 *                              .cp_path = "rn0.pcap"}, &top, errbuf);
 *     ...  n = rn_link_rx(top, pkts, 32, now);  rn_link_tx(top, out, m, now);
 *     rn_link_close(top);        (closes fault and tap too)
 *     rn_nbpool_destroy(pool);   (0 once every buffer came back)
 */
#ifndef REFNET_LINK_H
#define REFNET_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "refnet/addr.h"
#include "refnet/clock.h"
#include "refnet/value.h"
#include "refnet/netbuf.h"
#include "refnet/rss.h"

struct rn_strbuf;
struct rn_link;
struct rn_rss;

#define RN_ETH_HLEN 14
/* Size of the error text an opener may write (errbuf arguments). */
#define RN_LINK_ERRLEN 256
/* next_deadline's "no deadline". */
#define RN_LINK_NO_DEADLINE ((rn_time_t)0)

/* Offloads a link may offer (lc_offloads). */
#define RN_LINK_OFF_TX_CSUM 0x0001u  /* fills checksums marked RN_NB_OFF_CSUM_PARTIAL */
#define RN_LINK_OFF_RX_CSUM 0x0002u  /* marks verified frames RN_NB_OFF_CSUM_VALID */
#define RN_LINK_OFF_TSO 0x0004u      /* splits RN_NB_OFF_GSO TCP segments over IPv4 */
#define RN_LINK_OFF_TSO6 0x0008u     /* the same over IPv6 (no extension headers) */
#define RN_LINK_OFF_TX_REF 0x0010u   /* takes frames whose buffers refer to the
                                        sender's memory (rn_nb_ref()): done with
                                        that memory when its tx returns */

/* What a link can do. */
struct rn_link_caps {
    uint32_t lc_mtu;                    /* largest payload after the Ethernet header */
    uint32_t lc_offloads;               /* RN_LINK_OFF_* offered */
    uint8_t lc_hwaddr[RN_MAC_LEN];     /* the address refnet uses on this link */
    bool lc_has_hwaddr;                 /* false: the link has no address (loopback) */
};

/* Counters every link keeps.  For a driver they count the device; for a
 * filter, the frames it passed up (rx) and down (tx).  Drops are frames the
 * link itself discarded; a filter's own actions are in its values. */
struct rn_link_stats {
    uint64_t ls_tx_frames;  /* frames sent (driver) or passed down (filter) */
    uint64_t ls_tx_bytes;   /* their bytes */
    uint64_t ls_tx_drops;   /* frames not sent: queue or device full, no peer */
    uint64_t ls_tx_errors;  /* frames not sent: device error */
    uint64_t ls_rx_frames;  /* frames returned by rx */
    uint64_t ls_rx_bytes;   /* their bytes */
    uint64_t ls_rx_drops;   /* frames received but discarded: no buffer, queue full */
    uint64_t ls_rx_errors;  /* receive errors: device error, bad input file */
};

/* The operations of one kind of link.  Only the network layer's interface
 * and the filters call these, through the rn_link_* wrappers below. */
struct rn_link_ops {
    /* Kind name: "tap", "loopback", "sim-cable", "pcap-replay", "capture",
     * "fault". */
    const char *kind;
    /* Transmits n frames.  Consumes all n on every path.  Returns how many
     * were accepted for sending (frames a fault filter loses on purpose count
     * as accepted: loss on the wire is invisible to the sender), or a
     * negative code if the link is unusable. */
    int (*tx)(struct rn_link *link, struct rn_netbuf **pkts, unsigned n, rn_time_t now);
    /* Receives up to max frames into pkts and does due deferred work.
     * Returns how many (0 if none), or a negative code if the link is
     * unusable.  The caller owns the returned frames. */
    int (*rx)(struct rn_link *link, struct rn_netbuf **pkts, unsigned max, rn_time_t now);
    /* The next three may be NULL in a filter that adds nothing to its
     * lower link's: the lower link's answer is used. */
    /* Returns an fd that becomes readable when rx may return frames, or -1
     * (NULL in a driver: -1). */
    int (*poll_fd)(struct rn_link *link);
    /* Returns the earliest time at which rx may return frames or has due
     * work without the fd firing, or RN_LINK_NO_DEADLINE (NULL in a driver:
     * none).  A deadline at or before now means: call rx now. */
    rn_time_t (*next_deadline)(struct rn_link *link);
    /* Fills caps (NULL in a driver: no capabilities). */
    void (*caps)(struct rn_link *link, struct rn_link_caps *caps);
    /* Reports what is particular to the kind, one call of fn per value
     * (value.h): its settings ("device" "rn0") and its own counters
     * ("no_buffer" 3), in a fixed order.  NULL if the kind has nothing to
     * add to struct rn_link_stats. */
    void (*values)(struct rn_link *link, rn_value_fn fn, void *ctx);
    /* Frees frames the link holds, closes it and its lower links, frees it. */
    void (*close)(struct rn_link *link);
    /* A filter whose tx is done with every frame when it returns (passes
     * it down or frees it, and keeps no pointer into it) says so here: its
     * lower link's RN_LINK_OFF_TX_REF then stays in the chain's caps.  A
     * filter that does not (the default) withdraws it, whatever its caps
     * say, so that no frame referring to a sender's memory outlives the
     * call. */
    bool tx_keeps_none;
};

/* The common part of every link.  An implementation embeds it first in its
 * own struct and sets it up with rn_link_init(). */
struct rn_link {
    const struct rn_link_ops *lk_ops;  /* [I] the kind's operations */
    struct rn_link *lk_lower;          /* [L] the wrapped link (filters), else NULL;
                                          changes only when a filter below is
                                          taken out (rn_iface_filter_remove()) */
    char lk_name[32];                  /* [I] "tap0", "cable1.a", "fault" ... */
    struct rn_link_stats lk_stats;     /* [L] counters, see struct rn_link_stats */
};

/* ---- Using a link ------------------------------------------------------- */

/* Transmits a batch: see rn_link_ops.tx.  Consumes all n frames on every
 * path; each must be a whole packet with nb_nextpkt NULL. */
int rn_link_tx(struct rn_link *link, struct rn_netbuf **pkts, unsigned n, rn_time_t now);

/* Transmits one frame.  Consumes nb.  Returns 1 if accepted, 0 if dropped,
 * or a negative code. */
int rn_link_tx1(struct rn_link *link, struct rn_netbuf *nb, rn_time_t now);

/* Receives a batch: see rn_link_ops.rx. */
int rn_link_rx(struct rn_link *link, struct rn_netbuf **pkts, unsigned max, rn_time_t now);

/* Returns the fd to wait on for readability (see rn_link_ops.poll_fd), or
 * -1 if the link has none and is driven by deadlines alone. */
int rn_link_poll_fd(struct rn_link *link);

/* Returns when to call rx next without an fd event, or RN_LINK_NO_DEADLINE
 * (see rn_link_ops.next_deadline); for a stack, the earliest of its links. */
rn_time_t rn_link_next_deadline(struct rn_link *link);

/* Fills caps (zeroed first).  A filter reports its lower link's. */
void rn_link_caps(struct rn_link *link, struct rn_link_caps *caps);

/* Closes the link and every link below it, freeing the frames they hold.
 * link may be NULL. */
void rn_link_close(struct rn_link *link);

/* Copies the link's own counters (not its lower links'). */
void rn_link_stats(const struct rn_link *link, struct rn_link_stats *out);

/* [L] Reports link's own settings and counters (its kind's values op; not
 * those of the links below it: walk them with rn_link_lower()). */
void rn_link_values(struct rn_link *link, rn_value_fn fn, void *ctx);

/* Return the kind ("tap", "fault" ...) and the name ("rn0", "cable1.a"). */
const char *rn_link_kind(const struct rn_link *link);
const char *rn_link_name(const struct rn_link *link);
/* Returns the link a filter wraps, or NULL for a driver. */
struct rn_link *rn_link_lower(const struct rn_link *link);
/* Returns the first link of kind in the stack from link down, or NULL. */
struct rn_link *rn_link_find(struct rn_link *link, const char *kind);

/* ---- Writing a link ----------------------------------------------------- */

/* Sets up the common part: ops, lower link, name, zeroed counters. */
void rn_link_init(struct rn_link *link, const struct rn_link_ops *ops,
                  struct rn_link *lower, const char *name);

/* Earliest of two deadlines, RN_LINK_NO_DEADLINE counting as none. */
static inline rn_time_t rn_link_deadline_min(rn_time_t a, rn_time_t b)
{
    if (a == RN_LINK_NO_DEADLINE)
        return b;
    if (b == RN_LINK_NO_DEADLINE)
        return a;
    return a < b ? a : b;
}

/* ---- Loopback ----------------------------------------------------------- */

struct rn_link_loop_params {
    uint32_t lp_mtu;    /* default 65535 - 14 */
    uint32_t lp_limit;  /* frames queued at most; more are dropped (tx drop); default 256 */
};

/* Opens a loopback: rx returns what tx sent, in order.  Frames wait in a
 * bounded queue counted against owner "link.loop.queue"; rx hands them out
 * as "link.loop.rx".  No fd: next_deadline is "due now" while frames wait.
 * params may be NULL for the defaults.  Returns 0 and sets *out, or
 * RN_ENOMEM, or RN_ENOSPC if the netbuf owner table is full. */
int rn_link_loop_open(const struct rn_link_loop_params *params, struct rn_link **out);

/* ---- Simulated cable ---------------------------------------------------- */

struct rn_sim_cable_params {
    rn_time_t sc_latency;                 /* one-way propagation delay */
    uint64_t sc_rate_bps;                 /* bits per second each way; 0 = unlimited */
    uint32_t sc_limit;                    /* frames in flight each way at most; default 1024 */
    uint32_t sc_mtu;                      /* default 1500 */
    uint8_t sc_hwaddr_a[RN_MAC_LEN];     /* end a's address; all zero = 02:00:00:00:<n>:01 */
    uint8_t sc_hwaddr_b[RN_MAC_LEN];     /* end b's address; all zero = 02:00:00:00:<n>:02 */
    struct rn_nbpool *sc_pool_a;          /* pool of end a's stack: frames it receives */
    struct rn_nbpool *sc_pool_b;          /* pool of end b's stack */
    const char *sc_name;                  /* ends are "<name>.a", "<name>.b"; default "cable<n>" */
    bool sc_offloads;                     /* both ends offer checksum offload and TSO */
};

/* Creates a cable between two ends, each a link for one stack, under
 * virtual time.  A frame sent on one end at now arrives at the other end's
 * rx once now reaches its due time: latency after the end of its
 * serialisation at sc_rate_bps (frames queue behind each other), or just
 * latency when the rate is unlimited.  Frames never reorder on the cable.
 * More than sc_limit frames in flight one way are dropped (the sender's
 * tx drops).  A frame sent after the other end closed is dropped.
 *
 * Frames in flight are counted against "link.sim.wire" in the sender's
 * pool; on arrival they are copied into the receiver's pool (no copy when
 * both ends share one pool), so each stack's pool counts only its own
 * buffers.  Both ends must be driven by one thread (the simulator's).
 * Deterministic: the same calls with the same now give the same results.
 * Closing one end leaves the other usable (it just loses its peer).
 * With sc_offloads the ends behave as a virtio pair (a TAP and its
 * kernel, or a veth) does with offloads on: each offers transmit and
 * receive checksum offload and TSO, and a frame crosses as it was sent,
 * a checksum left partial and a TSO segment of many MSS (larger than the
 * MTU) included, for the receiver to trust as a TAP's does.
 * Returns 0, or RN_EINVAL (missing pool), RN_ENOMEM. */
int rn_sim_cable_new(const struct rn_sim_cable_params *params, struct rn_link **end_a,
                     struct rn_link **end_b);

/* ---- TAP ---------------------------------------------------------------- */

struct rn_link_tap_params {
    const char *tp_ifname;                /* device name, e.g. "rn0"; created if absent */
    struct rn_nbpool *tp_pool;            /* pool received frames come from */
    uint32_t tp_mtu;                      /* 0: read the device's; else set it on the device */
    uint8_t tp_hwaddr[RN_MAC_LEN];       /* refnet's address; all zero = random local */
    bool tp_up;                           /* bring the device up (IFF_UP) at open */
    bool tp_vnet_hdr;                     /* IFF_VNET_HDR: checksum offload and TSO both ways */
    bool tp_single;                       /* a system call per frame, no io_uring batches */
    /* Receive-side scaling (include/refnet/rss.h): a multi-queue device
     * (IFF_MULTI_QUEUE) has tp_queues > 1 queues, each a link of its own
     * opened by one call, queue 0 first.  Queue 0 creates and configures
     * the device (MTU, offloads, up) and attaches the steering program
     * that spreads received frames over the queues as tp_rss says (NULL:
     * the default key over tp_queues queues); the others attach to it
     * and must be given queue 0's hardware address.  0 or 1: a
     * single-queue device, as without these fields. */
    unsigned tp_queues;
    unsigned tp_queue;                    /* this link's queue, < tp_queues */
    const struct rn_rss *tp_rss;          /* queue 0: the steering, or NULL */
};

/* Opens (creating if needed) the Linux TAP device tp_ifname in the calling
 * thread's network namespace, with IFF_TAP|IFF_NO_PI, non-blocking.  rx
 * reads up to max frames until the device is empty; tx writes the frames
 * of a call over their buffers, no copy.  Both go through io_uring, up to
 * 32 reads (without tp_vnet_hdr: with it frames of 64 KiB come one at a
 * time and a readv() each is cheaper) or 64 writes in one system call;
 * with tp_single, or where io_uring is not allowed, each frame is a
 * readv() or writev() of its own.
 * A full device queue drops the frame (tx drops).  The device goes away on close
 * unless it was persistent before.  Needs CAP_NET_ADMIN.  Returns 0 and sets
 * *out, or a negative code with a one-line reason in errbuf (RN_LINK_ERRLEN
 * bytes, may be NULL). */
int rn_link_tap_open(const struct rn_link_tap_params *params, struct rn_link **out,
                     char *errbuf);

/* Pins TCP or UDP (proto) port, as the destination of received frames,
 * to queue of a multi-queue TAP: its frames go there whatever their
 * source, ahead of the RSS hash (an "ntuple" rule, as `ethtool -N` sets
 * on a NIC).  The pin of a port already pinned moves it.  link must be
 * queue 0 of the device, which keeps the pins.  Any thread.  Returns 0,
 * RN_EINVAL (not queue 0 of several, a queue past the last, another
 * protocol), RN_ENOSPC (RN_RSS_PINS_MAX pins already) or RN_EIO. */
int rn_link_tap_pin(struct rn_link *link, uint8_t proto, uint16_t port, unsigned queue);
/* Removes a pin: 0, RN_ENOENT if the port was not pinned, RN_EINVAL. */
int rn_link_tap_unpin(struct rn_link *link, uint8_t proto, uint16_t port);

/* ---- Receive-side scaling's fan-out filter (src/link/fanout.c) ---------- */

/* With RSS, each queue of a multi-queue TAP has a stack of its own, and
 * the device steers frames that are not TCP or UDP flows to queue 0.  The
 * fan-out filters of one device, one on each queue, give every other
 * queue's stack a copy of the frames it learns its neighbours and
 * routers from (ARP; ICMPv6 router advertisement, neighbour solicitation
 * and advertisement, redirect), marked RN_NB_OFF_RSS_COPY: learn, do not
 * answer; and queue 0's filter moves an ICMP or ICMPv6 error about
 * another queue's TCP or UDP flow to that queue (rn_rss_icmp_error_queue()).
 * Each filter runs on its queue's loop thread. */
struct rn_link_fanout;

/* Called on queue 0's thread when queue's inbox, empty until then, got a
 * copy: wake that queue's loop, whose stack then reads the filter (its
 * next deadline is due while copies wait). */
typedef void (*rn_link_fanout_wake_fn)(void *ctx, unsigned queue);

/* Creates the group of the filters of a device whose frames rss steers
 * (rss->rs_queues queues); the caller holds it until
 * rn_link_fanout_release(), each open filter until it closes. */
int rn_link_fanout_create(const struct rn_rss *rss, rn_link_fanout_wake_fn wake, void *ctx,
                          struct rn_link_fanout **out);
void rn_link_fanout_release(struct rn_link_fanout *group);

/* Whether this side's port (proto RN_IPPROTO_TCP or UDP, host order) is
 * pinned to queue 0 (rn_link_tap_pin()), so that its flows are queue 0's
 * whatever their hash.  Called on queue 0's thread. */
typedef bool (*rn_link_fanout_pinned_fn)(void *ctx, uint8_t proto, uint16_t port);

/* Has queue 0's filter ask fn before it moves an ICMP error to another
 * queue: an error about a pinned port stays on queue 0.  Set before the
 * filters open. */
void rn_link_fanout_set_pinned(struct rn_link_fanout *group, rn_link_fanout_pinned_fn fn,
                               void *ctx);

/* Hands a frame (len bytes, copied) to queue's stack, which reads it as
 * one of its own frames: for a datagram queue 0's stack reassembled whose
 * flow belongs to queue (rn_stack_set_rss_handover()).  False if queue
 * is 0, past the group's, not open, or its inbox is full.  Any thread. */
bool rn_link_fanout_hand(struct rn_link_fanout *group, unsigned queue, const uint8_t *frame,
                         size_t len);

/* Opens queue's filter over lower (that queue's link); queue > 0 makes its
 * copies into pool's packets.  On success the filter owns lower.  Returns
 * 0, RN_EINVAL, RN_EBUSY (that queue's filter is open) or RN_ENOMEM, with
 * a one-line reason in errbuf. */
int rn_link_fanout_open(struct rn_link_fanout *group, unsigned queue, struct rn_link *lower,
                        struct rn_nbpool *pool, struct rn_link **out, char *errbuf);

/* Brings the TAP device up or down (IFF_UP), as `ip link set up` does; the
 * kernel sends nothing to a device that is down.  Returns 0 or a negative
 * code.  link must be a TAP link. */
int rn_link_tap_set_up(struct rn_link *link, bool up);

/* Returns the TAP's device name (the kernel's choice if a pattern was given). */
const char *rn_link_tap_ifname(const struct rn_link *link);

/* ---- pcap replay -------------------------------------------------------- */

struct rn_link_pcap_params {
    const char *pp_path;         /* .pcap file of Ethernet frames */
    struct rn_nbpool *pp_pool;   /* pool the frames are read into */
    bool pp_timed;               /* honour the recorded gaps (see below) */
    uint32_t pp_mtu;             /* reported in caps; default 1500 */
};

/* Opens a pcap file as an input link.  The whole file is checked at open,
 * so a file that is not pcap, not Ethernet, or truncated fails here with an
 * error naming the file and the problem.  rx returns the frames in file
 * order, as "link.pcap.rx".  Untimed, every frame is due at once; timed,
 * frame i is due at t0 + (ts_i - ts_0), t0 being now at the first rx call,
 * and next_deadline tells when.  tx discards frames (tx drops).  Returns 0
 * and sets *out, or a negative code with the reason in errbuf. */
int rn_link_pcap_open(const struct rn_link_pcap_params *params, struct rn_link **out,
                      char *errbuf);

/* Returns true once every frame of the file has been returned. */
bool rn_link_pcap_eof(const struct rn_link *link);

/* ---- Capture filter ----------------------------------------------------- */

struct rn_link_capture_params {
    const char *cp_path;          /* .pcap file to write (replaced) */
    uint32_t cp_snaplen;          /* bytes kept per frame; default 65535 */
    rn_time_t cp_flush_interval;  /* flush when this much time passed; 0: only at close */
    int64_t cp_time_offset;       /* added to now for the timestamps: a real-time
                                     host passes wall clock minus its monotonic
                                     clock, so the capture carries dates; 0 keeps
                                     now (the simulator's virtual time) */
};

/* Stacks a capture filter on lower: every frame passing in either
 * direction is written to cp_path (libpcap format, Ethernet, nanosecond
 * timestamps), readable by tshark.  Timestamps are the now passed in
 * (plus cp_time_offset), so a simulator's captures carry virtual time.  The file is flushed on close.
 * On success the filter owns lower (closing it closes lower); on failure
 * lower is untouched.  Returns 0 and sets *out, or a negative code with the
 * reason in errbuf. */
int rn_link_capture_open(struct rn_link *lower, const struct rn_link_capture_params *params,
                         struct rn_link **out, char *errbuf);

/* Stacks on lower a capture filter writing into capture's file, in turn
 * with capture and any other sharer, each on its own thread (a device's
 * queues with receive-side scaling: one file, all frames, in the order
 * they were written).  The file closes with the last of them.  Returns 0
 * or RN_ENOMEM. */
int rn_link_capture_share(struct rn_link *capture, struct rn_link *lower, struct rn_link **out);

/* Pauses or resumes writing; frames pass unrecorded while paused. */
void rn_link_capture_set_enabled(struct rn_link *link, bool enabled);

/* Returns the frames written so far. */
uint64_t rn_link_capture_frames(const struct rn_link *link);

/* ---- Fault filter ------------------------------------------------------- */

enum rn_fault_dir {
    RN_FAULT_RX = 1,    /* frames going up */
    RN_FAULT_TX = 2,    /* frames going down */
    RN_FAULT_BOTH = 3,
};

/* What to do to frames, each an independent probability per frame.
 * Order of decisions per frame: drop; corrupt; duplicate; delay; reorder. */
struct rn_fault_params {
    double fp_drop;          /* probability a frame is lost */
    double fp_dup;           /* probability a frame is delivered twice */
    double fp_reorder;       /* probability a frame is held back past the next one */
    double fp_corrupt;       /* probability one bit after the Ethernet header flips */
    double fp_delay_rate;    /* probability a frame is delayed by fp_delay +- fp_jitter */
    rn_time_t fp_delay;      /* added latency of delayed frames */
    rn_time_t fp_jitter;     /* delay varies uniformly within +- this */
    rn_time_t fp_hold;       /* a reordered frame goes out after this at the latest; 0 = 1 ms */
    uint64_t fp_seed;        /* PRNG seed */
    unsigned fp_dir;         /* enum rn_fault_dir: which directions are faulted */
};

/* Per-direction counters of the fault filter. */
struct rn_fault_counters {
    uint64_t fc_frames;          /* frames that entered the filter */
    uint64_t fc_dropped;         /* lost on purpose */
    uint64_t fc_duplicated;      /* extra copies made */
    uint64_t fc_dup_failed;      /* copies not made: pool exhausted */
    uint64_t fc_corrupted;       /* frames with a bit flipped */
    uint64_t fc_corrupt_skipped; /* chosen for corruption but no byte past the header */
    uint64_t fc_delayed;         /* frames held for fp_delay */
    uint64_t fc_reordered;       /* frames released after a later one or their hold */
};

/* Sets p to no faults in both directions, seed 0. */
void rn_fault_params_init(struct rn_fault_params *p);

/* Parses a fault spec such as
 *   "drop=2%,reorder=1%,dup=0.5%,corrupt=0.1%,delay=5ms,jitter=1ms,seed=42,dir=both"
 * Keys: drop, dup, reorder, corrupt, delay_rate (rates: "2%" or a fraction
 * "0.02" in [0,1]); delay, jitter, hold (durations with unit ns, us, ms or
 * s); seed (integer); dir (rx, tx or both).  A delay given without
 * delay_rate delays every frame.  An empty spec means no faults.  Returns 0
 * and fills *out (starting from rn_fault_params_init), or RN_EINVAL with a
 * one-line error naming the bad token in errbuf (errlen bytes). */
int rn_fault_parse(const char *spec, struct rn_fault_params *out, char *errbuf, size_t errlen);

/* Appends the spec that rn_fault_parse() reads back into the same params. */
void rn_fault_format(const struct rn_fault_params *p, struct rn_strbuf *sb);

/* Stacks a fault filter on lower.  Decisions come from xoshiro256**
 * streams seeded from fp_seed, one per direction, drawn a fixed number of
 * times per frame, so the same seed and the same frames give the same
 * decisions.  Held frames (delay, reorder) count against "link.fault.hold"
 * and are released by later rx/tx calls; next_deadline says when.  Frames
 * released in the transmit direction go down at the next rx or tx call.
 * On success the filter owns lower; on failure lower is untouched.  Returns
 * 0 and sets *out, or RN_EINVAL (bad rates), RN_ENOMEM. */
int rn_link_fault_open(struct rn_link *lower, const struct rn_fault_params *params,
                       struct rn_link **out);

/* Replaces the filter's parameters and reseeds its streams from the new
 * seed.  Frames already held keep their release times.  Returns 0 or
 * RN_EINVAL. */
int rn_link_fault_set_params(struct rn_link *link, const struct rn_fault_params *params);

/* Copies the counters of one direction (RN_FAULT_RX or RN_FAULT_TX). */
void rn_link_fault_counters(const struct rn_link *link, enum rn_fault_dir dir,
                            struct rn_fault_counters *out);

#endif /* REFNET_LINK_H */
