/*
 * Hand-built snapshots for the diag tests (helper_case.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helper_case.h"

static void *must(void *p)
{
    if (p == NULL) {
        fprintf(stderr, "test snapshot: out of memory\n");
        abort();
    }
    return p;
}

struct rn_snap_object *case_add_object(struct rn_snapshot *s, uint64_t id, const char *type,
                                       const char *desc, enum rn_ob_state state,
                                       rn_time_t created, rn_time_t killed)
{
    struct rn_snap_object *o = must(rn_snapshot_add_object(s));

    o->so_id = id;
    o->so_type = must((void *)rn_snap_strdup(s, type));
    o->so_desc = must((void *)rn_snap_strdup(s, desc));
    o->so_state = state;
    o->so_created = created;
    o->so_killed = killed;
    return o;
}

void case_add_tag(struct rn_snapshot *s, struct rn_snap_object *o, const char *tag,
                  uint32_t count, rn_time_t since, const char *last_ref)
{
    struct rn_snap_tag *t = must(rn_snap_alloc(s, (o->so_ntags + 1) * sizeof(*t)));

    if (o->so_ntags > 0)
        memcpy(t, o->so_tags, o->so_ntags * sizeof(*t));
    o->so_tags = t;
    t += o->so_ntags++;
    t->st_tag = must((void *)rn_snap_strdup(s, tag));
    t->st_count = count;
    t->st_since = since;
    t->st_last_ref = last_ref ? must((void *)rn_snap_strdup(s, last_ref)) : NULL;
    o->so_refs += count;
}

void case_add_hold(struct rn_snapshot *s, struct rn_snap_object *o, const char *tag,
                   uint32_t stack, uint32_t count, rn_time_t oldest)
{
    struct rn_snap_hold *h = must(rn_snap_alloc(s, (o->so_nholds + 1) * sizeof(*h)));

    if (o->so_nholds > 0)
        memcpy(h, o->so_holds, o->so_nholds * sizeof(*h));
    o->so_holds = h;
    h += o->so_nholds++;
    h->sh_tag = must((void *)rn_snap_strdup(s, tag));
    h->sh_stack = stack;
    h->sh_count = count;
    h->sh_oldest = oldest;
}

uint32_t case_add_stack(struct rn_snapshot *s, int n, const char *const *frames)
{
    struct rn_snap_stack *st = must(rn_snapshot_add_stack(s));
    int i;

    st->ss_nframes = (uint32_t)n;
    st->ss_frames = n > 0 ? must(rn_snap_alloc(s, (size_t)n * sizeof(char *))) : NULL;
    for (i = 0; i < n; i++)
        st->ss_frames[i] = must((void *)rn_snap_strdup(s, frames[i]));
    return s->s_nstacks - 1;
}

void case_add_wait(struct rn_snapshot *s, uint64_t waiter, uint64_t waited, const char *what,
                   rn_time_t since)
{
    struct rn_snap_wait *w = must(rn_snapshot_add_wait(s));

    w->sw_waiter = waiter;
    w->sw_waited = waited;
    w->sw_what = must((void *)rn_snap_strdup(s, what));
    w->sw_since = since;
}

struct rn_snapshot *case_apache(void)
{
    static const char *const enum_stack[] = {
        "tl_enum_next+0x4c", "ctl_netstat+0x1a2", "ctl_dispatch+0x88", "loop_run+0x310",
    };
    struct rn_snapshot *s = must(rn_snapshot_new());
    rn_time_t stuck = CASE_NOW - CASE_STUCK, bound = CASE_NOW - CASE_BOUND;
    struct rn_snap_object *o;
    uint32_t st;

    s->s_now = CASE_NOW;
    s->s_threshold = RN_SEC(10);
    st = case_add_stack(s, 4, enum_stack);

    o = case_add_object(s, CASE_LISTENER, "tcp listener", "tcp listener 0.0.0.0:80", RN_OB_LIVE,
                        bound, 0);
    o->so_traced = true;
    case_add_tag(s, o, "enum", 1, stuck, "tl_enum_next (tcp_listen.c:212)");
    case_add_tag(s, o, "port-table", 1, bound, NULL);
    case_add_hold(s, o, "enum", st, 1, stuck);
    o->so_untraced = 1;

    o = case_add_object(s, CASE_SOCKET, "socket", "socket #7", RN_OB_DYING, bound, stuck);
    case_add_tag(s, o, "handle", 1, bound, "handle_insert (handle.c:88)");

    o = case_add_object(s, CASE_PROCESS, "process",
                        "process httpd terminating, 1 of 3 handle cleanups pending", RN_OB_DYING,
                        bound, stuck);
    case_add_tag(s, o, "service", 1, bound, NULL);

    o = case_add_object(s, CASE_SERVICE, "service", "service httpd STOP_PENDING", RN_OB_LIVE,
                        bound, 0);
    case_add_tag(s, o, "create", 1, bound, NULL);

    o = case_add_object(s, CASE_UDP, "udp endpoint", "udp endpoint 0.0.0.0:53", RN_OB_LIVE, bound,
                        0);
    case_add_tag(s, o, "port-table", 1, bound, NULL);

    case_add_wait(s, CASE_SOCKET, CASE_LISTENER, "close", stuck);
    case_add_wait(s, CASE_PROCESS, CASE_SOCKET, "cleanup", stuck);
    case_add_wait(s, CASE_SERVICE, CASE_PROCESS, "stop", stuck);
    rn_snapshot_finish(s);
    return s;
}

struct rn_snapshot *case_rich(void)
{
    static const char *const fa[] = {"tl_enum_next+0x4c", "ctl_netstat+0x1a2", "ctl_dispatch+0x88"};
    static const char *const fb[] = {"wfp_classify+0x10", "acme_av_inspect+0x2f0"};
    struct rn_snapshot *s = must(rn_snapshot_new());
    rn_time_t now = CASE_NOW;
    struct rn_snap_object *o;
    uint32_t sa, sb, se;

    s->s_now = now;
    s->s_threshold = RN_SEC(5);
    s->s_misuse[0] = 3;
    s->s_misuse[2] = 1;
    sa = case_add_stack(s, 3, fa);
    sb = case_add_stack(s, 2, fb);
    se = case_add_stack(s, 0, NULL);

    o = case_add_object(s, 10, "service", "service echo STOP_PENDING", RN_OB_LIVE, 0, 0);
    case_add_tag(s, o, "create", 1, 0, NULL);
    o = case_add_object(s, 11, "process", "process echo terminating", RN_OB_DYING, 0,
                        now - RN_SEC(40));
    case_add_tag(s, o, "service", 1, 0, "svc_start (service.c:120)");
    o = case_add_object(s, 12, "socket", "socket #3", RN_OB_DYING, 0, now - RN_SEC(40));
    case_add_tag(s, o, "request", 2, now - RN_SEC(41), "req_submit (request.c:77)");
    o = case_add_object(s, 13, "socket", "socket #4", RN_OB_DYING, 0, now - RN_SEC(40));
    case_add_tag(s, o, "handle", 1, now - RN_SEC(100), NULL);
    o = case_add_object(s, 20, "tcp connection", "tcp conn 198.18.0.2:7 -> 198.18.0.1:40000",
                        RN_OB_DYING, 0, now - RN_SEC(39));
    o->so_traced = true;
    case_add_tag(s, o, "enum", 3, now - RN_SEC(39), NULL);
    case_add_tag(s, o, "callout:acme-av", 2, now - RN_SEC(45), "acme_hold (acme.c:9)");
    case_add_tag(s, o, "tcp.timer", 1, now - RN_MSEC(20), NULL);
    case_add_hold(s, o, "enum", sa, 2, now - RN_SEC(39));
    case_add_hold(s, o, "enum", RN_SNAP_NO_STACK, 1, now - RN_SEC(2));
    case_add_hold(s, o, "callout:acme-av", sb, 1, now - RN_SEC(45));
    case_add_hold(s, o, "callout:acme-av", se, 1, now - RN_SEC(44));
    o->so_untraced = 1;
    o = case_add_object(s, 21, "tcp listener", "tcp listener 0.0.0.0:7", RN_OB_LIVE, 0, 0);
    o->so_saturated = true;
    case_add_tag(s, o, "lookup", (1u << 30) - 1, now - RN_SEC(3000), "\xe2\x80\x94 odd site");
    case_add_tag(s, o, "port-table", 1, now - RN_SEC(3000), NULL);
    o = case_add_object(s, 30, "thing", "", RN_OB_LIVE, 0, 0);
    case_add_tag(s, o, "x", 1, now, NULL);
    o = case_add_object(s, 31, "thing", "thing b", RN_OB_DYING, 0, now - RN_SEC(50));
    case_add_tag(s, o, "y", 1, now - RN_SEC(60), NULL);

    case_add_wait(s, 10, 11, "stop", now - RN_SEC(40));
    case_add_wait(s, 11, 12, "cleanup", now - RN_SEC(40));
    case_add_wait(s, 11, 13, "cleanup", now - RN_SEC(40));
    case_add_wait(s, 12, 20, "close", now - RN_SEC(39));
    case_add_wait(s, 13, 21, "close", now - RN_SEC(2));
    case_add_wait(s, 99, 20, "close", now - RN_SEC(8));
    case_add_wait(s, 0, 12, "drain", now - RN_SEC(6));
    case_add_wait(s, 30, 31, "w", now - RN_SEC(50));
    case_add_wait(s, 31, 30, "w", now - RN_SEC(49));
    case_add_wait(s, 31, 404, "w", now - RN_SEC(48));
    rn_snapshot_finish(s);
    return s;
}
