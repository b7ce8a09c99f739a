/*
 * Two stacks over a simulated cable (pair.h).
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

#include "pair.h"
#include "refnet/link.h"
#include "refnet/netbuf.h"
#include "refnet/socket.h"
#include "refnet/transport.h"
#include "testutil.h"

struct pair P;

static void wake(void *ctx)
{
    uint64_t one = 1;
    ssize_t n = write(*(int *)ctx, &one, sizeof(one));

    (void)n;
}

void pair_up(uint32_t mtu, bool realtime)
{
    struct rn_stack_params sp = {.sp_seed = 7};
    struct rn_sim_cable_params cp = {0};
    struct rn_iface_params ip = {0};
    struct rn_link *la, *lb;

    memset(&P, 0, sizeof(P));
    P.realtime = realtime;
    P.wake_fd = -1;
    if (realtime) {
        P.now = rn_clock_os_monotonic();
        P.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        assert_true(P.wake_fd >= 0);
    } else {
        P.now = RN_SEC(1);
        clock_manual_install(P.now);
    }
    sp.sp_name = "a";
    assert_int_equal(rn_stack_create(&sp, &P.a), 0);
    sp.sp_name = "b";
    assert_int_equal(rn_stack_create(&sp, &P.b), 0);
    assert_int_equal(rn_sock_layer_init(P.a), 0);
    assert_int_equal(rn_sock_layer_init(P.b), 0);
    if (realtime) {
        rn_stack_set_wake(P.a, wake, &P.wake_fd);
        rn_stack_set_wake(P.b, wake, &P.wake_fd);
    }
    cp.sc_latency = RN_MSEC(1);
    cp.sc_mtu = mtu;
    cp.sc_pool_a = rn_stack_pool(P.a);
    cp.sc_pool_b = rn_stack_pool(P.b);
    assert_int_equal(rn_sim_cable_new(&cp, &la, &lb), 0);
    ip.ifp_name = "sim0";
    ip.ifp_link = la;
    ip.ifp_addr = ADDR_A;
    ip.ifp_plen = 15;
    assert_int_equal(rn_stack_add_iface(P.a, &ip, &P.ifa), 0);
    ip.ifp_link = lb;
    ip.ifp_addr = ADDR_B;
    assert_int_equal(rn_stack_add_iface(P.b, &ip, &P.ifb), 0);
}

uint32_t pool_outstanding(struct rn_stack *st)
{
    return rn_nbpool_outstanding(rn_stack_pool(st), RN_NB_OWNER_NONE);
}

void pair_down(void)
{
    assert_int_equal(rn_stack_destroy(P.a), 0);
    assert_int_equal(rn_stack_destroy(P.b), 0);
    if (P.realtime)
        close(P.wake_fd);
    else
        clock_manual_uninstall();
    check_live_objects(0);
}

static void poll_both(void)
{
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

    P.now = rn_clock_os_monotonic();
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
    int guard;

    assert_false(P.realtime);
    for (guard = 0; guard < 1000000; guard++) {
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
        for (guard = 0; guard < 10000000; guard++) {
            if (cond(ctx))
                return true;
            if (rn_clock_os_monotonic() > end)
                return false;
            step_real();
        }
        return false;
    }
    end = P.now + limit;
    for (guard = 0; guard < 10000000; guard++) {
        if (cond(ctx))
            return true;
        if (P.now >= end)
            return false;
        step_virtual(end);
    }
    return false;
}
