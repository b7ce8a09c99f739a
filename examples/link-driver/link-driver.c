/*
 * link-driver: a link driver of your own under refnet, and two stacks
 * talking through it.
 *
 *     link-driver
 *
 * refnet's network layer sends and receives Ethernet frames through a
 * *link*: anything that implements struct rn_link_ops (link.h).  refnet
 * ships drivers for a TAP device, a loopback and the simulator's cable;
 * this program writes another one, whose wire is a Unix socketpair: each
 * frame is one SOCK_SEQPACKET record.  Two stacks, each run by its own
 * real-time loop on its own thread, get one end each:
 *
 *     stack "a" 198.18.0.1          stack "b" 198.18.0.2
 *       loop thread a                 loop thread b
 *       pair link "pair.a"  <====>    pair link "pair.b"
 *                        socketpair
 *
 * The main thread then sends UDP datagrams from a to b's port 7, where b
 * sends each one back: a short one, one that fills an Ethernet frame, and
 * one that IPv4 must cut into fragments.  It prints what crossed the
 * driver and exits 0 only if every datagram came back intact and nothing
 * leaked.
 *
 * A driver like this one fits any transport that moves whole frames: a
 * pipe to another process, a shared-memory ring, a hardware queue.  The
 * rules it follows (link.h): tx consumes every frame it is handed; rx
 * returns frames from the stack's pool, stamped with the time; poll_fd
 * tells the loop what to wait on; only the stack's loop thread calls it.
 *
 * Build: make (pkg-config --cflags --libs refnet).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <refnet/refnet.h>

/* ---- The driver ------------------------------------------------------------ */

#define PAIR_MTU 1500
/* A frame: the Ethernet header and at most PAIR_MTU bytes after it. */
#define PAIR_FRAME_MAX (RN_ETH_HLEN + PAIR_MTU)
/* Buffers one frame may span on transmit. */
#define PAIR_IOV_MAX 16

/* One end of the pair.  Every field is the loop thread's ([L]) or set
 * once at open ([I]). */
struct pair_link {
    struct rn_link pl_link;         /* [L] the part every link has; first */
    int pl_fd;                      /* [I] this end of the socketpair */
    bool pl_peer_gone;              /* [L] the other end was closed */
    struct rn_nbpool *pl_pool;      /* [I] the stack's pool: received frames */
    rn_nb_owner_t pl_owner;         /* [I] who received frames count against */
    uint8_t pl_mac[RN_MAC_LEN];    /* [I] this end's MAC address */
};

static struct pair_link *pair_of(struct rn_link *link)
{
    /* pl_link is the first member: a link pointer is a pair_link pointer. */
    return (struct pair_link *)link;
}

/* Sends each frame as one record, straight from its buffers (a netbuf is
 * a chain: nb_next links the buffers of one packet).  Consumes every
 * frame, sent or not, as every tx must. */
static int pair_tx(struct rn_link *link, struct rn_netbuf **pkts, unsigned n, rn_time_t now)
{
    struct pair_link *pl = pair_of(link);
    int sent = 0;
    unsigned i;

    (void)now;
    for (i = 0; i < n; i++) {
        struct rn_netbuf *nb = pkts[i], *b;
        struct iovec iov[PAIR_IOV_MAX];
        struct msghdr msg = {.msg_iov = iov};
        ssize_t w;

        for (b = nb; b != NULL && msg.msg_iovlen < PAIR_IOV_MAX; b = b->nb_next)
            iov[msg.msg_iovlen++] = (struct iovec){.iov_base = b->nb_data, .iov_len = b->nb_len};
        if (b != NULL || pl->pl_peer_gone) {
            link->lk_stats.ls_tx_drops++;  /* too scattered, or nobody listens */
        } else {
            w = sendmsg(pl->pl_fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (w == (ssize_t)nb->nb_pktlen) {
                link->lk_stats.ls_tx_frames++;
                link->lk_stats.ls_tx_bytes += nb->nb_pktlen;
                sent++;
            } else if (w < 0 && (errno == EAGAIN || errno == ENOBUFS)) {
                link->lk_stats.ls_tx_drops++;  /* the "ring" is full */
            } else {
                link->lk_stats.ls_tx_errors++;
            }
        }
        rn_nb_free(nb);
    }
    return sent;
}

/* Receives up to max frames, each into a buffer of the stack's pool. */
static int pair_rx(struct rn_link *link, struct rn_netbuf **pkts, unsigned max, rn_time_t now)
{
    struct pair_link *pl = pair_of(link);
    unsigned n = 0;

    while (n < max && !pl->pl_peer_gone) {
        struct rn_netbuf *nb = rn_nb_alloc(pl->pl_pool, pl->pl_owner);
        uint8_t *room;
        ssize_t r;

        if (nb == NULL) {
            /* No buffer: take the record off the socket all the same, or
             * the fd would stay readable and the loop spin. */
            uint8_t scrap[1];
            ssize_t skipped = recv(pl->pl_fd, scrap, sizeof(scrap), MSG_DONTWAIT | MSG_TRUNC);

            if (skipped == 0)
                pl->pl_peer_gone = true;
            if (skipped <= 0)
                break;
            link->lk_stats.ls_rx_drops++;
            continue;
        }
        /* Room for the largest frame, filled by recv(), then cut to what
         * arrived. */
        room = rn_nb_put(nb, PAIR_FRAME_MAX);
        if (room == NULL) {  /* cannot happen: pair_link_open() checked */
            rn_nb_free(nb);
            break;
        }
        r = recv(pl->pl_fd, room, PAIR_FRAME_MAX, MSG_DONTWAIT);
        if (r <= 0) {
            rn_nb_free(nb);
            if (r == 0)
                pl->pl_peer_gone = true;  /* end of file: poll_fd stops at once */
            else if (errno != EAGAIN)
                link->lk_stats.ls_rx_errors++;
            break;
        }
        (void)rn_nb_trim(nb, (size_t)r);
        nb->nb_rxtime = now;
        link->lk_stats.ls_rx_frames++;
        link->lk_stats.ls_rx_bytes += (uint64_t)r;
        pkts[n++] = nb;
    }
    return (int)n;
}

/* The loop waits for this fd to be readable before it calls rx.  The
 * stack asks again at every wake, so -1 once the peer is gone takes the
 * fd (readable for ever at end of file) out of the wait. */
static int pair_poll_fd(struct rn_link *link)
{
    struct pair_link *pl = pair_of(link);

    return pl->pl_peer_gone ? -1 : pl->pl_fd;
}

static void pair_caps(struct rn_link *link, struct rn_link_caps *caps)
{
    caps->lc_mtu = PAIR_MTU;
    memcpy(caps->lc_hwaddr, pair_of(link)->pl_mac, RN_MAC_LEN);
    caps->lc_has_hwaddr = true;
}

static void pair_close(struct rn_link *link)
{
    struct pair_link *pl = pair_of(link);

    close(pl->pl_fd);
    free(pl);
}

static const struct rn_link_ops pair_ops = {
    .kind = "pair",
    .tx = pair_tx,
    .rx = pair_rx,
    .poll_fd = pair_poll_fd,
    /* No next_deadline: nothing here is timed, the fd says it all. */
    .caps = pair_caps,
    .close = pair_close,
};

/* Opens a pair link named name on fd (which it owns from now on, and
 * closes), receiving into pool.  Returns 0 and sets *out, or a negative
 * refnet code. */
static int pair_link_open(int fd, struct rn_nbpool *pool, uint8_t mac_last, const char *name,
                          struct rn_link **out)
{
    rn_nb_owner_t owner = rn_nb_owner_register("example.pair.rx");
    struct pair_link *pl;

    if (owner == RN_NB_OWNER_NONE)
        return RN_ENOSPC;
    /* A frame must fit one buffer of the pool (see pair_rx()). */
    if (rn_nbpool_data_size(pool) < PAIR_FRAME_MAX)
        return RN_EINVAL;
    pl = calloc(1, sizeof(*pl));
    if (pl == NULL)
        return RN_ENOMEM;
    rn_link_init(&pl->pl_link, &pair_ops, NULL, name);
    pl->pl_fd = fd;
    pl->pl_pool = pool;
    pl->pl_owner = owner;
    /* A locally administered unicast address. */
    memcpy(pl->pl_mac, (uint8_t[RN_MAC_LEN]){0x02, 0x00, 0x00, 0x00, 0x00, mac_last},
           RN_MAC_LEN);
    *out = &pl->pl_link;
    return 0;
}

/* ---- Two stacks on the pair ---------------------------------------------- */

#define ADDR_A 0xc6120001u  /* 198.18.0.1 */
#define ADDR_B 0xc6120002u  /* 198.18.0.2 */
#define ECHO_PORT 7

/* A stack, its interface on one end of the pair, its loop and thread. */
struct node {
    const char *nd_name;
    struct rn_stack *nd_stack;
    struct rn_link *nd_link;      /* borrowed: the interface owns it */
    struct rn_loop *nd_loop;
    pthread_t nd_thread;
    bool nd_running;              /* nd_thread was started */
    struct rn_proc *nd_proc;      /* the process the main thread's sockets belong to */
};

static void *loop_thread(void *arg)
{
    struct node *nd = arg;
    int e = rn_loop_run(nd->nd_loop);

    if (e != 0)
        fprintf(stderr, "link-driver: loop %s failed: %s\n", nd->nd_name, rn_strerror(e));
    return NULL;
}

/* Creates nd's stack with an interface on fd at addr/15 and starts its
 * loop.  Returns 0, or a negative code with the reason printed.  On
 * failure fd is closed and what was built stays in nd for node_down(). */
static int node_up(struct node *nd, int fd, uint32_t addr, uint8_t mac_last)
{
    struct rn_stack_params sp = {.sp_name = nd->nd_name, .sp_seed = addr};
    struct rn_iface_params ip = {.ifp_name = "pair0", .ifp_addr = addr, .ifp_plen = 15};
    struct rn_iface *ifp;
    char name[16];
    int e;

    e = rn_stack_create(&sp, &nd->nd_stack);
    if (e == 0)
        e = rn_sock_layer_init(nd->nd_stack);
    snprintf(name, sizeof(name), "pair.%s", nd->nd_name);
    if (e == 0)
        e = pair_link_open(fd, rn_stack_pool(nd->nd_stack), mac_last, name, &nd->nd_link);
    if (e != 0) {
        close(fd);
        fprintf(stderr, "link-driver: cannot set up stack %s: %s\n", nd->nd_name,
                rn_strerror(e));
        return e;
    }
    /* The interface takes the link, and closes it, on success or not. */
    ip.ifp_link = nd->nd_link;
    e = rn_stack_add_iface(nd->nd_stack, &ip, &ifp);
    if (e != 0)
        nd->nd_link = NULL;  /* closed already */
    if (e == 0)
        e = rn_loop_create(nd->nd_stack, &nd->nd_loop);
    if (e == 0)
        e = pthread_create(&nd->nd_thread, NULL, loop_thread, nd) == 0 ? 0 : RN_ENOMEM;
    if (e != 0) {
        fprintf(stderr, "link-driver: cannot start stack %s: %s\n", nd->nd_name,
                rn_strerror(e));
        return e;
    }
    nd->nd_running = true;
    return rn_proc_create(nd->nd_stack, nd->nd_name, &nd->nd_proc);
}

/* A process's release, signalled from the loop thread. */
struct exit_wait {
    pthread_mutex_t ew_lock;
    pthread_cond_t ew_cond;
    bool ew_done;
};

static void proc_released(struct rn_ob_wait *w, void *ctx)
{
    struct exit_wait *ew = ctx;

    (void)w;
    pthread_mutex_lock(&ew->ew_lock);
    ew->ew_done = true;
    pthread_cond_signal(&ew->ew_cond);
    pthread_mutex_unlock(&ew->ew_lock);
}

/* Ends nd's process (closing its handles) and waits until it is gone. */
static void node_proc_exit(struct node *nd)
{
    struct exit_wait ew = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};
    struct rn_ob_wait w = {0};
    rn_tag_t tag = rn_tag_intern("link-driver");

    if (nd->nd_proc == NULL)
        return;
    /* The wait needs a reference of its own: rn_proc_exit() gives up the
     * creator's. */
    rn_ob_ref(nd->nd_proc, tag);
    if (rn_ob_wait_release(nd->nd_proc, &w, NULL, "exit", proc_released, &ew) != 0)
        ew.ew_done = true;
    rn_proc_exit(nd->nd_proc);
    rn_ob_deref(nd->nd_proc, tag);
    pthread_mutex_lock(&ew.ew_lock);
    while (!ew.ew_done)
        pthread_cond_wait(&ew.ew_cond, &ew.ew_lock);
    pthread_mutex_unlock(&ew.ew_lock);
    nd->nd_proc = NULL;
}

/* Stops nd's loop and waits for its thread: from then on the stack, its
 * link included, is the calling thread's. */
static void node_stop(struct node *nd)
{
    if (nd->nd_running) {
        rn_loop_stop(nd->nd_loop);
        pthread_join(nd->nd_thread, NULL);
        nd->nd_running = false;
    }
}

/* Destroys nd's loop and stack (stopped).  Returns 0, or RN_EBUSY if the
 * stack still held buffers or objects (reported on stderr). */
static int node_destroy(struct node *nd)
{
    rn_loop_destroy(nd->nd_loop);
    return nd->nd_stack != NULL ? rn_stack_destroy(nd->nd_stack) : 0;
}

/* Sends len bytes from a to b's echo port and checks what comes back.
 * Returns true if the same bytes returned. */
static bool exchange(struct node *a, int ha, struct node *b, int hb, size_t len)
{
    static uint8_t out[4000], in[4000], mid[4000];
    struct rn_sockaddr_in to_b = {.sin_addr = ADDR_B, .sin_port = ECHO_PORT}, from;
    char addr[RN_IP4_STRLEN];
    ssize_t n;
    size_t i;

    for (i = 0; i < len; i++)
        out[i] = (uint8_t)(i * 7 + len);
    n = rn_sendto(a->nd_proc, ha, out, len, 0, &to_b);
    if (n != (ssize_t)len) {
        printf("link-driver: a could not send %zu bytes: %s\n", len,
               n < 0 ? rn_strerror((int)n) : "short send");
        return false;
    }
    /* b: receive it and send it back to where it came from. */
    n = rn_recvfrom(b->nd_proc, hb, mid, sizeof(mid), 0, &from);
    if (n < 0) {
        printf("link-driver: b received nothing: %s\n", rn_strerror((int)n));
        return false;
    }
    printf("link-driver: b got %zd bytes from %s:%u\n", n, rn_ip4_addr_fmt(from.sin_addr, addr),
           from.sin_port);
    if (rn_sendto(b->nd_proc, hb, mid, (size_t)n, 0, &from) != n)
        return false;
    n = rn_recv(a->nd_proc, ha, in, sizeof(in), 0);
    if (n != (ssize_t)len || memcmp(in, out, len) != 0) {
        printf("link-driver: a got %zd bytes back, not the %zu it sent\n", n, len);
        return false;
    }
    return true;
}

/* Prints the counters of nd's link.  They are the loop thread's ([L]):
 * read them once the loop has stopped. */
static void print_link(const struct node *nd)
{
    struct rn_link_stats s;

    if (nd->nd_link == NULL)
        return;
    rn_link_stats(nd->nd_link, &s);
    printf("link-driver: %s (%s): tx %" PRIu64 " frames %" PRIu64 " bytes, rx %" PRIu64
           " frames %" PRIu64 " bytes, drops %" PRIu64 "\n",
           rn_link_name(nd->nd_link), rn_link_kind(nd->nd_link), s.ls_tx_frames,
           s.ls_tx_bytes, s.ls_rx_frames, s.ls_rx_bytes, s.ls_tx_drops + s.ls_rx_drops);
}

int main(void)
{
    /* A short datagram, one that fills a 1500-byte frame, one that needs
     * three fragments. */
    static const size_t sizes[] = {32, 1472, 4000};
    struct node a = {.nd_name = "a"}, b = {.nd_name = "b"};
    struct rn_sockaddr_in echo_port = {.sin_addr = 0, .sin_port = ECHO_PORT};
    unsigned ok = 0, i, nsizes = sizeof(sizes) / sizeof(sizes[0]);
    int sv[2], ha = -1, hb = -1, status = 0;
    uint64_t live;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        perror("link-driver: socketpair");
        return 1;
    }
    if (node_up(&a, sv[0], ADDR_A, 1) != 0) {
        close(sv[1]);
        status = 1;
    } else if (node_up(&b, sv[1], ADDR_B, 2) != 0) {
        status = 1;
    }

    if (status == 0) {
        /* The blocking API, from this thread: b listens on port 7, a sends.
         * A receive gives up after 5 s rather than hang the program. */
        hb = rn_socket(b.nd_proc, RN_SOCK_DGRAM, 0);
        ha = rn_socket(a.nd_proc, RN_SOCK_DGRAM, 0);
        if (hb < 0 || ha < 0 || rn_bind(b.nd_proc, hb, &echo_port) != 0 ||
            rn_setsockopt(b.nd_proc, hb, RN_SO_RCVTIMEO, 5000) != 0 ||
            rn_setsockopt(a.nd_proc, ha, RN_SO_RCVTIMEO, 5000) != 0) {
            fprintf(stderr, "link-driver: cannot set up the sockets\n");
            status = 1;
        }
        for (i = 0; status == 0 && i < nsizes; i++) {
            if (exchange(&a, ha, &b, hb, sizes[i]))
                ok++;
        }
    }

    /* Processes first (their closes need the loops), then the loops; then
     * this thread may read the links and destroy the stacks. */
    node_proc_exit(&a);
    node_proc_exit(&b);
    node_stop(&a);
    node_stop(&b);
    print_link(&a);
    print_link(&b);
    if (node_destroy(&a) != 0)
        status = 1;
    if (node_destroy(&b) != 0)
        status = 1;
    rn_ob_drain();
    live = rn_ob_live_count(NULL);
    if (live != 0) {
        (void)rn_diag_report_leaks(NULL);
        printf("link-driver: %" PRIu64 " objects leaked\n", live);
        status = 1;
    }
    printf("link-driver: %u of %u datagrams came back intact\n", ok, nsizes);
    if (ok != nsizes)
        status = 1;
    printf("link-driver: %s\n", status == 0 ? "ok" : "FAILED");
    return status;
}
