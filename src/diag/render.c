/*
 * Rendering snapshots as text: one object with its ledger, and waiting
 * chains (diag.h).
 *
 * A chain is drawn from the waits of a snapshot.  Every wait is an edge
 * "waiter -> waited"; an outermost waiter is a node with no edge coming in,
 * a blocker a node with no edge going out.  rn__diag_render_selected()
 * builds that graph, works out which nodes lead to a selected wait (one old
 * enough, or one touching the object asked about), and prints one tree per
 * outermost waiter:
 *
 *   service httpd STOP_PENDING  #1   stop pending 31.2s
 *   └ process httpd terminating, 1 of 3 handle cleanups pending  #2   cleanup ...
 *     └ socket #7  #3                close pending 31.2s
 *       └ tcp listener 0.0.0.0:80  #4   live, refs 2, traced
 *           enum         1   held 31.2s   at tl_enum_next+0x4c <- ctl_netstat+0x1a2
 *           port-table   1   held 2h10m   (expected while bound)
 *           1 hold taken before tracing was armed (no stack)
 *         verdict: 'enum' holds past its bound (1.0s) with no enumeration ...
 *
 * The blocker comes with its ledger and the verdict of verdict.c.  Order is
 * fixed by the snapshot alone (trees by the age of their outermost wait,
 * then id; branches the same way), so a live snapshot and its dump print the
 * same bytes.  A node reached a second time is printed once more with
 * "(shown above)" and not expanded again, a node met again on its own path
 * is marked as a cycle, and trees are cut at RENDER_MAX_DEPTH levels: any
 * snapshot, however hostile, renders in time and space linear in its size.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag/diag_priv.h"
#include "refnet/error.h"

/* Levels below the outermost waiter before a tree is cut. */
#define RENDER_MAX_DEPTH 64
/* Frames of an acquisition stack printed on one line. */
#define RENDER_MAX_FRAMES 8
/* Widest tree text (prefix and description) the annotations align after. */
#define RENDER_ALIGN_MAX 56
/* Narrowest tag column of a ledger. */
#define RENDER_TAG_MIN 12

/* ---- Text --------------------------------------------------------------- */

/* Returns the length of the valid, printable UTF-8 character at p (n bytes
 * available), or 0 if the byte at p must be escaped. */
static size_t utf8_printable(const unsigned char *p, size_t n)
{
    uint32_t cp;
    size_t len, i;

    if (p[0] >= 0x20 && p[0] < 0x7f)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        len = 2, cp = p[0] & 0x1f;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        len = 3, cp = p[0] & 0x0f;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        len = 4, cp = p[0] & 0x07;
    else
        return 0;
    if (n < len)
        return 0;
    for (i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    /* Overlong forms, surrogates, beyond Unicode. */
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    /* C1 controls (0x9b is a CSI on some terminals) and the bidirectional
     * overrides that can make a line read other than it is. */
    if (cp < 0xa0 || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069))
        return 0;
    return len;
}

void rn__diag_put_text(struct rn_strbuf *out, const char *str)
{
    const unsigned char *p = (const unsigned char *)(str ? str : "");
    size_t n = strlen((const char *)p);

    while (n > 0) {
        size_t run = 0, len;

        /* Copy the longest printable run at once. */
        while (run < n && (len = utf8_printable(p + run, n - run)) > 0)
            run += len;
        if (run > 0) {
            rn_strbuf_append(out, (const char *)p, run);
            p += run;
            n -= run;
            continue;
        }
        rn_strbuf_printf(out, "\\x%02x", p[0]);
        p++;
        n--;
    }
}

size_t rn__diag_width(const char *str, size_t len)
{
    size_t cols = 0, i;

    for (i = 0; i < len; i++)
        if (((unsigned char)str[i] & 0xc0) != 0x80)
            cols++;
    return cols;
}

char *rn__diag_age(rn_time_t now, rn_time_t since, char *buf, size_t len)
{
    return rn_fmt_age(since < now ? now - since : 0, buf, len);
}

static void put_spaces(struct rn_strbuf *out, size_t n)
{
    static const char spaces[] = "                                ";

    while (n > 0) {
        size_t k = n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1;

        rn_strbuf_append(out, spaces, k);
        n -= k;
    }
}

/* Appends str escaped and padded with spaces to width columns. */
static void put_text_padded(struct rn_strbuf *out, const char *str, size_t width)
{
    size_t start = out->sb_len, w;

    rn__diag_put_text(out, str);
    if (out->sb_oom)
        return;
    w = rn__diag_width(out->sb_buf + start, out->sb_len - start);
    if (w < width)
        put_spaces(out, width - w);
}

/* Returns the escaped width of str in columns. */
static size_t text_width(const char *str)
{
    struct rn_strbuf tmp = RN_STRBUF_INIT;
    size_t w;

    rn__diag_put_text(&tmp, str);
    w = rn__diag_width(rn_strbuf_str(&tmp), tmp.sb_len);
    rn_strbuf_free(&tmp);
    return w;
}

static bool is_empty(const char *str)
{
    return str == NULL || str[0] == '\0';
}

/* ---- One object --------------------------------------------------------- */

/* True if desc ends with "#<id>" as a word: the describe line already
 * names the id (the "<type> #<id>" fallback does). */
static bool desc_names_id(const char *desc, uint64_t id)
{
    char tail[24];
    size_t n = strlen(desc), k;

    k = (size_t)snprintf(tail, sizeof(tail), "#%" PRIu64, id);
    if (n < k || strcmp(desc + n - k, tail) != 0)
        return false;
    return n == k || desc[n - k - 1] == ' ';
}

void rn__diag_object_left(const struct rn_snap_object *o, struct rn_strbuf *out)
{
    const char *desc = o->so_desc;

    if (is_empty(desc))
        desc = is_empty(o->so_type) ? "object" : o->so_type;
    rn__diag_put_text(out, desc);
    if (!desc_names_id(desc, o->so_id))
        rn_strbuf_printf(out, "  #%" PRIu64, o->so_id);
}

void rn__diag_object_right(const struct rn_snapshot *s, const struct rn_snap_object *o,
                           struct rn_strbuf *out)
{
    char age[32];

    if (o->so_state == RN_OB_DYING && o->so_killed != 0)
        rn_strbuf_printf(out, "dying %s", rn__diag_age(s->s_now, o->so_killed, age, sizeof(age)));
    else if (o->so_state == RN_OB_DYING)
        rn_strbuf_puts(out, "dying");
    else if (o->so_state == RN_OB_LIVE)
        rn_strbuf_puts(out, "live");
    else
        rn_strbuf_puts(out, "released");
    rn_strbuf_printf(out, ", refs %" PRIu32, o->so_refs);
    if (o->so_saturated)
        rn_strbuf_puts(out, " (saturated: pinned)");
    if (o->so_traced)
        rn_strbuf_puts(out, ", traced");
}

/* Appends "at f0 <- f1 <- ..." for the stack a hold was taken from. */
static void put_stack(const struct rn_snapshot *s, uint32_t index, struct rn_strbuf *out)
{
    const struct rn_snap_stack *st;
    uint32_t i;

    if (index == RN_SNAP_NO_STACK) {
        rn_strbuf_puts(out, "at (no stack recorded)");
        return;
    }
    if (index >= s->s_nstacks) {
        rn_strbuf_printf(out, "at (stack %" PRIu32 " not in the snapshot)", index);
        return;
    }
    st = &s->s_stacks[index];
    if (st->ss_nframes == 0) {
        rn_strbuf_puts(out, "at (empty stack)");
        return;
    }
    rn_strbuf_puts(out, "at ");
    for (i = 0; i < st->ss_nframes && i < RENDER_MAX_FRAMES; i++) {
        if (i > 0)
            rn_strbuf_puts(out, " <- ");
        rn__diag_put_text(out, st->ss_frames[i]);
    }
    if (st->ss_nframes > RENDER_MAX_FRAMES)
        rn_strbuf_puts(out, " <- ...");
}

static bool same_tag(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static unsigned digits(uint64_t v)
{
    unsigned n = 1;

    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

/* Appends one "    2 held 31.2s   at ..." line of holds by stack. */
static void put_hold_line(const struct rn_snapshot *s, const struct rn_snap_hold *h,
                          const char *prefix, const char *label, struct rn_strbuf *out)
{
    char age[32];

    rn_strbuf_puts(out, prefix);
    rn_strbuf_puts(out, "      ");
    if (label != NULL) {
        rn_strbuf_puts(out, "'");
        rn__diag_put_text(out, label);
        rn_strbuf_puts(out, "' ");
    }
    rn_strbuf_printf(out, "%" PRIu32 " held %s   ", h->sh_count,
                     rn__diag_age(s->s_now, h->sh_oldest, age, sizeof(age)));
    put_stack(s, h->sh_stack, out);
    rn_strbuf_puts(out, "\n");
}

void rn__diag_object_body(const struct rn_snapshot *s, const struct rn_snap_object *o,
                          const char *prefix, const struct rn__verdict *v,
                          struct rn_strbuf *out)
{
    size_t tagw = RENDER_TAG_MIN, agew = 0;
    unsigned countw = 1;
    uint32_t i, j;
    char age[32];

    if (o->so_ntags == 0)
        rn_strbuf_printf(out, "%s  (no holders)\n", prefix);
    for (i = 0; i < o->so_ntags; i++) {
        const struct rn_snap_tag *t = &o->so_tags[i];
        size_t w = text_width(t->st_tag);

        if (w > tagw)
            tagw = w;
        if (digits(t->st_count) > countw)
            countw = digits(t->st_count);
        rn__diag_age(s->s_now, t->st_since, age, sizeof(age));
        if (strlen(age) > agew)
            agew = strlen(age);
    }
    for (i = 0; i < o->so_ntags; i++) {
        const struct rn_snap_tag *t = &o->so_tags[i];
        const struct rn_snap_hold *only = NULL;
        uint32_t ngroups = 0;
        bool fold, annotate, more;

        for (j = 0; j < o->so_nholds; j++) {
            if (same_tag(o->so_holds[j].sh_tag, t->st_tag)) {
                only = &o->so_holds[j];
                ngroups++;
            }
        }
        /* One stack accounts for every hold of the tag: print it on the
         * tag's own line. */
        fold = o->so_traced && ngroups == 1 && only->sh_count == t->st_count;
        annotate = v != NULL && v[i].v_class != RN__VERDICT_SUSPECT;
        more = fold || !is_empty(t->st_last_ref) || annotate;

        rn_strbuf_puts(out, prefix);
        rn_strbuf_puts(out, "  ");
        put_text_padded(out, t->st_tag, tagw);
        rn_strbuf_printf(out, " %*" PRIu32 "   held ", (int)countw, t->st_count);
        rn__diag_age(s->s_now, t->st_since, age, sizeof(age));
        if (more)
            rn_strbuf_printf(out, "%-*s", (int)agew, age);
        else
            rn_strbuf_puts(out, age);
        if (fold) {
            rn_strbuf_puts(out, "   ");
            put_stack(s, only->sh_stack, out);
        } else if (!is_empty(t->st_last_ref)) {
            rn_strbuf_puts(out, "   last ref ");
            rn__diag_put_text(out, t->st_last_ref);
        }
        if (annotate) {
            rn_strbuf_puts(out, "   (");
            rn__diag_put_text(out, v[i].v_reason);
            rn_strbuf_puts(out, ")");
        }
        rn_strbuf_puts(out, "\n");
        if (fold)
            continue;
        for (j = 0; j < o->so_nholds; j++)
            if (same_tag(o->so_holds[j].sh_tag, t->st_tag))
                put_hold_line(s, &o->so_holds[j], prefix, NULL, out);
        if (o->so_traced && o->so_traced_since != 0) {
            /* Tracing armed after the fact: which of this holder's holds
             * came before it (no stack), the rest are listed above. */
            uint64_t traced = 0;

            for (j = 0; j < o->so_nholds; j++)
                if (same_tag(o->so_holds[j].sh_tag, t->st_tag))
                    traced += o->so_holds[j].sh_count;
            if (traced < t->st_count)
                rn_strbuf_printf(out, "%s      %" PRIu64 " held since before tracing was armed "
                                 "(no stack)\n", prefix, (uint64_t)t->st_count - traced);
        }
    }
    /* Holds whose tag the ledger does not list: not produced by a
     * consistent capture, but a snapshot built by hand may have them. */
    for (j = 0; j < o->so_nholds; j++) {
        const struct rn_snap_hold *h = &o->so_holds[j];
        bool listed = false;

        for (i = 0; i < o->so_ntags && !listed; i++)
            listed = same_tag(h->sh_tag, o->so_tags[i].st_tag);
        if (!listed)
            put_hold_line(s, h, prefix, h->sh_tag ? h->sh_tag : "", out);
    }
    if (o->so_traced && o->so_untraced > 0 && o->so_traced_since != 0)
        rn_strbuf_printf(out, "%s  %" PRIu32 " hold%s taken before tracing was armed %s ago "
                         "(no stack); every later one is recorded\n", prefix, o->so_untraced,
                         o->so_untraced == 1 ? "" : "s",
                         rn__diag_age(s->s_now, o->so_traced_since, age, sizeof(age)));
    else if (o->so_traced && o->so_untraced > 0)
        rn_strbuf_printf(out, "%s  %" PRIu32 " hold%s taken before tracing was armed (no stack)\n",
                         prefix, o->so_untraced, o->so_untraced == 1 ? "" : "s");
}

void rn_diag_render_object(const struct rn_snapshot *s, const struct rn_snap_object *o,
                           int indent, struct rn_strbuf *out)
{
    char prefix[RENDER_MAX_DEPTH + 1];
    size_t n = indent < 0 ? 0 : (size_t)indent;

    assert(s != NULL && o != NULL && out != NULL);
    if (n > RENDER_MAX_DEPTH)
        n = RENDER_MAX_DEPTH;
    memset(prefix, ' ', n);
    prefix[n] = '\0';
    rn_strbuf_puts(out, prefix);
    rn__diag_object_left(o, out);
    rn_strbuf_puts(out, "   ");
    rn__diag_object_right(s, o, out);
    rn_strbuf_puts(out, "\n");
    rn__diag_object_body(s, o, prefix, NULL, out);
}

/* ---- The wait graph ------------------------------------------------------ */

enum need {
    NEED_UNKNOWN,  /* not yet worked out */
    NEED_BUSY,     /* being worked out: on the search stack */
    NEED_NO,       /* no selected wait below */
    NEED_YES,      /* a selected wait at or below one of its edges */
};

/* One wait, as an edge of the graph. */
struct cedge {
    const struct rn_snap_wait *e_w;  /* the wait */
    uint32_t e_from;                 /* node of the waiter */
    uint32_t e_to;                   /* node of the waited object */
    uint32_t e_index;                /* position in s_waits: last tiebreak */
    bool e_sel;                      /* chosen by the predicate */
};

/* One object taking part in a wait, in the snapshot or not. */
struct cnode {
    uint64_t n_id;                     /* object id; 0 for an anonymous waiter */
    const struct rn_snap_object *n_ob; /* NULL if not in the snapshot */
    bool n_anon;                       /* a waiter with no object (id 0) */
    uint32_t n_out;                    /* first out edge in c_edges */
    uint32_t n_nout;                   /* out edges: waits it has */
    uint32_t n_nin;                    /* in edges: waits on it */
    uint32_t n_iter;                   /* next out edge to search (need) */
    uint8_t n_need;                    /* enum need */
    bool n_shown;                      /* expanded in a tree already */
    bool n_on_path;                    /* on the path being printed */
};

/* One printed line of a tree, as offsets into the context's scratch. */
struct crow {
    size_t r_left, r_leftlen;    /* tree prefix and description */
    size_t r_right, r_rightlen;  /* annotation after the column, may be empty */
    size_t r_body, r_bodylen;    /* lines below it (ledger, verdict) */
    bool r_align;                /* its width sets the annotation column */
};

struct chain_ctx {
    const struct rn_snapshot *c_s;
    struct cedge *c_edges;   /* sorted by waiter node, then since */
    uint32_t c_nedges;
    struct cnode *c_nodes;
    uint32_t c_nnodes;
    uint32_t *c_stack;       /* c_nnodes + 1 slots for the searches */
    struct crow *c_rows;     /* the tree being built */
    size_t c_nrows, c_caprows;
    struct rn_strbuf c_text; /* text the rows point into */
    bool c_oom;              /* an allocation failed */
};

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

static int cmp_edge(const void *a, const void *b)
{
    const struct cedge *x = a, *y = b;
    int c;

    if (x->e_from != y->e_from)
        return (x->e_from > y->e_from) - (x->e_from < y->e_from);
    if (x->e_w->sw_since != y->e_w->sw_since)
        return (x->e_w->sw_since > y->e_w->sw_since) - (x->e_w->sw_since < y->e_w->sw_since);
    if (x->e_w->sw_waited != y->e_w->sw_waited)
        return (x->e_w->sw_waited > y->e_w->sw_waited) - (x->e_w->sw_waited < y->e_w->sw_waited);
    c = strcmp(x->e_w->sw_what ? x->e_w->sw_what : "", y->e_w->sw_what ? y->e_w->sw_what : "");
    if (c != 0)
        return c;
    return (x->e_index > y->e_index) - (x->e_index < y->e_index);
}

static uint32_t node_of(const uint64_t *ids, uint32_t nids, uint64_t id)
{
    const uint64_t *p = bsearch(&id, ids, nids, sizeof(*ids), cmp_u64);

    assert(p != NULL);
    return (uint32_t)(p - ids);
}

/* Builds the graph of the snapshot's waits.  Returns false on allocation
 * failure. */
static bool graph_build(struct chain_ctx *c, rn__diag_wait_pred pred, void *ctx)
{
    const struct rn_snapshot *s = c->c_s;
    uint64_t *ids;
    uint32_t nids = 0, nanon = 0, i, u;

    ids = malloc(((size_t)s->s_nwaits * 2 + 1) * sizeof(*ids));
    c->c_edges = calloc((size_t)s->s_nwaits + 1, sizeof(*c->c_edges));
    if (ids == NULL || c->c_edges == NULL)
        goto out_free_ids;
    for (i = 0; i < s->s_nwaits; i++) {
        if (s->s_waits[i].sw_waiter != 0)
            ids[nids++] = s->s_waits[i].sw_waiter;
        else
            nanon++;
        ids[nids++] = s->s_waits[i].sw_waited;
    }
    qsort(ids, nids, sizeof(*ids), cmp_u64);
    for (i = 0, u = 0; i < nids; i++)
        if (u == 0 || ids[u - 1] != ids[i])
            ids[u++] = ids[i];
    nids = u;
    c->c_nnodes = nids + nanon;
    c->c_nodes = calloc((size_t)c->c_nnodes + 1, sizeof(*c->c_nodes));
    c->c_stack = malloc(((size_t)c->c_nnodes + 1) * sizeof(*c->c_stack));
    if (c->c_nodes == NULL || c->c_stack == NULL)
        goto out_free_ids;
    for (i = 0; i < nids; i++) {
        c->c_nodes[i].n_id = ids[i];
        c->c_nodes[i].n_ob = rn_snapshot_find(s, ids[i]);
    }
    for (i = 0, u = nids; i < s->s_nwaits; i++) {
        const struct rn_snap_wait *w = &s->s_waits[i];
        struct cedge *e = &c->c_edges[i];

        e->e_w = w;
        e->e_index = i;
        e->e_sel = pred(s, w, ctx);
        if (w->sw_waiter != 0) {
            e->e_from = node_of(ids, nids, w->sw_waiter);
        } else {
            c->c_nodes[u].n_anon = true;
            e->e_from = u++;
        }
        e->e_to = node_of(ids, nids, w->sw_waited);
        c->c_nodes[e->e_to].n_nin++;
    }
    c->c_nedges = s->s_nwaits;
    qsort(c->c_edges, c->c_nedges, sizeof(*c->c_edges), cmp_edge);
    for (i = 0; i < c->c_nedges; i++) {
        struct cnode *n = &c->c_nodes[c->c_edges[i].e_from];

        if (n->n_nout++ == 0)
            n->n_out = i;
    }
    free(ids);
    return true;

out_free_ids:
    free(ids);
    return false;
}

/* Works out, for every node reachable from start, whether a selected wait
 * lies at or below it.  Iterative, so a long chain cannot overflow the C
 * stack; a node met again while being searched counts as "no" on that
 * path, which is what ends the search around a cycle. */
static bool graph_need(struct chain_ctx *c, uint32_t start)
{
    uint32_t *stack = c->c_stack, depth = 0;

    if (c->c_nodes[start].n_need >= NEED_NO)
        return c->c_nodes[start].n_need == NEED_YES;
    stack[depth++] = start;
    c->c_nodes[start].n_need = NEED_BUSY;
    c->c_nodes[start].n_iter = 0;
    while (depth > 0) {
        struct cnode *n = &c->c_nodes[stack[depth - 1]];

        if (n->n_iter < n->n_nout) {
            const struct cedge *e = &c->c_edges[n->n_out + n->n_iter++];
            struct cnode *m = &c->c_nodes[e->e_to];

            if (e->e_sel) {
                n->n_need = NEED_YES;
            } else if (m->n_need == NEED_UNKNOWN) {
                m->n_need = NEED_BUSY;
                m->n_iter = 0;
                stack[depth++] = e->e_to;
            }
            continue;
        }
        /* All edges searched: settle the node and tell its parent. */
        if (n->n_need == NEED_BUSY)
            n->n_need = NEED_NO;
        depth--;
        if (depth > 0 && n->n_need == NEED_YES)
            c->c_nodes[stack[depth - 1]].n_need = NEED_YES;
    }
    return c->c_nodes[start].n_need == NEED_YES;
}

/* True if the edge is drawn: it is selected, leads to one, or hangs below
 * one. */
static bool edge_shown(struct chain_ctx *c, const struct cedge *e, bool below_sel)
{
    return below_sel || e->e_sel || graph_need(c, e->e_to);
}

/* ---- Trees ---------------------------------------------------------------- */

static struct crow *row_new(struct chain_ctx *c)
{
    struct crow *r;

    if (c->c_nrows == c->c_caprows) {
        size_t ncap = c->c_caprows ? c->c_caprows * 2 : 16;
        struct crow *p = realloc(c->c_rows, ncap * sizeof(*p));

        if (p == NULL) {
            c->c_oom = true;
            return NULL;
        }
        c->c_rows = p;
        c->c_caprows = ncap;
    }
    r = &c->c_rows[c->c_nrows++];
    memset(r, 0, sizeof(*r));
    return r;
}

/* Appends "<what> pending <age>" for a wait. */
static void put_wait(const struct rn_snapshot *s, const struct rn_snap_wait *w,
                     struct rn_strbuf *out)
{
    char age[32];

    rn__diag_put_text(out, is_empty(w->sw_what) ? "wait" : w->sw_what);
    rn_strbuf_printf(out, " pending %s", rn__diag_age(s->s_now, w->sw_since, age, sizeof(age)));
}

/* Appends the name of a node on a tree line. */
static void put_node_label(const struct cnode *n, bool waiter, struct rn_strbuf *out)
{
    if (n->n_ob != NULL)
        rn__diag_object_left(n->n_ob, out);
    else if (n->n_anon)
        rn_strbuf_puts(out, "(no waiter object)");
    else if (waiter)
        rn_strbuf_printf(out, "(waiter #%" PRIu64 ", gone)", n->n_id);
    else
        rn_strbuf_printf(out, "(#%" PRIu64 ", gone: released after the wait was taken)", n->n_id);
}

/* Appends the annotation of a waiter's line: its waits on the children
 * drawn, in the children's order, runs of equal ones folded ("x3"). */
static void put_waits(struct chain_ctx *c, const uint32_t *shown, uint32_t nshown,
                      struct rn_strbuf *out)
{
    struct rn_strbuf a = RN_STRBUF_INIT, b = RN_STRBUF_INIT;
    uint32_t i = 0, j;

    while (i < nshown) {
        rn_strbuf_reset(&a);
        put_wait(c->c_s, c->c_edges[shown[i]].e_w, &a);
        for (j = i + 1; j < nshown; j++) {
            rn_strbuf_reset(&b);
            put_wait(c->c_s, c->c_edges[shown[j]].e_w, &b);
            if (strcmp(rn_strbuf_str(&a), rn_strbuf_str(&b)) != 0)
                break;
        }
        if (i > 0)
            rn_strbuf_puts(out, ", ");
        rn_strbuf_puts(out, rn_strbuf_str(&a));
        if (j - i > 1)
            rn_strbuf_printf(out, " x%" PRIu32, j - i);
        i = j;
    }
    if (a.sb_oom || b.sb_oom)
        c->c_oom = true;
    rn_strbuf_free(&a);
    rn_strbuf_free(&b);
}

/* Appends the blocker's ledger and its verdict line below its tree line. */
static void put_blocker_body(struct chain_ctx *c, const struct rn_snap_object *o,
                             const char *cont, struct rn_strbuf *out)
{
    struct rn__verdict *v = NULL;

    if (o->so_ntags > 0) {
        v = calloc(o->so_ntags, sizeof(*v));
        if (v == NULL) {
            c->c_oom = true;
            return;
        }
        rn__verdict_judge(c->c_s, o, v);
    }
    rn__diag_object_body(c->c_s, o, cont, v, out);
    rn_strbuf_puts(out, cont);
    rn_strbuf_puts(out, "verdict: ");
    rn__verdict_summary(o, v, out);
    rn_strbuf_puts(out, "\n");
    free(v);
}

/* Marks everything below a cut node as shown, so that the waits beneath
 * the cut do not each start a tree of their own. */
static void mark_below(struct chain_ctx *c, uint32_t start)
{
    uint32_t *stack = c->c_stack, depth = 0, i;

    stack[depth++] = start;
    while (depth > 0) {
        const struct cnode *n = &c->c_nodes[stack[--depth]];

        for (i = 0; i < n->n_nout; i++) {
            struct cnode *m = &c->c_nodes[c->c_edges[n->n_out + i].e_to];

            if (!m->n_shown && !m->n_on_path) {
                m->n_shown = true;
                stack[depth++] = c->c_edges[n->n_out + i].e_to;
            }
        }
    }
}

/* Prints node n and what it waits for.  prefix is this line's tree prefix
 * (bytes before the label), cont the prefix its children continue from. */
static void tree_visit(struct chain_ctx *c, uint32_t ni, const char *prefix, const char *cont,
                       int depth, bool below_sel)
{
    struct cnode *n = &c->c_nodes[ni];
    struct rn_strbuf *t = &c->c_text;
    uint32_t *shown = NULL, nshown = 0, i;
    struct crow *r;

    r = row_new(c);
    if (r == NULL)
        return;
    r->r_left = t->sb_len;
    rn_strbuf_puts(t, prefix);
    put_node_label(n, n->n_nout > 0, t);
    r->r_leftlen = t->sb_len - r->r_left;
    r->r_right = t->sb_len;

    if (n->n_on_path) {
        rn_strbuf_puts(t, "(cycle: already above in this chain)");
        r->r_rightlen = t->sb_len - r->r_right;
        return;
    }
    if (n->n_shown) {
        rn_strbuf_puts(t, "(shown above)");
        r->r_rightlen = t->sb_len - r->r_right;
        return;
    }
    n->n_shown = true;

    if (n->n_nout == 0) {
        /* A blocker: it waits for nothing. */
        if (n->n_ob != NULL) {
            rn__diag_object_right(c->c_s, n->n_ob, t);
            r->r_rightlen = t->sb_len - r->r_right;
            r->r_body = t->sb_len;
            put_blocker_body(c, n->n_ob, cont, t);
            r->r_bodylen = t->sb_len - r->r_body;
        }
        return;
    }

    r->r_align = true;
    shown = malloc(n->n_nout * sizeof(*shown));
    if (shown == NULL) {
        c->c_oom = true;
        return;
    }
    for (i = 0; i < n->n_nout; i++) {
        const struct cedge *e = &c->c_edges[n->n_out + i];

        if (edge_shown(c, e, below_sel))
            shown[nshown++] = n->n_out + i;
    }
    if (depth >= RENDER_MAX_DEPTH && nshown > 0) {
        rn_strbuf_printf(t, "(chain continues; cut at %d levels)", RENDER_MAX_DEPTH);
        r->r_rightlen = t->sb_len - r->r_right;
        free(shown);
        mark_below(c, ni);
        return;
    }
    if (nshown == 0)
        rn_strbuf_printf(t, "waits for %" PRIu32 " object%s (not shown)", n->n_nout,
                         n->n_nout == 1 ? "" : "s");
    else
        put_waits(c, shown, nshown, t);
    r->r_rightlen = t->sb_len - r->r_right;

    n->n_on_path = true;
    for (i = 0; i < nshown; i++) {
        const struct cedge *e = &c->c_edges[shown[i]];
        bool last = i + 1 == nshown;
        size_t clen = strlen(cont);
        char *cprefix = malloc(clen + 8), *ccont = malloc(clen + 8);

        if (cprefix == NULL || ccont == NULL) {
            free(cprefix);
            free(ccont);
            c->c_oom = true;
            break;
        }
        /* "└ " and "├ " mark a child; "│ " continues a sibling above. */
        snprintf(cprefix, clen + 8, "%s%s", cont, last ? "\u2514 " : "\u251c ");
        snprintf(ccont, clen + 8, "%s%s", cont, last ? "  " : "\u2502 ");
        tree_visit(c, e->e_to, cprefix, ccont, depth + 1, below_sel || e->e_sel);
        free(cprefix);
        free(ccont);
    }
    n->n_on_path = false;
    free(shown);
}

/* Writes the rows of the finished tree to out, annotations aligned. */
static void tree_flush(struct chain_ctx *c, struct rn_strbuf *out)
{
    const char *text = rn_strbuf_str(&c->c_text);
    size_t col = 0, i;

    if (c->c_text.sb_oom) {
        c->c_oom = true;
        return;
    }
    for (i = 0; i < c->c_nrows; i++) {
        const struct crow *r = &c->c_rows[i];
        size_t w = rn__diag_width(text + r->r_left, r->r_leftlen);

        if (r->r_align && w <= RENDER_ALIGN_MAX && w > col)
            col = w;
    }
    for (i = 0; i < c->c_nrows; i++) {
        const struct crow *r = &c->c_rows[i];
        size_t w = rn__diag_width(text + r->r_left, r->r_leftlen);

        rn_strbuf_append(out, text + r->r_left, r->r_leftlen);
        if (r->r_rightlen > 0) {
            put_spaces(out, w < col ? col - w + 3 : 3);
            rn_strbuf_append(out, text + r->r_right, r->r_rightlen);
        }
        rn_strbuf_puts(out, "\n");
        rn_strbuf_append(out, text + r->r_body, r->r_bodylen);
    }
    c->c_nrows = 0;
    rn_strbuf_reset(&c->c_text);
}

struct root {
    uint32_t rt_node;   /* the outermost waiter */
    rn_time_t rt_since; /* its oldest wait */
    uint64_t rt_id;     /* its id, 0 if anonymous */
    uint32_t rt_edge;   /* its first edge: last tiebreak */
};

static int cmp_root(const void *a, const void *b)
{
    const struct root *x = a, *y = b;

    if (x->rt_since != y->rt_since)
        return (x->rt_since > y->rt_since) - (x->rt_since < y->rt_since);
    /* On a tie, a chain from an object before one from an anonymous
     * waiter: a service's stop before the port table's unbind it caused. */
    if ((x->rt_id == 0) != (y->rt_id == 0))
        return x->rt_id == 0 ? 1 : -1;
    if (x->rt_id != y->rt_id)
        return (x->rt_id > y->rt_id) - (x->rt_id < y->rt_id);
    return (x->rt_edge > y->rt_edge) - (x->rt_edge < y->rt_edge);
}

int rn__diag_render_selected(const struct rn_snapshot *s, rn__diag_wait_pred pred, void *ctx,
                             struct rn_strbuf *out)
{
    struct chain_ctx c;
    struct root *roots = NULL;
    uint32_t nroots = 0, i;
    int ntrees = 0;

    assert(s != NULL && pred != NULL && out != NULL);
    memset(&c, 0, sizeof(c));
    c.c_s = s;
    if (s->s_nwaits == 0)
        return 0;
    if (!graph_build(&c, pred, ctx)) {
        c.c_oom = true;
        goto out_free;
    }

    roots = malloc(((size_t)c.c_nnodes + 1) * sizeof(*roots));
    if (roots == NULL) {
        c.c_oom = true;
        goto out_free;
    }
    for (i = 0; i < c.c_nnodes; i++) {
        const struct cnode *n = &c.c_nodes[i];

        if (n->n_nin == 0 && n->n_nout > 0) {
            roots[nroots].rt_node = i;
            roots[nroots].rt_since = c.c_edges[n->n_out].e_w->sw_since;
            roots[nroots].rt_id = n->n_id;
            roots[nroots].rt_edge = c.c_edges[n->n_out].e_index;
            nroots++;
        }
    }
    qsort(roots, nroots, sizeof(*roots), cmp_root);
    for (i = 0; i < nroots && !c.c_oom; i++) {
        if (!graph_need(&c, roots[i].rt_node))
            continue;
        tree_visit(&c, roots[i].rt_node, "", "", 0, false);
        tree_flush(&c, out);
        ntrees++;
    }
    /* Selected waits no outermost waiter leads to sit on or below a cycle
     * of waits: start a tree at each such waiter, oldest wait first. */
    {
        uint32_t *order = malloc(((size_t)c.c_nedges + 1) * sizeof(*order));

        if (order == NULL) {
            c.c_oom = true;
            goto out_free;
        }
        /* c_edges is sorted by waiter; the global age order is the
         * snapshot's wait order, which e_index keeps. */
        for (i = 0; i < c.c_nedges; i++)
            order[c.c_edges[i].e_index] = i;
        for (i = 0; i < c.c_nedges && !c.c_oom; i++) {
            const struct cedge *e = &c.c_edges[order[i]];

            if (!e->e_sel || c.c_nodes[e->e_from].n_shown)
                continue;
            tree_visit(&c, e->e_from, "", "", 0, false);
            tree_flush(&c, out);
            ntrees++;
        }
        free(order);
    }

out_free:
    free(roots);
    free(c.c_edges);
    free(c.c_nodes);
    free(c.c_stack);
    free(c.c_rows);
    rn_strbuf_free(&c.c_text);
    if (c.c_oom || out->sb_oom)
        return RN_ENOMEM;
    return ntrees;
}

/* ---- Public entry points ---------------------------------------------- */

static bool pred_older(const struct rn_snapshot *s, const struct rn_snap_wait *w, void *ctx)
{
    rn_time_t threshold = *(const rn_time_t *)ctx;
    rn_time_t age = w->sw_since < s->s_now ? s->s_now - w->sw_since : 0;

    return age >= threshold;
}

int rn_diag_render_chains(const struct rn_snapshot *s, rn_time_t threshold,
                          struct rn_strbuf *out)
{
    return rn__diag_render_selected(s, pred_older, &threshold, out);
}

/* An object in no wait: as an orphan if it is one, else with its ledger
 * and the verdict on its holders all the same. */
static int render_alone(const struct rn_snapshot *s, const struct rn_snap_object *o,
                        struct rn_strbuf *out)
{
    struct rn__orphan_scan *os = rn__orphan_scan_new(s);
    struct rn__verdict *v = calloc(o->so_ntags + 1, sizeof(*v));
    int rc = 0;

    if (os == NULL || v == NULL) {
        rc = RN_ENOMEM;
        goto out_free;
    }
    if (rn__orphan_is(s, os, o, v, o->so_ntags)) {
        rn__orphan_render(s, o, v, out);
    } else {
        rn__verdict_judge(s, o, v);
        rn__diag_object_left(o, out);
        rn_strbuf_puts(out, "   ");
        rn__diag_object_right(s, o, out);
        rn_strbuf_puts(out, "\n");
        rn__diag_object_body(s, o, "", v, out);
        rn_strbuf_puts(out, "  verdict: ");
        rn__verdict_summary_alone(o, v, out);
        rn_strbuf_puts(out, "\n");
    }
    if (out->sb_oom)
        rc = RN_ENOMEM;
out_free:
    free(v);
    rn__orphan_scan_free(os);
    return rc;
}

static bool pred_touches(const struct rn_snapshot *s, const struct rn_snap_wait *w, void *ctx)
{
    uint64_t id = *(const uint64_t *)ctx;

    (void)s;
    return w->sw_waiter == id || w->sw_waited == id;
}

int rn_diag_render_for(const struct rn_snapshot *s, uint64_t id, struct rn_strbuf *out)
{
    const struct rn_snap_object *o = rn_snapshot_find(s, id);
    bool in_wait = false;
    uint32_t i;

    for (i = 0; i < s->s_nwaits && !in_wait; i++)
        in_wait = pred_touches(s, &s->s_waits[i], &id);
    if (in_wait)
        return rn__diag_render_selected(s, pred_touches, &id, out);
    if (o == NULL)
        return RN_ENOENT;
    return render_alone(s, o, out);
}
