/*
 * `refnet netstat -i` and `refnet get tcp` as the product renders them:
 * the netstat walk with np_info hands each TCP connection's statistics
 * (TCP_INFO) with its row, and render.c shows them under it in the words
 * of ss -i, or as "info" in JSON; TCP's settings render as a table and as
 * JSON with every field.  Two stacks on a simulated cable, virtual time.
 */
#include <json-c/json.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ctl/render.h"
#include "helper_walk.h"
#include "refnet/error.h"
#include "refnet/netstat_walk.h"
#include "refnet/socket.h"
#include "refnet/tcp.h"
#include "support.h"

#define PORT 7300

static uint8_t payload[40000];

/* A connection that moved 40000 bytes from a to b. */
static void connection(void)
{
    static struct rec r;
    int err, hl, hc;

    memset(&r, 0, sizeof(r));
    hl = tcp_listening(P.pb, PORT, &err);
    assert_int_equal(err, 0);
    hc = rn_sock_open(P.pa, RN_SOCK_STREAM, 0);
    (void)tcp_connect_accept(P.pa, hc, P.pb, hl, PORT);
    submit(P.pa, RN_SOP_SEND, hc, payload, sizeof(payload), NULL, &r);
    run_for(RN_MSEC(100));
    assert_int_equal(r.c[0].sc_result, (ssize_t)sizeof(payload));
}

/* The listing of stack st, -i and json as given. */
static void walk(struct rn_stack *st, bool json, struct rn_strbuf *out)
{
    struct host h = {.h_out = out, .h_json = json, .h_first = true};
    struct rn_netstat_params np = {
        .np_info = true,
        .np_row = host_row,
        .np_yield = host_yield,
        .np_done = host_done,
        .np_ctx = &h,
        .np_what = "netstat -i",
    };
    struct rn_netstat_walk *w;

    assert_int_equal(rn_netstat_walk_start(st, &np, &w), 0);
    rn__render_netstat_begin(out, false, json);
    while (!h.h_done) {
        h.h_yielded = false;
        rn_netstat_walk_resume(w);
        assert_true(h.h_yielded || h.h_done);
    }
    rn_netstat_walk_free(w);
}

static void test_netstat_info(void **state)
{
    struct pair_params pp = {.pp_procs = true};
    struct rn_strbuf sb = RN_STRBUF_INIT;
    struct json_object *rows, *row, *info, *v;

    (void)state;
    pair_up_with(&pp);
    connection();
    walk(P.a, false, &sb);
    /* The row, then its statistics on a line of their own. */
    assert_non_null(strstr(rn_strbuf_str(&sb), "ESTABLISHED"));
    assert_non_null(strstr(rn_strbuf_str(&sb), "\t ts sack cubic wscale:6,6 rto:200.000 rtt:"));
    assert_non_null(strstr(rn_strbuf_str(&sb), " mss:1448 advmss:1460 rcvmss:0 peermss:1460 cwnd:"));
    assert_non_null(strstr(rn_strbuf_str(&sb), " bytes_sent:40000 bytes_retrans:0"
                                               " bytes_acked:40000 bytes_received:0"));
    rn_strbuf_free(&sb);
    walk(P.b, true, &sb);
    rows = json_tokener_parse(rn_strbuf_str(&sb));
    assert_non_null(rows);
    assert_int_equal(json_object_array_length(rows), 1);
    row = json_object_array_get_idx(rows, 0);
    assert_true(json_object_object_get_ex(row, "info", &info));
    assert_true(json_object_object_get_ex(info, "bytes_received", &v));
    assert_int_equal(json_object_get_uint64(v), 40000);
    assert_true(json_object_object_get_ex(info, "sack", &v));
    assert_true(json_object_get_boolean(v));
    assert_true(json_object_object_get_ex(info, "state", &v));
    assert_string_equal(json_object_get_string(v), "ESTABLISHED");
    assert_true(json_object_object_get_ex(info, "rcv_mss", &v));
    assert_int_equal(json_object_get_uint64(v), 1448);
    json_object_put(rows);
    rn_strbuf_free(&sb);
    pair_down();
}

/* Each connection shows its own congestion control: one that chose
 * NewReno by TCP_CONGESTION beside one that has the stack's CUBIC. */
static void test_netstat_congestion(void **state)
{
    struct pair_params pp = {.pp_procs = true};
    struct rn_strbuf sb = RN_STRBUF_INIT;
    struct json_object *rows, *row, *info, *v;
    int err, hl, hc, hc2, reno = 0, cubic = 0;
    size_t i;

    (void)state;
    pair_up_with(&pp);
    hl = tcp_listening(P.pb, PORT, &err);
    assert_int_equal(err, 0);
    hc = rn_sock_open(P.pa, RN_SOCK_STREAM, 0);
    assert_int_equal(rn_sock_setopt_str(P.pa, hc, RN_TCP_CONGESTION, "reno"), 0);
    (void)tcp_connect_accept(P.pa, hc, P.pb, hl, PORT);
    hc2 = rn_sock_open(P.pa, RN_SOCK_STREAM, 0);
    (void)tcp_connect_accept(P.pa, hc2, P.pb, hl, PORT);
    walk(P.a, false, &sb);
    assert_non_null(strstr(rn_strbuf_str(&sb), "\t ts sack newreno wscale:"));
    assert_non_null(strstr(rn_strbuf_str(&sb), "\t ts sack cubic wscale:"));
    rn_strbuf_free(&sb);
    walk(P.a, true, &sb);
    rows = json_tokener_parse(rn_strbuf_str(&sb));
    assert_non_null(rows);
    for (i = 0; i < json_object_array_length(rows); i++) {
        row = json_object_array_get_idx(rows, i);
        if (!json_object_object_get_ex(row, "info", &info))
            continue;
        assert_true(json_object_object_get_ex(info, "congestion", &v));
        reno += strcmp(json_object_get_string(v), "newreno") == 0;
        cubic += strcmp(json_object_get_string(v), "cubic") == 0;
    }
    assert_int_equal(reno, 1);
    assert_int_equal(cubic, 1);
    json_object_put(rows);
    rn_strbuf_free(&sb);
    pair_down();
}

static void test_settings_listing(void **state)
{
    struct rn_strbuf sb = RN_STRBUF_INIT;
    struct json_object *list, *one, *v;
    const char *text;

    (void)state;
    pair_up(1500, false);
    assert_int_equal(rn_tcp_setting_set(P.a, "tcp.sack", "0"), 0);
    rn__render_tcp_settings(P.a, NULL, &sb, false);
    text = rn_strbuf_str(&sb);
    assert_true(strncmp(text, "NAME ", 5) == 0);
    assert_non_null(strstr(text, "\ntcp.sack             0            1            1 (net.ipv4.tcp_sack)"));
    assert_non_null(strstr(text, "\ntcp.rto_min          200ms        200ms"));
    rn_strbuf_free(&sb);
    rn__render_tcp_settings(P.a, NULL, &sb, true);
    list = json_tokener_parse(rn_strbuf_str(&sb));
    assert_non_null(list);
    assert_true(json_object_array_length(list) >= 26);
    json_object_put(list);
    rn_strbuf_free(&sb);
    rn__render_tcp_settings(P.a, "tcp.sack", &sb, true);
    one = json_tokener_parse(rn_strbuf_str(&sb));
    assert_non_null(one);
    assert_true(json_object_object_get_ex(one, "value", &v));
    assert_string_equal(json_object_get_string(v), "0");
    assert_true(json_object_object_get_ex(one, "default", &v));
    assert_string_equal(json_object_get_string(v), "1");
    assert_true(json_object_object_get_ex(one, "accepts", &v));
    assert_string_equal(json_object_get_string(v), "0 or 1");
    json_object_put(one);
    rn_strbuf_free(&sb);
    pair_down();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_netstat_info),
        cmocka_unit_test(test_netstat_congestion),
        cmocka_unit_test(test_settings_listing),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
