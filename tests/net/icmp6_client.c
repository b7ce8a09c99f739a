/*
 * The client side of tests/net/test_ipv6_icmp_err.sh: a refnet stack in
 * this program on a TAP device (as an embedder runs one: the public API
 * only, its loop on a thread of its own), IPv6 address LOCAL, which makes
 * the calls the test names against Linux at PEER and prints what each
 * returned, one line each:
 *
 *   icmp6-client TAP LOCAL PEER OP...
 *     OP udp:PORT   a UDP socket connected to PEER:PORT sends a datagram
 *                   and receives (3 s at most): "udp PORT CONNREFUSED"
 *     OP tcp:PORT   a TCP connect to PEER:PORT (5 s at most):
 *                   "tcp PORT ACCES"
 *
 * The result is refnet's code name ("OK" for success, "AGAIN" when the
 * time ran out).  Then "icmp6.errors_to_transport N" and the drops
 * "bad_icmp6_quote N" and "icmp6_err_not_ours N" from the stack's
 * counters.  Exits 0, or 1 if the stack could not be built or something
 * leaked when it was destroyed, 2 on bad usage.  Every wait is bounded.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <refnet/refnet.h>

static struct rn_stack *stack;
static struct rn_loop *loop;
static pthread_t loop_thread;

static void *loop_main(void *arg)
{
    int e = rn_loop_run(arg);

    if (e != 0)
        fprintf(stderr, "icmp6-client: the loop failed: %s\n", rn_strerror(e));
    return NULL;
}

static int start(const char *tap, const struct rn_ip6 *local)
{
    struct rn_stack_params sp = {.sp_name = "icmp6-client", .sp_seed = (uint64_t)getpid()};
    struct rn_link_tap_params tp = {.tp_ifname = tap};
    struct rn_iface_params ip = {.ifp_name = tap, .ifp_no_garp = true, .ifp_ipv6 = true};
    char why[RN_LINK_ERRLEN] = "";
    struct rn_link *link;
    struct rn_iface *ifp;
    int e;

    e = rn_stack_create(&sp, &stack);
    if (e != 0) {
        fprintf(stderr, "icmp6-client: cannot create the stack: %s\n", rn_strerror(e));
        return e;
    }
    e = rn_sock_layer_init(stack);
    if (e == 0) {
        tp.tp_pool = rn_stack_pool(stack);
        e = rn_link_tap_open(&tp, &link, why);
    }
    if (e == 0) {
        ip.ifp_link = link;
        e = rn_stack_add_iface(stack, &ip, &ifp);
    }
    if (e == 0)
        e = rn_iface_add_addr6(ifp, local, 64);
    if (e == 0)
        e = rn_link_tap_set_up(link, true);
    if (e == 0)
        e = rn_loop_create(stack, &loop);
    if (e == 0 && pthread_create(&loop_thread, NULL, loop_main, loop) != 0) {
        rn_loop_destroy(loop);
        e = RN_EIO;
    }
    if (e != 0) {
        fprintf(stderr, "icmp6-client: cannot start on %s: %s\n", tap,
                why[0] ? why : rn_strerror(e));
        (void)rn_stack_destroy(stack);
    }
    return e;
}

static struct rn_sockaddr_in addr6(const struct rn_ip6 *a, uint16_t port)
{
    return (struct rn_sockaddr_in){.sin_family = RN_AF_INET6, .sin_port = port, .sin6_addr = *a};
}

/* Waits (10 s at most) until LOCAL passed duplicate address detection: a
 * UDP connect to peer, which needs a usable source, then succeeds. */
static int wait_usable(struct rn_proc *p, const struct rn_ip6 *peer)
{
    struct rn_sockaddr_in to = addr6(peer, 9);
    int i, e = RN_ENETUNREACH;

    for (i = 0; i < 100 && e != 0; i++) {
        int h = rn_socket(p, RN_SOCK_DGRAM | RN_SOCK_INET6, 0);

        if (h < 0)
            return h;
        e = rn_connect(p, h, &to);
        (void)rn_close(p, h);
        if (e != 0)
            usleep(100 * 1000);
    }
    return e;
}

static int op_udp(struct rn_proc *p, const struct rn_ip6 *peer, uint16_t port)
{
    struct rn_sockaddr_in to = addr6(peer, port);
    char buf[64];
    int h = rn_socket(p, RN_SOCK_DGRAM | RN_SOCK_INET6, 0), e;

    if (h < 0)
        return h;
    e = rn_setsockopt(p, h, RN_SO_RCVTIMEO, 3000);
    if (e == 0)
        e = rn_connect(p, h, &to);
    if (e == 0) {
        ssize_t n = rn_send(p, h, "icmp6-client", 12, 0);

        e = n < 0 ? (int)n : 0;
    }
    if (e == 0) {
        ssize_t n = rn_recv(p, h, buf, sizeof(buf), 0);

        e = n < 0 ? (int)n : 0;
    }
    (void)rn_close(p, h);
    return e;
}

static int op_tcp(struct rn_proc *p, const struct rn_ip6 *peer, uint16_t port)
{
    struct rn_sockaddr_in to = addr6(peer, port);
    int h = rn_socket(p, RN_SOCK_STREAM | RN_SOCK_INET6, 0), e;

    if (h < 0)
        return h;
    e = rn_setsockopt(p, h, RN_SO_SNDTIMEO, 5000);
    if (e == 0)
        e = rn_connect(p, h, &to);
    /* A connect that succeeded is aborted: nothing lingers. */
    (void)rn_setsockopt(p, h, RN_SO_LINGER, 0);
    (void)rn_close(p, h);
    return e;
}

struct want {
    const char *w_name;
    uint64_t w_value;
};

static void counter_of(const struct rn_stack_counter *c, void *ctx)
{
    struct want *w = ctx;

    if (strcmp(c->sc_name, w->w_name) == 0)
        w->w_value = c->sc_value;
}

static uint64_t counter(const char *name)
{
    struct want w = {name, 0};

    rn_stack_counters(stack, counter_of, &w);
    return w.w_value;
}

int main(int argc, char **argv)
{
    struct rn_ip6 local, peer;
    struct rn_proc *p = NULL;
    uint64_t live;
    int i, e, status = 0;

    if (argc < 5 || rn_ip6_addr_parse(argv[2], &local, NULL) != 0 ||
        rn_ip6_addr_parse(argv[3], &peer, NULL) != 0) {
        fprintf(stderr, "usage: icmp6-client TAP LOCAL PEER udp:PORT|tcp:PORT...\n");
        return 2;
    }
    if (start(argv[1], &local) != 0)
        return 1;
    e = rn_proc_create(stack, "icmp6-client", &p);
    if (e == 0)
        e = wait_usable(p, &peer);
    if (e != 0) {
        fprintf(stderr, "icmp6-client: %s never became usable: %s\n", argv[2], rn_strerror(e));
        status = 1;
    }
    for (i = 4; i < argc && status == 0; i++) {
        char kind[4];
        unsigned port;

        if (sscanf(argv[i], "%3[a-z]:%u", kind, &port) != 2 || port == 0 || port > 65535 ||
            (strcmp(kind, "udp") != 0 && strcmp(kind, "tcp") != 0)) {
            fprintf(stderr, "icmp6-client: bad operation '%s' (udp:PORT or tcp:PORT)\n",
                    argv[i]);
            status = 2;
            break;
        }
        e = kind[0] == 'u' ? op_udp(p, &peer, (uint16_t)port) : op_tcp(p, &peer, (uint16_t)port);
        printf("%s %u %s\n", kind, port, rn_err_name(e));
        fflush(stdout);
    }
    if (p != NULL)
        rn_proc_exit(p);
    /* The closes and the exit run on the loop: give them a moment. */
    usleep(300 * 1000);
    rn_loop_stop(loop);
    pthread_join(loop_thread, NULL);
    rn_loop_destroy(loop);
    printf("icmp6.errors_to_transport %" PRIu64 "\n", counter("icmp6.errors_to_transport"));
    printf("bad_icmp6_quote %" PRIu64 "\n", rn_stack_drops(stack, RN_DROP_BAD_ICMP6_QUOTE));
    printf("icmp6_err_not_ours %" PRIu64 "\n", rn_stack_drops(stack, RN_DROP_ICMP6_ERR_NOT_OURS));
    if (rn_stack_destroy(stack) != 0)
        status = 1;
    rn_ob_drain();
    live = rn_ob_live_count(NULL);
    if (live != 0) {
        (void)rn_diag_report_leaks(NULL);
        fprintf(stderr, "icmp6-client: %" PRIu64 " objects leaked\n", live);
        status = 1;
    }
    return status;
}
