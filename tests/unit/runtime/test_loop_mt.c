/*
 * The loop from other threads: work posted concurrently by several threads
 * all runs on the loop thread, in order per poster, and rn_loop_stop()
 * from another thread ends a loop that sleeps with nothing to do.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "refnet/clock.h"
#include "refnet/loop.h"
#include "support.h"

#define POSTERS 4
#define PER_POSTER 2000

struct posted;

struct item {
    struct rn_loop_work it_work;  /* first: the callback casts back */
    struct posted *it_p;          /* the test's state */
    unsigned it_poster;
    unsigned it_seq;
};

struct posted {
    struct rn_loop *p_loop;
    struct item p_items[POSTERS][PER_POSTER];
    unsigned p_next[POSTERS];     /* [L] next sequence expected per poster */
    unsigned p_ran;               /* [L] items run */
    pthread_t p_loop_thread;
};

static void item_run(struct rn_loop *loop, struct rn_loop_work *w)
{
    struct item *it = (struct item *)w;
    struct posted *p = it->it_p;

    TEST_CHECK(pthread_equal(pthread_self(), p->p_loop_thread));
    TEST_CHECK(p->p_next[it->it_poster] == it->it_seq);
    p->p_next[it->it_poster]++;
    if (++p->p_ran == POSTERS * PER_POSTER)
        rn_loop_stop(loop);
}

struct poster_arg {
    struct posted *pa_p;
    unsigned pa_idx;
};

static void *poster(void *arg)
{
    struct poster_arg *pa = arg;
    unsigned i;

    for (i = 0; i < PER_POSTER; i++) {
        struct item *it = &pa->pa_p->p_items[pa->pa_idx][i];

        it->it_p = pa->pa_p;
        it->it_poster = pa->pa_idx;
        it->it_seq = i;
        rn_loop_post(pa->pa_p->p_loop, &it->it_work, item_run);
        if (i % 256 == 0)
            usleep(100);
    }
    return NULL;
}

static void test_concurrent_posts(void **state)
{
    struct posted *p = calloc(1, sizeof(*p));
    struct poster_arg args[POSTERS];
    pthread_t th[POSTERS];
    unsigned i;

    (void)state;
    assert_non_null(p);
    assert_int_equal(rn_loop_create_driven(NULL, &p->p_loop), 0);
    p->p_loop_thread = pthread_self();
    for (i = 0; i < POSTERS; i++) {
        args[i].pa_p = p;
        args[i].pa_idx = i;
        assert_int_equal(pthread_create(&th[i], NULL, poster, &args[i]), 0);
    }
    assert_int_equal(rn_loop_run(p->p_loop), 0);
    for (i = 0; i < POSTERS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(p->p_ran, POSTERS * PER_POSTER);
    for (i = 0; i < POSTERS; i++)
        assert_int_equal(p->p_next[i], PER_POSTER);
    rn_loop_destroy(p->p_loop);
    free(p);
}

static void *stopper(void *arg)
{
    usleep(20000);
    rn_loop_stop(arg);
    return NULL;
}

static void test_stop_from_another_thread(void **state)
{
    struct rn_loop *loop;
    pthread_t th;
    rn_time_t t0;

    (void)state;
    assert_int_equal(rn_loop_create_driven(NULL, &loop), 0);
    t0 = rn_clock_os_monotonic();
    assert_int_equal(pthread_create(&th, NULL, stopper, loop), 0);
    /* Nothing to do and no deadline: only the stop can end this. */
    assert_int_equal(rn_loop_run(loop), 0);
    pthread_join(th, NULL);
    assert_true(rn_clock_os_monotonic() - t0 >= RN_MSEC(15));
    rn_loop_destroy(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_posts),
        cmocka_unit_test(test_stop_from_another_thread),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
