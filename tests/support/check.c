/*
 * The unit tests' checks, captured reports and manual clock (support.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdatomic.h>
#include <string.h>
#include <cmocka.h>
#include <pthread.h>

#include "refnet/clock.h"
#include "refnet/netbuf.h"
#include "refnet/object.h"
#include "refnet/snapshot.h"
#include "refnet/strbuf.h"
#include "support.h"

static struct rn_strbuf captured = RN_STRBUF_INIT;
static unsigned captured_kinds[RN_REPORT_INFO + 1];

static void capture_sink(void *ctx, enum rn_report_kind kind, const char *text)
{
    (void)ctx;
    rn_strbuf_puts(&captured, text);
    if ((unsigned)kind <= RN_REPORT_INFO)
        captured_kinds[kind]++;
}

void capture_begin(void)
{
    rn_strbuf_reset(&captured);
    memset(captured_kinds, 0, sizeof(captured_kinds));
    rn_report_set_sink(capture_sink, NULL);
}

void capture_end(void)
{
    rn_report_set_sink(NULL, NULL);
}

const char *capture_text(void)
{
    return rn_strbuf_str(&captured);
}

unsigned capture_count(enum rn_report_kind kind)
{
    return (unsigned)kind <= RN_REPORT_INFO ? captured_kinds[kind] : 0;
}

unsigned capture_total(void)
{
    unsigned n = 0, k;

    for (k = 0; k <= RN_REPORT_INFO; k++)
        n += captured_kinds[k];
    return n;
}

bool capture_has(const char *needle)
{
    return strstr(rn_strbuf_str(&captured), needle) != NULL;
}

void check_live_objects(uint64_t expected)
{
    uint64_t live;

    rn_ob_drain();
    live = rn_ob_live_count(NULL);
    if (live != expected) {
        /* Say who is left, with their holders: the ledger is the oracle. */
        struct rn_snapshot *s = rn_ob_snapshot();
        uint32_t i, j;

        fprintf(stderr, "%llu objects alive, %llu expected:\n", (unsigned long long)live,
                (unsigned long long)expected);
        for (i = 0; s != NULL && i < s->s_nobjects; i++) {
            const struct rn_snap_object *o = &s->s_objects[i];

            fprintf(stderr, "  #%llu %s [%s] refs %u:", (unsigned long long)o->so_id, o->so_desc,
                    rn_ob_state_name(o->so_state), o->so_refs);
            for (j = 0; j < o->so_ntags; j++)
                fprintf(stderr, " %s=%u", o->so_tags[j].st_tag, o->so_tags[j].st_count);
            fputc('\n', stderr);
        }
        rn_snapshot_free(s);
    }
    assert_int_equal(live, expected);
}

uint32_t pool_outstanding_of(struct rn_nbpool *pool)
{
    return rn_nbpool_outstanding(pool, RN_NB_OWNER_NONE);
}

uint32_t pool_outstanding(struct rn_stack *st)
{
    return pool_outstanding_of(rn_stack_pool(st));
}

void check_pool_empty(struct rn_nbpool *pool)
{
    assert_int_equal(pool_outstanding_of(pool), 0);
}

static _Atomic uint64_t manual_now;

static rn_time_t manual_clock(void *ctx)
{
    (void)ctx;
    return atomic_load(&manual_now);
}

void clock_manual_install(uint64_t start_ns)
{
    atomic_store(&manual_now, start_ns);
    rn_clock_set_source(manual_clock, NULL);
}

void clock_manual_advance(uint64_t ns)
{
    atomic_fetch_add(&manual_now, ns);
}

void clock_manual_uninstall(void)
{
    rn_clock_set_source(NULL, NULL);
}

void test_check_failed(const char *cond, const char *file, int line)
{
    fprintf(stderr, "%s:%d: check failed: %s\n", file, line, cond);
    abort();
}
