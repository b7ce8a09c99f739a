/*
 * The verdict engine: for the object at the bottom of a waiting chain,
 * which holders have a reason to hold and which should have let go.
 *
 * It reads nothing but the snapshot (the object's state, its ledger, the
 * snapshot's clock and threshold), so the live watchdog and `refnet analyze`
 * on a dump reach the same verdict.  The knowledge lives in one table,
 * verdict_rules[], one entry per holder (or family of holders "callout:"):
 * what a hold by it means while the object is live and once it is dying,
 * and for holders that only ever hold briefly, the bound past which a hold
 * is a leak.  To teach the engine a new holder, add a row.  A few rows
 * look at the rest of the snapshot too, still nothing else: an "enum"
 * hold is set against the enumerations running (objects of type
 * "enumeration", the batched netstat), a "socket.endpoint" hold against
 * the socket's own "close" wait on the object.
 *
 * Called from render.c: rn__verdict_judge() gives each ledger line its
 * class and reason, rn__verdict_summary() writes the chain's verdict line.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag/diag_priv.h"
#include "refnet/error.h"
#include "refnet/object.h"

/* What a hold means in one state of the object. */
struct verdict_outcome {
    enum rn__verdict_class vo_class;  /* expected, suspect or no rule */
    const char *vo_reason;            /* printed after the tag */
    bool vo_after_grace;              /* judged so only once the holder
                                         has had the grace to let go since
                                         rundown began; expected before */
};

/* A rule that also reads the rest of the snapshot: it may turn the
 * outcome of the table into a suspect with its own reason.  Returns true
 * if it did (v filled). */
typedef bool (*verdict_check_fn)(const struct rn_snapshot *s, const struct rn_snap_object *o,
                                 const struct rn_snap_tag *t, rn_time_t since, rn_time_t grace,
                                 struct rn__verdict *v);

struct verdict_rule {
    const char *vr_tag;           /* holder name; ending in ':' matches
                                     every name with that prefix */
    rn_time_t vr_bound;           /* > 0: held longer than this is suspect,
                                     whatever the state */
    const char *vr_bound_reason;  /* reason then; the bound is appended */
    const char *vr_bound_tail;    /* said after the bound */
    const char *vr_runner;        /* with a bound: the type of object whose
                                     live instances take such holds (an
                                     "enumeration"); one running since
                                     before the hold makes the tail name it */
    struct verdict_outcome vr_live;   /* on a live object */
    struct verdict_outcome vr_dying;  /* on a dying object */
    verdict_check_fn vr_check;    /* NULL, or the snapshot-wide check */
};

static bool check_endpoint_closed(const struct rn_snapshot *s, const struct rn_snap_object *o,
                                  const struct rn_snap_tag *t, rn_time_t since, rn_time_t grace,
                                  struct rn__verdict *v);
static bool check_pended(const struct rn_snapshot *s, const struct rn_snap_object *o,
                         const struct rn_snap_tag *t, rn_time_t since, rn_time_t grace,
                         struct rn__verdict *v);
static bool check_registration(const struct rn_snapshot *s, const struct rn_snap_object *o,
                               const struct rn_snap_tag *t, rn_time_t since, rn_time_t grace,
                               struct rn__verdict *v);
static bool check_drain(const struct rn_snapshot *s, const struct rn_snap_object *o,
                        const struct rn_snap_tag *t, rn_time_t since, rn_time_t grace,
                        struct rn__verdict *v);
static bool check_holder(const struct rn_snapshot *s, const struct rn_snap_object *o,
                         const struct rn_snap_tag *t, rn_time_t since, rn_time_t grace,
                         struct rn__verdict *v);

#define EXPECTED(reason) {RN__VERDICT_EXPECTED, (reason), false}
#define SUSPECT(reason) {RN__VERDICT_SUSPECT, (reason), false}
#define SUSPECT_AFTER_GRACE(reason) {RN__VERDICT_SUSPECT, (reason), true}

/* First match wins. */
static const struct verdict_rule verdict_rules[] = {
    /* An enumeration holds its cursor object only while it steps over it
     * (the batched netstat also keeps the listeners it listed until its
     * end, a few milliseconds). */
    {"enum", RN_SEC(1), "holds past its bound", "with no enumeration running \u2014 leaked",
     "enumeration",
     EXPECTED("expected while an enumeration steps over it"),
     EXPECTED("expected while an enumeration steps over it"), NULL},
    /* A lookup (a control command finding an object by id) or a callback
     * on the loop holds an object for the length of one call. */
    {"lookup", RN_SEC(1), "holds past its bound", "\u2014 a lookup's hold outlived its call: leaked",
     NULL, EXPECTED("expected for the length of one call"),
     EXPECTED("expected for the length of one call"), NULL},
    {"loop", RN_SEC(1), "holds past its bound", "\u2014 a callback's hold outlived it: leaked",
     NULL, EXPECTED("expected for the length of one callback"),
     EXPECTED("expected for the length of one callback"), NULL},
    /* The port table holds a bound endpoint until unbind. */
    {"port-table", 0, NULL, NULL, NULL,
     EXPECTED("expected while bound"),
     SUSPECT_AFTER_GRACE("still in the port table after rundown began: unbind did not run"),
     NULL},
    /* Kill drops the creator's reference, so a dying object cannot have
     * one: if it does, the ledger itself is wrong. */
    {"create", 0, NULL, NULL, NULL,
     EXPECTED("expected: the creator's reference until kill"),
     SUSPECT("creator's reference on a dying object: kill drops it, so the ledger is inconsistent"),
     NULL},
    /* A filter callout may hold an object while the flow it inspects
     * lives, never after. */
    {"callout:", 0, NULL, NULL, NULL,
     EXPECTED("expected while its flow lives"),
     SUSPECT("callout hold after its flow ended"), check_pended},
    /* A callout's contexts and pends hold its registration; once it is
     * retired (a plug-in unloading) they are what the unload waits for. */
    {"callout.context", 0, NULL, NULL, NULL,
     EXPECTED("expected: a flow context the callout keeps"),
     EXPECTED("expected: a flow context the callout keeps"), check_registration},
    {"callout.pend", 0, NULL, NULL, NULL,
     EXPECTED("expected: an operation the callout pended"),
     EXPECTED("expected: an operation the callout pended"), check_registration},
    /* An unloading plug-in's holder: held while the plug-in's code
     * still holds objects under one of its tags, which the unload waits
     * for. */
    {"plugin.holds", 0, NULL, NULL, NULL,
     EXPECTED("expected: its tag still holds objects"),
     EXPECTED("expected: its tag still holds objects"), check_holder},
    /* A connection in a listener's queues holds the listener ("tcp.conn"),
     * and the queue holds the connection ("listener"), until it is
     * accepted: an accept in flight.  A closed listener resets its
     * queued connections at once. */
    {"tcp.conn", 0, NULL, NULL, NULL,
     EXPECTED("expected: an accept in flight (a connection in its queues)"),
     SUSPECT_AFTER_GRACE("a queued connection still holds a closed listener"), NULL},
    {"listener", 0, NULL, NULL, NULL,
     EXPECTED("expected: queued on its listener until accepted"),
     SUSPECT_AFTER_GRACE("still queued on a listener after rundown began"), NULL},
    /* A service whose stop drains holds its process under "drain" while
     * its connections finish: work in progress, or stalled. */
    {"drain", 0, NULL, NULL, NULL,
     EXPECTED("in progress: its service drains its connections (the service's line says "
              "how far)"),
     SUSPECT("its service's drain outlived the process's rundown"), check_drain},
    /* A service holds its process while it runs; its stop drops it. */
    {"service", 0, NULL, NULL, NULL,
     EXPECTED("expected: its service's hold while the service runs"),
     SUSPECT_AFTER_GRACE("the service's hold outlived its stop"), NULL},
    {"handle", 0, NULL, NULL, NULL,
     EXPECTED("expected while a handle is open; its cleanup drops it"),
     EXPECTED("expected while a handle is open; its cleanup drops it"), NULL},
    /* The socket drops it when its close begins, right after it starts
     * waiting for the object: both at once mean a hold left behind. */
    {"socket.endpoint", 0, NULL, NULL, NULL,
     EXPECTED("expected: the socket endpoint's reference, dropped on its release"),
     EXPECTED("expected: the socket endpoint's reference, dropped on its release"),
     check_endpoint_closed},
    {"request", 0, NULL, NULL, NULL,
     EXPECTED("expected while a request is pending; its completion drops it"),
     EXPECTED("expected while a request is pending; its completion drops it"), NULL},
    /* A process keeps a few finished request records idle for its next
     * requests; its exit kills them. */
    {"request.spare", 0, NULL, NULL, NULL,
     EXPECTED("expected: an idle request record its process keeps for the next request"),
     SUSPECT_AFTER_GRACE("a spare request record outlived its process's exit"), NULL},
    {"tcp.timer", 0, NULL, NULL, NULL,
     EXPECTED("expected while a TCP timer is armed"),
     EXPECTED("expected while a TCP timer is armed"), NULL},
    /* References whose holders got no ledger line: memory ran out when
     * they were taken (object.h, RN_TAG_UNRECORDED).  Who holds them is
     * lost; on a dying object one of them keeps it. */
    {"unrecorded", 0, NULL, NULL, NULL,
     {RN__VERDICT_NO_RULE, "holders not recorded: memory ran out when they took these", false},
     SUSPECT_AFTER_GRACE("holders not recorded (memory ran out when they took these); "
                         "one of them keeps it"),
     NULL},
};

/* Holders no rule names. */
static const struct verdict_rule verdict_default = {
    NULL, 0, NULL, NULL, NULL,
    {RN__VERDICT_NO_RULE, "no rule for this holder", false},
    SUSPECT_AFTER_GRACE("holder with no matching pending work"), NULL,
};

/* socket.endpoint held although a socket already waits ("close") for the
 * object's release, for longer than the grace. */
static bool check_endpoint_closed(const struct rn_snapshot *s, const struct rn_snap_object *o,
                                  const struct rn_snap_tag *t, rn_time_t since, rn_time_t grace,
                                  struct rn__verdict *v)
{
    uint32_t i;

    (void)t;
    for (i = 0; i < s->s_nwaits; i++) {
        const struct rn_snap_wait *w = &s->s_waits[i];
        rn_time_t from;

        if (w->sw_waited != o->so_id || w->sw_what == NULL || strcmp(w->sw_what, "close") != 0)
            continue;
        from = w->sw_since > since ? w->sw_since : since;
        if (from + grace > s->s_now)
            continue;
        v->v_class = RN__VERDICT_SUSPECT;
        snprintf(v->v_reason, sizeof(v->v_reason),
                 "held while socket #%" PRIu64 " waits for the close: its socket let go, "
                 "this hold did not", w->sw_waiter);
        return true;
    }
    return false;
}

/* How long ago a holder had to let go of o: since its kill, or since
 * rundown began (since), whichever is later. */
static rn_time_t overdue_for(const struct rn_snapshot *s, const struct rn_snap_object *o,
                             rn_time_t since)
{
    rn_time_t from = o->so_killed > since ? o->so_killed : since;

    return from < s->s_now ? s->s_now - from : 0;
}

/* How many objects of s other than o the holder named tag holds; *first
 * and *first_tag get the first of them and its line. */
static uint32_t held_under(const struct rn_snapshot *s, const struct rn_snap_object *o,
                           const char *tag, const struct rn_snap_object **first,
                           const struct rn_snap_tag **first_tag)
{
    uint32_t i, j, n = 0;

    *first = NULL;
    *first_tag = NULL;
    for (i = 0; i < s->s_nobjects; i++) {
        const struct rn_snap_object *x = &s->s_objects[i];

        if (x == o)
            continue;
        for (j = 0; j < x->so_ntags; j++) {
            if (x->so_tags[j].st_tag == NULL || strcmp(x->so_tags[j].st_tag, tag) != 0)
                continue;
            if (n++ == 0) {
                *first = x;
                *first_tag = &x->so_tags[j];
            }
        }
    }
    return n;
}

/* "retired 12s ago, its callout still holds 2 objects: route #7, last ref
 * SITE" into v, from what held_under() found. */
static void name_held(struct rn__verdict *v, const char *what, const char *age, const char *who,
                      uint32_t n, const struct rn_snap_object *first,
                      const struct rn_snap_tag *first_tag)
{
    snprintf(v->v_reason, sizeof(v->v_reason), "%.10s %.24s ago, %.70s still holds %" PRIu32
             " object%s: %.30s #%" PRIu64 ", last ref %.60s", what, age, who, n,
             n == 1 ? "" : "s", first->so_type ? first->so_type : "object", first->so_id,
             first_tag->st_last_ref ? first_tag->st_last_ref : "(site unknown)");
}

/* A retired callout's registration (a plug-in being unloaded) held under
 * its own tag: by the flow contexts and pended operations it has not let
 * go.  The verdict names what they hold and where they took it (the last
 * ref site of that holder on the held object). */
static bool check_registration(const struct rn_snapshot *s, const struct rn_snap_object *o,
                               const struct rn_snap_tag *t, rn_time_t since, rn_time_t grace,
                               struct rn__verdict *v)
{
    const struct rn_snap_object *first;
    const struct rn_snap_tag *first_tag;
    uint32_t n;
    rn_time_t ago = overdue_for(s, o, since);
    char a[32], tag[80];
    int k;

    /* The callout's own tag, from the registration's describe line
     * "callout NAME 1 flows ...". */
    if (o->so_state != RN_OB_DYING || o->so_type == NULL || o->so_desc == NULL ||
        strcmp(o->so_type, "callout registration") != 0 ||
        sscanf(o->so_desc, "callout %63s%n", tag + 8, &k) != 1)
        return false;
    memcpy(tag, "callout:", 8);
    n = held_under(s, o, tag, &first, &first_tag);
    rn_fmt_age(ago, a, sizeof(a));
    if (ago < grace) {
        snprintf(v->v_reason, sizeof(v->v_reason), "retired %s ago; its %" PRIu32 " flow "
                 "context%s and pended operations may still let go", a, t->st_count,
                 t->st_count == 1 ? "" : "s");
        v->v_class = RN__VERDICT_EXPECTED;
        return true;
    }
    v->v_class = RN__VERDICT_SUSPECT;
    if (first == NULL) {
        snprintf(v->v_reason, sizeof(v->v_reason), "retired %s ago and still held by its own "
                 "callout, which holds nothing else: leaked", a);
        return true;
    }
    name_held(v, "retired", a, "its callout", n, first, first_tag);
    return true;
}

/* An unloading plug-in's holder ("holder filter:drop of plug-in acme:
 * holds 1 object"): the plug-in's own code keeps objects under that tag.
 * Expected for the grace after the unload reached it; then the verdict
 * names what the tag holds and where it was taken. */
static bool check_holder(const struct rn_snapshot *s, const struct rn_snap_object *o,
                         const struct rn_snap_tag *t, rn_time_t since, rn_time_t grace,
                         struct rn__verdict *v)
{
    const struct rn_snap_object *first;
    const struct rn_snap_tag *first_tag;
    uint32_t n;
    rn_time_t ago = overdue_for(s, o, since);
    char a[32], tag[80], who[120];

    (void)t;
    if (o->so_state != RN_OB_DYING || o->so_type == NULL || o->so_desc == NULL ||
        strcmp(o->so_type, "plug-in holder") != 0 ||
        sscanf(o->so_desc, "holder %79s of", tag) != 1)
        return false;
    n = held_under(s, o, tag, &first, &first_tag);
    rn_fmt_age(ago, a, sizeof(a));
    if (ago < grace || first == NULL) {
        snprintf(v->v_reason, sizeof(v->v_reason), "unloading for %s; '%s' holds %" PRIu32
                 " object%s, which the plug-in may still let go", a, tag, n,
                 n == 1 ? "" : "s");
        v->v_class = RN__VERDICT_EXPECTED;
        return true;
    }
    v->v_class = RN__VERDICT_SUSPECT;
    snprintf(who, sizeof(who), "'%s'", tag);
    name_held(v, "unloaded", a, who, n, first, first_tag);
    return true;
}

/* A callout's hold on a flow that waits for an operation the callout
 * pended on it: the hold is the pended operation's, and the verdict says
 * so, pointing at it (the chain shows it below the flow). */
static bool check_held_by_pend(const struct rn_snapshot *s, const struct rn_snap_object *o,
                               const struct rn_snap_tag *t, struct rn__verdict *v)
{
    uint32_t i, j;
    char a[32];

    for (i = 0; i < s->s_nwaits; i++) {
        const struct rn_snap_wait *w = &s->s_waits[i];
        const struct rn_snap_object *p;
        bool by_it = false;

        if (w->sw_waiter != o->so_id)
            continue;
        p = rn_snapshot_find(s, w->sw_waited);
        if (p == NULL || p->so_type == NULL || strcmp(p->so_type, "pended operation") != 0)
            continue;
        for (j = 0; j < p->so_ntags && !by_it; j++)
            by_it = p->so_tags[j].st_tag && t->st_tag && !strcmp(p->so_tags[j].st_tag, t->st_tag);
        if (!by_it)
            continue;
        v->v_class = o->so_state == RN_OB_DYING ? RN__VERDICT_SUSPECT : RN__VERDICT_EXPECTED;
        snprintf(v->v_reason, sizeof(v->v_reason), "%sheld through pended operation #%" PRIu64
                 " (%s pending %s)%s", v->v_class == RN__VERDICT_EXPECTED ? "expected: " : "",
                 p->so_id, w->sw_what ? w->sw_what : "operation",
                 rn_fmt_age(w->sw_since < s->s_now ? s->s_now - w->sw_since : 0, a, sizeof(a)),
                 o->so_state == RN_OB_DYING ? ": never completed, after its flow ended" : "");
        return true;
    }
    return false;
}

/* A callout's hold on the operation it pended (an object of type "pended
 * operation", which its flow waits for: "connect authorisation" ...):
 * never completed once the flow has ended, or not completed within the
 * grace while the flow still waits. */
static bool check_pended(const struct rn_snapshot *s, const struct rn_snap_object *o,
                         const struct rn_snap_tag *t, rn_time_t since, rn_time_t grace,
                         struct rn__verdict *v)
{
    uint32_t i;
    char a[32], b[32];

    if (o->so_type == NULL || strcmp(o->so_type, "pended operation") != 0)
        return check_held_by_pend(s, o, t, v);
    for (i = 0; i < s->s_nwaits; i++) {
        const struct rn_snap_wait *w = &s->s_waits[i];
        const struct rn_snap_object *flow;
        rn_time_t age;
        const char *what;

        if (w->sw_waited != o->so_id)
            continue;
        flow = rn_snapshot_find(s, w->sw_waiter);
        age = w->sw_since < s->s_now ? s->s_now - w->sw_since : 0;
        what = w->sw_what && w->sw_what[0] ? w->sw_what : "operation";
        rn_fmt_age(age, a, sizeof(a));
        if (flow != NULL && flow->so_state == RN_OB_DYING) {
            rn_time_t ended = flow->so_killed && flow->so_killed < s->s_now
                                  ? s->s_now - flow->so_killed : 0;

            v->v_class = RN__VERDICT_SUSPECT;
            snprintf(v->v_reason, sizeof(v->v_reason),
                     "pended the %s of %s #%" PRIu64 " %s ago and never completed it; the "
                     "flow ended %s ago and stays held", what,
                     flow->so_type ? flow->so_type : "flow", flow->so_id, a,
                     rn_fmt_age(ended, b, sizeof(b)));
            return true;
        }
        if (age < grace) {
            snprintf(v->v_reason, sizeof(v->v_reason), "expected: a pended %s, %s so far",
                     what, a);
            v->v_class = RN__VERDICT_EXPECTED;
            return true;
        }
        v->v_class = RN__VERDICT_SUSPECT;
        snprintf(v->v_reason, sizeof(v->v_reason),
                 "pended the %s of #%" PRIu64 " %s ago and has not completed it", what,
                 w->sw_waiter, a);
        return true;
    }
    return false;
}

/* The bit of condition `name` in type y, or 0. */
static uint32_t cond_bit(const struct rn_snap_type *y, const char *name)
{
    uint32_t b;

    for (b = 0; y != NULL && b < y->sy_nconds && b < 32; b++)
        if (y->sy_conds[b] != NULL && strcmp(y->sy_conds[b], name) == 0)
            return 1u << b;
    return 0;
}

/* A service's "drain" hold on its process: the service's own "drain"
 * wait on it says since when, and the service's "stalled" condition
 * whether its transfers still move. */
static bool check_drain(const struct rn_snapshot *s, const struct rn_snap_object *o,
                        const struct rn_snap_tag *t, rn_time_t since, rn_time_t grace,
                        struct rn__verdict *v)
{
    uint32_t i;
    char a[32];

    (void)t;
    (void)since;
    (void)grace;
    if (o->so_state != RN_OB_LIVE)
        return false;
    for (i = 0; i < s->s_nwaits; i++) {
        const struct rn_snap_wait *w = &s->s_waits[i];
        const struct rn_snap_object *svc;
        uint32_t stalled;

        if (w->sw_waited != o->so_id || w->sw_what == NULL || strcmp(w->sw_what, "drain") != 0)
            continue;
        svc = rn_snapshot_find(s, w->sw_waiter);
        if (svc == NULL)
            continue;
        rn_fmt_age(w->sw_since < s->s_now ? s->s_now - w->sw_since : 0, a, sizeof(a));
        stalled = cond_bit(rn_snapshot_type(s, svc->so_type), "stalled");
        v->v_class = RN__VERDICT_EXPECTED;
        if (stalled != 0 && (svc->so_conds & stalled))
            snprintf(v->v_reason, sizeof(v->v_reason), "in progress but stalled: #%" PRIu64
                     " drains its connections for %s and none sent a byte lately; its "
                     "grace ends the drain", svc->so_id, a);
        else
            snprintf(v->v_reason, sizeof(v->v_reason), "in progress: #%" PRIu64 " drains its "
                     "connections, for %s so far (its line says how far)", svc->so_id, a);
        return true;
    }
    return false;
}

/* The live object of type `type` created at or before `since` that has
 * run longest, or NULL. */
static const struct rn_snap_object *runner_since(const struct rn_snapshot *s, const char *type,
                                                 rn_time_t since)
{
    const struct rn_snap_object *best = NULL;
    uint32_t i;

    for (i = 0; i < s->s_nobjects; i++) {
        const struct rn_snap_object *x = &s->s_objects[i];

        if (x->so_state != RN_OB_LIVE || x->so_type == NULL || strcmp(x->so_type, type) != 0 ||
            x->so_created > since)
            continue;
        if (best == NULL || x->so_created < best->so_created)
            best = x;
    }
    return best;
}

static const struct verdict_rule *rule_for(const char *tag)
{
    size_t i;

    for (i = 0; i < sizeof(verdict_rules) / sizeof(verdict_rules[0]); i++) {
        const char *m = verdict_rules[i].vr_tag;
        size_t n = strlen(m);

        if (n > 0 && m[n - 1] == ':' ? strncmp(tag, m, n) == 0 && tag[n] != '\0'
                                     : strcmp(tag, m) == 0)
            return &verdict_rules[i];
    }
    return &verdict_default;
}

/* When the oldest outstanding hold of tag t was taken.  The ledger keeps
 * when the count last rose from zero, which overstates the age of a tag
 * whose holds overlap; when every hold of the tag was traced, the oldest
 * traced hold is exact. */
static rn_time_t tag_since(const struct rn_snap_object *o, const struct rn_snap_tag *t)
{
    uint64_t traced = 0;
    rn_time_t oldest = UINT64_MAX;
    uint32_t i;

    if (!o->so_traced)
        return t->st_since;
    for (i = 0; i < o->so_nholds; i++) {
        const struct rn_snap_hold *h = &o->so_holds[i];

        if (strcmp(h->sh_tag ? h->sh_tag : "", t->st_tag ? t->st_tag : "") != 0)
            continue;
        traced += h->sh_count;
        if (h->sh_oldest < oldest)
            oldest = h->sh_oldest;
    }
    if (traced != t->st_count || oldest < t->st_since)
        return t->st_since;
    return oldest;
}

static void set_verdict(struct rn__verdict *v, enum rn__verdict_class cls, const char *reason)
{
    v->v_class = cls;
    snprintf(v->v_reason, sizeof(v->v_reason), "%s", reason);
}

/* ---- Holder contracts ------------------------------------------------------ */

/* Holders every object may have, judged by the table whatever the type's
 * contract says: they hold anything, for one call or step. */
static bool universal(const char *tag)
{
    return strcmp(tag, "enum") == 0 || strcmp(tag, "lookup") == 0 ||
           strcmp(tag, "loop") == 0 || strcmp(tag, "unrecorded") == 0 ||
           strcmp(tag, "snapshot") == 0;
}

static bool holder_matches(const char *m, const char *tag)
{
    size_t n = m ? strlen(m) : 0;

    if (n == 0)
        return false;
    return m[n - 1] == ':' ? strncmp(tag, m, n) == 0 && tag[n] != '\0' : strcmp(tag, m) == 0;
}

/* The rule of contract y that covers tag, or NULL. */
static const struct rn_snap_holder *contract_rule(const struct rn_snap_type *y, const char *tag)
{
    uint32_t i;

    for (i = 0; i < y->sy_nholders; i++)
        if (holder_matches(y->sy_holders[i].sr_tag, tag))
            return &y->sy_holders[i];
    return NULL;
}

static const char *const well_known_tags[] = {
#define VERDICT_TAG_NAME_(name, str) str,
    RN_WELL_KNOWN_TAGS(VERDICT_TAG_NAME_)
#undef VERDICT_TAG_NAME_
};

/* True if tag is one of refnet's own holders: well known, or named (not
 * as a family) by some contract in the snapshot.  Any other tag is a
 * third party's. */
static bool builtin_tag(const struct rn_snapshot *s, const char *tag)
{
    uint32_t i, j;

    for (i = 0; i < sizeof(well_known_tags) / sizeof(well_known_tags[0]); i++)
        if (strcmp(tag, well_known_tags[i]) == 0)
            return true;
    for (i = 0; i < s->s_ntypes; i++)
        for (j = 0; j < s->s_types[i].sy_nholders; j++) {
            const char *m = s->s_types[i].sy_holders[j].sr_tag;

            if (m != NULL && strcmp(m, tag) == 0)
                return true;
        }
    return false;
}

static unsigned popcount32(uint32_t x)
{
    return (unsigned)__builtin_popcount(x);
}

/* Appends "bound" or "rexmt timer armed or keep timer armed" for the
 * conditions in bits, as y names them. */
static void cond_names(const struct rn_snap_type *y, uint32_t bits, char *buf, size_t len)
{
    size_t used = 0;
    uint32_t b;
    bool first = true;

    buf[0] = '\0';
    for (b = 0; b < 32 && used < len; b++) {
        int n;

        if (!(bits & (1u << b)))
            continue;
        n = snprintf(buf + used, len - used, "%s%s", first ? "" : " or ",
                     b < y->sy_nconds && y->sy_conds[b] ? y->sy_conds[b] : "?");
        if (n < 0)
            break;
        used += (size_t)n;
        first = false;
    }
}

/* The article and name of o's type, "a tcp listener". */
static void type_phrase(const struct rn_snap_object *o, char *buf, size_t len)
{
    const char *t = o->so_type && o->so_type[0] ? o->so_type : "object";

    snprintf(buf, len, "%s %s", strchr("aeio", t[0]) ? "an" : "a", t);
}

/* Judges one holder of o by its type's contract y.  Returns false when
 * the contract has nothing to say (the table judges). */
static bool judge_contract(const struct rn_snapshot *s, const struct rn_snap_object *o,
                           const struct rn_snap_type *y, const struct rn_snap_tag *t,
                           rn_time_t since, rn_time_t grace, struct rn__verdict *v)
{
    const char *tag = t->st_tag ? t->st_tag : "";
    const struct rn_snap_holder *r = contract_rule(y, tag);
    const struct verdict_rule *legacy = rule_for(tag);
    bool dying = o->so_state != RN_OB_LIVE;
    rn_time_t age = since < s->s_now ? s->s_now - since : 0;
    rn_time_t overdue = overdue_for(s, o, since);
    rn_time_t orphan = y->sy_orphan_bound ? y->sy_orphan_bound : grace;
    char what[48], conds[72], a[32];

    type_phrase(o, what, sizeof(what));
    if (r == NULL) {
        if (strcmp(tag, "create") == 0)
            return false;  /* the creator's own line: the table knows it */
        if (builtin_tag(s, tag)) {
            v->v_class = RN__VERDICT_SUSPECT;
            snprintf(v->v_reason, sizeof(v->v_reason), "is not a holder of %s: a hold outside "
                     "its contract, never dropped by its owner", what);
            return true;
        }
        if (!dying) {
            v->v_class = RN__VERDICT_NO_RULE;
            snprintf(v->v_reason, sizeof(v->v_reason), "a third party's holder; %s names no "
                     "such holder", what);
            return true;
        }
        if (overdue < orphan) {
            set_verdict(v, RN__VERDICT_EXPECTED, "a third party's holder; rundown began "
                                                 "recently, it may still let go");
            return true;
        }
        v->v_class = RN__VERDICT_SUSPECT;
        snprintf(v->v_reason, sizeof(v->v_reason), "a third party's hold on a dying %s, %s "
                 "after rundown began (bound %s)", o->so_type ? o->so_type : "object",
                 rn_fmt_age(overdue, a, sizeof(a)), rn_fmt_age(orphan, conds, sizeof(conds)));
        return true;
    }
    /* A condition its owner cleared says at once that the hold is left
     * over, dying or not. */
    if (r->sr_while != 0) {
        uint32_t on = o->so_conds & r->sr_while;

        cond_names(y, r->sr_while, conds, sizeof(conds));
        if (on == 0) {
            v->v_class = RN__VERDICT_SUSPECT;
            snprintf(v->v_reason, sizeof(v->v_reason), "holds %s only while %s, and this one "
                     "is not: a hold its owner forgot", what, conds);
            return true;
        }
        if ((r->sr_flags & RN_HOLD_ONE) && t->st_count > popcount32(on)) {
            cond_names(y, on, conds, sizeof(conds));
            v->v_class = RN__VERDICT_SUSPECT;
            snprintf(v->v_reason, sizeof(v->v_reason), "%" PRIu32 " holds where %u %s expected "
                     "(one per: %s): %" PRIu32 " leaked", t->st_count, popcount32(on),
                     popcount32(on) == 1 ? "is" : "are", conds, t->st_count - popcount32(on));
            return true;
        }
    }
    if (legacy->vr_check != NULL && legacy->vr_check(s, o, t, since, grace, v))
        return true;
    if (dying && !(r->sr_flags & RN_HOLD_DYING)) {
        /* The table may word this holder's breach better ("callout hold
         * after its flow ended"), and say whether it waits for a grace. */
        if (legacy != &verdict_default && legacy->vr_dying.vo_class == RN__VERDICT_SUSPECT &&
            !universal(tag)) {
            if (legacy->vr_dying.vo_after_grace && overdue < grace)
                set_verdict(v, RN__VERDICT_EXPECTED, "rundown began recently; may still let go");
            else
                set_verdict(v, RN__VERDICT_SUSPECT, legacy->vr_dying.vo_reason);
            return true;
        }
        if (overdue < grace) {
            set_verdict(v, RN__VERDICT_EXPECTED, "rundown began recently; may still let go");
            return true;
        }
        v->v_class = RN__VERDICT_SUSPECT;
        snprintf(v->v_reason, sizeof(v->v_reason), "holds %s only while it lives; still held "
                 "%s after rundown began", what, rn_fmt_age(overdue, a, sizeof(a)));
        return true;
    }
    if ((r->sr_flags & RN_HOLD_BRIEF) && r->sr_bound > 0 && age > r->sr_bound) {
        v->v_class = RN__VERDICT_SUSPECT;
        snprintf(v->v_reason, sizeof(v->v_reason), "holds past its bound (%s): a hold for one "
                 "call that outlived it \u2014 leaked", rn_fmt_age(r->sr_bound, a, sizeof(a)));
        return true;
    }
    if (r->sr_why != NULL && r->sr_why[0] != '\0')
        set_verdict(v, RN__VERDICT_EXPECTED, r->sr_why);
    else
        set_verdict(v, RN__VERDICT_EXPECTED, "one of its type's holders");
    return true;
}

void rn__verdict_judge(const struct rn_snapshot *s, const struct rn_snap_object *o,
                       struct rn__verdict *v)
{
    rn_time_t grace = s->s_threshold ? s->s_threshold : RN_DIAG_DEFAULT_THRESHOLD;
    bool dying = o->so_state != RN_OB_LIVE;
    const struct rn_snap_type *y = rn_snapshot_type(s, o->so_type);
    uint32_t i;

    assert(s != NULL && o != NULL && (v != NULL || o->so_ntags == 0));
    for (i = 0; i < o->so_ntags; i++) {
        const struct rn_snap_tag *t = &o->so_tags[i];
        const struct verdict_rule *r = rule_for(t->st_tag ? t->st_tag : "");
        const struct verdict_outcome *oc = dying ? &r->vr_dying : &r->vr_live;
        rn_time_t since = tag_since(o, t);
        rn_time_t age = since < s->s_now ? s->s_now - since : 0;
        rn_time_t overdue;
        char bound[32];

        if (y != NULL && !universal(t->st_tag ? t->st_tag : "") &&
            judge_contract(s, o, y, t, since, grace, &v[i]))
            continue;

        if (r->vr_bound > 0 && age > r->vr_bound) {
            const struct rn_snap_object *run =
                r->vr_runner ? runner_since(s, r->vr_runner, since) : NULL;

            rn_fmt_age(r->vr_bound, bound, sizeof(bound));
            v[i].v_class = RN__VERDICT_SUSPECT;
            if (run != NULL)
                snprintf(v[i].v_reason, sizeof(v[i].v_reason),
                         "%s (%s) while %s #%" PRIu64 " runs: it is stalled, or leaked it",
                         r->vr_bound_reason, bound, r->vr_runner, run->so_id);
            else
                snprintf(v[i].v_reason, sizeof(v[i].v_reason), "%s (%s) %s",
                         r->vr_bound_reason, bound, r->vr_bound_tail);
            continue;
        }
        if (r->vr_check != NULL && r->vr_check(s, o, t, since, grace, &v[i]))
            continue;
        if (oc->vo_after_grace) {
            /* The holder has had since rundown began, or since it took
             * the hold if later, to let go. */
            overdue = overdue_for(s, o, since);
            if (overdue < grace) {
                set_verdict(&v[i], RN__VERDICT_EXPECTED, "rundown began recently; may still let go");
                continue;
            }
        }
        set_verdict(&v[i], oc->vo_class, oc->vo_reason);
    }
}

static void summary(const struct rn_snap_object *o, const struct rn__verdict *v, bool waited,
                    struct rn_strbuf *out);

void rn__verdict_summary(const struct rn_snap_object *o, const struct rn__verdict *v,
                         struct rn_strbuf *out)
{
    summary(o, v, true, out);
}

void rn__verdict_summary_alone(const struct rn_snap_object *o, const struct rn__verdict *v,
                               struct rn_strbuf *out)
{
    summary(o, v, false, out);
}

static void summary(const struct rn_snap_object *o, const struct rn__verdict *v, bool waited,
                    struct rn_strbuf *out)
{
    uint32_t i, nsuspect = 0, nrule = 0, k;

    if (o->so_ntags == 0) {
        rn_strbuf_puts(out, "no holder left: its release should already be running");
        return;
    }
    for (i = 0; i < o->so_ntags; i++) {
        if (v[i].v_class == RN__VERDICT_SUSPECT)
            nsuspect++;
        else if (v[i].v_class == RN__VERDICT_NO_RULE)
            nrule++;
    }
    if (nsuspect > 0) {
        for (i = 0, k = 0; i < o->so_ntags; i++) {
            if (v[i].v_class != RN__VERDICT_SUSPECT)
                continue;
            if (k++ > 0)
                rn_strbuf_puts(out, "; ");
            rn_strbuf_puts(out, "'");
            rn__diag_put_text(out, o->so_tags[i].st_tag);
            rn_strbuf_puts(out, "' ");
            rn__diag_put_text(out, v[i].v_reason);
        }
        return;
    }
    if (nrule == 0) {
        /* Work in progress says so, first. */
        for (i = 0; i < o->so_ntags; i++) {
            if (strncmp(v[i].v_reason, "in progress", 11) == 0) {
                rn__diag_put_text(out, v[i].v_reason);
                rn_strbuf_puts(out, "; no suspect holder");
                return;
            }
        }
        rn_strbuf_puts(out, waited ? "no suspect holder: every holder is expected; "
                                     "the wait ends when their work does"
                                   : "no suspect holder: every holder is expected");
        return;
    }
    rn_strbuf_puts(out, "no suspect holder: no rule covers ");
    for (i = 0, k = 0; i < o->so_ntags; i++) {
        if (v[i].v_class != RN__VERDICT_NO_RULE)
            continue;
        if (k++ > 0)
            rn_strbuf_puts(out, ", ");
        rn_strbuf_puts(out, "'");
        rn__diag_put_text(out, o->so_tags[i].st_tag);
        rn_strbuf_puts(out, "'");
    }
    rn_strbuf_puts(out, nrule == o->so_ntags ? "" : "; the others are expected");
}

/* The site most of o's traced holds of tag were taken from: the innermost
 * frame of the stack with the largest count.  "" when none was recorded. */
static void suspect_site(const struct rn_snapshot *s, const struct rn_snap_object *o,
                         const char *tag, char *buf, size_t len)
{
    const struct rn_snap_hold *best = NULL;
    uint32_t i;

    buf[0] = '\0';
    for (i = 0; i < o->so_nholds; i++) {
        const struct rn_snap_hold *h = &o->so_holds[i];

        if (h->sh_tag == NULL || strcmp(h->sh_tag, tag) != 0 || h->sh_stack >= s->s_nstacks)
            continue;
        if (best == NULL || h->sh_count > best->sh_count)
            best = h;
    }
    if (best != NULL) {
        const struct rn_snap_stack *st = &s->s_stacks[best->sh_stack];
        size_t used = 0;
        uint32_t k;

        for (k = 0; k < st->ss_nframes && k < 2 && used < len; k++) {
            int n = snprintf(buf + used, len - used, "%s%s", k ? " <- " : "",
                             st->ss_frames[k] ? st->ss_frames[k] : "?");

            if (n < 0)
                break;
            used += (size_t)n;
        }
    }
}

int rn_diag_suspects(const struct rn_snapshot *s, uint64_t id, struct rn_diag_suspect *out,
                     size_t max)
{
    const struct rn_snap_object *o = rn_snapshot_find(s, id);
    struct rn__verdict v[64];
    uint32_t i, ntags;
    int n = 0;

    if (o == NULL)
        return RN_ENOENT;
    /* A ledger has a handful of tags; the judge needs one verdict each. */
    ntags = o->so_ntags;
    if (ntags > sizeof(v) / sizeof(v[0])) {
        struct rn_snap_object part = *o;

        part.so_ntags = ntags = sizeof(v) / sizeof(v[0]);
        rn__verdict_judge(s, &part, v);
    } else {
        rn__verdict_judge(s, o, v);
    }
    for (i = 0; i < ntags; i++) {
        const struct rn_snap_tag *t = &o->so_tags[i];
        struct rn_diag_suspect *d;

        if (v[i].v_class != RN__VERDICT_SUSPECT)
            continue;
        if ((size_t)n < max) {
            d = &out[n];
            snprintf(d->ds_tag, sizeof(d->ds_tag), "%s", t->st_tag ? t->st_tag : "");
            d->ds_count = t->st_count;
            d->ds_age = s->s_now > t->st_since ? s->s_now - t->st_since : 0;
            snprintf(d->ds_reason, sizeof(d->ds_reason), "%s", v[i].v_reason);
            suspect_site(s, o, d->ds_tag, d->ds_site, sizeof(d->ds_site));
        }
        n++;
    }
    return n;
}

int rn_diag_verdict(const struct rn_snapshot *s, uint64_t id, rn_diag_holder_fn fn, void *ctx,
                    struct rn_strbuf *line)
{
    const struct rn_snap_object *o = rn_snapshot_find(s, id);
    struct rn__verdict *v = NULL;
    uint32_t i;

    if (o == NULL)
        return RN_ENOENT;
    if (o->so_ntags > 0) {
        v = calloc(o->so_ntags, sizeof(*v));
        if (v == NULL)
            return RN_ENOMEM;
        rn__verdict_judge(s, o, v);
    }
    for (i = 0; fn != NULL && i < o->so_ntags; i++) {
        const struct rn_snap_tag *t = &o->so_tags[i];
        struct rn_diag_holder h = {
            .dh_tag = t->st_tag ? t->st_tag : "",
            .dh_count = t->st_count,
            .dh_age = s->s_now > t->st_since ? s->s_now - t->st_since : 0,
            .dh_class = v[i].v_class == RN__VERDICT_SUSPECT   ? RN_DIAG_SUSPECT
                        : v[i].v_class == RN__VERDICT_NO_RULE ? RN_DIAG_NO_RULE
                                                              : RN_DIAG_EXPECTED,
            .dh_reason = v[i].v_reason,
        };

        fn(&h, ctx);
    }
    if (line != NULL)
        rn__verdict_summary(o, v, line);
    free(v);
    return line != NULL && line->sb_oom ? RN_ENOMEM : 0;
}
