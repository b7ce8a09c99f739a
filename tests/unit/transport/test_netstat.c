/*
 * The rows of `refnet netstat` (refnet/transport.h) from two stacks
 * over a simulated cable: a TCP listener, an established connection and
 * its peer, a UDP endpoint bound and one connected; each row's state,
 * addresses, listening flag, object id and reference count; the table
 * line and JSON object netstat renders them to; and TIME_WAIT after an active
 * close.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ctl/render.h"
#include "refnet/error.h"
#include "refnet/object.h"
#include "refnet/socket.h"
#include "refnet/strbuf.h"
#include "support.h"
#include "transport/netstat.h"
#include "transport/tcp.h"

struct rows {
    unsigned n;
    struct rn_netstat_row r[16];
    uint64_t id[16];
    unsigned refs[16];
};

static void collect(const struct rn_netstat_row *row, void *ctx)
{
    struct rows *rs = ctx;

    assert_true(rs->n < 16);
    rs->id[rs->n] = rn_ob_id(row->nr_ob);
    rs->refs[rs->n] = rn_ob_refcount(row->nr_ob);
    rs->r[rs->n++] = *row;
}

static const struct rn_netstat_row *find(const struct rows *rs, const char *proto,
                                         const char *state, uint16_t lport)
{
    unsigned i;

    for (i = 0; i < rs->n; i++) {
        if (strcmp(rs->r[i].nr_proto, proto) == 0 && strcmp(rs->r[i].nr_state, state) == 0 &&
            rs->r[i].nr_lport == lport)
            return &rs->r[i];
    }
    return NULL;
}

struct done {
    unsigned n;
    ssize_t result[8];
};

static void done_fn(struct rn_proc *p, const struct rn_sock_completion *c)
{
    struct done *d = c->sc_user;

    (void)p;
    assert_true(d->n < 8);
    d->result[d->n++] = c->sc_result;
}

static void submit_done(struct rn_proc *p, enum rn_sock_op op, int h,
                   const struct rn_sockaddr_in *to, struct done *d)
{
    struct rn_sock_req rq = {.sq_op = op, .sq_handle = h, .sq_to = to, .sq_user = d};

    assert_int_equal(rn_sock_submit(p, &rq, done_fn), 0);
}

static void test_rows_and_rendering(void **state)
{
    struct rn_sockaddr_in any7 = {.sin_addr = 0, .sin_port = 7}, any80 = {.sin_addr = 0, .sin_port = 80}, b5000 = {.sin_addr = ADDR_B, .sin_port = 5000};
    struct rn_sockaddr_in b9 = {.sin_addr = ADDR_B, .sin_port = 9}, l5000 = {.sin_addr = 0, .sin_port = 5000};
    const struct rn_netstat_row *row;
    struct rn_strbuf sb = RN_STRBUF_INIT;
    struct rn_proc *pa, *pb;
    struct done dc = {0}, da = {0}, du = {0};
    struct rows rs = {0}, rb = {0};
    int hu, huc, hl, hc, hbl;
    bool first = true;
    struct rn_netstat_walk_row wr;
    char line[160];

    (void)state;
    pair_up(1500, false);
    assert_int_equal(rn_proc_create(P.a, "a", &pa), 0);
    assert_int_equal(rn_proc_create(P.b, "b", &pb), 0);
    hu = rn_sock_open(pa, RN_SOCK_DGRAM, 0);
    assert_int_equal(rn_sock_bind(pa, hu, &any7), 0);
    huc = rn_sock_open(pa, RN_SOCK_DGRAM, 0);
    submit_done(pa, RN_SOP_CONNECT, huc, &b9, &du);
    hl = rn_sock_open(pa, RN_SOCK_STREAM, 0);
    assert_int_equal(rn_sock_bind(pa, hl, &any80), 0);
    assert_int_equal(rn_sock_listen(pa, hl, 4), 0);
    hbl = rn_sock_open(pb, RN_SOCK_STREAM, 0);
    assert_int_equal(rn_sock_bind(pb, hbl, &l5000), 0);
    assert_int_equal(rn_sock_listen(pb, hbl, 4), 0);
    submit_done(pb, RN_SOP_ACCEPT, hbl, NULL, &da);
    hc = rn_sock_open(pa, RN_SOCK_STREAM, 0);
    submit_done(pa, RN_SOP_CONNECT, hc, &b5000, &dc);
    run_for(RN_MSEC(50));
    assert_int_equal(dc.n, 1);
    assert_int_equal(dc.result[0], 0);
    assert_int_equal(da.n, 1);
    assert_true(da.result[0] > 0);
    assert_int_equal(du.n, 1);

    rn_tcp_netstat(P.a, collect, &rs);
    rn_udp_netstat(P.a, collect, &rs);
    assert_int_equal(rs.n, 4);
    row = find(&rs, "tcp", "LISTEN", 80);
    assert_non_null(row);
    assert_true(row->nr_listening);
    assert_true(rn_inaddr_is_v4(&row->nr_faddr) && rn_inaddr_is_any(&row->nr_faddr));
    row = NULL;
    for (unsigned i = 0; i < rs.n; i++) {
        if (strcmp(rs.r[i].nr_state, "ESTABLISHED") == 0 && strcmp(rs.r[i].nr_proto, "tcp") == 0)
            row = &rs.r[i];
    }
    assert_non_null(row);
    assert_false(row->nr_listening);
    assert_true(rn_inaddr_is_v4(&row->nr_laddr));
    assert_int_equal(rn_inaddr_to_v4(&row->nr_laddr), ADDR_A);
    assert_int_equal(rn_inaddr_to_v4(&row->nr_faddr), ADDR_B);
    assert_int_equal(row->nr_fport, 5000);
    row = find(&rs, "udp", "UNCONN", 7);
    assert_non_null(row);
    assert_true(row->nr_listening);
    for (unsigned i = 0; i < rs.n; i++) {
        /* Every row names a live object with its true count. */
        assert_true(rs.id[i] > 0);
        assert_true(rs.refs[i] >= 2);
        if (strcmp(rs.r[i].nr_proto, "udp") == 0 && rs.r[i].nr_fport == 9) {
            assert_string_equal(rs.r[i].nr_state, "ESTABLISHED");
            assert_false(rs.r[i].nr_listening);
        }
    }

    /* The table line and the JSON object of the unconnected endpoint. */
    row = find(&rs, "udp", "UNCONN", 7);
    wr = (struct rn_netstat_walk_row){
        .wr_row = *row,
        .wr_id = rn_ob_id(row->nr_ob),
        .wr_refs = rn_ob_refcount(row->nr_ob),
        .wr_conns = -1,
    };
    rn__render_netstat_row(&sb, &wr, false, false, &first);
    snprintf(line, sizeof(line), "%-5s %-22s %-22s %-12s %7u %7u %5u  #%llu\n", "udp",
             "0.0.0.0:7", "*:*", "UNCONN", 0u, 0u, rn_ob_refcount(row->nr_ob),
             (unsigned long long)rn_ob_id(row->nr_ob));
    assert_string_equal(rn_strbuf_str(&sb), line);
    assert_false(first);
    rn_strbuf_reset(&sb);
    first = true;
    rn__render_netstat_row(&sb, &wr, false, true, &first);
    rn__render_netstat_row(&sb, &wr, false, true, &first);
    snprintf(line, sizeof(line), "{\"proto\":\"udp\",\"local\":\"0.0.0.0:7\",\"remote\":\"*:*\","
             "\"state\":\"UNCONN\",\"sendq\":0,\"recvq\":0,\"id\":%llu,\"refs\":%u}",
             (unsigned long long)rn_ob_id(row->nr_ob), rn_ob_refcount(row->nr_ob));
    assert_non_null(strstr(rn_strbuf_str(&sb), line));
    assert_non_null(strstr(rn_strbuf_str(&sb), "},{"));
    rn_strbuf_free(&sb);

    /* B's side: its listener and the accepted connection. */
    rn_tcp_netstat(P.b, collect, &rb);
    assert_int_equal(rb.n, 2);
    assert_non_null(find(&rb, "tcp", "LISTEN", 5000));
    assert_non_null(find(&rb, "tcp", "ESTABLISHED", 5000));

    /* A closes first: its side ends in TIME_WAIT, still listed. */
    {
        struct done dx = {0}, dy = {0};

        submit_done(pa, RN_SOP_CLOSE, hc, NULL, &dx);
        run_for(RN_MSEC(50));
        submit_done(pb, RN_SOP_CLOSE, (int)da.result[0], NULL, &dy);
        run_for(RN_MSEC(500));
        assert_int_equal(dx.n, 1);
        assert_int_equal(dy.n, 1);
    }
    memset(&rs, 0, sizeof(rs));
    rn_tcp_netstat(P.a, collect, &rs);
    row = NULL;
    for (unsigned i = 0; i < rs.n; i++) {
        if (strcmp(rs.r[i].nr_state, "TIME_WAIT") == 0)
            row = &rs.r[i];
    }
    assert_non_null(row);
    assert_int_equal(row->nr_fport, 5000);
    assert_false(row->nr_listening);

    rn_proc_exit(pa);
    rn_proc_exit(pb);
    run_for(RN_MSEC(10));
    pair_down();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_and_rendering),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
