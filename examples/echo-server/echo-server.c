/*
 * echo-server: a TCP echo server on refnet, on a Linux TAP device.
 *
 *     echo-server TAP ADDRESS/PREFIX PORT
 *     echo-server rn0 198.18.0.2/15 7
 *
 * It creates the TAP device if it does not exist (this needs
 * CAP_NET_ADMIN), gives refnet the address on it, and echoes every byte
 * each client sends until the client closes.  Linux reaches it through the
 * TAP: give Linux an address of its own on the same prefix, e.g.
 *
 *     ip addr add 198.18.0.1/15 dev rn0 && ip link set rn0 up
 *     nc 198.18.0.2 7
 *
 * SIGINT or SIGTERM stops it: the connections still open are reset, the
 * stack is destroyed, and it exits 0 only if nothing leaked.
 *
 * The shape of the program is that of any embedder using the blocking API:
 *
 *     main thread                          loop thread
 *     -----------                          -----------
 *     create the stack, its TAP
 *     interface and the loop
 *     start the loop thread  ----------->  rn_loop_run(): polls the TAP,
 *                                          runs timers and posted work
 *     rn_socket, rn_accept, rn_recv ...    (each call is posted to the
 *       (block until the loop is done)      loop and completed there)
 *     rn_loop_stop()  ------------------>  rn_loop_run() returns
 *     join, destroy the loop and stack
 *
 * The stack's protocol state belongs to the loop thread; the blocking
 * calls may come from any other thread, never from the loop thread itself.
 *
 * Build: make (pkg-config --cflags --libs refnet).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <refnet/refnet.h>

/* Clients served at once; more are accepted and closed at once. */
#define MAX_CLIENTS 16
/* How long rn_poll() waits before the server looks at its stop flag. */
#define POLL_MS 100
/* A client that reads nothing for this long is dropped, so that a full
 * send cannot keep the server from its other clients (or from stopping). */
#define SEND_TIMEOUT_MS 5000

/* Set by SIGINT and SIGTERM. */
static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* ---- The loop thread ------------------------------------------------------ */

/* Runs the stack until rn_loop_stop(). */
static void *loop_thread(void *arg)
{
    struct rn_loop *loop = arg;
    int e = rn_loop_run(loop);

    if (e != 0)
        fprintf(stderr, "echo-server: the loop failed: %s\n", rn_strerror(e));
    return NULL;
}

/* ---- The server, on the main thread -------------------------------------- */

struct server {
    struct rn_proc *sv_proc;                   /* the process owning the handles */
    int sv_listener;                           /* the listening handle */
    int sv_clients[MAX_CLIENTS];               /* connection handles, 0: free */
    uint64_t sv_served;                        /* connections accepted */
    uint64_t sv_bytes;                         /* bytes echoed */
};

/* Sends all of buf on handle h.  Returns 0, or a negative refnet code. */
static int send_all(struct rn_proc *p, int h, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = rn_send(p, h, buf, len, 0);

        if (n < 0)
            return (int)n;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Closes slot i's connection.  rn_close() returns once refnet has let go
 * of the connection: after the FIN exchange, or at once with linger 0. */
static void drop_client(struct server *sv, unsigned i, bool abort)
{
    if (abort)
        (void)rn_setsockopt(sv->sv_proc, sv->sv_clients[i], RN_SO_LINGER, 0);
    (void)rn_close(sv->sv_proc, sv->sv_clients[i]);
    sv->sv_clients[i] = 0;
}

/* A connection waits on the listener: accept it into a free slot. */
static void accept_client(struct server *sv)
{
    struct rn_sockaddr_in peer;
    char addr[RN_IP4_STRLEN];
    unsigned i;
    int h = rn_accept(sv->sv_proc, sv->sv_listener, &peer);

    if (h < 0) {
        fprintf(stderr, "echo-server: accept: %s\n", rn_strerror(h));
        return;
    }
    for (i = 0; i < MAX_CLIENTS && sv->sv_clients[i] != 0; i++)
        ;
    if (i == MAX_CLIENTS) {
        (void)rn_close(sv->sv_proc, h);
        return;
    }
    (void)rn_setsockopt(sv->sv_proc, h, RN_SO_SNDTIMEO, SEND_TIMEOUT_MS);
    sv->sv_clients[i] = h;
    sv->sv_served++;
    printf("echo-server: connection from %s:%u\n", rn_ip4_addr_fmt(peer.sin_addr, addr),
           peer.sin_port);
    fflush(stdout);
}

/* Slot i's connection is readable (data, its end, or an error). */
static void serve_client(struct server *sv, unsigned i)
{
    uint8_t buf[16384];
    ssize_t n = rn_recv(sv->sv_proc, sv->sv_clients[i], buf, sizeof(buf), 0);

    if (n > 0 && send_all(sv->sv_proc, sv->sv_clients[i], buf, (size_t)n) == 0) {
        sv->sv_bytes += (uint64_t)n;
        return;
    }
    /* 0 is the client's FIN: close our side too.  Anything else is an
     * error (a reset, a send that timed out): give up on the client. */
    drop_client(sv, i, n != 0);
}

/* Serves until a signal asks to stop.  Returns 0, or a negative code if
 * the listener could not be set up. */
static int serve(struct server *sv, uint16_t port)
{
    struct rn_sockaddr_in any = {.sin_addr = 0, .sin_port = port};
    struct rn_pollfd fds[1 + MAX_CLIENTS];
    unsigned slot[1 + MAX_CLIENTS];
    int e;

    sv->sv_listener = rn_socket(sv->sv_proc, RN_SOCK_STREAM, 0);
    if (sv->sv_listener < 0)
        return sv->sv_listener;
    e = rn_bind(sv->sv_proc, sv->sv_listener, &any);
    if (e == 0)
        e = rn_listen(sv->sv_proc, sv->sv_listener, 16);
    if (e != 0)
        return e;
    printf("echo-server: listening on port %u\n", port);
    fflush(stdout);

    while (!stop_requested) {
        unsigned nfds = 0, i;
        int n;

        /* The listener, then every open connection. */
        fds[nfds++] = (struct rn_pollfd){.pf_handle = sv->sv_listener, .pf_events = RN_POLLIN};
        for (i = 0; i < MAX_CLIENTS; i++) {
            if (sv->sv_clients[i] == 0)
                continue;
            slot[nfds] = i;
            fds[nfds++] = (struct rn_pollfd){.pf_handle = sv->sv_clients[i],
                                             .pf_events = RN_POLLIN};
        }
        /* A timeout, rather than a wait for ever, so that a signal is
         * noticed within POLL_MS: the blocking calls are not interrupted
         * by signals (they wait for the loop thread, not for the kernel). */
        n = rn_poll(sv->sv_proc, fds, nfds, POLL_MS);
        if (n < 0) {
            fprintf(stderr, "echo-server: poll: %s\n", rn_strerror(n));
            break;
        }
        for (i = 1; i < nfds; i++) {
            if (fds[i].pf_revents & (RN_POLLIN | RN_POLLHUP | RN_POLLERR))
                serve_client(sv, slot[i]);
        }
        if (fds[0].pf_revents & RN_POLLIN)
            accept_client(sv);
    }
    return 0;
}

/* ---- Shutdown -------------------------------------------------------------- */

/* The process's release, which rn_proc_exit() begins and the loop thread
 * finishes once every handle's cleanup has. */
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

/* Closes every handle and ends the process, waiting until refnet has
 * released it (the loop must still run: the closes complete there). */
static void server_close(struct server *sv)
{
    struct exit_wait ew = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};
    struct rn_ob_wait w = {0};
    rn_tag_t tag = rn_tag_intern("echo-server");
    unsigned i;

    for (i = 0; i < MAX_CLIENTS; i++) {
        if (sv->sv_clients[i] != 0)
            drop_client(sv, i, true);
    }
    if (sv->sv_listener > 0)
        (void)rn_close(sv->sv_proc, sv->sv_listener);
    /* rn_proc_exit() gives up our reference on the process; a wait for its
     * release needs one of its own while it is registered.  Every
     * reference names its holder: ours is "echo-server". */
    rn_ob_ref(sv->sv_proc, tag);
    if (rn_ob_wait_release(sv->sv_proc, &w, NULL, "exit", proc_released, &ew) != 0)
        ew.ew_done = true;  /* cannot happen: w is fresh */
    rn_proc_exit(sv->sv_proc);
    rn_ob_deref(sv->sv_proc, tag);
    pthread_mutex_lock(&ew.ew_lock);
    while (!ew.ew_done)
        pthread_cond_wait(&ew.ew_cond, &ew.ew_lock);
    pthread_mutex_unlock(&ew.ew_lock);
    sv->sv_proc = NULL;
}

/* ---- Set-up ---------------------------------------------------------------- */

static int usage(void)
{
    fprintf(stderr, "usage: echo-server TAP ADDRESS/PREFIX PORT\n"
                    "       e.g. echo-server rn0 198.18.0.2/15 7\n");
    return 2;
}

/* Creates the stack with its transports and socket layer, and an
 * interface on TAP device tap.  Returns 0, or a negative code with the
 * reason printed. */
static int stack_up(const char *tap, uint32_t addr, unsigned plen, struct rn_stack **out)
{
    struct rn_stack_params sp = {.sp_name = "echo-server"};
    struct rn_link_tap_params tp = {.tp_ifname = tap};
    struct rn_iface_params ip = {.ifp_name = tap, .ifp_addr = addr, .ifp_plen = (uint8_t)plen};
    char why[RN_LINK_ERRLEN] = "";
    struct rn_stack *st;
    struct rn_iface *ifp;
    struct rn_link *link;
    int e;

    /* The seed keys initial sequence numbers and ephemeral ports: a random
     * one, as a server on a real network wants. */
    if (getrandom(&sp.sp_seed, sizeof(sp.sp_seed), 0) != (ssize_t)sizeof(sp.sp_seed))
        sp.sp_seed = (uint64_t)getpid() ^ rn_clock_os_monotonic();
    e = rn_stack_create(&sp, &st);
    if (e != 0) {
        fprintf(stderr, "echo-server: cannot create the stack: %s\n", rn_strerror(e));
        return e;
    }
    e = rn_sock_layer_init(st);
    if (e != 0) {
        fprintf(stderr, "echo-server: cannot set up the transports: %s\n", rn_strerror(e));
        goto out_destroy;
    }
    tp.tp_pool = rn_stack_pool(st);
    e = rn_link_tap_open(&tp, &link, why);
    if (e != 0) {
        fprintf(stderr, "echo-server: cannot open TAP %s: %s\n", tap,
                why[0] ? why : rn_strerror(e));
        goto out_destroy;
    }
    /* The interface owns the link from here on, whatever the outcome. */
    ip.ifp_link = link;
    e = rn_stack_add_iface(st, &ip, &ifp);
    if (e != 0) {
        fprintf(stderr, "echo-server: cannot add interface %s: %s\n", tap, rn_strerror(e));
        goto out_destroy;
    }
    /* Up only now: the kernel sends nothing to a device that is down, so
     * no frame arrives before refnet has an interface to take it. */
    e = rn_link_tap_set_up(link, true);
    if (e != 0) {
        fprintf(stderr, "echo-server: cannot bring %s up: %s\n", tap, rn_strerror(e));
        goto out_destroy;
    }
    *out = st;
    return 0;

out_destroy:
    (void)rn_stack_destroy(st);
    return e;
}

int main(int argc, char **argv)
{
    struct server sv = {0};
    struct sigaction sa = {0};
    struct rn_stack *st;
    struct rn_loop *loop;
    sigset_t stop_signals, old;
    pthread_t thread;
    const char *msg;
    uint32_t addr;
    unsigned plen;
    unsigned long port;
    char *end;
    int e, status = 0;
    uint64_t live;

    if (argc != 4)
        return usage();
    if (rn_ip4_cidr_parse(argv[2], &addr, &plen, &msg) != 0) {
        fprintf(stderr, "echo-server: bad address '%s': %s\n", argv[2], msg);
        return usage();
    }
    errno = 0;
    port = strtoul(argv[3], &end, 10);
    if (errno != 0 || *end != '\0' || port == 0 || port > 65535) {
        fprintf(stderr, "echo-server: bad port '%s': expected 1..65535\n", argv[3]);
        return usage();
    }

    /* The handler only sets a flag the main thread reads.  The signals are
     * blocked until the loop thread exists, so that it (and every thread
     * the library starts) inherits the block and the signals come to the
     * main thread. */
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, &old);

    if (stack_up(argv[1], addr, plen, &st) != 0)
        return 1;
    e = rn_loop_create(st, &loop);
    if (e != 0) {
        fprintf(stderr, "echo-server: cannot create the loop: %s\n", rn_strerror(e));
        (void)rn_stack_destroy(st);
        return 1;
    }
    e = pthread_create(&thread, NULL, loop_thread, loop);
    if (e != 0) {
        fprintf(stderr, "echo-server: cannot start the loop thread: %s\n", strerror(e));
        rn_loop_destroy(loop);
        (void)rn_stack_destroy(st);
        return 1;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);

    /* From here on the stack belongs to the loop thread; this thread
     * talks to it through the socket API. */
    e = rn_proc_create(st, "echo-server", &sv.sv_proc);
    if (e == 0) {
        e = serve(&sv, (uint16_t)port);
        if (e != 0) {
            fprintf(stderr, "echo-server: cannot listen on port %lu: %s\n", port,
                    rn_strerror(e));
            status = 1;
        }
        server_close(&sv);
    } else {
        fprintf(stderr, "echo-server: cannot create a process: %s\n", rn_strerror(e));
        status = 1;
    }

    /* Stop the loop, then tear down on this thread, which owns the stack
     * again once the loop thread has ended. */
    rn_loop_stop(loop);
    pthread_join(thread, NULL);
    rn_loop_destroy(loop);
    if (rn_stack_destroy(st) != 0)
        status = 1;  /* buffers or objects still held: reported on stderr */
    /* Every object must be gone: refnet frees released objects a little
     * later than their release, rn_ob_drain() waits for that. */
    rn_ob_drain();
    live = rn_ob_live_count(NULL);
    if (live != 0) {
        (void)rn_diag_report_leaks(NULL);
        fprintf(stderr, "echo-server: %" PRIu64 " objects leaked\n", live);
        status = 1;
    }
    printf("echo-server: stopped%s: %" PRIu64 " connections, %" PRIu64 " bytes echoed\n",
           status == 0 ? " cleanly" : " with errors", sv.sv_served, sv.sv_bytes);
    return status;
}
