/*
 * The simulated pair (support.h): two stacks over a simulated cable, built
 * as struct pair_params says, and the loops that run them in virtual time
 * (from deadline to deadline on the manual clock) or in real time (the test
 * thread polls both stacks on the OS clock while other threads may use the
 * blocking API).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <cmocka.h>

#include "refnet/error.h"
#include "refnet/filter.h"
#include "refnet/link.h"
#include "refnet/netbuf.h"
#include "refnet/socket.h"
#include "refnet/transport.h"
#include "support.h"
#include "transport/tcp.h"

/* Steps a virtual-time run may take before it is called a livelock. */
#define MAX_STEPS 50000000L

struct pair P;

static void wake(void *ctx)
{
    uint64_t one = 1;
    ssize_t n = write(*(int *)ctx, &one, sizeof(one));

    (void)n;
}

/* The layers above IP on st, as pp says. */
static int layers_init(struct rn_stack *st, const struct pair_params *pp)
{
    int err = 0;

    switch (pp->pp_layers) {
    case PAIR_SOCKETS:
        err = rn_sock_layer_init(st);
        break;
    case PAIR_TCP:
        err = rn_tcp_init(st, NULL);
        break;
    case PAIR_NET:
        break;
    }
    if (err == 0 && pp->pp_filter)
        err = rn_filter_init(st);
    return err;
}

/* Puts a fault filter as spec says on *end.  On failure *end is still the
 * caller's to close. */
static int fault_on(struct rn_link **end, const char *spec)
{
    char errbuf[RN_LINK_ERRLEN];
    struct rn_fault_params fp;
    struct rn_link *f;
    int err;

    if (spec == NULL)
        return 0;
    if ((err = rn_fault_parse(spec, &fp, errbuf, sizeof(errbuf))) < 0) {
        print_error("fault spec '%s': %s\n", spec, errbuf);
        return err;
    }
    if ((err = rn_link_fault_open(*end, &fp, &f)) < 0)
        return err;
    *end = f;
    return 0;
}

int pair_build(const struct pair_params *pp)
{
    struct rn_stack_params sp = {.sp_seed = pp->pp_seed != 0 ? pp->pp_seed : 7};
    struct rn_sim_cable_params cp = {
        .sc_latency = RN_MSEC(1),
        .sc_mtu = pp->pp_mtu != 0 ? pp->pp_mtu : 1500,
        .sc_limit = pp->pp_limit,
        .sc_offloads = pp->pp_offloads,
        /* Fixed addresses, not ones numbered by the cables made before:
         * a run replays exactly whatever ran before it in the process. */
        .sc_hwaddr_a = {0x02, 0, 0, 0, 0, 0x01},
        .sc_hwaddr_b = {0x02, 0, 0, 0, 0, 0x02},
    };
    struct rn_iface_params ip = {.ifp_name = "sim0", .ifp_plen = 15};
    struct rn_link *la, *lb;
    int err;

    sp.sp_name = "a";
    if ((err = rn_stack_create(&sp, &P.a)) < 0)
        return err;
    sp.sp_name = "b";
    if ((err = rn_stack_create(&sp, &P.b)) < 0)
        return err;
    if ((err = layers_init(P.a, pp)) < 0 || (err = layers_init(P.b, pp)) < 0)
        return err;
    if (P.realtime) {
        rn_stack_set_wake(P.a, wake, &P.wake_fd);
        rn_stack_set_wake(P.b, wake, &P.wake_fd);
    }
    cp.sc_pool_a = rn_stack_pool(P.a);
    cp.sc_pool_b = rn_stack_pool(P.b);
    if ((err = rn_sim_cable_new(&cp, &la, &lb)) < 0)
        return err;
    if ((err = fault_on(&la, pp->pp_fault_ab)) < 0 || (err = fault_on(&lb, pp->pp_fault_ba)) < 0)
        goto out_close_ends;
    if (pp->pp_wrap_a != NULL)
        la = pp->pp_wrap_a(la);
    ip.ifp_link = la;
    ip.ifp_addr = ADDR_A;
    ip.ifp_ipv6 = pp->pp_ipv6;
    err = rn_stack_add_iface(P.a, &ip, &P.ifa);
    ip.ifp_link = lb;  /* taken by the stack, on failure too */
    ip.ifp_addr = ADDR_B;
    if (err < 0) {
        rn_link_close(lb);
        return err;
    }
    err = rn_stack_add_iface(P.b, &ip, &P.ifb);
    if (err == 0 && pp->pp_ipv6) {
        struct rn_ip6 a6, b6;

        if (rn_ip6_addr_parse(ADDR6_A, &a6, NULL) != 0 || rn_ip6_addr_parse(ADDR6_B, &b6, NULL) != 0)
            return RN_EINVAL;
        err = rn_iface_add_addr6(P.ifa, &a6, 64);
        if (err == 0)
            err = rn_iface_add_addr6(P.ifb, &b6, 64);
    }
    return err;

out_close_ends:
    rn_link_close(la);
    rn_link_close(lb);
    return err;
}

void pair_up_with(const struct pair_params *pp)
{
    int err;

    memset(&P, 0, sizeof(P));
    P.realtime = pp->pp_realtime;
    P.wake_fd = -1;
    if (P.realtime) {
        P.now = rn_clock_os_monotonic();
        P.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        assert_true(P.wake_fd >= 0);
    } else {
        P.now = RN_SEC(1);
        clock_manual_install(P.now);
    }
    err = pair_build(pp);
    if (err < 0)
        fail_msg("the pair could not be built: %s", rn_strerror(err));
    /* Duplicate address detection: one solicitation, a second's wait. */
    if (pp->pp_ipv6)
        run_for(RN_MSEC(1500));
    if (pp->pp_procs) {
        assert_int_equal(rn_proc_create(P.a, "client", &P.pa), 0);
        assert_int_equal(rn_proc_create(P.b, "server", &P.pb), 0);
    }
}

void pair_up(uint32_t mtu, bool realtime)
{
    struct pair_params pp = {.pp_mtu = mtu, .pp_realtime = realtime};

    pair_up_with(&pp);
}

void pair_down(void)
{
    if (P.pa != NULL || P.pb != NULL) {
        if (P.pa != NULL)
            rn_proc_exit(P.pa);
        if (P.pb != NULL)
            rn_proc_exit(P.pb);
        P.pa = P.pb = NULL;
        if (P.realtime) {
            /* Real time: 10 ms of polling, as in virtual time. */
            rn_time_t end = rn_clock_os_monotonic() + RN_MSEC(10);

            while (rn_clock_os_monotonic() < end)
                poll_both();
        } else {
            run_for(RN_MSEC(10));
        }
    }
    if (P.a != NULL)
        assert_int_equal(rn_stack_destroy(P.a), 0);
    if (P.b != NULL)
        assert_int_equal(rn_stack_destroy(P.b), 0);
    P.a = P.b = NULL;
    if (P.realtime) {
        if (P.wake_fd >= 0)
            close(P.wake_fd);
        P.wake_fd = -1;
    } else {
        clock_manual_uninstall();
    }
    check_live_objects(0);
}

void poll_both(void)
{
    if (P.realtime)
        P.now = rn_clock_os_monotonic();
    rn_stack_poll(P.a, P.now);
    rn_stack_poll(P.b, P.now);
}

/* The earlier of two deadlines, 0 meaning none. */
static rn_time_t earlier(rn_time_t x, rn_time_t y)
{
    if (x == 0)
        return y;
    if (y == 0)
        return x;
    return x < y ? x : y;
}

/* One step of virtual time, to the next deadline or until. */
static void step_virtual(rn_time_t until)
{
    rn_time_t next = earlier(earlier(rn_stack_next_deadline(P.a), rn_stack_next_deadline(P.b)),
                             until);

    if (next > until)
        next = until;
    if (next > P.now) {
        clock_manual_advance(next - P.now);
        P.now = next;
    }
    poll_both();
}

/* One step of real time: poll, then sleep until a deadline or a wake-up,
 * at most 2 ms. */
static void step_real(void)
{
    rn_time_t next, now;
    struct pollfd pfd = {.fd = P.wake_fd, .events = POLLIN};
    uint64_t v;
    int ms = 2;
    ssize_t n;

    poll_both();
    next = earlier(rn_stack_next_deadline(P.a), rn_stack_next_deadline(P.b));
    now = rn_clock_os_monotonic();
    if (next != 0 && next <= now)
        return;
    if (next != 0 && next - now < RN_MSEC(2))
        ms = (int)((next - now) / RN_NSEC_PER_MSEC);
    if (ms > 0 && poll(&pfd, 1, ms) > 0) {
        n = read(P.wake_fd, &v, sizeof(v));
        (void)n;
    }
}

void run_until(rn_time_t until)
{
    long guard;

    assert_false(P.realtime);
    for (guard = 0; guard < MAX_STEPS; guard++) {
        step_virtual(until);
        if (P.now >= until)
            return;
    }
    fail_msg("simulation did not settle");
}

void run_for(rn_time_t d)
{
    run_until(P.now + d);
}

bool run_while_not(bool (*cond)(void *ctx), void *ctx, rn_time_t limit)
{
    rn_time_t end;
    long guard;

    if (P.realtime) {
        end = rn_clock_os_monotonic() + limit;
        for (guard = 0; guard < MAX_STEPS; guard++) {
            if (cond(ctx))
                return true;
            if (rn_clock_os_monotonic() > end)
                return false;
            step_real();
        }
        return false;
    }
    end = P.now + limit;
    for (guard = 0; guard < MAX_STEPS; guard++) {
        if (cond(ctx))
            return true;
        if (P.now >= end)
            return false;
        step_virtual(end);
    }
    fail_msg("simulation did not settle");
    return false;
}
