/*
 * Request records reused per process (src/socket/request.c): a keep-alive
 * exchange of requests on a TCP connection makes no new object after the
 * first round; between requests the record is an idle spare its process
 * holds under "request.spare", and pending again it is held by "create"
 * and describes itself as the request it is.  A connection gone idle
 * keeps no record; a process keeps at most 32 spares; the process's exit
 * leaves no request behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "refnet/error.h"
#include "refnet/object.h"
#include "refnet/socket.h"
#include "refnet/transport.h"
#include "support.h"

#define ROUNDS 40

/* The spare requests of process p, each checked for its holder; the id
 * of one of them in *id (0 if none). */
static unsigned spares_of(struct rn_proc *p, uint64_t *id)
{
    char needle[64];
    unsigned n;
    void *rq;

    snprintf(needle, sizeof(needle), "request idle, kept for reuse by process %u",
             (unsigned)rn_proc_pid(p));
    *id = 0;
    n = count_objects("request", needle);
    if (n == 0)
        return 0;
    rq = find_object("request", needle);
    assert_non_null(rq);
    assert_int_equal(rn_ob_tag_count(rq, rn_tag_intern("request.spare")), 1);
    assert_int_equal(rn_ob_tag_count(rq, RN_TAG_CREATE), 0);
    *id = rn_ob_id(rq);
    rn_ob_deref(rq, RN_TAG_LOOKUP);
    return n;
}

/* Each stack numbers its processes from 1: the client on stack a, and
 * on stack b a process that does nothing, then the server, so that the
 * two spares' descriptions differ. */
static struct rn_proc *pn;
static void server_and_client(struct rn_proc **pa, struct rn_proc **pb)
{
    assert_int_equal(rn_proc_create(P.a, "client", pa), 0);
    assert_int_equal(rn_proc_create(P.b, "none", &pn), 0);
    assert_int_equal(rn_proc_create(P.b, "server", pb), 0);
    assert_true(rn_proc_pid(*pa) != rn_proc_pid(*pb));
}

/* A fresh pair with a client (*pa) connected from handle *hc to the
 * server (*pb), whose accepted handle is *hs. */
static void connected(struct rn_proc **pa, struct rn_proc **pb, int *hc, int *hs)
{
    int hl, err;

    pair_up(1500, false);
    server_and_client(pa, pb);
    hl = tcp_listening(*pb, 8080, &err);
    assert_int_equal(err, 0);
    *hc = rn_sock_open(*pa, RN_SOCK_STREAM, 0);
    assert_true(*hc > 0);
    *hs = tcp_connect_accept(*pa, *hc, *pb, hl, 8080);
}

/* The three processes exit; no request is left, spare or not. */
static void all_exit(struct rn_proc *pa, struct rn_proc *pb)
{
    rn_proc_exit(pa);
    rn_proc_exit(pb);
    rn_proc_exit(pn);
    run_for(RN_SEC(1));
    assert_int_equal(count_type("request"), 0);
    pair_down();
}

/* Requests that name socket #h: pending or completed, not spare. */
static unsigned requests_on(int h)
{
    char needle[32];

    snprintf(needle, sizeof(needle), "socket #%d ", h);
    return count_objects("request", needle);
}

static void test_keepalive_reuses_one_record(void **state)
{
    struct rn_proc *pa, *pb;
    struct rec rs = {0}, rc = {0}, rx = {0};
    uint8_t in[16], out[4] = "ping";
    uint64_t live = 0, id;
    unsigned nspare = 0;
    char needle[64];
    int hc, hs, i;
    void *rq;

    (void)state;
    connected(&pa, &pb, &hc, &hs);
    for (i = 0; i < ROUNDS; i++) {
        submit(pb, RN_SOP_RECV, hs, in, sizeof(in), NULL, &rs);
        submit(pa, RN_SOP_SEND, hc, out, sizeof(out), NULL, &rc);
        run_for(RN_MSEC(5));
        assert_int_equal(rs.n, (unsigned)i + 1);
        assert_int_equal(rs.c[i].sc_result, 4);
        assert_int_equal(rc.c[i].sc_result, 4);
        /* Between requests the connection keeps no record. */
        assert_int_equal(requests_on(hs), 0);
        if (i == 0) {
            /* The accept's record and the receive's. */
            nspare = spares_of(pb, &id);
            assert_true(nspare >= 1);
            live = count_type("request");
            continue;
        }
        /* As many spares every round, and no more objects. */
        assert_int_equal(spares_of(pb, &id), nspare);
        assert_int_equal(count_type("request"), live);
    }
    /* Pending again: the request is a spare taken back (one fewer, no new
     * object), held by its creator. */
    submit(pb, RN_SOP_RECV, hs, in, sizeof(in), NULL, &rx);
    assert_int_equal(spares_of(pb, &id), nspare - 1);
    assert_int_equal(count_type("request"), live);
    snprintf(needle, sizeof(needle), "request recv socket #%d pending", hs);
    rq = find_object("request", needle);
    assert_non_null(rq);
    assert_int_equal(rn_ob_tag_count(rq, RN_TAG_CREATE), 1);
    assert_int_equal(rn_ob_tag_count(rq, rn_tag_intern("request.spare")), 0);
    rn_ob_deref(rq, RN_TAG_LOOKUP);
    /* The close cancels it; a closed socket keeps no spare. */
    submit(pb, RN_SOP_CLOSE, hs, NULL, 0, NULL, &rx);
    run_for(RN_MSEC(5));
    assert_int_equal(rx.n, 2);
    assert_int_equal(rx.c[0].sc_result, RN_ECANCELED);
    assert_int_equal(requests_on(hs), 0);
    /* The process keeps the records its callbacks did not take back: the
     * cancelled receive's and the close's. */
    assert_int_equal(spares_of(pb, &id), nspare + 1);
    all_exit(pa, pb);
}

/* Forty receives of a byte each complete at once and their callbacks
 * submit nothing: the process keeps 32 of the records and frees the
 * rest; its exit frees those too. */
static void test_spares_are_bounded(void **state)
{
    struct rn_proc *pa, *pb;
    struct rec rs = {0}, rc = {0};
    uint8_t in[40], out[40];
    int hc, hs, i;
    uint64_t id;

    (void)state;
    connected(&pa, &pb, &hc, &hs);
    for (i = 0; i < 40; i++)
        submit(pb, RN_SOP_RECV, hs, &in[i], 1, NULL, &rs);
    memset(out, 'x', sizeof(out));
    submit(pa, RN_SOP_SEND, hc, out, sizeof(out), NULL, &rc);
    run_for(RN_MSEC(5));
    assert_int_equal(rs.n, 40);
    for (i = 0; i < 40; i++)
        assert_int_equal(rs.c[i].sc_result, 1);
    assert_int_equal(spares_of(pb, &id), 32);
    assert_int_equal(requests_on(hs), 0);
    all_exit(pa, pb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keepalive_reuses_one_record),
        cmocka_unit_test(test_spares_are_bounded),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
