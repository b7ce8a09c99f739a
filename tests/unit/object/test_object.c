/*
 * Object manager, single-threaded behaviour: the ledger, misuse reports,
 * saturation, rundown order, waits, tracing, enumeration and snapshots.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "refnet/error.h"
#include "refnet/object.h"
#include "refnet/snapshot.h"
#include "support.h"

struct widget {
    int w_port;        /* what describe prints */
    int *w_released;   /* counts release routine runs */
};

static void widget_release(void *ob)
{
    struct widget *w = ob;

    if (w->w_released)
        (*w->w_released)++;
}

static void widget_describe(const void *ob, char *buf, size_t len)
{
    const struct widget *w = ob;

    snprintf(buf, len, "widget :%d", w->w_port);
}

static const struct rn_ob_type_ops widget_ops = {
    .name = "widget",
    .size = sizeof(struct widget),
    .release = widget_release,
    .describe = widget_describe,
};

static const struct rn_ob_type_ops small_ops = {
    .name = "small",
    .size = sizeof(struct widget),
    .release = widget_release,
    .max_refs = 100,
};

static struct rn_ob_type *widget_type;
static struct rn_ob_type *small_type;
static rn_tag_t tag_a, tag_b;

static int setup(void **state)
{
    (void)state;
    widget_type = rn_ob_type_register(&widget_ops);
    small_type = rn_ob_type_register(&small_ops);
    tag_a = rn_tag_intern("test.a");
    tag_b = rn_tag_intern("test.b");
    clock_manual_install(RN_SEC(1000));
    return widget_type && small_type && tag_a && tag_b ? 0 : -1;
}

static int teardown_each(void **state)
{
    (void)state;
    capture_end();
    check_live_objects(0);
    return 0;
}

static void test_tags(void **state)
{
    char long_name[RN_TAG_NAME_MAX + 2];

    (void)state;
    assert_int_equal(rn_tag_intern("enum"), RN_TAG_ENUM);
    assert_string_equal(rn_tag_name(RN_TAG_PORT_TABLE), "port-table");
    assert_int_equal(rn_tag_intern("callout:acme-av"), rn_tag_intern("callout:acme-av"));
    assert_string_equal(rn_tag_name(rn_tag_intern("callout:acme-av")), "callout:acme-av");
    assert_int_equal(rn_tag_intern(""), RN_TAG_NONE);
    memset(long_name, 'x', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    assert_int_equal(rn_tag_intern(long_name), RN_TAG_NONE);
    assert_string_equal(rn_tag_name(4000), "?");
}

static void test_ledger_sums(void **state)
{
    struct rn_ob_ledger_entry e[8];
    int released = 0;
    struct widget *w;
    size_t n, i;
    uint32_t sum = 0;

    (void)state;
    w = rn_ob_create(widget_type, RN_TAG_CREATE);
    assert_non_null(w);
    w->w_released = &released;
    assert_int_equal(rn_ob_ref(w, tag_a), 0);
    assert_int_equal(rn_ob_ref(w, tag_a), 0);
    clock_manual_advance(RN_SEC(5));
    assert_int_equal(rn_ob_ref(w, tag_b), 0);
    assert_int_equal(rn_ob_transfer(w, tag_a, RN_TAG_PORT_TABLE), 0);
    assert_int_equal(rn_ob_refcount(w), 4);
    assert_int_equal(rn_ob_tag_count(w, tag_a), 1);
    assert_int_equal(rn_ob_tag_count(w, RN_TAG_PORT_TABLE), 1);
    n = rn_ob_ledger(w, e, 8);
    assert_int_equal(n, 4);
    for (i = 0; i < n; i++) {
        sum += e[i].count;
        if (e[i].tag == tag_a)
            assert_int_equal(e[i].since, RN_SEC(1000));
        if (e[i].tag == tag_b)
            assert_int_equal(e[i].since, RN_SEC(1005));
    }
    assert_int_equal(sum, rn_ob_refcount(w));

    assert_int_equal(rn_ob_deref(w, tag_a), 0);
    assert_int_equal(rn_ob_deref(w, tag_b), 0);
    assert_int_equal(rn_ob_deref(w, RN_TAG_PORT_TABLE), 0);
    assert_int_equal(released, 0);
    assert_int_equal(rn_ob_kill(w), 0);
    assert_int_equal(released, 1);
}

/* rn_tag_holds() counts the objects an interned tag holds, through
 * create, ref, deref (fast and full paths), transfer and release; a
 * well-known tag is not counted. */
static void test_tag_holds(void **state)
{
    rn_tag_t t = rn_tag_intern("filter:holds-test"), u = rn_tag_intern("callout:holds-test");
    int released1 = 0, released2 = 0;
    struct widget *w1, *w2;

    (void)state;
    assert_int_equal(rn_tag_holds(t), 0);
    w1 = rn_ob_create(widget_type, t);
    assert_non_null(w1);
    w1->w_released = &released1;
    assert_int_equal(rn_tag_holds(t), 1);
    w2 = rn_ob_create(widget_type, RN_TAG_CREATE);
    assert_non_null(w2);
    w2->w_released = &released2;
    assert_int_equal(rn_ob_ref(w2, t), 0);
    assert_int_equal(rn_ob_ref(w2, t), 0);  /* a second reference: still one object */
    assert_int_equal(rn_tag_holds(t), 2);
    assert_int_equal(rn_ob_deref(w2, t), 0);
    assert_int_equal(rn_tag_holds(t), 2);
    assert_int_equal(rn_ob_transfer(w2, t, u), 0);
    assert_int_equal(rn_tag_holds(t), 1);
    assert_int_equal(rn_tag_holds(u), 1);
    assert_int_equal(rn_ob_ref(w2, t), 0);   /* its line again, from zero */
    assert_int_equal(rn_tag_holds(t), 2);
    assert_int_equal(rn_ob_deref(w2, t), 0);
    assert_int_equal(rn_ob_deref(w2, u), 0);
    assert_int_equal(rn_tag_holds(t), 1);
    assert_int_equal(rn_tag_holds(u), 0);
    assert_int_equal(rn_tag_holds(RN_TAG_CREATE), 0);
    assert_int_equal(rn_ob_kill(w2), 0);
    assert_int_equal(released2, 1);
    assert_int_equal(rn_ob_kill(w1), 0);  /* its creator's reference, under t */
    assert_int_equal(released1, 1);
    assert_int_equal(rn_tag_holds(t), 0);
}

/* A leak shows as a live object whose ledger names the holder and its age. */
static void test_leak_names_holder_and_age(void **state)
{
    struct rn_snapshot *s;
    const struct rn_snap_object *o;
    struct widget *w;
    uint32_t i;
    bool found = false;

    (void)state;
    w = rn_ob_create(widget_type, RN_TAG_CREATE);
    w->w_port = 80;
    rn_ob_ref(w, RN_TAG_PORT_TABLE);
    rn_ob_ref(w, RN_TAG_ENUM);  /* the leak */
    rn_ob_deref(w, RN_TAG_PORT_TABLE);
    clock_manual_advance(RN_SEC(31));
    rn_ob_kill(w);

    s = rn_ob_snapshot();
    assert_non_null(s);
    o = rn_snapshot_find(s, rn_ob_id(w));
    assert_non_null(o);
    assert_string_equal(o->so_desc, "widget :80");
    assert_int_equal(o->so_state, RN_OB_DYING);
    assert_int_equal(o->so_refs, 1);
    assert_int_equal(o->so_ntags, 1);
    for (i = 0; i < o->so_ntags; i++) {
        if (!strcmp(o->so_tags[i].st_tag, "enum")) {
            found = true;
            assert_int_equal(o->so_tags[i].st_count, 1);
            assert_int_equal(s->s_now - o->so_tags[i].st_since, RN_SEC(31));
            assert_non_null(strstr(o->so_tags[i].st_last_ref, "test_leak_names_holder_and_age"));
        }
    }
    assert_true(found);
    rn_snapshot_free(s);
    assert_int_equal(rn_ob_live_count(widget_type), 1);
    rn_ob_deref(w, RN_TAG_ENUM);
}

static void test_double_deref_names_both_sites(void **state)
{
    char first_line[32], second_line[32];
    struct widget *w;
    uint64_t before = rn_ob_misuse_count(RN_MISUSE_DEREF_UNHELD);
    int line1, line2;

    (void)state;
    w = rn_ob_create(widget_type, RN_TAG_CREATE);
    rn_ob_ref(w, tag_a);
    capture_begin();
    line1 = __LINE__ + 1;
    assert_int_equal(rn_ob_deref(w, tag_a), 0);
    line2 = __LINE__ + 1;
    assert_int_equal(rn_ob_deref(w, tag_a), RN_ENOTHELD);
    capture_end();
    assert_int_equal(rn_ob_misuse_count(RN_MISUSE_DEREF_UNHELD), before + 1);
    assert_int_equal(capture_count(RN_REPORT_MISUSE), 1);
    assert_true(capture_has("'test.a'"));
    snprintf(first_line, sizeof(first_line), "test_object.c:%d", line1);
    snprintf(second_line, sizeof(second_line), "test_object.c:%d", line2);
    assert_true(capture_has(first_line));
    assert_true(capture_has(second_line));
    /* The refused deref did not touch the count. */
    assert_int_equal(rn_ob_refcount(w), 1);
    rn_ob_kill(w);
}

static void test_double_deref_traced_gives_history(void **state)
{
    struct widget *w;

    (void)state;
    w = rn_ob_create(widget_type, RN_TAG_CREATE);
    rn_ob_set_traced(w, true);
    rn_ob_ref(w, tag_b);
    rn_ob_deref(w, tag_b);
    capture_begin();
    assert_int_equal(rn_ob_deref(w, tag_b), RN_ENOTHELD);
    capture_end();
    assert_true(capture_has("history of 'test.b'"));
    assert_true(capture_has("ref "));
    assert_true(capture_has("deref "));
    /* The history carries symbolised stacks naming this test. */
    assert_true(capture_has("test_double_deref_traced_gives_history+0x"));
    rn_ob_kill(w);
}

static void test_saturation_pins(void **state)
{
    struct widget *w;
    int released = 0, i;
    uint64_t before = rn_ob_misuse_count(RN_MISUSE_OVERFLOW);

    (void)state;
    w = rn_ob_create(small_type, RN_TAG_CREATE);
    w->w_released = &released;
    for (i = 1; i < 100; i++)
        assert_int_equal(rn_ob_ref(w, tag_a), 0);
    assert_int_equal(rn_ob_refcount(w), 100);
    capture_begin();
    assert_int_equal(rn_ob_ref(w, tag_a), RN_ESATURATED);
    assert_int_equal(rn_ob_ref(w, tag_a), RN_ESATURATED);
    capture_end();
    assert_int_equal(rn_ob_misuse_count(RN_MISUSE_OVERFLOW), before + 1);
    assert_int_equal(capture_count(RN_REPORT_MISUSE), 1);  /* reported once */
    assert_true(capture_has("overflow"));
    /* It never wraps and is never freed: derefs no longer count. */
    assert_int_equal(rn_ob_refcount(w), 100);
    for (i = 1; i < 100; i++)
        assert_int_equal(rn_ob_deref(w, tag_a), 0);
    assert_int_equal(rn_ob_kill(w), 0);
    assert_int_equal(rn_ob_refcount(w), 100);
    assert_int_equal(released, 0);
    assert_int_equal(rn_ob_state(w), RN_OB_DYING);
    rn_ob_drain();
    assert_int_equal(rn_ob_live_count(small_type), 1);
    /* The pinned object stays for the life of the process: leave it out of
     * the final leak check. */
    check_live_objects(1);
}

static int teardown_pinned(void **state)
{
    (void)state;
    capture_end();
    check_live_objects(1);
    return 0;
}

static void test_ref_after_release_refused(void **state)
{
    struct widget *w;
    uint64_t before = rn_ob_misuse_count(RN_MISUSE_REF_RELEASED);

    (void)state;
    w = rn_ob_create(widget_type, RN_TAG_CREATE);
    rn_ob_kill(w);
    /* The memory is held back as quarantine, so the late ref is caught. */
    capture_begin();
    assert_int_equal(rn_ob_ref(w, tag_a), RN_ERELEASED);
    assert_false(rn_ob_tryref_live(w, tag_a));
    assert_int_equal(rn_ob_deref(w, tag_a), RN_ERELEASED);
    capture_end();
    assert_int_equal(rn_ob_misuse_count(RN_MISUSE_REF_RELEASED), before + 2);
    assert_true(capture_has("ref-released"));
    assert_int_equal(rn_ob_state(w), RN_OB_RELEASED);
}

static void test_kill_twice_refused(void **state)
{
    struct widget *w;

    (void)state;
    w = rn_ob_create(widget_type, RN_TAG_CREATE);
    rn_ob_ref(w, tag_a);
    assert_int_equal(rn_ob_kill(w), 0);
    capture_begin();
    assert_int_equal(rn_ob_kill(w), RN_EDYING);
    capture_end();
    assert_true(capture_has("kill-twice"));
    assert_false(rn_ob_tryref_live(w, tag_b));
    rn_ob_deref(w, tag_a);
}

struct order_log {
    char lo_seq[64];
};

static struct order_log order;

static void order_release(void *ob)
{
    (void)ob;
    strcat(order.lo_seq, "R");
}

static void order_cb(struct rn_ob_wait *w, void *ctx)
{
    (void)w;
    strcat(order.lo_seq, (const char *)ctx);
}

static const struct rn_ob_type_ops order_ops = {
    .name = "ordered",
    .size = 8,
    .release = order_release,
};

static void test_rundown_order_and_waits(void **state)
{
    struct rn_ob_type *t = rn_ob_type_register(&order_ops);
    struct rn_ob_wait w1 = {0}, w2 = {0}, w3 = {0};
    struct widget *waiter;
    struct rn_snapshot *s;
    void *ob;

    (void)state;
    memset(&order, 0, sizeof(order));
    ob = rn_ob_create(t, RN_TAG_CREATE);
    waiter = rn_ob_create(widget_type, RN_TAG_CREATE);
    rn_ob_ref(ob, tag_a);
    assert_int_equal(rn_ob_wait_release(ob, &w1, waiter, "close", order_cb, "1"), 0);
    assert_int_equal(rn_ob_wait_release(ob, &w1, waiter, "close", order_cb, "1"), RN_EBUSY);
    assert_int_equal(rn_ob_wait_release(ob, &w2, NULL, "stop", order_cb, "2"), 0);
    assert_int_equal(rn_ob_wait_release(ob, &w3, NULL, "x", order_cb, "3"), 0);
    assert_true(rn_ob_wait_cancel(&w3));
    assert_false(rn_ob_wait_cancel(&w3));
    /* A waiter reaches what it waits for while the wait is armed. */
    assert_ptr_equal(rn_ob_wait_ref(&w1, RN_TAG_LOOKUP), ob);
    assert_int_equal(rn_ob_tag_count(ob, RN_TAG_LOOKUP), 1);
    rn_ob_deref(ob, RN_TAG_LOOKUP);
    assert_null(rn_ob_wait_ref(&w3, RN_TAG_LOOKUP));  /* cancelled */

    clock_manual_advance(RN_SEC(12));
    s = rn_ob_snapshot();
    assert_non_null(s);
    assert_int_equal(s->s_nwaits, 2);
    assert_int_equal(s->s_waits[0].sw_waited, rn_ob_id(ob));
    assert_int_equal(s->s_now - s->s_waits[0].sw_since, RN_SEC(12));
    rn_snapshot_free(s);

    assert_int_equal(rn_ob_kill(ob), 0);
    assert_string_equal(order.lo_seq, "");  /* tag_a still holds it */
    rn_ob_deref(ob, tag_a);
    /* Release routine once, then the callbacks, oldest first. */
    assert_string_equal(order.lo_seq, "R12");
    assert_false(rn_ob_wait_cancel(&w1));
    assert_null(rn_ob_wait_ref(&w1, RN_TAG_LOOKUP));  /* fired */
    rn_ob_kill(waiter);
}

static void test_enumeration_skips_dying(void **state)
{
    struct widget *w[5];
    struct rn_ob_iter it;
    struct widget *x;
    int i, seen = 0;

    (void)state;
    for (i = 0; i < 5; i++) {
        w[i] = rn_ob_create(widget_type, RN_TAG_CREATE);
        w[i]->w_port = i;
        if (i != 0)
            rn_ob_publish(w[i]);  /* w[0] stays unpublished: never seen */
    }
    rn_ob_ref(w[1], tag_a);
    rn_ob_kill(w[1]);  /* dying: skipped */
    rn_ob_kill(w[3]);  /* released */
    rn_ob_iter_init(&it, widget_type, RN_TAG_ENUM);
    while ((x = rn_ob_iter_next(&it)) != NULL) {
        assert_int_equal(rn_ob_tag_count(x, RN_TAG_ENUM), 1);
        assert_true(x->w_port == 2 || x->w_port == 4);
        seen++;
        if (x->w_port == 2)
            rn_ob_kill(w[4]);  /* the next one dies before it is reached */
    }
    rn_ob_iter_end(&it);
    assert_int_equal(seen, 1);
    for (i = 0; i < 5; i++) {
        if (i != 1 && i != 3 && i != 4)
            assert_int_equal(rn_ob_tag_count(w[i], RN_TAG_ENUM), 0);
    }
    rn_ob_deref(w[1], tag_a);
    rn_ob_kill(w[0]);
    rn_ob_kill(w[2]);
}

static void test_lookup(void **state)
{
    struct widget *w, *x;

    (void)state;
    w = rn_ob_create(widget_type, RN_TAG_CREATE);
    rn_ob_ref(w, tag_a);
    assert_null(rn_ob_lookup(rn_ob_id(w), RN_TAG_LOOKUP));  /* unpublished */
    rn_ob_publish(w);
    rn_ob_kill(w);
    x = rn_ob_lookup(rn_ob_id(w), RN_TAG_LOOKUP);  /* dying objects are found */
    assert_ptr_equal(x, w);
    rn_ob_deref(x, RN_TAG_LOOKUP);
    assert_null(rn_ob_lookup(987654321ull, RN_TAG_LOOKUP));
    rn_ob_deref(w, tag_a);
    assert_null(rn_ob_lookup(rn_ob_id(w), RN_TAG_LOOKUP));
}

__attribute__((noinline)) static void hold_from_site_one(void *ob)
{
    rn_ob_ref(ob, RN_TAG_ENUM);
}

__attribute__((noinline)) static void hold_from_site_two(void *ob)
{
    rn_ob_ref(ob, RN_TAG_ENUM);
}

static void test_traced_groups_by_stack(void **state)
{
    const struct rn_snap_object *o;
    struct rn_snapshot *s;
    struct widget *w;
    uint32_t i, f;
    int groups_one = 0, groups_two = 0, count_one = 0, count_two = 0;
    volatile int three = 3;

    (void)state;
    w = rn_ob_create(widget_type, RN_TAG_CREATE);
    rn_ob_ref(w, tag_a);  /* before tracing: untraced */
    rn_ob_type_set_traced(widget_type, true);
    assert_true(rn_ob_is_traced(w));
    for (i = 0; i < (uint32_t)three; i++)  /* one call site, three calls */
        hold_from_site_one(w);
    hold_from_site_two(w);
    s = rn_ob_snapshot();
    rn_ob_type_set_traced(widget_type, false);
    assert_non_null(s);
    o = rn_snapshot_find(s, rn_ob_id(w));
    assert_non_null(o);
    assert_true(o->so_traced);
    assert_int_equal(o->so_refs, 6);
    assert_int_equal(o->so_untraced, 2);  /* create and tag_a */
    for (i = 0; i < o->so_nholds; i++) {
        const struct rn_snap_hold *h = &o->so_holds[i];
        const struct rn_snap_stack *st;

        assert_string_equal(h->sh_tag, "enum");
        assert_true(h->sh_stack < s->s_nstacks);
        st = &s->s_stacks[h->sh_stack];
        assert_true(st->ss_nframes > 0);
        /* The manager's own frames are trimmed: the caller comes first. */
        if (!strncmp(st->ss_frames[0], "hold_from_site_one+", 19)) {
            groups_one++;
            count_one += h->sh_count;
        } else if (!strncmp(st->ss_frames[0], "hold_from_site_two+", 19)) {
            groups_two++;
            count_two += h->sh_count;
        }
        for (f = 0; f < st->ss_nframes; f++)
            assert_null(strstr(st->ss_frames[f], "acquire_locked"));
    }
    assert_int_equal(groups_one, 1);
    assert_int_equal(count_one, 3);
    assert_int_equal(groups_two, 1);
    assert_int_equal(count_two, 1);
    rn_snapshot_free(s);
    for (i = 0; i < 4; i++)
        rn_ob_deref(w, RN_TAG_ENUM);
    rn_ob_deref(w, tag_a);
    rn_ob_kill(w);
}

static void test_bad_tag_refused(void **state)
{
    struct widget *w;

    (void)state;
    capture_begin();
    assert_null(rn_ob_create(widget_type, RN_TAG_NONE));
    w = rn_ob_create(widget_type, RN_TAG_CREATE);
    assert_int_equal(rn_ob_ref(w, RN_TAG_NONE), RN_EINVAL);
    capture_end();
    assert_int_equal(capture_count(RN_REPORT_MISUSE), 2);
    assert_int_equal(rn_ob_refcount(w), 1);
    rn_ob_kill(w);
}

static void test_many_tags_grow_ledger(void **state)
{
    struct rn_ob_ledger_entry e[40];
    struct widget *w;
    char name[32];
    rn_tag_t tags[30];
    int i;

    (void)state;
    w = rn_ob_create(widget_type, RN_TAG_CREATE);
    for (i = 0; i < 30; i++) {
        snprintf(name, sizeof(name), "holder-%d", i);
        tags[i] = rn_tag_intern(name);
        assert_int_equal(rn_ob_ref(w, tags[i]), 0);
    }
    assert_int_equal(rn_ob_ledger(w, e, 40), 31);
    assert_int_equal(rn_ob_refcount(w), 31);
    for (i = 0; i < 30; i++)
        assert_int_equal(rn_ob_deref(w, tags[i]), 0);
    rn_ob_kill(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_tags, teardown_each),
        cmocka_unit_test_teardown(test_ledger_sums, teardown_each),
        cmocka_unit_test_teardown(test_tag_holds, teardown_each),
        cmocka_unit_test_teardown(test_leak_names_holder_and_age, teardown_each),
        cmocka_unit_test_teardown(test_double_deref_names_both_sites, teardown_each),
        cmocka_unit_test_teardown(test_double_deref_traced_gives_history, teardown_each),
        cmocka_unit_test_teardown(test_ref_after_release_refused, teardown_each),
        cmocka_unit_test_teardown(test_kill_twice_refused, teardown_each),
        cmocka_unit_test_teardown(test_rundown_order_and_waits, teardown_each),
        cmocka_unit_test_teardown(test_enumeration_skips_dying, teardown_each),
        cmocka_unit_test_teardown(test_lookup, teardown_each),
        cmocka_unit_test_teardown(test_traced_groups_by_stack, teardown_each),
        cmocka_unit_test_teardown(test_bad_tag_refused, teardown_each),
        cmocka_unit_test_teardown(test_many_tags_grow_ledger, teardown_each),
        /* Last: it pins an object for the rest of the process. */
        cmocka_unit_test_teardown(test_saturation_pins, teardown_pinned),
    };

    return cmocka_run_group_tests(tests, setup, NULL);
}
