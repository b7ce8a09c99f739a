/*
 * The filter tests' pair and chores (helper_filter.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "helper_filter.h"
#include "refnet/drop.h"
#include "refnet/error.h"
#include "refnet/filter.h"

void fpair_up(void)
{
    struct pair_params pp = {.pp_seed = 11, .pp_filter = true, .pp_procs = true};

    pair_up_with(&pp);
    assert_int_equal(rn_filter_init(P.b), RN_EEXIST);
}

void fpair_down(void)
{
    pair_down();
}

uint64_t filter_drops(struct rn_stack *st)
{
    return rn_stack_drops(st, RN_DROP_FILTER_BLOCKED);
}

uint64_t add_filter(struct rn_stack *st, const char *spec)
{
    char err[256];
    uint64_t id = 0;
    int e = rn_filter_add(st, spec, &id, err, sizeof(err));

    if (e != 0)
        fail_msg("rn_filter_add(%s): %s", spec, err);
    assert_true(id > 0);
    return id;
}
