/*
 * Fault filter: seeded loss, duplication, corruption, delay and reordering.
 *
 * A filter in the link layer (see include/refnet/link.h): stack it on any
 * link, on one direction or both.  The simulator puts it on cable ends to
 * make hostile networks that replay exactly from a seed; the daemon's
 * --fault flag puts it on the TAP.
 *
 * Each direction has its own xoshiro256** stream seeded (through splitmix64)
 * from fp_seed and the direction, and draws exactly FAULT_DRAWS numbers per
 * frame whatever the outcome (plus one to place a corruption).  So a
 * direction's decisions depend only on the seed and on that direction's
 * frame sequence, and changing one rate does not shift the others'.
 *
 * Per frame, in this order:
 *   1. drop: free it;
 *   2. corrupt: flip one random bit after the Ethernet header of an IPv4
 *      frame (one flipped bit is always caught by the Internet checksum).
 *      Other frames, ARP above all, carry no checksum: on a real link the
 *      frame check sequence stops such damage, so they are left whole and
 *      counted as skipped;
 *   3. duplicate: a copy follows the frame through the remaining stages;
 *   4. delay: hold until now + fp_delay +- jitter;
 *   5. reorder: when the frame leaves the delay stage, hold it in the
 *      reorder slot until the next frame passes (then release it right
 *      after that one), or until fp_hold expires.
 * Frames that leave all stages wait in the direction's ready queue: rx hands
 * them up; tx (and rx, for due delayed transmissions) sends them down.
 *
 * With a direction not faulted and nothing held, frames pass straight
 * through without drawing or copying.
 */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "link/link_priv.h"
#include "wire/csum.h"
#include "refnet/error.h"
#include "refnet/strbuf.h"

#define FAULT_DRAWS 6
#define FAULT_DEFAULT_HOLD RN_MSEC(1)
/* Frames handed to the lower link per tx call. */
#define FAULT_TX_BATCH 64

enum { DIR_RX = 0, DIR_TX = 1 };

/* ---- Random numbers ----------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256**: the next number of stream s. */
static uint64_t xoshiro_next(uint64_t s[4])
{
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

static void xoshiro_seed(uint64_t s[4], uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ull);
    int i;

    for (i = 0; i < 4; i++)
        s[i] = splitmix64(&x);
}

/* A probability as a threshold on 53-bit draws: p = 1 is always, p = 0 never. */
static uint64_t prob_threshold(double p)
{
    if (!(p > 0))
        return 0;
    if (p >= 1)
        return 1ull << 53;
    return (uint64_t)(p * 9007199254740992.0);
}

static bool chance(uint64_t draw, uint64_t threshold)
{
    return (draw >> 11) < threshold;
}

/* ---- State -------------------------------------------------------------- */

struct fault_dir {
    uint64_t fd_rng[4];              /* [L] this direction's xoshiro256** state */
    bool fd_active;                  /* [L] faults apply to this direction */
    struct rn_fault_counters fd_c;   /* [L] counters */
    struct rn_netbuf *fd_delayed;    /* [L] delayed frames by due time (nb_cb[0]), via nb_nextpkt */
    uint32_t fd_ndelayed;            /* [L] frames on fd_delayed */
    struct rn_netbuf *fd_held;       /* [L] the reorder slot, or NULL */
    rn_time_t fd_held_until;         /* [L] when fd_held goes out at the latest */
    struct rn_nbq fd_ready;          /* [L] frames through every stage, in order */
};

struct fault_link {
    struct rn_link fl_link;          /* [L] common part; first */
    struct rn_fault_params fl_p;     /* [L] current parameters */
    uint64_t fl_thr_drop;            /* [L] fp_drop as a draw threshold (prob_threshold) */
    uint64_t fl_thr_dup;             /* [L] fp_dup as a draw threshold */
    uint64_t fl_thr_reorder;         /* [L] fp_reorder as a draw threshold */
    uint64_t fl_thr_corrupt;         /* [L] fp_corrupt as a draw threshold */
    uint64_t fl_thr_delay;           /* [L] fp_delay_rate as a threshold; 0 without a delay */
    struct fault_dir fl_dir[2];      /* [L] DIR_RX, DIR_TX */
    rn_nb_owner_t fl_own_hold;       /* [I] owner of frames held here */
};

/* nb_cb use while a frame is inside the filter:
 *   nb_cb[0] = due time (delay stage)
 *   nb_cb[1] = owner it came with | CB_REORDER */
#define CB_OWNER_MASK 0xffffull
#define CB_REORDER (1ull << 16)

static struct fault_link *fault_of(struct rn_link *link)
{
    return (struct fault_link *)link;
}

static bool dir_empty(const struct fault_dir *d)
{
    return d->fd_delayed == NULL && d->fd_held == NULL && d->fd_ready.nq_len == 0;
}

/* Takes a frame into the filter's keeping (counted as "link.fault.hold"). */
static void hold(struct fault_link *fl, struct rn_netbuf *nb, bool reorder)
{
    nb->nb_cb[1] = nb->nb_owner | (reorder ? CB_REORDER : 0);
    rn_nb_set_owner(nb, fl->fl_own_hold);
}

/* Gives a held frame back its owner and clears the filter's marks. */
static void unhold(struct rn_netbuf *nb)
{
    rn_nb_set_owner(nb, (rn_nb_owner_t)(nb->nb_cb[1] & CB_OWNER_MASK));
    nb->nb_cb[0] = 0;
    nb->nb_cb[1] = 0;
}

/* Stage 5 and out: a frame leaving the delay stage (held, owner saved). */
static void stage_reorder(struct fault_link *fl, struct fault_dir *d, struct rn_netbuf *nb,
                          rn_time_t now)
{
    rn_time_t hold_for = fl->fl_p.fp_hold ? fl->fl_p.fp_hold : FAULT_DEFAULT_HOLD;

    if ((nb->nb_cb[1] & CB_REORDER) && d->fd_held == NULL) {
        d->fd_held = nb;
        d->fd_held_until = now + hold_for;
        d->fd_c.fc_reordered++;
        return;
    }
    unhold(nb);
    rn_nbq_put(&d->fd_ready, nb);
    if (d->fd_held) {
        unhold(d->fd_held);
        rn_nbq_put(&d->fd_ready, d->fd_held);
        d->fd_held = NULL;
    }
}

/* Stage 4: delay or pass on.  nb is held (owner saved). */
static void stage_delay(struct fault_link *fl, struct fault_dir *d, struct rn_netbuf *nb,
                        bool delay, rn_time_t due, rn_time_t now)
{
    struct rn_netbuf **pp;

    if (!delay) {
        stage_reorder(fl, d, nb, now);
        return;
    }
    d->fd_c.fc_delayed++;
    nb->nb_cb[0] = due;
    /* Insert after every frame due no later, so equal due times keep order. */
    for (pp = &d->fd_delayed; *pp && (*pp)->nb_cb[0] <= due; pp = &(*pp)->nb_nextpkt)
        ;
    nb->nb_nextpkt = *pp;
    *pp = nb;
    d->fd_ndelayed++;
}

/* Completes the TCP or UDP checksum of an IPv4 frame that the stack left
 * partial for a device (the field holds the pseudo-header's sum), as the
 * device would have before the frame met the damage: a flipped bit must
 * then be caught like any other.  A partial sum left as it is would be
 * checked by the receiver over damaged data and pass once in 65536. */
static void finish_partial(struct rn_netbuf *nb)
{
    uint8_t ip[20], field[2];
    size_t ihl, off, at;
    uint16_t total, sum;

    if (rn_nb_copyout(nb, RN_ETH_HLEN, ip, sizeof(ip)) < 0 || (ip[0] >> 4) != 4)
        return;
    ihl = (size_t)(ip[0] & 15) * 4;
    total = (uint16_t)(ip[2] << 8 | ip[3]);
    if (ip[9] == 6)
        at = 16;
    else if (ip[9] == 17)
        at = 6;
    else
        return;
    off = RN_ETH_HLEN + ihl;
    if (total < ihl + at + 2 || RN_ETH_HLEN + (size_t)total > nb->nb_pktlen)
        return;
    sum = rn_csum_fold(rn_nb_csum(nb, off, total - ihl, 0));
    if (sum == 0 && ip[9] == 17)
        sum = 0xffff;  /* UDP: zero means "no checksum" */
    field[0] = (uint8_t)(sum >> 8);
    field[1] = (uint8_t)sum;
    rn_nb_copyin(nb, off + at, field, 2);
}

/* Flips one bit after the Ethernet header of an IPv4 frame, chosen by the
 * stream.  The draw is made whatever the frame, to keep the stream in step. */
static void corrupt(struct fault_dir *d, struct rn_netbuf *nb)
{
    uint64_t span, bit, draw = xoshiro_next(d->fd_rng);
    uint8_t byte, type[2];

    if (nb->nb_pktlen <= RN_ETH_HLEN || rn_nb_copyout(nb, 12, type, 2) < 0 ||
        type[0] != 0x08 || type[1] != 0x00) {
        d->fd_c.fc_corrupt_skipped++;
        return;
    }
    if (nb->nb_offload & RN_NB_OFF_CSUM_PARTIAL)
        finish_partial(nb);
    span = (uint64_t)(nb->nb_pktlen - RN_ETH_HLEN) * 8;
    bit = draw % span;
    rn_nb_copyout(nb, RN_ETH_HLEN + bit / 8, &byte, 1);
    byte ^= (uint8_t)(1u << (bit % 8));
    rn_nb_copyin(nb, RN_ETH_HLEN + bit / 8, &byte, 1);
    /* Whatever a device vouched for no longer holds: make the stack check. */
    nb->nb_offload &= ~(RN_NB_OFF_CSUM_VALID | RN_NB_OFF_CSUM_PARTIAL);
    d->fd_c.fc_corrupted++;
}

/* A frame enters the faulted direction d.  Consumes nb. */
static void fault_input(struct fault_link *fl, struct fault_dir *d, struct rn_netbuf *nb,
                        rn_time_t now)
{
    const struct rn_fault_params *p = &fl->fl_p;
    uint64_t r[FAULT_DRAWS];
    struct rn_netbuf *dup = NULL;
    rn_time_t due = now;
    bool delay, reorder;
    int i;

    for (i = 0; i < FAULT_DRAWS; i++)
        r[i] = xoshiro_next(d->fd_rng);
    d->fd_c.fc_frames++;
    if (chance(r[0], fl->fl_thr_drop)) {
        d->fd_c.fc_dropped++;
        rn_nb_free(nb);
        return;
    }
    if (chance(r[1], fl->fl_thr_corrupt))
        corrupt(d, nb);
    if (chance(r[2], fl->fl_thr_dup)) {
        dup = rn_nb_copy(nb, nb->nb_owner);
        if (dup)
            d->fd_c.fc_duplicated++;
        else
            d->fd_c.fc_dup_failed++;
    }
    delay = chance(r[3], fl->fl_thr_delay);
    if (delay) {
        rn_time_t j = p->fp_jitter;
        int64_t off = j ? (int64_t)(r[4] % (2 * j + 1)) - (int64_t)j : 0;

        due = now + p->fp_delay;
        due = off < 0 && (rn_time_t)-off > due - now ? now : due + (rn_time_t)off;
    }
    reorder = chance(r[5], fl->fl_thr_reorder);
    hold(fl, nb, reorder);
    stage_delay(fl, d, nb, delay, due, now);
    if (dup) {
        hold(fl, dup, false);
        stage_delay(fl, d, dup, delay, due, now);
    }
}

/* Releases what is due in d at now into its ready queue. */
static void fault_service(struct fault_link *fl, struct fault_dir *d, rn_time_t now)
{
    while (d->fd_delayed && d->fd_delayed->nb_cb[0] <= now) {
        struct rn_netbuf *nb = d->fd_delayed;

        d->fd_delayed = nb->nb_nextpkt;
        nb->nb_nextpkt = NULL;
        d->fd_ndelayed--;
        stage_reorder(fl, d, nb, now);
    }
    if (d->fd_held && d->fd_held_until <= now) {
        unhold(d->fd_held);
        rn_nbq_put(&d->fd_ready, d->fd_held);
        d->fd_held = NULL;
    }
}

/* Sends the transmit direction's ready frames down.  Returns how many the
 * lower link did not accept; *passed gets how many were handed down. */
static unsigned fault_flush_tx(struct fault_link *fl, rn_time_t now, unsigned *passed)
{
    struct fault_dir *d = &fl->fl_dir[DIR_TX];
    struct rn_netbuf *batch[FAULT_TX_BATCH];
    unsigned lost = 0, n;
    int sent;

    *passed = 0;
    while (d->fd_ready.nq_len > 0) {
        for (n = 0; n < FAULT_TX_BATCH && d->fd_ready.nq_len > 0; n++) {
            batch[n] = rn_nbq_get(&d->fd_ready);
            rn__link_count_tx(&fl->fl_link, batch[n]);
        }
        sent = rn_link_tx(fl->fl_link.lk_lower, batch, n, now);
        *passed += n;
        lost += sent < 0 ? n : n - (unsigned)sent;
    }
    return lost;
}

/* ---- Operations --------------------------------------------------------- */

static int fault_tx(struct rn_link *link, struct rn_netbuf **pkts, unsigned n, rn_time_t now)
{
    struct fault_link *fl = fault_of(link);
    struct fault_dir *d = &fl->fl_dir[DIR_TX];
    unsigned i, passed, lost;

    if (!d->fd_active && dir_empty(d)) {
        for (i = 0; i < n; i++)
            rn__link_count_tx(link, pkts[i]);
        return rn_link_tx(link->lk_lower, pkts, n, now);
    }
    fault_service(fl, d, now);
    for (i = 0; i < n; i++) {
        if (d->fd_active)
            fault_input(fl, d, pkts[i], now);
        else
            rn_nbq_put(&d->fd_ready, pkts[i]);
    }
    lost = fault_flush_tx(fl, now, &passed);
    /* Frames lost on purpose count as sent; the lower link's refusals do not. */
    return lost >= n ? 0 : (int)(n - lost);
}

static int fault_rx(struct rn_link *link, struct rn_netbuf **pkts, unsigned max, rn_time_t now)
{
    struct fault_link *fl = fault_of(link);
    struct fault_dir *d = &fl->fl_dir[DIR_RX];
    struct fault_dir *dtx = &fl->fl_dir[DIR_TX];
    unsigned n = 0, passed;
    int got, i;

    /* Deferred work of the transmit direction. */
    if (!dir_empty(dtx)) {
        fault_service(fl, dtx, now);
        fault_flush_tx(fl, now, &passed);
    }
    if (!d->fd_active && dir_empty(d)) {
        got = rn_link_rx(link->lk_lower, pkts, max, now);
        for (i = 0; i < got; i++)
            rn__link_count_rx(link, pkts[i]);
        return got;
    }
    fault_service(fl, d, now);
    /* Pull once from below into pkts (used as scratch), then hand out in
     * order from the ready queue. */
    if (d->fd_ready.nq_len < max) {
        got = rn_link_rx(link->lk_lower, pkts, max - d->fd_ready.nq_len, now);
        for (i = 0; i < got; i++) {
            if (d->fd_active)
                fault_input(fl, d, pkts[i], now);
            else
                rn_nbq_put(&d->fd_ready, pkts[i]);
        }
        if (got < 0 && d->fd_ready.nq_len == 0)
            return got;
    }
    while (n < max && d->fd_ready.nq_len > 0) {
        pkts[n] = rn_nbq_get(&d->fd_ready);
        rn__link_count_rx(link, pkts[n]);
        n++;
    }
    return (int)n;
}

static rn_time_t dir_deadline(const struct fault_dir *d)
{
    rn_time_t t = RN_LINK_NO_DEADLINE;

    if (d->fd_ready.nq_len > 0)
        return 1;
    if (d->fd_delayed)
        t = d->fd_delayed->nb_cb[0] ? d->fd_delayed->nb_cb[0] : 1;
    if (d->fd_held)
        t = rn_link_deadline_min(t, d->fd_held_until ? d->fd_held_until : 1);
    return t;
}

static rn_time_t fault_next_deadline(struct rn_link *link)
{
    struct fault_link *fl = fault_of(link);
    rn_time_t t = rn_link_next_deadline(link->lk_lower);

    t = rn_link_deadline_min(t, dir_deadline(&fl->fl_dir[DIR_RX]));
    return rn_link_deadline_min(t, dir_deadline(&fl->fl_dir[DIR_TX]));
}

static void fault_caps(struct rn_link *link, struct rn_link_caps *caps)
{
    struct fault_link *fl = fault_of(link);

    rn_link_caps(link->lk_lower, caps);
    /* A checksum the device computes after we flip a bit would cover the
     * damage: corrupting what we send means the stack must checksum it. */
    if (fl->fl_thr_corrupt && (fl->fl_p.fp_dir & RN_FAULT_TX))
        caps->lc_offloads &= ~(RN_LINK_OFF_TX_CSUM | RN_LINK_OFF_TSO | RN_LINK_OFF_TSO6);
}

static void values_dir(const char *const names[9], const struct fault_dir *d,
                       rn_value_fn fn, void *ctx)
{
    const struct rn_fault_counters *c = &d->fd_c;
    const uint64_t vals[9] = {
        c->fc_frames,     c->fc_dropped,         c->fc_duplicated,
        c->fc_dup_failed, c->fc_corrupted,       c->fc_corrupt_skipped,
        c->fc_delayed,    c->fc_reordered,
        d->fd_ndelayed + (d->fd_held ? 1u : 0u) + d->fd_ready.nq_len,
    };
    unsigned i;

    for (i = 0; i < 9; i++) {
        struct rn_value v = {names[i], NULL, vals[i]};

        fn(&v, ctx);
    }
}

static void fault_values(struct rn_link *link, rn_value_fn fn, void *ctx)
{
    static const char *const rx[9] = {
        "rx_frames", "rx_dropped", "rx_duplicated", "rx_dup_failed", "rx_corrupted",
        "rx_corrupt_skipped", "rx_delayed", "rx_reordered", "rx_holding",
    };
    static const char *const tx[9] = {
        "tx_frames", "tx_dropped", "tx_duplicated", "tx_dup_failed", "tx_corrupted",
        "tx_corrupt_skipped", "tx_delayed", "tx_reordered", "tx_holding",
    };
    struct fault_link *fl = fault_of(link);
    struct rn_strbuf spec = RN_STRBUF_INIT;
    struct rn_value v = {"faults", NULL, 0};

    rn_fault_format(&fl->fl_p, &spec);
    v.v_text = rn_strbuf_str(&spec);
    fn(&v, ctx);
    rn_strbuf_free(&spec);
    values_dir(rx, &fl->fl_dir[DIR_RX], fn, ctx);
    values_dir(tx, &fl->fl_dir[DIR_TX], fn, ctx);
}

static void dir_purge(struct fault_dir *d)
{
    rn_nb_free_list(d->fd_delayed);
    d->fd_delayed = NULL;
    d->fd_ndelayed = 0;
    rn_nb_free(d->fd_held);
    d->fd_held = NULL;
    rn_nbq_purge(&d->fd_ready);
}

static void fault_close(struct rn_link *link)
{
    struct fault_link *fl = fault_of(link);

    dir_purge(&fl->fl_dir[DIR_RX]);
    dir_purge(&fl->fl_dir[DIR_TX]);
    rn_link_close(link->lk_lower);
    free(fl);
}

/* Not tx_keeps_none: delayed, reordered and duplicated frames outlive the
 * call that sent them, so the interface copies what would refer to a
 * sender's memory. */
static const struct rn_link_ops fault_ops = {
    .kind = "fault",
    .tx = fault_tx,
    .rx = fault_rx,
    .next_deadline = fault_next_deadline,
    .caps = fault_caps,
    .values = fault_values,
    .close = fault_close,
};

/* ---- Parameters --------------------------------------------------------- */

void rn_fault_params_init(struct rn_fault_params *p)
{
    memset(p, 0, sizeof(*p));
    p->fp_dir = RN_FAULT_BOTH;
}

static bool rate_ok(double r)
{
    return r >= 0 && r <= 1;  /* false for NaN too */
}

static bool params_ok(const struct rn_fault_params *p)
{
    return rate_ok(p->fp_drop) && rate_ok(p->fp_dup) && rate_ok(p->fp_reorder) &&
           rate_ok(p->fp_corrupt) && rate_ok(p->fp_delay_rate) && p->fp_dir >= RN_FAULT_RX &&
           p->fp_dir <= RN_FAULT_BOTH;
}

static void apply_params(struct fault_link *fl, const struct rn_fault_params *p)
{
    bool any;

    fl->fl_p = *p;
    fl->fl_thr_drop = prob_threshold(p->fp_drop);
    fl->fl_thr_dup = prob_threshold(p->fp_dup);
    fl->fl_thr_reorder = prob_threshold(p->fp_reorder);
    fl->fl_thr_corrupt = prob_threshold(p->fp_corrupt);
    fl->fl_thr_delay = prob_threshold(p->fp_delay_rate);
    any = fl->fl_thr_drop || fl->fl_thr_dup || fl->fl_thr_reorder || fl->fl_thr_corrupt ||
          (fl->fl_thr_delay && (p->fp_delay || p->fp_jitter));
    if (!(p->fp_delay || p->fp_jitter))
        fl->fl_thr_delay = 0;
    fl->fl_dir[DIR_RX].fd_active = any && (p->fp_dir & RN_FAULT_RX);
    fl->fl_dir[DIR_TX].fd_active = any && (p->fp_dir & RN_FAULT_TX);
    xoshiro_seed(fl->fl_dir[DIR_RX].fd_rng, p->fp_seed, 1);
    xoshiro_seed(fl->fl_dir[DIR_TX].fd_rng, p->fp_seed, 2);
}

int rn_link_fault_open(struct rn_link *lower, const struct rn_fault_params *params,
                       struct rn_link **out)
{
    const struct rn__link_owners *own = rn__link_owners();
    struct fault_link *fl;

    assert(lower && params && out);
    if (!params_ok(params))
        return RN_EINVAL;
    if (own == NULL)
        return RN_ENOSPC;
    fl = calloc(1, sizeof(*fl));
    if (fl == NULL)
        return RN_ENOMEM;
    rn_link_init(&fl->fl_link, &fault_ops, lower, "fault");
    rn_nbq_init(&fl->fl_dir[DIR_RX].fd_ready);
    rn_nbq_init(&fl->fl_dir[DIR_TX].fd_ready);
    fl->fl_own_hold = own->lo_fault_hold;
    apply_params(fl, params);
    *out = &fl->fl_link;
    return 0;
}

int rn_link_fault_set_params(struct rn_link *link, const struct rn_fault_params *params)
{
    assert(link->lk_ops == &fault_ops);
    if (!params_ok(params))
        return RN_EINVAL;
    apply_params(fault_of(link), params);
    return 0;
}

void rn_link_fault_counters(const struct rn_link *link, enum rn_fault_dir dir,
                            struct rn_fault_counters *out)
{
    const struct fault_link *fl = (const struct fault_link *)link;

    assert(link->lk_ops == &fault_ops);
    assert(dir == RN_FAULT_RX || dir == RN_FAULT_TX);
    *out = fl->fl_dir[dir == RN_FAULT_RX ? DIR_RX : DIR_TX].fd_c;
}

/* ---- Spec strings ------------------------------------------------------- */

static int spec_err(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int spec_err(char *errbuf, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (errbuf && errlen) {
        va_start(ap, fmt);
        vsnprintf(errbuf, errlen, fmt, ap);
        va_end(ap);
    }
    return RN_EINVAL;
}

/* Parses "2%" or "0.02".  Returns 0, or -1 (malformed), -2 (out of range). */
static int parse_rate(const char *s, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (end == s || errno == ERANGE || !isfinite(v))
        return -1;
    if (*end == '%') {
        end++;
        v /= 100;
    } else if (!(v >= 0 && v <= 1)) {
        return -2;
    }
    if (*end != '\0')
        return -1;
    if (!(v >= 0 && v <= 1))
        return -2;
    *out = v;
    return 0;
}

/* Parses "5ms", "250us", "1.5s", "100ns".  Returns 0 or -1. */
static int parse_duration(const char *s, rn_time_t *out)
{
    static const struct {
        const char *unit;
        double ns;
    } units[] = {{"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}};
    char *end;
    double v;
    size_t i;

    errno = 0;
    v = strtod(s, &end);
    if (end == s || errno == ERANGE || !isfinite(v) || v < 0)
        return -1;
    for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(end, units[i].unit) == 0) {
            v *= units[i].ns;
            if (v >= 1.8e19)
                return -1;
            *out = (rn_time_t)(v + 0.5);
            return 0;
        }
    }
    return -1;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (*s == '\0' || *s == '-' || *s == '+')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 0);
    if (errno == ERANGE || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

enum spec_key {
    K_DROP, K_DUP, K_REORDER, K_CORRUPT, K_DELAY_RATE, K_DELAY, K_JITTER, K_HOLD, K_SEED,
    K_DIR, K_COUNT
};

static const char *const spec_keys[K_COUNT] = {
    "drop", "dup", "reorder", "corrupt", "delay_rate", "delay", "jitter", "hold", "seed", "dir",
};

int rn_fault_parse(const char *spec, struct rn_fault_params *out, char *errbuf, size_t errlen)
{
    struct rn_fault_params p;
    bool seen[K_COUNT] = {false};
    char *copy, *item, *save = NULL;
    int err = 0;

    assert(spec && out);
    rn_fault_params_init(&p);
    copy = strdup(spec);
    if (copy == NULL)
        return spec_err(errbuf, errlen, "fault spec: out of memory");
    for (item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq, *key, *val, *e;
        int k, r;

        /* Trim blanks around the item, key and value. */
        while (*item == ' ' || *item == '\t')
            item++;
        for (e = item + strlen(item); e > item && (e[-1] == ' ' || e[-1] == '\t');)
            *--e = '\0';
        if (*item == '\0')
            continue;
        eq = strchr(item, '=');
        if (eq == NULL) {
            err = spec_err(errbuf, errlen, "fault spec: '%s' needs a value, as in drop=2%%",
                           item);
            goto out_free;
        }
        key = item;
        val = eq + 1;
        for (e = eq; e > key && (e[-1] == ' ' || e[-1] == '\t'); e--)
            ;
        *e = '\0';
        while (*val == ' ' || *val == '\t')
            val++;
        for (k = 0; k < K_COUNT; k++) {
            if (strcmp(key, spec_keys[k]) == 0)
                break;
        }
        if (k == K_COUNT) {
            err = spec_err(errbuf, errlen,
                           "fault spec: unknown key '%s' in '%s=%s' (keys: drop, dup, reorder, "
                           "corrupt, delay, delay_rate, jitter, hold, seed, dir)",
                           key, key, val);
            goto out_free;
        }
        if (seen[k]) {
            err = spec_err(errbuf, errlen, "fault spec: '%s' given twice", key);
            goto out_free;
        }
        seen[k] = true;
        switch (k) {
        case K_DROP:
        case K_DUP:
        case K_REORDER:
        case K_CORRUPT:
        case K_DELAY_RATE: {
            double *dst = k == K_DROP      ? &p.fp_drop
                          : k == K_DUP     ? &p.fp_dup
                          : k == K_REORDER ? &p.fp_reorder
                          : k == K_CORRUPT ? &p.fp_corrupt
                                           : &p.fp_delay_rate;

            r = parse_rate(val, dst);
            if (r == -1) {
                err = spec_err(errbuf, errlen,
                               "fault spec: bad rate '%s=%s': expected a percentage like 2%% "
                               "or a fraction like 0.02",
                               key, val);
                goto out_free;
            }
            if (r == -2) {
                err = spec_err(errbuf, errlen,
                               "fault spec: rate out of range '%s=%s': must be 0%% to 100%% "
                               "(a number without %% is a fraction from 0 to 1)",
                               key, val);
                goto out_free;
            }
            break;
        }
        case K_DELAY:
        case K_JITTER:
        case K_HOLD: {
            rn_time_t *dst = k == K_DELAY ? &p.fp_delay : k == K_JITTER ? &p.fp_jitter : &p.fp_hold;

            if (parse_duration(val, dst) != 0) {
                err = spec_err(errbuf, errlen,
                               "fault spec: bad duration '%s=%s': expected a number and a unit "
                               "(ns, us, ms or s), like 5ms",
                               key, val);
                goto out_free;
            }
            break;
        }
        case K_SEED:
            if (parse_u64(val, &p.fp_seed) != 0) {
                err = spec_err(errbuf, errlen,
                               "fault spec: bad seed 'seed=%s': expected an unsigned integer", val);
                goto out_free;
            }
            break;
        case K_DIR:
            if (strcmp(val, "rx") == 0) {
                p.fp_dir = RN_FAULT_RX;
            } else if (strcmp(val, "tx") == 0) {
                p.fp_dir = RN_FAULT_TX;
            } else if (strcmp(val, "both") == 0) {
                p.fp_dir = RN_FAULT_BOTH;
            } else {
                err = spec_err(errbuf, errlen,
                               "fault spec: bad direction 'dir=%s': expected rx, tx or both", val);
                goto out_free;
            }
            break;
        }
    }
    /* A delay alone delays every frame. */
    if ((seen[K_DELAY] || seen[K_JITTER]) && !seen[K_DELAY_RATE])
        p.fp_delay_rate = 1;
    *out = p;

out_free:
    free(copy);
    return err;
}

static void format_rate(struct rn_strbuf *sb, const char *key, double v)
{
    if (v > 0)
        rn_strbuf_printf(sb, "%s=%.17g,", key, v);
}

static void format_duration(struct rn_strbuf *sb, const char *key, rn_time_t t)
{
    if (t == 0)
        return;
    if (t % RN_NSEC_PER_SEC == 0)
        rn_strbuf_printf(sb, "%s=%llus,", key, (unsigned long long)(t / RN_NSEC_PER_SEC));
    else if (t % RN_NSEC_PER_MSEC == 0)
        rn_strbuf_printf(sb, "%s=%llums,", key, (unsigned long long)(t / RN_NSEC_PER_MSEC));
    else if (t % RN_NSEC_PER_USEC == 0)
        rn_strbuf_printf(sb, "%s=%lluus,", key, (unsigned long long)(t / RN_NSEC_PER_USEC));
    else
        rn_strbuf_printf(sb, "%s=%lluns,", key, (unsigned long long)t);
}

void rn_fault_format(const struct rn_fault_params *p, struct rn_strbuf *sb)
{
    static const char *const dirs[] = {"?", "rx", "tx", "both"};

    format_rate(sb, "drop", p->fp_drop);
    format_rate(sb, "dup", p->fp_dup);
    format_rate(sb, "reorder", p->fp_reorder);
    format_rate(sb, "corrupt", p->fp_corrupt);
    format_duration(sb, "delay", p->fp_delay);
    format_duration(sb, "jitter", p->fp_jitter);
    /* Always written, so that a delay without it does not read back as 100%. */
    if (p->fp_delay || p->fp_jitter || p->fp_delay_rate > 0)
        rn_strbuf_printf(sb, "delay_rate=%.17g,", p->fp_delay_rate);
    format_duration(sb, "hold", p->fp_hold);
    rn_strbuf_printf(sb, "seed=%llu,dir=%s", (unsigned long long)p->fp_seed,
                     dirs[p->fp_dir <= RN_FAULT_BOTH ? p->fp_dir : 0]);
}
