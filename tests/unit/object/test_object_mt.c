/*
 * Object manager under concurrency (run under TSan as well as ASan):
 * the ledger always adds up, rundown completes exactly once while other
 * threads race tryref_live, and enumeration never sees freed memory while
 * objects are created and released around it.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "refnet/error.h"
#include "refnet/object.h"
#include "refnet/snapshot.h"
#include "support.h"

#define MAGIC_LIVE 0x11feb1ec7ull
#define MAGIC_GONE 0xdeadull

struct item {
    _Atomic uint64_t it_magic;  /* MAGIC_LIVE until released */
    _Atomic int *it_released;   /* release routine runs */
};

static void item_release(void *ob)
{
    struct item *it = ob;

    TEST_CHECK((atomic_load(&it->it_magic)) == (MAGIC_LIVE));
    atomic_store(&it->it_magic, MAGIC_GONE);
    if (it->it_released)
        atomic_fetch_add(it->it_released, 1);
}

static const struct rn_ob_type_ops item_ops = {
    .name = "item",
    .size = sizeof(struct item),
    .release = item_release,
};

static struct rn_ob_type *item_type;

static struct item *item_new(_Atomic int *released)
{
    struct item *it = rn_ob_create(item_type, RN_TAG_CREATE);

    TEST_CHECK((it) != NULL);
    it->it_released = released;
    atomic_store(&it->it_magic, MAGIC_LIVE);
    rn_ob_publish(it);
    return it;
}

static int setup(void **state)
{
    (void)state;
    item_type = rn_ob_type_register(&item_ops);
    return item_type ? 0 : -1;
}

static int teardown_each(void **state)
{
    (void)state;
    check_live_objects(0);
    return 0;
}

/* ---- The ledger adds up under contention -------------------------------- */

struct hammer {
    struct item *h_item;
    rn_tag_t h_tag;
    int h_rounds;
    _Atomic bool *h_stop;
};

static void *hammer_thread(void *arg)
{
    struct hammer *h = arg;
    int i;

    for (i = 0; i < h->h_rounds; i++) {
        TEST_CHECK((rn_ob_ref(h->h_item, h->h_tag)) == (0));
        TEST_CHECK((rn_ob_ref(h->h_item, RN_TAG_ENUM)) == (0));
        TEST_CHECK((rn_ob_deref(h->h_item, h->h_tag)) == (0));
        TEST_CHECK((rn_ob_deref(h->h_item, RN_TAG_ENUM)) == (0));
    }
    return NULL;
}

static void *checker_thread(void *arg)
{
    struct hammer *h = arg;
    unsigned checks = 0;

    while (!atomic_load(h->h_stop) && checks < 2000) {
        struct rn_snapshot *s = rn_ob_snapshot();
        uint32_t i, j;

        TEST_CHECK((s) != NULL);
        for (i = 0; i < s->s_nobjects; i++) {
            uint32_t sum = 0;

            for (j = 0; j < s->s_objects[i].so_ntags; j++)
                sum += s->s_objects[i].so_tags[j].st_count;
            TEST_CHECK((sum) == (s->s_objects[i].so_refs));
        }
        rn_snapshot_free(s);
        checks++;
    }
    return NULL;
}

static void test_ledger_adds_up_under_contention(void **state)
{
    enum { THREADS = 4 };
    pthread_t t[THREADS], checker;
    struct hammer h[THREADS];
    _Atomic bool stop = false;
    _Atomic int released = 0;
    struct item *it = item_new(&released);
    char name[32];
    int i;

    (void)state;
    for (i = 0; i < THREADS; i++) {
        snprintf(name, sizeof(name), "hammer-%d", i);
        h[i] = (struct hammer){it, rn_tag_intern(name), 20000, &stop};
        pthread_create(&t[i], NULL, hammer_thread, &h[i]);
    }
    pthread_create(&checker, NULL, checker_thread, &h[0]);
    for (i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    atomic_store(&stop, true);
    pthread_join(checker, NULL);
    assert_int_equal(rn_ob_refcount(it), 1);
    assert_int_equal(rn_ob_tag_count(it, RN_TAG_ENUM), 0);
    rn_ob_kill(it);
    assert_int_equal(atomic_load(&released), 1);
}

/* ---- Rundown completes once while tryref_live races it ------------------ */

struct racer {
    struct item *r_item;
    _Atomic bool *r_go;
    _Atomic bool *r_killed;
    int r_after_kill_successes;  /* tryref_live that succeeded after kill */
};

static void *racer_thread(void *arg)
{
    struct racer *r = arg;
    int i;

    while (!atomic_load(r->r_go))
        ;
    for (i = 0; i < 5000; i++) {
        bool killed = atomic_load(r->r_killed);

        if (rn_ob_tryref_live(r->r_item, RN_TAG_REQUEST)) {
            TEST_CHECK((atomic_load(&r->r_item->it_magic)) == (MAGIC_LIVE));
            if (killed)
                r->r_after_kill_successes++;
            rn_ob_deref(r->r_item, RN_TAG_REQUEST);
        }
    }
    return NULL;
}

static void count_completion(struct rn_ob_wait *w, void *ctx)
{
    (void)w;
    atomic_fetch_add((_Atomic int *)ctx, 1);
}

static void test_rundown_once_under_tryref_race(void **state)
{
    enum { THREADS = 3, ROUNDS = 200 };
    int round;

    (void)state;
    for (round = 0; round < ROUNDS; round++) {
        _Atomic int released = 0, completions = 0;
        _Atomic bool go = false, killed = false;
        struct item *it = item_new(&released);
        struct racer r[THREADS];
        pthread_t t[THREADS];
        struct rn_ob_wait w = {0};
        int i;

        /* The racers keep the object alive by holding the "guard" tag's
         * reference until they have all finished, so their tryref_live
         * never touches freed memory: that is the caller's contract. */
        rn_ob_ref(it, RN_TAG_LOOP);
        assert_int_equal(rn_ob_wait_release(it, &w, NULL, "close", count_completion,
                                            (void *)&completions), 0);
        for (i = 0; i < THREADS; i++) {
            r[i] = (struct racer){it, &go, &killed, 0};
            pthread_create(&t[i], NULL, racer_thread, &r[i]);
        }
        atomic_store(&go, true);
        rn_ob_kill(it);
        atomic_store(&killed, true);
        for (i = 0; i < THREADS; i++) {
            pthread_join(t[i], NULL);
            assert_int_equal(r[i].r_after_kill_successes, 0);
        }
        assert_int_equal(atomic_load(&completions), 0);
        rn_ob_deref(it, RN_TAG_LOOP);
        assert_int_equal(atomic_load(&released), 1);
        assert_int_equal(atomic_load(&completions), 1);
    }
}

/* The last reference may be dropped by any of several threads at once;
 * whichever it is, the release and its completion run exactly once. */
static void *dropper_thread(void *arg)
{
    struct racer *r = arg;

    while (!atomic_load(r->r_go))
        ;
    rn_ob_deref(r->r_item, RN_TAG_REQUEST);
    return NULL;
}

static void test_last_deref_race_releases_once(void **state)
{
    enum { THREADS = 4, ROUNDS = 300 };
    int round;

    (void)state;
    for (round = 0; round < ROUNDS; round++) {
        _Atomic int released = 0, completions = 0;
        _Atomic bool go = false, killed = false;
        struct item *it = item_new(&released);
        struct racer r[THREADS];
        pthread_t t[THREADS];
        struct rn_ob_wait w = {0};
        int i;

        for (i = 0; i < THREADS; i++)
            rn_ob_ref(it, RN_TAG_REQUEST);
        rn_ob_wait_release(it, &w, NULL, "close", count_completion, (void *)&completions);
        rn_ob_kill(it);
        for (i = 0; i < THREADS; i++) {
            r[i] = (struct racer){it, &go, &killed, 0};
            pthread_create(&t[i], NULL, dropper_thread, &r[i]);
        }
        atomic_store(&go, true);
        for (i = 0; i < THREADS; i++)
            pthread_join(t[i], NULL);
        assert_int_equal(atomic_load(&released), 1);
        assert_int_equal(atomic_load(&completions), 1);
    }
}

/* ---- Enumeration races creation and release ----------------------------- */

struct churn {
    _Atomic bool *c_stop;
    unsigned c_made;
};

static void *churn_thread(void *arg)
{
    struct churn *c = arg;
    struct item *ring[16] = {0};
    unsigned i = 0;

    while (!atomic_load(c->c_stop) && c->c_made < 200000) {
        struct item **slot = &ring[i++ % 16];

        if (*slot != NULL)
            rn_ob_kill(*slot);
        *slot = item_new(NULL);
        c->c_made++;
    }
    for (i = 0; i < 16; i++) {
        if (ring[i] != NULL)
            rn_ob_kill(ring[i]);
    }
    return NULL;
}

struct walker {
    unsigned w_passes;
    unsigned long w_seen;
};

static void *walker_thread(void *arg)
{
    struct walker *w = arg;
    unsigned pass;

    for (pass = 0; pass < w->w_passes; pass++) {
        struct rn_ob_iter it;
        struct item *x;

        rn_ob_iter_init(&it, item_type, RN_TAG_ENUM);
        while ((x = rn_ob_iter_next(&it)) != NULL) {
            /* Referenced by the iterator: never released under us. */
            TEST_CHECK((atomic_load(&x->it_magic)) == (MAGIC_LIVE));
            TEST_CHECK(rn_ob_tag_count(x, RN_TAG_ENUM) >= 1);
            w->w_seen++;
        }
        rn_ob_iter_end(&it);
        if (pass % 64 == 0) {
            struct rn_snapshot *s = rn_ob_snapshot();

            TEST_CHECK((s) != NULL);
            rn_snapshot_free(s);
        }
    }
    return NULL;
}

static void test_enumeration_races_release(void **state)
{
    enum { CHURNERS = 2, WALKERS = 2 };
    pthread_t c[CHURNERS], w[WALKERS];
    struct churn cs[CHURNERS];
    struct walker ws[WALKERS];
    _Atomic bool stop = false;
    unsigned long seen = 0;
    int i;

    (void)state;
    for (i = 0; i < CHURNERS; i++) {
        cs[i] = (struct churn){&stop, 0};
        pthread_create(&c[i], NULL, churn_thread, &cs[i]);
    }
    for (i = 0; i < WALKERS; i++) {
        ws[i] = (struct walker){2000, 0};
        pthread_create(&w[i], NULL, walker_thread, &ws[i]);
    }
    for (i = 0; i < WALKERS; i++) {
        pthread_join(w[i], NULL);
        seen += ws[i].w_seen;
    }
    atomic_store(&stop, true);
    for (i = 0; i < CHURNERS; i++)
        pthread_join(c[i], NULL);
    /* The walkers really did walk among live objects. */
    assert_true(seen > 0);
    assert_int_equal(rn_ob_misuse_count(RN_MISUSE_REF_RELEASED), 0);
    assert_int_equal(rn_ob_misuse_count(RN_MISUSE_DEREF_UNHELD), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_ledger_adds_up_under_contention, teardown_each),
        cmocka_unit_test_teardown(test_rundown_once_under_tryref_race, teardown_each),
        cmocka_unit_test_teardown(test_last_deref_race_releases_once, teardown_each),
        cmocka_unit_test_teardown(test_enumeration_races_release, teardown_each),
    };

    return cmocka_run_group_tests(tests, setup, NULL);
}
