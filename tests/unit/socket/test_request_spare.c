/*
 * Request records reused per socket (src/socket/request.c): a keep-alive
 * exchange of requests on a TCP connection makes no new object after the
 * first round; between requests the record is an idle spare its socket
 * holds under "request.spare", and pending again it is held by "create"
 * and describes itself as the request it is; the socket's close, and the
 * process's exit, leave no request behind.
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

/* The id of the spare request of socket #h (0 if none); checks who holds
 * it. */
static uint64_t spare_of(int h)
{
    char needle[64];
    uint64_t id;
    void *rq;

    snprintf(needle, sizeof(needle), "request idle, kept for reuse by socket #%d", h);
    if (count_objects("request", needle) == 0)
        return 0;
    assert_int_equal(count_objects("request", needle), 1);
    rq = find_object("request", needle);
    assert_non_null(rq);
    assert_int_equal(rn_ob_tag_count(rq, rn_tag_intern("request.spare")), 1);
    assert_int_equal(rn_ob_tag_count(rq, RN_TAG_CREATE), 0);
    id = rn_ob_id(rq);
    rn_ob_deref(rq, RN_TAG_LOOKUP);
    return id;
}

static void test_keepalive_reuses_one_record(void **state)
{
    struct rn_proc *pa, *pb;
    struct rec rs = {0}, rc = {0}, rx = {0};
    uint8_t in[16], out[4] = "ping";
    uint64_t spare = 0, live = 0;
    char needle[64];
    int hl, hc, hs, err, i;
    void *rq;

    (void)state;
    pair_up(1500, false);
    assert_int_equal(rn_proc_create(P.a, "client", &pa), 0);
    assert_int_equal(rn_proc_create(P.b, "server", &pb), 0);
    hl = tcp_listening(pb, 8080, &err);
    assert_int_equal(err, 0);
    hc = rn_sock_open(pa, RN_SOCK_STREAM, 0);
    assert_true(hc > 0);
    hs = tcp_connect_accept(pa, hc, pb, hl, 8080);
    for (i = 0; i < ROUNDS; i++) {
        submit(pb, RN_SOP_RECV, hs, in, sizeof(in), NULL, &rs);
        submit(pa, RN_SOP_SEND, hc, out, sizeof(out), NULL, &rc);
        run_for(RN_MSEC(5));
        assert_int_equal(rs.n, (unsigned)i + 1);
        assert_int_equal(rs.c[i].sc_result, 4);
        assert_int_equal(rc.c[i].sc_result, 4);
        if (i == 0) {
            spare = spare_of(hs);
            assert_true(spare != 0);
            live = count_type("request");
            continue;
        }
        /* The same record every round, and no more objects. */
        assert_int_equal(spare_of(hs), spare);
        assert_int_equal(count_type("request"), live);
    }
    /* Pending again: the spare is the request, held by its creator. */
    submit(pb, RN_SOP_RECV, hs, in, sizeof(in), NULL, &rx);
    assert_int_equal(spare_of(hs), 0);
    snprintf(needle, sizeof(needle), "request recv socket #%d pending", hs);
    rq = find_object("request", needle);
    assert_non_null(rq);
    assert_int_equal(rn_ob_id(rq), spare);
    assert_int_equal(rn_ob_tag_count(rq, RN_TAG_CREATE), 1);
    assert_int_equal(rn_ob_tag_count(rq, rn_tag_intern("request.spare")), 0);
    rn_ob_deref(rq, RN_TAG_LOOKUP);
    /* The close cancels it; a closed socket keeps no spare. */
    submit(pb, RN_SOP_CLOSE, hs, NULL, 0, NULL, &rx);
    run_for(RN_MSEC(5));
    assert_int_equal(rx.n, 2);
    assert_int_equal(rx.c[0].sc_result, RN_ECANCELED);
    assert_int_equal(spare_of(hs), 0);
    snprintf(needle, sizeof(needle), "socket #%d", hs);
    assert_int_equal(count_objects("request", needle), 0);
    rn_proc_exit(pa);
    rn_proc_exit(pb);
    run_for(RN_SEC(1));
    assert_int_equal(count_type("request"), 0);
    pair_down();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keepalive_reuses_one_record),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
