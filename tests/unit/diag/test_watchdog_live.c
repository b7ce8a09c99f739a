/*
 * The watchdog and the dump on the live object manager: a socket whose
 * close waits for a TCP listener that a leaked enumeration reference keeps
 * alive is reported once, when the wait reaches the threshold, with the
 * listener's ledger, the stack the leak came from and a verdict naming
 * 'enum'; a snapshot of the live process renders the same before and after
 * a trip through a dump file; and once the leak is dropped the wait ends
 * and everything is released.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "refnet/diag.h"
#include "refnet/error.h"
#include "refnet/object.h"
#include "refnet/snapshot.h"
#include "support.h"

struct named {
    char n_name[48];  /* what describe prints */
};

static void named_describe(const void *ob, char *buf, size_t len)
{
    snprintf(buf, len, "%s", ((const struct named *)ob)->n_name);
}

static const struct rn_ob_type_ops listener_ops = {
    .name = "tcp listener",
    .size = sizeof(struct named),
    .describe = named_describe,
};

static const struct rn_ob_type_ops socket_ops = {
    .name = "socket",
    .size = sizeof(struct named),
    .describe = named_describe,
};

static void on_release(struct rn_ob_wait *w, void *ctx)
{
    (void)w;
    (*(int *)ctx)++;
}

/* Where the leaked reference is taken: a frame the report should show. */
static __attribute__((noinline)) void leak_an_enum_ref(void *ob)
{
    assert_int_equal(rn_ob_ref(ob, RN_TAG_ENUM), 0);
}

static char *render_chains(const struct rn_snapshot *s)
{
    struct rn_strbuf sb = RN_STRBUF_INIT;

    assert_true(rn_diag_render_chains(s, 0, &sb) >= 0);
    for (uint32_t i = 0; i < s->s_nobjects; i++)
        rn_diag_render_object(s, &s->s_objects[i], 0, &sb);
    return rn_strbuf_detach(&sb);
}

static void test_live_stuck_close(void **state)
{
    struct rn_ob_type *lt, *st;
    struct named *listener, *sock;
    struct rn_watchdog *wd;
    struct rn_ob_wait w;
    struct rn_strbuf out = RN_STRBUF_INIT;
    struct rn_snapshot *s, *d;
    char path[64], err[256], *a, *b, want[96];
    int fired = 0;

    (void)state;
    clock_manual_install(RN_SEC(1000));
    capture_begin();
    lt = rn_ob_type_register(&listener_ops);
    st = rn_ob_type_register(&socket_ops);
    assert_non_null(lt);
    assert_non_null(st);

    listener = rn_ob_create(lt, RN_TAG_CREATE);
    assert_non_null(listener);
    snprintf(listener->n_name, sizeof(listener->n_name), "tcp listener 0.0.0.0:80");
    assert_int_equal(rn_ob_ref(listener, RN_TAG_PORT_TABLE), 0);
    rn_ob_set_traced(listener, true);
    leak_an_enum_ref(listener);

    sock = rn_ob_create(st, RN_TAG_CREATE);
    assert_non_null(sock);
    snprintf(sock->n_name, sizeof(sock->n_name), "socket #7");
    memset(&w, 0, sizeof(w));
    assert_int_equal(rn_ob_wait_release(listener, &w, sock, "close", on_release, &fired), 0);

    wd = rn_watchdog_new(RN_SEC(10));
    assert_non_null(wd);
    clock_manual_advance(RN_SEC(5));
    assert_int_equal(rn_watchdog_check(wd, &out), 0);
    assert_int_equal(capture_count(RN_REPORT_WATCHDOG), 0);

    clock_manual_advance(RN_SEC(7));
    assert_int_equal(rn_watchdog_check(wd, &out), 1);
    assert_int_equal(capture_count(RN_REPORT_WATCHDOG), 1);
    assert_string_equal(capture_text(), rn_strbuf_str(&out));
    snprintf(want, sizeof(want), "socket #7  #%llu   close pending 12.0s\n",
             (unsigned long long)rn_ob_id(sock));
    assert_non_null(strstr(rn_strbuf_str(&out), want));
    snprintf(want, sizeof(want), "\u2514 tcp listener 0.0.0.0:80  #%llu   live, refs 3, traced\n",
             (unsigned long long)rn_ob_id(listener));
    assert_non_null(strstr(rn_strbuf_str(&out), want));
    assert_non_null(strstr(rn_strbuf_str(&out), "    enum         1   held 12.0s   at "));
    assert_non_null(strstr(rn_strbuf_str(&out), "leak_an_enum_ref"));
    assert_non_null(strstr(rn_strbuf_str(&out), "verdict: 'enum' holds past its bound"));
    /* The ledger has the snapshot's own reference taken out. */
    assert_null(strstr(rn_strbuf_str(&out), "snapshot"));

    clock_manual_advance(RN_SEC(30));
    assert_int_equal(rn_watchdog_check(wd, NULL), 0);
    assert_int_equal(capture_count(RN_REPORT_WATCHDOG), 1);

    /* The live snapshot, through a dump file, renders the same. */
    s = rn_ob_snapshot();
    assert_non_null(s);
    snprintf(path, sizeof(path), "/tmp/refnet-test-live-%ld.rndump", (long)getpid());
    assert_int_equal(rn_dump_write(s, path, err, sizeof(err)), 0);
    assert_int_equal(rn_dump_read(path, &d, err, sizeof(err)), 0);
    unlink(path);
    a = render_chains(s);
    b = render_chains(d);
    assert_string_equal(a, b);
    assert_non_null(strstr(a, "verdict: 'enum'"));
    free(a);
    free(b);
    rn_snapshot_free(s);
    rn_snapshot_free(d);

    /* Close the socket properly: the listener's rundown completes once
     * the leak is dropped, and the wait fires. */
    assert_int_equal(rn_ob_kill(listener), 0);
    assert_int_equal(rn_ob_deref(listener, RN_TAG_PORT_TABLE), 0);
    assert_int_equal(fired, 0);
    assert_int_equal(rn_ob_deref(listener, RN_TAG_ENUM), 0);
    assert_int_equal(fired, 1);
    assert_int_equal(rn_ob_kill(sock), 0);
    assert_int_equal(rn_watchdog_check(wd, NULL), 0);

    capture_end();
    assert_int_equal(capture_count(RN_REPORT_MISUSE), 0);
    rn_strbuf_free(&out);
    rn_watchdog_free(wd);
    clock_manual_uninstall();
    check_live_objects(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_live_stuck_close),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
