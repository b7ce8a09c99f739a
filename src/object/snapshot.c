/*
 * The snapshot model (snapshot.h): an arena that owns every string and
 * array of a snapshot, and the growable object, stack and wait tables.
 *
 * Both the live capture (ob_snapshot.c) and the dump reader (diag/dump.c)
 * build snapshots through these functions, so one rn_snapshot_free() frees
 * either.
 */
#include <stdlib.h>
#include <string.h>

#include "refnet/snapshot.h"

#define ARENA_CHUNK 16384

struct arena_chunk {
    struct arena_chunk *ac_next;  /* older chunk */
    size_t ac_used;               /* bytes handed out of ac_mem */
    size_t ac_size;               /* bytes of ac_mem */
    _Alignas(16) unsigned char ac_mem[];
};

struct rn_snap_arena {
    struct arena_chunk *sa_chunks;  /* newest first */
    uint32_t sa_cap_objects;        /* slots allocated in s_objects */
    uint32_t sa_cap_stacks;         /* slots allocated in s_stacks */
    uint32_t sa_cap_waits;          /* slots allocated in s_waits */
    uint32_t sa_cap_types;          /* slots allocated in s_types */
};

struct rn_snapshot *rn_snapshot_new(void)
{
    struct rn_snapshot *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    s->s_arena = calloc(1, sizeof(*s->s_arena));
    if (s->s_arena == NULL) {
        free(s);
        return NULL;
    }
    return s;
}

/* Arena memory, not zeroed. */
static void *snap_alloc_raw(struct rn_snapshot *s, size_t size)
{
    struct rn_snap_arena *a = s->s_arena;
    struct arena_chunk *c = a->sa_chunks;
    void *p;

    size = (size + 15) & ~(size_t)15;
    if (size == 0)
        size = 16;
    if (c == NULL || c->ac_size - c->ac_used < size) {
        size_t csize = size > ARENA_CHUNK ? size : ARENA_CHUNK;

        c = malloc(sizeof(*c) + csize);
        if (c == NULL)
            return NULL;
        c->ac_size = csize;
        c->ac_used = 0;
        c->ac_next = a->sa_chunks;
        a->sa_chunks = c;
    }
    p = c->ac_mem + c->ac_used;
    c->ac_used += size;
    return p;
}

void *rn_snap_alloc(struct rn_snapshot *s, size_t size)
{
    void *p = snap_alloc_raw(s, size);

    if (p != NULL)
        memset(p, 0, size);
    return p;
}

const char *rn_snap_strdup(struct rn_snapshot *s, const char *str)
{
    size_t n = strlen(str) + 1;
    char *p = snap_alloc_raw(s, n);

    if (p != NULL)
        memcpy(p, str, n);
    return p;
}

/* Grows *arr (of elem-sized slots, *cap of them) to hold one more than
 * *count and returns the new zeroed slot. */
static void *table_append(void **arr, uint32_t *count, uint32_t *cap, size_t elem)
{
    unsigned char *slot;

    if (*count == UINT32_MAX)
        return NULL;
    if (*count == *cap) {
        uint32_t ncap = *cap ? *cap * 2 : 64;
        void *p;

        if (ncap < *cap)
            return NULL;
        p = realloc(*arr, (size_t)ncap * elem);
        if (p == NULL)
            return NULL;
        *arr = p;
        *cap = ncap;
    }
    slot = (unsigned char *)*arr + (size_t)*count * elem;
    memset(slot, 0, elem);
    (*count)++;
    return slot;
}

struct rn_snap_object *rn_snapshot_add_object(struct rn_snapshot *s)
{
    return table_append((void **)&s->s_objects, &s->s_nobjects,
                        &s->s_arena->sa_cap_objects, sizeof(*s->s_objects));
}

struct rn_snap_stack *rn_snapshot_add_stack(struct rn_snapshot *s)
{
    return table_append((void **)&s->s_stacks, &s->s_nstacks,
                        &s->s_arena->sa_cap_stacks, sizeof(*s->s_stacks));
}

struct rn_snap_wait *rn_snapshot_add_wait(struct rn_snapshot *s)
{
    return table_append((void **)&s->s_waits, &s->s_nwaits,
                        &s->s_arena->sa_cap_waits, sizeof(*s->s_waits));
}

struct rn_snap_type *rn_snapshot_add_type(struct rn_snapshot *s)
{
    return table_append((void **)&s->s_types, &s->s_ntypes, &s->s_arena->sa_cap_types,
                        sizeof(*s->s_types));
}

static int cmp_type(const void *a, const void *b)
{
    const struct rn_snap_type *x = a, *y = b;

    return strcmp(x->sy_name ? x->sy_name : "", y->sy_name ? y->sy_name : "");
}

const struct rn_snap_type *rn_snapshot_type(const struct rn_snapshot *s, const char *name)
{
    struct rn_snap_type key = {.sy_name = name};

    if (name == NULL || s->s_ntypes == 0)
        return NULL;
    return bsearch(&key, s->s_types, s->s_ntypes, sizeof(key), cmp_type);
}

static int cmp_object(const void *a, const void *b)
{
    const struct rn_snap_object *x = a, *y = b;

    return (x->so_id > y->so_id) - (x->so_id < y->so_id);
}

static int cmp_wait(const void *a, const void *b)
{
    const struct rn_snap_wait *x = a, *y = b;

    if (x->sw_since != y->sw_since)
        return (x->sw_since > y->sw_since) - (x->sw_since < y->sw_since);
    if (x->sw_waited != y->sw_waited)
        return (x->sw_waited > y->sw_waited) - (x->sw_waited < y->sw_waited);
    return (x->sw_waiter > y->sw_waiter) - (x->sw_waiter < y->sw_waiter);
}

void rn_snapshot_finish(struct rn_snapshot *s)
{
    if (s->s_nobjects > 1)
        qsort(s->s_objects, s->s_nobjects, sizeof(*s->s_objects), cmp_object);
    if (s->s_nwaits > 1)
        qsort(s->s_waits, s->s_nwaits, sizeof(*s->s_waits), cmp_wait);
    if (s->s_ntypes > 1)
        qsort(s->s_types, s->s_ntypes, sizeof(*s->s_types), cmp_type);
}

const struct rn_snap_object *rn_snapshot_find(const struct rn_snapshot *s, uint64_t id)
{
    uint32_t lo = 0, hi = s->s_nobjects;

    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        uint64_t mid_id = s->s_objects[mid].so_id;

        if (mid_id == id)
            return &s->s_objects[mid];
        if (mid_id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

void rn_snapshot_free(struct rn_snapshot *s)
{
    struct arena_chunk *c, *next;

    if (s == NULL)
        return;
    for (c = s->s_arena->sa_chunks; c != NULL; c = next) {
        next = c->ac_next;
        free(c);
    }
    free(s->s_arena);
    free(s->s_objects);
    free(s->s_stacks);
    free(s->s_waits);
    free(s->s_types);
    free(s);
}
