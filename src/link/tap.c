/*
 * TAP link: Ethernet frames to and from the Linux kernel through
 * /dev/net/tun (IFF_TAP | IFF_NO_PI).
 *
 * A driver at the bottom of the link layer (see include/refnet/link.h), used
 * by the real-time host.  The kernel side of the device is an ordinary
 * Linux interface; refnet is the "wire" behind it.  The fd is
 * non-blocking; rx reads until EAGAIN or its batch is full, tx gathers
 * each frame's buffers without copying.  Both go through io_uring: up to
 * TAP_RX_BATCH reads (each into a packet of its own; the ones past the
 * last frame come back EAGAIN at once) or TAP_TX_BATCH writes in one
 * submission, waited for in the same system call.  On a virtual machine
 * a system call costs about as much as the kernel's own work on a small
 * frame, and a readv or writev per frame paid it for every ACK.  A frame
 * alone is a readv or writev, as are reads with offloads (below); with
 * tp_single, or where io_uring is not allowed, every frame.
 *
 * Offloads (tp_vnet_hdr, the daemon's default): with IFF_VNET_HDR every
 * frame is prefixed by a struct virtio_net_hdr, and TUNSETOFFLOAD
 * (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) lets both sides leave checksums
 * unfinished and hand over TCP segments of up to 64 KiB.  That is where
 * batching beyond one system call per MSS comes from in bulk transfers:
 * Linux sends refnet one 64 KiB segment per read, over IPv4 and IPv6
 * (tap_rx_offload() turns the header into the packet's nb_offload and
 * nb_gso_size), and refnet's TCP over IPv4 sends 64 KiB in one write that
 * the kernel cuts (tap_tx_offload()); over IPv6 it sends MSS-sized
 * segments whose checksums the kernel finishes.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <liburing.h>

#include "link/link_priv.h"
#include "link/tap_steer.h"
#include "refnet/error.h"
#include "refnet/report.h"
#include "refnet/strbuf.h"

/* Frames made of more buffers than this are copied into tl_scratch and
 * written flat; shorter chains go out with writev as they are. */
#define TAP_IOV_MAX 32
/* Largest frame the device can hand over (64 KiB less nothing: tun's cap). */
#define TAP_FRAME_MAX 65535u
/* Room for a VLAN tag beyond MTU + Ethernet header. */
#define TAP_VLAN_HLEN 4u
/* Frames handed to the kernel in one io_uring submission at most. */
#define TAP_TX_BATCH 64u
/* Reads queued in one io_uring submission at most, and at least. */
#define TAP_RX_BATCH 32u
#define TAP_RX_HINT_MIN 4u

/* One read of a batch: the packet it reads into, its pieces, its result. */
struct tap_rx_slot {
    struct rn_netbuf *rs_nb;
    struct virtio_net_hdr rs_vh;
    struct iovec rs_iov[TAP_IOV_MAX + 1];
    unsigned rs_cnt;
    int rs_res;
};

struct tap_link {
    struct rn_link tl_link;           /* [L] common part; first */
    bool tl_vnet;                     /* [I] frames carry a virtio_net_hdr */
    struct rn_netbuf *tl_spare;       /* [L] buffers left over from earlier reads */
    unsigned tl_nspare;               /* [L] how many, linked by nb_next */
    unsigned tl_spare_max;            /* [L] at most the buffers of one largest frame */
    int tl_fd;                        /* [I] the /dev/net/tun file */
    int tl_ctl;                       /* [I] AF_INET socket for interface ioctls */
    char tl_ifname[IFNAMSIZ];         /* [I] device name */
    unsigned tl_queue;                /* [I] this queue of a multi-queue device */
    unsigned tl_queues;               /* [I] the device's queues, 1 if single */
    int tl_pins;                      /* [I] queue 0 of several: the steering
                                         program's map of pinned ports; else -1 */
    struct rn_nbpool *tl_pool;        /* [I] pool received frames come from */
    uint32_t tl_mtu;                  /* [I] device MTU */
    uint32_t tl_frame_max;            /* [I] tl_frame_max == tl_mtu + 14 + 4 */
    uint8_t tl_hwaddr[RN_MAC_LEN];   /* [I] refnet's address on the link */
    rn_nb_owner_t tl_own_rx;          /* [I] owner of received frames */
    uint64_t tl_no_buffer;            /* [L] frames read and discarded: pool exhausted */
    uint8_t *tl_scratch;              /* [L] TAP_FRAME_MAX bytes, for long chains and discards */
    /* Transmit in batches: one io_uring submission writes up to
     * TAP_TX_BATCH frames, where writev would make a system call for
     * each.  Without io_uring (an old kernel, a sandbox that forbids it)
     * frames go out one writev each. */
    bool tl_uring;                    /* [L] tl_ring is set up */
    struct io_uring tl_ring;          /* [L] TAP_TX_BATCH entries */
    struct iovec (*tl_iov)[TAP_IOV_MAX + 1];  /* [L] TAP_TX_BATCH frames' pieces */
    struct virtio_net_hdr *tl_vh;     /* [L] TAP_TX_BATCH headers */
    int tl_res[TAP_TX_BATCH];         /* [L] each submitted write's result */
    uint64_t tl_tx_batches;           /* [L] io_uring submissions of writes */
    struct tap_rx_slot *tl_rx;        /* [L] TAP_RX_BATCH reads' slots */
    unsigned tl_rx_hint;              /* [L] reads to queue next: twice the last batch's frames */
    uint64_t tl_rx_batches;           /* [L] io_uring submissions of reads */
};

static void tap_uring_off(struct tap_link *tl, int err);

static struct tap_link *tap_of(struct rn_link *link)
{
    return (struct tap_link *)link;
}

/* Takes one frame off the device and discards it, as a NIC with an empty
 * ring would; otherwise the fd would stay readable forever.  Returns
 * RN_ENOBUFS if a frame was discarded, 0 if there was none, or -errno. */
static int tap_discard_frame(struct tap_link *tl)
{
    ssize_t r;

    do {
        r = read(tl->tl_fd, tl->tl_scratch, TAP_FRAME_MAX);
    } while (r < 0 && errno == EINTR);
    if (r < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
    return RN_ENOBUFS;
}

/* Takes a buffer for reading: a spare from an earlier read, or a new one. */
static struct rn_netbuf *tap_buffer(struct tap_link *tl)
{
    struct rn_netbuf *b = tl->tl_spare;

    if (b != NULL) {
        tl->tl_spare = b->nb_next;
        tl->tl_nspare--;
        b->nb_next = NULL;
        b->nb_nextpkt = NULL;
        b->nb_len = 0;
        b->nb_pktlen = 0;
        b->nb_ingress = 0;
        b->nb_offload = 0;
        b->nb_gso_size = 0;
        b->nb_rxtime = 0;
        b->nb_cb[0] = b->nb_cb[1] = 0;
        return b;
    }
    return rn_nb_alloc(tl->tl_pool, tl->tl_own_rx);
}

/* Gives the buffers of chain b back as spares, as many as one frame of
 * the largest size needs (a NIC's ring of one); the rest go back to the
 * pool, for the stack's other users. */
static void tap_spare(struct tap_link *tl, struct rn_netbuf *b)
{
    /* A draining pool gets back the spares it would rather not lend. */
    bool drain = b != NULL && rn_nbpool_draining(tl->tl_pool);

    while (b != NULL) {
        struct rn_netbuf *next = b->nb_next;

        b->nb_next = NULL;
        if (tl->tl_nspare >= tl->tl_spare_max || (drain && rn_nb_unwanted(b))) {
            rn_nb_free(b);
        } else {
            b->nb_next = tl->tl_spare;
            tl->tl_spare = b;
            tl->tl_nspare++;
        }
        b = next;
    }
}

/* Turns the device's virtio_net_hdr into the packet's offload flags. */
static void tap_rx_offload(struct rn_netbuf *nb, const struct virtio_net_hdr *vh)
{
    if (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
        nb->nb_offload |= RN_NB_OFF_CSUM_PARTIAL;
    if (vh->flags & VIRTIO_NET_HDR_F_DATA_VALID)
        nb->nb_offload |= RN_NB_OFF_CSUM_VALID;
    if ((vh->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) != VIRTIO_NET_HDR_GSO_NONE) {
        nb->nb_offload |= RN_NB_OFF_GSO;
        nb->nb_gso_size = vh->gso_size;
    }
}

/* Makes slot ready to read one frame: a packet of enough buffers for
 * tl_frame_max bytes and the iovecs over them (after the virtio_net_hdr
 * if the device sends one).  Returns false if the pool has not enough
 * buffers (nothing is then held). */
static bool tap_rx_slot_fill(struct tap_link *tl, struct tap_rx_slot *slot)
{
    struct rn_netbuf *nb, *b, *last;
    uint32_t room;
    unsigned cnt = 0;

    if (tl->tl_vnet) {
        slot->rs_iov[cnt].iov_base = &slot->rs_vh;
        slot->rs_iov[cnt].iov_len = sizeof(slot->rs_vh);
        cnt++;
    }
    nb = tap_buffer(tl);
    if (nb == NULL)
        return false;
    rn_nb_reserve(nb, rn_nbpool_headroom(tl->tl_pool));
    slot->rs_iov[cnt].iov_base = nb->nb_data;
    slot->rs_iov[cnt].iov_len = rn_nb_tailroom(nb);
    room = (uint32_t)slot->rs_iov[cnt].iov_len;
    nb->nb_len = room;
    cnt++;
    last = nb;
    while (room < tl->tl_frame_max && cnt < TAP_IOV_MAX + 1) {
        b = tap_buffer(tl);
        if (b == NULL) {
            /* A partial chain could truncate the frame. */
            for (b = nb; b != NULL; b = b->nb_next)
                b->nb_len = 0;
            tap_spare(tl, nb);
            return false;
        }
        rn_nb_reserve(b, 0);
        b->nb_len = b->nb_cap;
        slot->rs_iov[cnt].iov_base = b->nb_data;
        slot->rs_iov[cnt].iov_len = b->nb_cap;
        room += b->nb_cap;
        last->nb_next = b;
        last = b;
        cnt++;
    }
    nb->nb_pktlen = room;
    slot->rs_nb = nb;
    slot->rs_cnt = cnt;
    tl->tl_spare_max = cnt;
    return true;
}

/* Finishes slot's read, whose result r is what readv() returned (-errno on
 * failure).  Returns the frame, or NULL with *err set to 0 (nothing was
 * read) or -errno; the buffers the frame did not need are kept for the
 * next read, so a small frame costs one buffer even when the device may
 * send 64 KiB. */
static struct rn_netbuf *tap_rx_slot_done(struct tap_link *tl, struct tap_rx_slot *slot,
                                          ssize_t r, int *err)
{
    struct rn_netbuf *nb = slot->rs_nb, *b, *last;
    uint32_t used;

    slot->rs_nb = NULL;
    *err = 0;
    if (tl->tl_vnet && r > 0)
        r = r >= (ssize_t)sizeof(slot->rs_vh) ? r - (ssize_t)sizeof(slot->rs_vh) : 0;
    if (r <= 0) {
        *err = r == 0 || r == -EAGAIN || r == -EWOULDBLOCK ? 0 : (int)r;
        for (b = nb; b != NULL; b = b->nb_next)
            b->nb_len = 0;
        tap_spare(tl, nb);
        return NULL;
    }
    for (b = nb, used = 0; b != NULL; b = b->nb_next) {
        used += b->nb_len;
        if (used >= (uint32_t)r) {
            struct rn_netbuf *rest = b->nb_next;

            b->nb_next = NULL;
            nb->nb_pktlen = used;
            for (last = rest; last != NULL; last = last->nb_next)
                last->nb_len = 0;
            tap_spare(tl, rest);
            break;
        }
    }
    rn_nb_trim(nb, (size_t)r);
    if (tl->tl_vnet)
        tap_rx_offload(nb, &slot->rs_vh);
    return nb;
}

/* Reads one frame with a system call of its own.  Returns the packet, or
 * NULL with *err set to 0 (nothing to read), -errno, or RN_ENOBUFS (a
 * frame was read and discarded: no buffers). */
static struct rn_netbuf *tap_read_frame(struct tap_link *tl, int *err)
{
    struct tap_rx_slot *slot = &tl->tl_rx[0];
    ssize_t r;

    if (!tap_rx_slot_fill(tl, slot)) {
        *err = tap_discard_frame(tl);
        return NULL;
    }
    do {
        r = readv(tl->tl_fd, slot->rs_iov, (int)slot->rs_cnt);
    } while (r < 0 && errno == EINTR);
    return tap_rx_slot_done(tl, slot, r < 0 ? -errno : r, err);
}

/* Counts a received frame, or the failure err of a read that brought none
 * (tap_rx_slot_done()).  Returns false when reading should stop: the
 * device is empty or failed. */
static bool tap_rx_one(struct rn_link *link, struct rn_netbuf *nb, int err, rn_time_t now,
                       struct rn_netbuf **pkts, unsigned *n, int *fatal)
{
    struct tap_link *tl = tap_of(link);

    if (nb != NULL) {
        nb->nb_rxtime = now;
        rn__link_count_rx(link, nb);
        pkts[(*n)++] = nb;
        return true;
    }
    if (err == RN_ENOBUFS) {
        tl->tl_no_buffer++;
        link->lk_stats.ls_rx_drops++;
        return true;
    }
    if (err < 0) {
        link->lk_stats.ls_rx_errors++;
        /* A device gone (EBADFD, EIO) is not transient: say so if nothing
         * came; running short of memory is. */
        if (*n == 0 && err != -ENOBUFS && err != -ENOMEM)
            *fatal = RN_EIO;
    }
    return false;
}

/* Reads up to k frames in one io_uring submission: k reads queued, each
 * into a slot of its own; on the non-blocking device each completes at
 * once, with a frame or -EAGAIN.  Returns how many slots were read (fewer
 * than k if the pool ran short), or a negative code if the ring failed
 * (then nothing was read and every slot's buffers are back as spares). */
static int tap_rx_batch(struct tap_link *tl, unsigned k)
{
    unsigned j, done = 0;
    int r;

    for (j = 0; j < k; j++) {
        struct io_uring_sqe *sqe;

        if (!tap_rx_slot_fill(tl, &tl->tl_rx[j]))
            break;
        sqe = io_uring_get_sqe(&tl->tl_ring);  /* the ring has room for TAP_RX_BATCH */
        io_uring_prep_readv(sqe, tl->tl_fd, tl->tl_rx[j].rs_iov, tl->tl_rx[j].rs_cnt, 0);
        /* Without it io_uring would wait for a frame rather than say
         * EAGAIN: the device's O_NONBLOCK is not enough. */
        sqe->rw_flags = RWF_NOWAIT;
        io_uring_sqe_set_data64(sqe, j);
        tl->tl_rx[j].rs_res = -EAGAIN;
    }
    k = j;
    if (k == 0)
        return 0;
    do {
        r = io_uring_submit_and_wait(&tl->tl_ring, k);
    } while (r == -EINTR);
    while (r >= 0 && done < k) {
        struct io_uring_cqe *cqe;

        r = io_uring_wait_cqe(&tl->tl_ring, &cqe);
        if (r == -EINTR) {
            r = 0;
            continue;
        }
        if (r < 0)
            break;
        if (cqe->user_data < k)
            tl->tl_rx[cqe->user_data].rs_res = cqe->res;
        io_uring_cqe_seen(&tl->tl_ring, cqe);
        done++;
    }
    if (r < 0) {
        /* The ring goes first, with any read it still had, then the
         * buffers. */
        tap_uring_off(tl, r);
        for (j = 0; j < k; j++) {
            int e;

            (void)tap_rx_slot_done(tl, &tl->tl_rx[j], 0, &e);
        }
        return r;
    }
    tl->tl_rx_batches++;
    return (int)k;
}

static int tap_rx(struct rn_link *link, struct rn_netbuf **pkts, unsigned max, rn_time_t now)
{
    struct tap_link *tl = tap_of(link);
    unsigned n = 0, j;
    int err, fatal = 0, k;

    /* With offloads, frames of up to 64 KiB come one or two at a time and
     * each read takes a packet of 64 KiB of buffers: there a readv each
     * costs less than the ring (bench/tap_batch.sh: 0.94 of it). */
    while (n < max && tl->tl_uring && !tl->tl_vnet) {
        /* As many reads as the last batch found frames, and then some:
         * a quiet device costs few empty reads, a busy one few batches. */
        unsigned want = tl->tl_rx_hint < max - n ? tl->tl_rx_hint : max - n;
        unsigned got = 0;
        bool more = true;

        if (want == 1)
            break;  /* a batch of one: a readv costs less */
        k = tap_rx_batch(tl, want);
        if (k < 0)
            break;  /* the ring is gone: one readv a frame from now on */
        if (k == 0) {  /* no buffers: the frame is dropped, as a NIC would */
            err = tap_discard_frame(tl);
            if (!tap_rx_one(link, NULL, err, now, pkts, &n, &fatal))
                return fatal ? fatal : (int)n;
            continue;
        }
        for (j = 0; j < (unsigned)k; j++) {
            struct rn_netbuf *nb = tap_rx_slot_done(tl, &tl->tl_rx[j], tl->tl_rx[j].rs_res, &err);

            got += nb != NULL;
            if (!tap_rx_one(link, nb, err, now, pkts, &n, &fatal))
                more = false;
        }
        tl->tl_rx_hint = 2 * got < TAP_RX_HINT_MIN ? TAP_RX_HINT_MIN
                         : 2 * got > TAP_RX_BATCH  ? TAP_RX_BATCH
                                                   : 2 * got;
        /* Every read found a frame: there may be more.  (If the pool ran
         * short, the next round drops them, so that the device empties.) */
        if (!more)
            return fatal && n == 0 ? fatal : (int)n;
    }
    while (n < max) {
        struct rn_netbuf *nb = tap_read_frame(tl, &err);

        if (!tap_rx_one(link, nb, err, now, pkts, &n, &fatal))
            break;
    }
    return fatal && n == 0 ? fatal : (int)n;
}

/* Fills the virtio_net_hdr for an outgoing frame from its offload flags:
 * where the device must finish the checksum, and how to cut a GSO segment.
 * Whenever a flag is set the frame is Ethernet + IPv4 + TCP or UDP, or
 * Ethernet + IPv6 (no extension header: the transports add none) + TCP
 * or UDP. */
static void tap_tx_offload(const struct rn_netbuf *nb, struct virtio_net_hdr *vh)
{
    uint8_t hdr[RN_ETH_HLEN + 60 + 13];
    unsigned ihl, proto, thl;
    bool v6;

    memset(vh, 0, sizeof(*vh));
    if (!(nb->nb_offload & (RN_NB_OFF_CSUM_PARTIAL | RN_NB_OFF_GSO)))
        return;
    if (rn_nb_copyout(nb, 0, hdr, RN_ETH_HLEN + 40) < 0)
        return;
    v6 = hdr[12] == 0x86 && hdr[13] == 0xdd;
    if (v6) {
        ihl = 40;
        proto = hdr[RN_ETH_HLEN + 6];
    } else {
        ihl = (hdr[RN_ETH_HLEN] & 0x0f) * 4u;
        proto = hdr[RN_ETH_HLEN + 9];
    }
    vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    vh->csum_start = (uint16_t)(RN_ETH_HLEN + ihl);
    vh->csum_offset = proto == 6 ? 16 : 6;  /* TCP or UDP checksum field */
    if ((nb->nb_offload & RN_NB_OFF_GSO) && proto == 6 &&
        rn_nb_copyout(nb, RN_ETH_HLEN + ihl + 12, hdr, 1) == 0) {
        thl = (hdr[0] >> 4) * 4u;
        vh->gso_type = v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
        vh->gso_size = (uint16_t)nb->nb_gso_size;
        vh->hdr_len = (uint16_t)(RN_ETH_HLEN + ihl + thl);
    }
}

/* Fills iov (TAP_IOV_MAX + 1 entries) with the pieces of frame nb, after
 * *vh (filled here) if the device takes a virtio_net_hdr.  Returns how
 * many entries, or 0 if nb has more pieces than that: it must then be
 * written flat (tap_write_frame()). */
static unsigned tap_frame_iov(const struct tap_link *tl, const struct rn_netbuf *nb,
                              struct virtio_net_hdr *vh, struct iovec *iov)
{
    const struct rn_netbuf *b;
    unsigned cnt = 0;

    if (tl->tl_vnet) {
        tap_tx_offload(nb, vh);
        iov[cnt].iov_base = vh;
        iov[cnt].iov_len = sizeof(*vh);
        cnt++;
    }
    for (b = nb; b != NULL; b = b->nb_next) {
        if (b->nb_len == 0)
            continue;
        if (cnt == TAP_IOV_MAX + 1)
            return 0;
        iov[cnt].iov_base = b->nb_data;
        iov[cnt].iov_len = b->nb_len;
        cnt++;
    }
    return cnt;
}

/* Writes one frame with a system call of its own.  Returns 0 or -errno.
 * Does not consume nb. */
static int tap_write_frame(struct tap_link *tl, struct rn_netbuf *nb)
{
    struct iovec iov[TAP_IOV_MAX + 1];
    struct virtio_net_hdr vh;
    unsigned cnt = tap_frame_iov(tl, nb, &vh, iov);
    ssize_t r;

    do {
        if (cnt > 0) {
            r = writev(tl->tl_fd, iov, (int)cnt);
        } else {
            /* More pieces than iovecs: one flat copy (rare). */
            size_t skip = tl->tl_vnet ? sizeof(vh) : 0;
            int len = rn_nb_linearize(nb, tl->tl_scratch + skip, TAP_FRAME_MAX + 64 - skip);

            if (len < 0)
                return -EMSGSIZE;
            if (skip)
                memcpy(tl->tl_scratch, &vh, skip);  /* tap_frame_iov() filled it */
            r = write(tl->tl_fd, tl->tl_scratch, (size_t)len + skip);
        }
    } while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : 0;
}

/* Counts frame nb's fate (0 or -errno from its write) and frees it.
 * Returns 1 if it was sent. */
static int tap_tx_done(struct rn_link *link, struct rn_netbuf *nb, int err)
{
    int sent = 0;

    if (err == 0) {
        rn__link_count_tx(link, nb);
        sent = 1;
    } else if (err == -EAGAIN || err == -EWOULDBLOCK || err == -ENOBUFS) {
        link->lk_stats.ls_tx_drops++;  /* the device queue is full */
    } else {
        link->lk_stats.ls_tx_errors++;
    }
    rn_nb_free(nb);
    return sent;
}

/* Gives up on io_uring for good (the ring is torn down, with whatever it
 * had not yet taken): from now on every frame is a writev of its own. */
static void tap_uring_off(struct tap_link *tl, int err)
{
    rn_report(RN_REPORT_INFO, "tap %s: io_uring failed (%s); writing one frame per system call\n",
              tl->tl_ifname, strerror(-err));
    io_uring_queue_exit(&tl->tl_ring);
    tl->tl_uring = false;
}

/* Writes the k frames whose writes are queued in the ring: one system call
 * submits them all and waits for them (a TAP write does not block, so
 * the wait is for the kernel to finish what it took).  Fills tl_res[0..k)
 * with each write's result, or returns a negative code if the ring failed
 * (then it is gone, with what it had not yet taken). */
static int tap_uring_flush(struct tap_link *tl, unsigned k)
{
    unsigned done = 0;
    int r;

    do {
        r = io_uring_submit_and_wait(&tl->tl_ring, k);
    } while (r == -EINTR);
    if (r < 0) {
        tap_uring_off(tl, r);
        return r;
    }
    tl->tl_tx_batches++;
    while (done < k) {
        struct io_uring_cqe *cqe;

        r = io_uring_wait_cqe(&tl->tl_ring, &cqe);
        if (r == -EINTR)
            continue;
        if (r < 0) {
            tap_uring_off(tl, r);
            return r;
        }
        if (cqe->user_data < TAP_TX_BATCH)
            tl->tl_res[cqe->user_data] = cqe->res < 0 ? cqe->res : 0;
        io_uring_cqe_seen(&tl->tl_ring, cqe);
        done++;
    }
    return 0;
}

static int tap_tx(struct rn_link *link, struct rn_netbuf **pkts, unsigned n, rn_time_t now)
{
    struct tap_link *tl = tap_of(link);
    unsigned i = 0, j, k;
    int sent = 0, err;

    (void)now;
    while (i < n) {
        unsigned first = i;

        /* Queue the writes of the next frames that fit in iovecs; a
         * frame alone is a writev, which costs less than the ring. */
        for (k = 0; tl->tl_uring && n - first > 1 && i < n && k < TAP_TX_BATCH; i++, k++) {
            unsigned cnt = tap_frame_iov(tl, pkts[i], &tl->tl_vh[k], tl->tl_iov[k]);
            struct io_uring_sqe *sqe;

            if (cnt == 0)
                break;
            sqe = io_uring_get_sqe(&tl->tl_ring);  /* the ring has TAP_TX_BATCH entries */
            io_uring_prep_writev(sqe, tl->tl_fd, tl->tl_iov[k], cnt, 0);
            io_uring_sqe_set_data64(sqe, k);
            tl->tl_res[k] = -EIO;
        }
        if (k > 0) {
            err = tap_uring_flush(tl, k);
            if (err < 0) {
                i = first;  /* the same frames again, one writev each */
                continue;
            }
            for (j = 0; j < k; j++)
                sent += tap_tx_done(link, pkts[first + j], tl->tl_res[j]);
            continue;
        }
        /* A frame with more pieces than iovecs, or no ring. */
        sent += tap_tx_done(link, pkts[i], tap_write_frame(tl, pkts[i]));
        i++;
    }
    return sent;
}

static int tap_poll_fd(struct rn_link *link)
{
    return tap_of(link)->tl_fd;
}

static void tap_caps(struct rn_link *link, struct rn_link_caps *caps)
{
    struct tap_link *tl = tap_of(link);

    caps->lc_mtu = tl->tl_mtu;
    memcpy(caps->lc_hwaddr, tl->tl_hwaddr, RN_MAC_LEN);
    caps->lc_has_hwaddr = true;
    /* Every frame is written (copied by the kernel) before tap_tx()
     * returns: frames may refer to a sender's memory. */
    caps->lc_offloads = RN_LINK_OFF_TX_REF;
    if (tl->tl_vnet)
        caps->lc_offloads |= RN_LINK_OFF_TX_CSUM | RN_LINK_OFF_RX_CSUM | RN_LINK_OFF_TSO |
                             RN_LINK_OFF_TSO6;
}

static void tap_values(struct rn_link *link, rn_value_fn fn, void *ctx)
{
    struct tap_link *tl = tap_of(link);
    const struct rn_value v[] = {
        {"device", tl->tl_ifname, 0},
        {"queue", NULL, tl->tl_queue},
        {"queues", NULL, tl->tl_queues},
        {"mtu", NULL, tl->tl_mtu},
        {"offloads", tl->tl_vnet ? "csum+tso" : "none", 0},
        {"batches", tl->tl_uring ? "io_uring" : "off", 0},
        {"tx_batches", NULL, tl->tl_tx_batches},
        {"rx_batches", NULL, tl->tl_rx_batches},
        {"no_buffer", NULL, tl->tl_no_buffer},
    };
    size_t i;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        if (tl->tl_queues == 1 && (i == 1 || i == 2))
            continue;  /* "queue", "queues": a multi-queue device's */
        fn(&v[i], ctx);
    }
}

static void tap_close(struct rn_link *link)
{
    struct tap_link *tl = tap_of(link);

    if (tl->tl_uring)
        io_uring_queue_exit(&tl->tl_ring);
    close(tl->tl_fd);
    close(tl->tl_ctl);
    if (tl->tl_pins >= 0)
        close(tl->tl_pins);
    rn_nb_free(tl->tl_spare);
    free(tl->tl_iov);
    free(tl->tl_vh);
    free(tl->tl_rx);
    free(tl->tl_scratch);
    free(tl);
}

static const struct rn_link_ops tap_ops = {
    .kind = "tap",
    .tx = tap_tx,
    .rx = tap_rx,
    .poll_fd = tap_poll_fd,
    .next_deadline = NULL,
    .caps = tap_caps,
    .values = tap_values,
    .close = tap_close,
};

static int tap_ifreq(struct tap_link *tl, unsigned long req, struct ifreq *ifr)
{
    memset(ifr->ifr_name, 0, IFNAMSIZ);
    memcpy(ifr->ifr_name, tl->tl_ifname, strlen(tl->tl_ifname));
    return ioctl(tl->tl_ctl, req, ifr) < 0 ? -errno : 0;
}

/* Attaching to the device gives it carrier, but the kernel starts to send
 * on it only when its link watcher has seen the carrier (IFF_RUNNING):
 * until then whatever the kernel sends there is dropped.  The first frames
 * refnet sends (duplicate address detection, a gratuitous ARP) ask for
 * answers, so the open waits until the device runs: at most a second,
 * and only if the device is up (an administratively down device never
 * runs, and writes to it fail until it is brought up). */
static void tap_wait_running(struct tap_link *tl)
{
    const struct timespec tick = {0, 1000000};
    struct ifreq ifr;
    int i;

    for (i = 0; i < 1000; i++) {
        memset(&ifr, 0, sizeof(ifr));
        if (tap_ifreq(tl, SIOCGIFFLAGS, &ifr) != 0 || !(ifr.ifr_flags & IFF_UP) ||
            (ifr.ifr_flags & IFF_RUNNING))
            return;
        (void)nanosleep(&tick, NULL);
    }
}

int rn_link_tap_set_up(struct rn_link *link, bool up)
{
    struct tap_link *tl = tap_of(link);
    struct ifreq ifr;
    int err;

    assert(link->lk_ops == &tap_ops);
    memset(&ifr, 0, sizeof(ifr));
    err = tap_ifreq(tl, SIOCGIFFLAGS, &ifr);
    if (err)
        return err == -EPERM ? RN_EPERM : RN_EIO;
    if (up)
        ifr.ifr_flags |= IFF_UP;
    else
        ifr.ifr_flags &= ~IFF_UP;
    err = tap_ifreq(tl, SIOCSIFFLAGS, &ifr);
    if (err)
        return err == -EPERM ? RN_EPERM : RN_EIO;
    return 0;
}

int rn_link_tap_pin(struct rn_link *link, uint8_t proto, uint16_t port, unsigned queue)
{
    struct tap_link *tl = tap_of(link);

    assert(link->lk_ops == &tap_ops);
    if (tl->tl_pins < 0 || queue >= tl->tl_queues ||
        (proto != RN_IPPROTO_TCP && proto != RN_IPPROTO_UDP))
        return RN_EINVAL;
    return rn__tap_pin(tl->tl_pins, proto, port, queue);
}

int rn_link_tap_unpin(struct rn_link *link, uint8_t proto, uint16_t port)
{
    struct tap_link *tl = tap_of(link);

    assert(link->lk_ops == &tap_ops);
    if (tl->tl_pins < 0)
        return RN_EINVAL;
    return rn__tap_unpin(tl->tl_pins, proto, port);
}

const char *rn_link_tap_ifname(const struct rn_link *link)
{
    assert(link->lk_ops == &tap_ops);
    return ((const struct tap_link *)link)->tl_ifname;
}

static int errno_to_rn(int e)
{
    switch (e) {
    case EPERM:
        return RN_EPERM;
    case EACCES:
        return RN_EACCES;
    case ENOENT:
    case ENODEV:
        return RN_ENOENT;
    case EBUSY:
        return RN_EBUSY;
    case EINVAL:
        return RN_EINVAL;
    case ENOMEM:
        return RN_ENOMEM;
    default:
        return RN_EIO;
    }
}

/* TUNSETIFF.  A single queue is asked for as one of a multi-queue device
 * too, when the device exists as one (`ip tuntap add ... multi_queue`).
 * Returns 0 or an errno value. */
static int tap_attach(int fd, struct ifreq *ifr, unsigned queues)
{
    if (ioctl(fd, TUNSETIFF, ifr) == 0)
        return 0;
    if (errno != EINVAL || queues > 1)
        return errno;
    ifr->ifr_flags |= IFF_MULTI_QUEUE;
    return ioctl(fd, TUNSETIFF, ifr) == 0 ? 0 : EINVAL;
}

/* Queue 0 of a multi-queue device: attaches the program that spreads
 * received frames over the queues (tap_steer.c). */
static int tap_steer(struct tap_link *tl, const struct rn_link_tap_params *params, char *errbuf)
{
    char why[RN_LINK_ERRLEN - IFNAMSIZ - 16];
    struct rn_rss rss;
    int fd, e;

    if (params->tp_rss != NULL) {
        rss = *params->tp_rss;
        if (rss.rs_queues != tl->tl_queues)
            return rn__link_err(errbuf, RN_EINVAL, "tap %s: RSS over %u queues, device has %u",
                                tl->tl_ifname, rss.rs_queues, tl->tl_queues);
    } else {
        rn_rss_init(&rss, tl->tl_queues);
    }
    tl->tl_pins = rn__tap_pins_create(why, sizeof(why));
    if (tl->tl_pins < 0) {
        e = tl->tl_pins;
        tl->tl_pins = -1;
        return rn__link_err(errbuf, e, "tap %s: %s", tl->tl_ifname, why);
    }
    fd = rn__tap_steer_load(&rss, tl->tl_pins, why, sizeof(why));
    if (fd < 0)
        return rn__link_err(errbuf, fd, "tap %s: %s", tl->tl_ifname, why);
    if (ioctl(tl->tl_fd, TUNSETSTEERINGEBPF, &fd) < 0) {
        e = errno;
        close(fd);
        return rn__link_err(errbuf, errno_to_rn(e), "tap %s: cannot attach the steering program: %s",
                            tl->tl_ifname, strerror(e));
    }
    close(fd);  /* the device keeps the program */
    return 0;
}

int rn_link_tap_open(const struct rn_link_tap_params *params, struct rn_link **out, char *errbuf)
{
    static const uint8_t zero_mac[RN_MAC_LEN];
    const struct rn__link_owners *own = rn__link_owners();
    struct tap_link *tl;
    struct ifreq ifr;
    const char *name;
    unsigned queues;
    int err, e;

    assert(params && out);
    name = params->tp_ifname ? params->tp_ifname : "";
    queues = params->tp_queues > 1 ? params->tp_queues : 1;
    if (queues > RN_RSS_QUEUES_MAX || params->tp_queue >= queues)
        return rn__link_err(errbuf, RN_EINVAL, "tap %s: queue %u of %u (at most %u queues)", name,
                            params->tp_queue, queues, RN_RSS_QUEUES_MAX);
    if (params->tp_queue > 0 && memcmp(params->tp_hwaddr, zero_mac, RN_MAC_LEN) == 0)
        return rn__link_err(errbuf, RN_EINVAL,
                            "tap %s: queue %u needs queue 0's hardware address", name,
                            params->tp_queue);
    if (params->tp_pool == NULL)
        return rn__link_err(errbuf, RN_EINVAL, "tap: no buffer pool given");
    if (strlen(name) == 0 || strlen(name) >= IFNAMSIZ)
        return rn__link_err(errbuf, RN_EINVAL, "tap: interface name '%s' must be 1 to %d characters",
                            name, IFNAMSIZ - 1);
    if (own == NULL)
        return rn__link_err(errbuf, RN_ENOSPC, "tap %s: netbuf owner table full", name);

    tl = calloc(1, sizeof(*tl));
    if (tl == NULL)
        return rn__link_err(errbuf, RN_ENOMEM, "tap %s: out of memory", name);
    tl->tl_fd = -1;
    tl->tl_ctl = -1;
    tl->tl_pins = -1;
    tl->tl_scratch = malloc(TAP_FRAME_MAX + 64);
    tl->tl_iov = calloc(TAP_TX_BATCH, sizeof(*tl->tl_iov));
    tl->tl_vh = calloc(TAP_TX_BATCH, sizeof(*tl->tl_vh));
    tl->tl_rx = calloc(TAP_RX_BATCH, sizeof(*tl->tl_rx));
    tl->tl_rx_hint = 4;
    if (tl->tl_scratch == NULL || tl->tl_iov == NULL || tl->tl_vh == NULL || tl->tl_rx == NULL) {
        err = rn__link_err(errbuf, RN_ENOMEM, "tap %s: out of memory", name);
        goto out_free;
    }
    tl->tl_fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (tl->tl_fd < 0) {
        e = errno;
        err = rn__link_err(errbuf, errno_to_rn(e), "tap %s: cannot open /dev/net/tun: %s", name,
                           strerror(e));
        goto out_free;
    }
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (params->tp_vnet_hdr ? IFF_VNET_HDR : 0) |
                    (queues > 1 ? IFF_MULTI_QUEUE : 0);
    memcpy(ifr.ifr_name, name, strlen(name));
    e = tap_attach(tl->tl_fd, &ifr, queues);
    if (e != 0) {
        err = rn__link_err(errbuf, errno_to_rn(e), "tap %s: cannot attach (TUNSETIFF): %s%s", name,
                           strerror(e),
                           e == EPERM ? " (needs CAP_NET_ADMIN)"
                           : e == EBUSY ? " (in use, or exists with other flags)"
                           : e == EINVAL && queues > 1
                               ? " (exists with a single queue? `ip tuntap add ... multi_queue` "
                                 "makes one with several)"
                           : e == EINVAL ? " (exists and is not a TAP?)" : "");
        goto out_close;
    }
    memcpy(tl->tl_ifname, ifr.ifr_name, IFNAMSIZ);
    tl->tl_ifname[IFNAMSIZ - 1] = '\0';
    tl->tl_queue = params->tp_queue;
    tl->tl_queues = queues;
    if (queues > 1 && params->tp_queue == 0) {
        err = tap_steer(tl, params, errbuf);
        if (err)
            goto out_close;
    }
    if (params->tp_vnet_hdr) {
        /* Frames both ways carry a 10-byte virtio_net_hdr; the kernel may
         * leave checksums to us (we finish or trust them) and hand over,
         * and take, TCP segments of up to 64 KiB. */
        int hsz = sizeof(struct virtio_net_hdr);

        if (ioctl(tl->tl_fd, TUNSETVNETHDRSZ, &hsz) < 0 ||
            ioctl(tl->tl_fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) < 0) {
            e = errno;
            err = rn__link_err(errbuf, errno_to_rn(e), "tap %s: cannot enable offloads: %s",
                               tl->tl_ifname, strerror(e));
            goto out_close;
        }
        tl->tl_vnet = true;
    } else if (ioctl(tl->tl_fd, TUNSETOFFLOAD, 0) < 0) {
        /* The device keeps the offloads of whoever held it before; without
         * a virtio_net_hdr there is nothing to say a checksum is left
         * unfinished, so every such frame would look corrupt. */
        e = errno;
        err = rn__link_err(errbuf, errno_to_rn(e), "tap %s: cannot disable offloads: %s",
                           tl->tl_ifname, strerror(e));
        goto out_close;
    }
    tl->tl_ctl = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (tl->tl_ctl < 0) {
        e = errno;
        err = rn__link_err(errbuf, errno_to_rn(e), "tap %s: cannot make a control socket: %s",
                           tl->tl_ifname, strerror(e));
        goto out_close;
    }
    memset(&ifr, 0, sizeof(ifr));
    if (params->tp_mtu && params->tp_queue == 0) {
        ifr.ifr_mtu = (int)params->tp_mtu;
        err = tap_ifreq(tl, SIOCSIFMTU, &ifr);
        if (err) {
            err = rn__link_err(errbuf, errno_to_rn(-err), "tap %s: cannot set MTU %u: %s",
                               tl->tl_ifname, params->tp_mtu, strerror(-err));
            goto out_close;
        }
    }
    err = tap_ifreq(tl, SIOCGIFMTU, &ifr);
    if (err) {
        err = rn__link_err(errbuf, errno_to_rn(-err), "tap %s: cannot read MTU: %s",
                           tl->tl_ifname, strerror(-err));
        goto out_close;
    }
    tl->tl_mtu = (uint32_t)ifr.ifr_mtu;
    tl->tl_frame_max = tl->tl_mtu + RN_ETH_HLEN + TAP_VLAN_HLEN;
    if (tl->tl_vnet || tl->tl_frame_max > TAP_FRAME_MAX)
        tl->tl_frame_max = TAP_FRAME_MAX;  /* merged segments reach 64 KiB */
    if (memcmp(params->tp_hwaddr, zero_mac, RN_MAC_LEN) != 0) {
        memcpy(tl->tl_hwaddr, params->tp_hwaddr, RN_MAC_LEN);
    } else {
        /* A random unicast, locally administered address.  The host may
         * read the OS here: this driver is part of the real-time host. */
        if (getrandom(tl->tl_hwaddr, RN_MAC_LEN, 0) != RN_MAC_LEN) {
            err = rn__link_err(errbuf, RN_EIO, "tap %s: cannot draw a random MAC address",
                               tl->tl_ifname);
            goto out_close;
        }
        tl->tl_hwaddr[0] = (uint8_t)((tl->tl_hwaddr[0] & ~0x01u) | 0x02u);
    }
    tl->tl_pool = params->tp_pool;
    tl->tl_own_rx = own->lo_tap_rx;
    rn_link_init(&tl->tl_link, &tap_ops, NULL, tl->tl_ifname);
    if (params->tp_up && params->tp_queue == 0) {
        err = rn_link_tap_set_up(&tl->tl_link, true);
        if (err) {
            err = rn__link_err(errbuf, err, "tap %s: cannot bring the device up: %s",
                               tl->tl_ifname, rn_strerror(err));
            goto out_close;
        }
    }
    if (params->tp_queue == 0)
        tap_wait_running(tl);
    /* Batched writes where the kernel allows io_uring (a sandbox, or
     * kernel.io_uring_disabled, may not: then one writev a frame). */
    if (!params->tp_single)
        tl->tl_uring = io_uring_queue_init(TAP_TX_BATCH, &tl->tl_ring, 0) == 0;
    *out = &tl->tl_link;
    return 0;

out_close:
    if (tl->tl_ctl >= 0)
        close(tl->tl_ctl);
    if (tl->tl_pins >= 0)
        close(tl->tl_pins);
    close(tl->tl_fd);
out_free:
    free(tl->tl_iov);
    free(tl->tl_vh);
    free(tl->tl_rx);
    free(tl->tl_scratch);
    free(tl);
    return err;
}
