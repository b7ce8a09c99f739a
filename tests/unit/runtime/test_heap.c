/*
 * Tests of page blocks and of memory given back after a burst
 * (include/refnet/heap.h, src/runtime/heap.c).  The module's state is the process's: the tests run
 * in order, and time only goes forward from one to the next.
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "refnet/heap.h"

/* The tests' clock: each test starts later than the last one ended. */
static rn_time_t now = RN_SEC(1000);

static size_t page_size(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

/* How many of the n bytes' pages at p are resident. */
static size_t resident_pages(const void *p, size_t n)
{
    size_t np = (n + page_size() - 1) / page_size(), i, k = 0;
    unsigned char vec[256];

    assert_true(np <= sizeof(vec));
    assert_int_equal(mincore((void *)p, n, vec), 0);
    for (i = 0; i < np; i++)
        k += vec[i] & 1;
    return k;
}

/* Frees enough and makes a return happen now, so that the next test's
 * times count from it. */
static void settle(void)
{
    bool done;

    rn_heap_note_freed(RN_HEAP_RETURN_MIN);
    rn_heap_note_freed(256u << 10);  /* publishes this thread's count */
    done = rn_heap_return_due(now);
    if (!done) {
        now += RN_HEAP_QUIET;
        done = rn_heap_return_due(now);
    }
    assert_true(done);
}

/* A block is page-aligned and writable to its end; one put back is the
 * next one of its size taken, and sizes round up to whole pages. */
static void test_blocks_reused_by_size(void **state)
{
    struct rn_heap_counters c0, c1;
    uint8_t *a, *b, *c;

    (void)state;
    rn_heap_counters(&c0);
    a = rn_pgblock_get(16384);
    assert_non_null(a);
    assert_int_equal((uintptr_t)a % page_size(), 0);
    memset(a, 0xa5, 16384);
    rn_pgblock_put(a, 16384);
    b = rn_pgblock_get(16384);
    assert_ptr_equal(b, a);
    /* 10,000 bytes take three 4 KiB pages: another size than 16 KiB. */
    c = rn_pgblock_get(10000);
    assert_non_null(c);
    assert_ptr_not_equal(c, a);
    memset(c, 0x5a, 10000);
    rn_heap_counters(&c1);
    assert_int_equal(c1.hc_gets - c0.hc_gets, 3);
    assert_int_equal(c1.hc_blocks_out - c0.hc_blocks_out, 2);
    rn_pgblock_put(b, 16384);
    rn_pgblock_put(c, 10000);
    rn_pgblock_put(NULL, 16384);
    rn_heap_counters(&c1);
    assert_int_equal(c1.hc_blocks_out, c0.hc_blocks_out);
    assert_int_equal(c1.hc_blocks_free - c0.hc_blocks_free, 2);
}

/* Larger than RN_PGBLOCK_MAX: mapped for itself and unmapped when put. */
static void test_large_block_mapped_alone(void **state)
{
    struct rn_heap_counters c0, c1;
    size_t n = 4u * RN_PGBLOCK_MAX;
    uint8_t *p;

    (void)state;
    rn_heap_counters(&c0);
    p = rn_pgblock_get(n);
    assert_non_null(p);
    memset(p, 1, n);
    rn_heap_counters(&c1);
    assert_int_equal(c1.hc_mapped - c0.hc_mapped, n);
    rn_pgblock_put(p, n);
    rn_heap_counters(&c1);
    assert_int_equal(c1.hc_mapped, c0.hc_mapped);
    assert_int_equal(c1.hc_blocks_out, c0.hc_blocks_out);
}

/* Blocks freed after a burst keep their pages until a return is due:
 * enough freed, then a pause of RN_HEAP_QUIET.  After it their pages are
 * gone (not resident, and read as zeros when taken again). */
static void test_return_after_pause(void **state)
{
    enum { N = 8, SZ = 65536 };
    struct rn_heap_counters c0, c1;
    uint8_t *b[N];
    size_t res = 0;
    int i;

    (void)state;
    settle();
    rn_heap_counters(&c0);
    for (i = 0; i < N; i++) {
        b[i] = rn_pgblock_get(SZ);
        assert_non_null(b[i]);
        memset(b[i], 0x77, SZ);
    }
    for (i = 0; i < N; i++)
        rn_pgblock_put(b[i], SZ);
    for (i = 0; i < N; i++)
        res += resident_pages(b[i], SZ);
    assert_int_equal(res, N * SZ / page_size());
    /* Not enough freed yet: no return, however long the pause. */
    now += RN_HEAP_QUIET;
    assert_false(rn_heap_return_due(now));
    rn_heap_note_freed(RN_HEAP_RETURN_MIN);
    rn_heap_note_freed(256u << 10);  /* publishes this thread's count */
    /* Enough, but freeing just happened: wait for the pause. */
    assert_false(rn_heap_return_due(now));
    now += RN_HEAP_QUIET / 2;
    assert_false(rn_heap_return_due(now));
    now += RN_HEAP_QUIET;
    assert_true(rn_heap_return_due(now));
    rn_heap_counters(&c1);
    assert_int_equal(c1.hc_returns - c0.hc_returns, 1);
    res = 0;
    for (i = 0; i < N; i++)
        res += resident_pages(b[i], SZ);
    assert_int_equal(res, 0);
    /* Taken again, a block is whole and reads zeros. */
    for (i = 0; i < N; i++) {
        uint8_t *p = rn_pgblock_get(SZ);
        size_t k;

        assert_non_null(p);
        for (k = 0; k < SZ; k += 512)
            assert_int_equal(p[k], 0);
        b[i] = p;
    }
    for (i = 0; i < N; i++)
        rn_pgblock_put(b[i], SZ);
    /* Nothing more freed: the next check makes no return. */
    now += RN_HEAP_RETURN_EVERY;
    assert_false(rn_heap_return_due(now));
}

/* Freeing that never pauses still gets a return every
 * RN_HEAP_RETURN_EVERY. */
static void test_return_without_pause(void **state)
{
    struct rn_heap_counters c0, c1;
    rn_time_t start, step = RN_HEAP_QUIET / 2;

    (void)state;
    settle();
    start = now;
    rn_heap_counters(&c0);
    while (now - start < RN_HEAP_RETURN_EVERY - step) {
        rn_heap_note_freed(RN_HEAP_RETURN_MIN);
        assert_false(rn_heap_return_due(now));
        now += step;
    }
    rn_heap_note_freed(RN_HEAP_RETURN_MIN);
    now += 2 * step;
    assert_true(rn_heap_return_due(now));
    rn_heap_counters(&c1);
    assert_int_equal(c1.hc_returns - c0.hc_returns, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocks_reused_by_size),
        cmocka_unit_test(test_large_block_mapped_alone),
        cmocka_unit_test(test_return_after_pause),
        cmocka_unit_test(test_return_without_pause),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
