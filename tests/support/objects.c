/*
 * Object look-ups the tests repeat (support.h): live objects by type and
 * description through the object manager's iterator, ledger lines, and
 * holds and waits as a snapshot shows them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "refnet/diag.h"
#include "refnet/object.h"
#include "refnet/snapshot.h"
#include "refnet/strbuf.h"
#include "support.h"

uint64_t count_type(const char *name)
{
    struct rn_ob_type *t = rn_ob_type_find(name);

    if (t == NULL)
        fail_msg("no object type '%s' is registered", name);
    return rn_ob_live_count(t);
}

/* Live objects of type whose description has needle at its start (if
 * prefix) or anywhere; NULL needle matches all. */
static unsigned count_matching(const char *type, const char *needle, bool prefix)
{
    struct rn_ob_type *t = rn_ob_type_find(type);
    struct rn_ob_iter it;
    unsigned n = 0;
    char desc[200];
    void *ob;

    if (t == NULL)
        return 0;
    rn_ob_iter_init(&it, t, RN_TAG_ENUM);
    while ((ob = rn_ob_iter_next(&it)) != NULL) {
        rn_ob_describe(ob, desc, sizeof(desc));
        if (needle == NULL)
            n++;
        else if (prefix)
            n += strncmp(desc, needle, strlen(needle)) == 0;
        else
            n += strstr(desc, needle) != NULL;
    }
    rn_ob_iter_end(&it);
    return n;
}

unsigned count_objects(const char *type, const char *needle)
{
    return count_matching(type, needle, false);
}

unsigned count_objects_prefixed(const char *type, const char *prefix)
{
    return count_matching(type, prefix, true);
}

void *find_object(const char *type, const char *needle)
{
    struct rn_ob_iter it;
    void *ob, *found = NULL;
    char desc[200];

    rn_ob_iter_init(&it, rn_ob_type_find(type), RN_TAG_ENUM);
    while ((ob = rn_ob_iter_next(&it)) != NULL) {
        rn_ob_describe(ob, desc, sizeof(desc));
        if (strstr(desc, needle) != NULL) {
            found = ob;
            rn_ob_ref(found, RN_TAG_LOOKUP);
            break;
        }
    }
    rn_ob_iter_end(&it);
    return found;
}

uint32_t ledger_count(void *ob, rn_tag_t tag)
{
    struct rn_ob_ledger_entry e[16];
    size_t i, n = rn_ob_ledger(ob, e, 16);
    uint32_t sum = 0, c = 0;

    assert_true(n <= 16);
    for (i = 0; i < n; i++) {
        sum += e[i].count;
        if (e[i].tag == tag)
            c = e[i].count;
    }
    assert_int_equal(sum, rn_ob_refcount(ob));
    return c;
}

uint64_t tag_holds(const char *tag)
{
    struct rn_snapshot *s = rn_ob_snapshot();
    uint64_t n = 0;
    uint32_t i, j;

    assert_non_null(s);
    for (i = 0; i < s->s_nobjects; i++)
        for (j = 0; j < s->s_objects[i].so_ntags; j++)
            if (strcmp(s->s_objects[i].so_tags[j].st_tag, tag) == 0)
                n += s->s_objects[i].so_tags[j].st_count;
    rn_snapshot_free(s);
    return n;
}

unsigned objects_held_by(const char *tag)
{
    struct rn_snapshot *s = rn_ob_snapshot();
    unsigned n = 0;
    uint32_t i, j;

    assert_non_null(s);
    for (i = 0; i < s->s_nobjects; i++) {
        const struct rn_snap_object *o = &s->s_objects[i];

        for (j = 0; j < o->so_ntags; j++) {
            if (strcmp(o->so_tags[j].st_tag, tag) == 0)
                n++;
        }
    }
    rn_snapshot_free(s);
    return n;
}

bool has_wait_on(uint64_t waiter, uint64_t waited, const char *waited_type, const char *what)
{
    struct rn_snapshot *s = rn_ob_snapshot();
    bool found = false;
    uint32_t i;

    assert_non_null(s);
    for (i = 0; i < s->s_nwaits; i++) {
        const struct rn_snap_wait *w = &s->s_waits[i];
        const struct rn_snap_object *o;

        if (w->sw_waiter != waiter || strcmp(w->sw_what, what) != 0)
            continue;
        if (waited != 0 && w->sw_waited != waited)
            continue;
        if (waited_type != NULL) {
            o = rn_snapshot_find(s, w->sw_waited);
            if (o == NULL || strcmp(o->so_type, waited_type) != 0)
                continue;
        }
        found = true;
    }
    rn_snapshot_free(s);
    return found;
}

bool has_wait(uint64_t waiter, const char *what)
{
    return has_wait_on(waiter, 0, NULL, what);
}

char *render_live_chains(void)
{
    struct rn_snapshot *s = rn_ob_snapshot();
    struct rn_strbuf sb = RN_STRBUF_INIT;
    char *text;

    assert_non_null(s);
    assert_true(rn_diag_render_chains(s, 0, &sb) >= 0);
    rn_snapshot_free(s);
    text = rn_strbuf_detach(&sb);
    return text != NULL ? text : strdup("");
}
