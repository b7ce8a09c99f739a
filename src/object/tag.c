/*
 * Tags: interned holder names (object.h).
 *
 * Names live in a fixed table indexed by tag, so rn_tag_name() is one load
 * and never takes a lock: reports and snapshots call it freely.  Interning
 * takes a mutex and a linear probe of a small open-addressed index; it runs
 * at initialisation or for dynamic names such as "callout:acme-av", never
 * per reference.
 */
#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/once.h"
#include "object/ob_priv.h"

#define TAG_INDEX_SIZE (RN_TAG_MAX * 2)  /* power of two, load <= 1/2 */

static _Atomic(const char *) tag_names[RN_TAG_MAX];  /* [A] set once each */
static uint16_t tag_index[TAG_INDEX_SIZE];            /* guarded by tag_lock */
static unsigned tag_count;                            /* guarded by tag_lock */
static pthread_mutex_t tag_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rn_once tag_once = RN_ONCE_INIT;

_Atomic uint32_t rn__tag_holding[RN_TAG_MAX];

static const char *const well_known[] = {
#define RN_TAG_NAME_(name, str) str,
    RN_WELL_KNOWN_TAGS(RN_TAG_NAME_)
#undef RN_TAG_NAME_
};

static uint32_t tag_hash(const char *s)
{
    uint32_t h = 2166136261u;  /* FNV-1a */

    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

/* Returns the tag of name or interns it.  Caller holds tag_lock. */
static rn_tag_t tag_intern_locked(const char *name)
{
    uint32_t i = tag_hash(name) & (TAG_INDEX_SIZE - 1);
    char *copy;
    rn_tag_t tag;

    for (;;) {
        uint16_t t = tag_index[i];

        if (t == RN_TAG_NONE)
            break;
        if (!strcmp(atomic_load_explicit(&tag_names[t], memory_order_relaxed), name))
            return t;
        i = (i + 1) & (TAG_INDEX_SIZE - 1);
    }
    if (tag_count + 1 >= RN_TAG_MAX)
        return RN_TAG_NONE;
    copy = strdup(name);
    if (copy == NULL)
        return RN_TAG_NONE;
    tag = (rn_tag_t)++tag_count;
    atomic_store_explicit(&tag_names[tag], copy, memory_order_release);
    tag_index[i] = tag;
    return tag;
}

/* Interns the well-known tags, first and in order, so that each gets the
 * number object.h gives it.  After a failure the next attempt finds those
 * interned so far and goes on. */
static bool tag_init(void)
{
    bool ok = true;
    size_t i;

    pthread_mutex_lock(&tag_lock);
    for (i = 0; i < sizeof(well_known) / sizeof(well_known[0]) && ok; i++) {
        rn_tag_t t = tag_intern_locked(well_known[i]);

        /* The enum in object.h and this table are made from one list. */
        assert(t == RN_TAG_NONE || t == i + 1);
        ok = t != RN_TAG_NONE;
    }
    pthread_mutex_unlock(&tag_lock);
    return ok;
}

rn_tag_t rn_tag_intern(const char *name)
{
    size_t len;
    rn_tag_t tag;

    if (name == NULL)
        return RN_TAG_NONE;
    len = strlen(name);
    if (len == 0 || len > RN_TAG_NAME_MAX || !strcmp(name, "unrecorded"))
        return RN_TAG_NONE;
    if (!rn_once(&tag_once, tag_init))
        return RN_TAG_NONE;
    pthread_mutex_lock(&tag_lock);
    tag = tag_intern_locked(name);
    pthread_mutex_unlock(&tag_lock);
    return tag;
}

bool rn__ob_tag_valid(rn_tag_t tag)
{
    if (tag == RN_TAG_NONE || tag >= RN_TAG_MAX)
        return false;
    if (tag < RN_TAG_FIRST_DYNAMIC_)
        return true;
    return atomic_load_explicit(&tag_names[tag], memory_order_acquire) != NULL;
}

uint32_t rn_tag_holds(rn_tag_t tag)
{
    if (tag < RN_TAG_FIRST_DYNAMIC_ || tag >= RN_TAG_MAX)
        return 0;
    return atomic_load_explicit(&rn__tag_holding[tag], memory_order_relaxed);
}

const char *rn_tag_name(rn_tag_t tag)
{
    const char *name;

    if (tag == RN_TAG_UNRECORDED)
        return "unrecorded";
    if (tag == RN_TAG_NONE || tag >= RN_TAG_MAX)
        return "?";
    if (tag < RN_TAG_FIRST_DYNAMIC_)
        return well_known[tag - 1];
    name = atomic_load_explicit(&tag_names[tag], memory_order_acquire);
    return name ? name : "?";
}
