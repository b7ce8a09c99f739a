/*
 * The two ends of a bulk TCP transfer between two stacks on a simulated
 * cable, in virtual time, for the benchmarks that run one (bench_filter.c,
 * bench_loss.c): a sender that writes until it has given TCP e_total
 * bytes, a receiver that reads everything, and the virtual clock.  Each
 * benchmark includes it once; BENCH_NAME names the program in its error.
 */
#ifndef REFNET_BENCH_SIM_ENDS_H
#define REFNET_BENCH_SIM_ENDS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "refnet/clock.h"
#include "refnet/error.h"
#include "refnet/object.h"
#include "transport/tcp.h"

#define ADDR_A 0xc6120002u
#define ADDR_B 0xc6120003u

static rn_time_t vnow;

static rn_time_t vclock(void *ctx)
{
    (void)ctx;
    return vnow;
}

/* One side of the transfer. */
struct end {
    struct tcp_conn *e_conn;
    struct tcp_listener *e_listener;
    uint64_t e_sent;     /* sender: bytes taken by TCP */
    uint64_t e_rcvd;     /* receiver: bytes read */
    uint64_t e_total;
};

static uint8_t chunk[65536];
static uint8_t drain[65536];

static void pump(struct end *e)
{
    while (e->e_conn != NULL && e->e_sent < e->e_total) {
        size_t n = e->e_total - e->e_sent < sizeof(chunk) ? e->e_total - e->e_sent
                                                         : sizeof(chunk);
        ssize_t k = rn__tcp_send(e->e_conn, chunk, n);

        if (k <= 0)
            break;
        e->e_sent += (uint64_t)k;
    }
}

static void on_readable(void *ctx)
{
    struct end *e = ctx;
    ssize_t n;

    while (e->e_conn != NULL && (n = rn__tcp_recv(e->e_conn, drain, sizeof(drain))) > 0)
        e->e_rcvd += (uint64_t)n;
}

static void on_writable(void *ctx)
{
    pump(ctx);
}

static void on_connected(void *ctx, int err)
{
    if (err == 0)
        pump(ctx);
}

static void on_error(void *ctx, int err)
{
    (void)ctx;
    fprintf(stderr, "%s: connection failed: %s\n", BENCH_NAME, rn_strerror(err));
    exit(1);
}

static void on_acceptable(void *ctx)
{
    static const struct tcp_upcalls up = {.tu_readable = on_readable, .tu_error = on_error};
    struct end *srv = ctx;

    if (rn__tcp_accept(srv->e_listener, RN_TAG_LOOKUP, &up, srv, &srv->e_conn) == 0)
        on_readable(srv);
}

static const struct tcp_upcalls client_up = {
    .tu_writable = on_writable, .tu_connected = on_connected, .tu_error = on_error,
};
static const struct tcp_upcalls listener_up = {.tu_acceptable = on_acceptable};

#endif /* REFNET_BENCH_SIM_ENDS_H */
