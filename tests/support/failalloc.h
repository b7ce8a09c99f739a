/*
 * A failing allocator for tests: makes the k-th allocation after arm(k)
 * fail, in whichever thread asks.  A test that includes this (one file
 * per program) must be linked with the allocator wrapped:
 * -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup (see the
 * list in CMakeLists.txt).  Until armed, every allocation goes through.
 */
#ifndef REFNET_TEST_FAILALLOC_H
#define REFNET_TEST_FAILALLOC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);

static _Atomic long fail_at = -1;  /* the allocation to fail; -1: none */
static _Atomic long seen;          /* allocations since armed */
static _Atomic long failed;        /* allocations failed since armed */

static bool should_fail(void)
{
    long k = atomic_load_explicit(&fail_at, memory_order_relaxed);

    if (k < 0 || atomic_fetch_add(&seen, 1) != k)
        return false;
    atomic_fetch_add(&failed, 1);
    return true;
}

void *__wrap_malloc(size_t n)
{
    return should_fail() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return should_fail() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
    return should_fail() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
    return should_fail() ? NULL : __real_strdup(s);
}

static void arm(long k)
{
    atomic_store(&seen, 0);
    atomic_store(&failed, 0);
    atomic_store(&fail_at, k);
}

/* Disarms; returns whether the armed allocation was reached. */
static bool disarm(void)
{
    atomic_store(&fail_at, -1);
    return atomic_load(&failed) != 0;
}

#endif /* REFNET_TEST_FAILALLOC_H */
