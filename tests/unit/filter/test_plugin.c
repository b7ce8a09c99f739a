/*
 * Plug-ins (plugin.h) between two stacks in virtual time: a plug-in file
 * refused for its owner or its mode; the deliberately leaking plug-in
 * (tests/plugins/leaky.c) loaded, its callout named by a filter, keeping
 * context on a connection that then ends; its unload, which deletes the
 * filter and waits for the callout's holds; the chain that names the
 * plug-in, its file, the object its callout still holds and the site in
 * leaky.c that took it, the same from a dump; the orphaned connection;
 * and, once the plug-in lets go, the unload completing, leak-free.  Its
 * route cache: a deleted route it keeps, reported as an orphan, and the
 * removal of an interface it blocks, explained, then complete.  Its link
 * filter's route cache, kept past the unload under "filter:leaky-cache":
 * the unload waits for it, and the chain names the plug-in, its file, the
 * route and the site.
 */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "helper_filter.h"
#include "refnet/diag.h"
#include "refnet/error.h"
#include "refnet/filter.h"
#include "refnet/object.h"
#include "refnet/plugin.h"
#include "refnet/snapshot.h"
#include "refnet/socket.h"
#include "refnet/strbuf.h"
#include "support.h"

static char plugin_path[512];

static const char *example_path(void)
{
    static char path[512];
    const char *dir = getenv("REFNET_TEST_PLUGINS");

    snprintf(path, sizeof(path), "%s/plugin-callout.so", dir ? dir : "tests/plugins");
    return path;
}

static const char *filter_example_path(void)
{
    static char path[512];
    const char *dir = getenv("REFNET_TEST_PLUGINS");

    snprintf(path, sizeof(path), "%s/plugin-filter.so", dir ? dir : "tests/plugins");
    return path;
}

static const char *leaky_path(void)
{
    const char *dir = getenv("REFNET_TEST_PLUGINS");

    if (dir == NULL)
        dir = "tests/plugins";
    snprintf(plugin_path, sizeof(plugin_path), "%s/refnet-leaky.so", dir);
    return plugin_path;
}

/* Makes the loaded leaky plug-in let go of everything it kept
 * (leaky_release_all() in tests/plugins/leaky.c); returns how much. */
static unsigned leaky_release(void)
{
    unsigned (*release_all)(void);
    unsigned n;
    void *dl = dlopen(leaky_path(), RTLD_NOW | RTLD_NOLOAD);

    assert_non_null(dl);
    *(void **)&release_all = dlsym(dl, "leaky_release_all");
    assert_non_null(release_all);
    n = release_all();
    dlclose(dl);
    return n;
}

/* Copies the plug-in to a file of the given mode; returns its path. */
static const char *copy_with_mode(mode_t mode)
{
    static char path[64];
    char cmd[700];

    snprintf(path, sizeof(path), "/tmp/refnet-plugin-test-%d.so", (int)getpid());
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", leaky_path(), path);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(chmod(path, mode), 0);
    return path;
}

struct row_seen {
    unsigned n;
    struct rn_plugin_row last;
};

static void row_fn(const struct rn_plugin_row *r, void *ctx)
{
    struct row_seen *rs = ctx;

    rs->n++;
    rs->last = *r;
}

static void test_plugin_files_refused(void **state)
{
    char err[256];
    const char *p;
    int e;

    (void)state;
    fpair_up();
    /* World-writable. */
    p = copy_with_mode(0777);
    e = rn_plugin_load(P.b, p, NULL, NULL, err, sizeof(err));
    assert_int_equal(e, RN_EACCES);
    assert_non_null(strstr(err, "writable by everyone (mode 0777)"));
    /* Owned by someone else (only root can give it away). */
    if (geteuid() == 0) {
        p = copy_with_mode(0755);
        assert_int_equal(chown(p, 65534, 65534), 0);
        e = rn_plugin_load(P.b, p, NULL, NULL, err, sizeof(err));
        assert_int_equal(e, RN_EACCES);
        assert_non_null(strstr(err, "owned by uid 65534"));
    }
    unlink(p);
    /* Not a plug-in at all, and no file. */
    e = rn_plugin_load(P.b, "/proc/self/status", NULL, NULL, err, sizeof(err));
    assert_true(e == RN_EACCES || e == RN_EINVAL);
    e = rn_plugin_load(P.b, "/nonexistent/x.so", NULL, NULL, err, sizeof(err));
    assert_int_equal(e, RN_ENOENT);
    /* Arguments it does not take: its own refusal, named. */
    e = rn_plugin_load(P.b, leaky_path(), "bogus", NULL, err, sizeof(err));
    assert_int_equal(e, RN_EINVAL);
    assert_non_null(strstr(err, "leaky refused to load: takes no argument but 'routes'"));
    assert_int_equal(count_type("callout registration"), 4);  /* the built-ins only */
    fpair_down();
}

static void test_leaking_plugin_named_by_file_and_site(void **state)
{
    struct rn_sockaddr_in to = {.sin_addr = ADDR_B, .sin_port = 80};
    struct rec ra = {0}, rb = {0};
    struct row_seen rs = {0};
    struct rn_plugin *pl = NULL;
    struct rn_snapshot *s, *back = NULL;
    struct rn_strbuf live = RN_STRBUF_INIT, dumped = RN_STRBUF_INIT;
    unsigned deleted = 0;
    void *buf = NULL;
    size_t len = 0;
    char err[256], *chains;
    int hl, hc, e;

    (void)state;
    fpair_up();
    e = rn_plugin_load(P.b, leaky_path(), "", &pl, err, sizeof(err));
    if (e != 0)
        fail_msg("load: %s", err);
    assert_string_equal(rn_plugin_name(pl), "leaky");
    e = rn_plugin_load(P.b, leaky_path(), "", NULL, err, sizeof(err));
    assert_int_equal(e, RN_EEXIST);
    add_filter(P.b, "layer=accept,lport=80,action=callout:leaky");
    rn_plugin_rows(P.b, row_fn, &rs);
    assert_int_equal(rs.n, 1);
    assert_string_equal(rs.last.pr_name, "leaky");
    assert_int_equal(rs.last.pr_callouts, 1);

    /* A connection through it, then both ends close: its context stays. */
    hl = tcp_listening(P.pb, 80, &e);
    submit(P.pb, RN_SOP_ACCEPT, hl, NULL, 0, NULL, &rb);
    hc = rn_sock_open(P.pa, RN_SOCK_STREAM, 0);
    submit(P.pa, RN_SOP_CONNECT, hc, NULL, 0, &to, &ra);
    run_for(RN_MSEC(50));
    assert_non_null(last_of(&rb, RN_SOP_ACCEPT));
    assert_int_equal(rn_sock_setopt(P.pa, hc, RN_SO_LINGER, 0), 0);
    submit(P.pa, RN_SOP_CLOSE, hc, NULL, 0, NULL, &ra);
    submit(P.pb, RN_SOP_CLOSE, (int)last_of(&rb, RN_SOP_ACCEPT)->sc_result, NULL, 0, NULL, &rb);
    submit(P.pb, RN_SOP_CLOSE, hl, NULL, 0, NULL, &rb);
    run_for(RN_MSEC(50));
    assert_int_equal(objects_held_by("callout:leaky"), 1);

    /* Unloading deletes its filter and waits for its holds. */
    assert_int_equal(rn_plugin_unload(P.b, "leaky", &deleted), 0);
    assert_int_equal(deleted, 1);
    assert_int_equal(rn_plugin_unload(P.b, "leaky", NULL), RN_EALREADY);
    assert_int_equal(rn_filter_count(P.b), 0);
    assert_int_equal(count_type("plug-in"), 1);
    run_for(RN_SEC(11));
    chains = render_live_chains();
    if (strstr(chains, "plug-in leaky 1.0 ") == NULL || strstr(chains, "refnet-leaky.so") == NULL ||
        strstr(chains, "unload pending 11.0s") == NULL ||
        strstr(chains, "\u2514 callout leaky 1 flows 0 pended 0 filters") == NULL ||
        strstr(chains, "verdict: 'callout.context' retired 11.0s ago, its callout still holds 1 "
                       "object: tcp connection #") == NULL ||
        strstr(chains, "last ref leaky_classify (") == NULL ||
        strstr(chains, "tests/plugins/leaky.c:") == NULL)
        fail_msg("the unload's chain does not name the plug-in, file and site:\n%s", chains);
    free(chains);

    /* The same from a dump.  The connection it keeps has its own chain:
     * its socket waits for it, and the verdict names the callout. */
    s = rn_ob_snapshot();
    assert_non_null(s);
    s->s_threshold = RN_DIAG_DEFAULT_THRESHOLD;
    assert_true(rn_diag_render_chains(s, 0, &live) >= 1);
    assert_int_equal(rn_diag_render_orphans(s, &live), 0);
    assert_non_null(strstr(rn_strbuf_str(&live), "verdict: 'callout:leaky' callout hold after "
                                                 "its flow ended"));
    assert_int_equal(rn_dump_encode(s, &buf, &len), 0);
    assert_int_equal(rn_dump_decode(buf, len, &back, err, sizeof(err)), 0);
    assert_true(rn_diag_render_chains(back, 0, &dumped) >= 1);
    assert_int_equal(rn_diag_render_orphans(back, &dumped), 0);
    assert_string_equal(rn_strbuf_str(&live), rn_strbuf_str(&dumped));
    rn_strbuf_free(&live);
    rn_strbuf_free(&dumped);
    rn_snapshot_free(back);
    rn_snapshot_free(s);
    free(buf);

    /* It lets go at last: the unload completes, nothing is left. */
    assert_int_equal(leaky_release(), 1);
    run_for(RN_MSEC(10));
    assert_int_equal(count_type("plug-in"), 0);
    assert_int_equal(objects_held_by("callout:leaky"), 0);
    rs.n = 0;
    rn_plugin_rows(P.b, row_fn, &rs);
    assert_int_equal(rs.n, 0);
    fpair_down();
}

struct removal_seen {
    unsigned n;
    uint64_t id;
    int result;
};

static void removed_fn(struct rn_stack *st, uint64_t id, int result, void *ctx)
{
    struct removal_seen *rs = ctx;

    (void)st;
    rs->n++;
    rs->id = id;
    rs->result = result;
}

/* The leaking plug-in's route cache: a deleted route it still holds is an
 * orphan once its bound (the watchdog's threshold) has passed, named the
 * same by the watchdog, why and a dump; then the removal of the
 * interface, which the connected route it also holds blocks: the chain
 * says so, the connection and the UDP socket on the interface's address
 * end with RN_ENETDOWN, and the removal completes once the plug-in lets
 * go. */
static void test_plugin_route_cache_blocks_iface_removal(void **state)
{
    struct removal_seen seen = {0};
    struct rn_strbuf out = RN_STRBUF_INIT, live = RN_STRBUF_INIT, dumped = RN_STRBUF_INIT;
    struct rn_snapshot *s, *back = NULL;
    struct rn_watchdog *wd;
    struct rec rb = {0};
    uint64_t rid, ifid = 0, ids[4];
    void *rt, *buf = NULL;
    size_t len = 0;
    char err[256], *chains, rbuf[100], ubuf[100];
    struct rec ru = {0};
    int e, hl, hc, ha, hu;

    (void)state;
    fpair_up();
    assert_int_equal(rn_route_add(P.b, 0xc6130000u, 16, ADDR_A, NULL), 0);  /* 198.19/16 */
    e = rn_plugin_load(P.b, leaky_path(), "routes", NULL, err, sizeof(err));
    if (e != 0)
        fail_msg("load: %s", err);
    assert_int_equal(objects_held_by("callout:leaky"), 2);  /* 198.19/16 and 198.18/15 */
    rt = find_object("route", "198.19.0.0/16");
    assert_non_null(rt);
    rid = rn_ob_id(rt);
    rn_ob_deref(rt, RN_TAG_LOOKUP);

    /* Deleted, and kept: nothing waits for it; an orphan past the bound
     * (threshold + 1 s at most). */
    assert_int_equal(rn_route_del(P.b, 0xc6130000u, 16), 0);
    wd = rn_watchdog_new(RN_DIAG_DEFAULT_THRESHOLD);
    assert_non_null(wd);
    run_for(RN_DIAG_DEFAULT_THRESHOLD - RN_SEC(1));
    assert_int_equal(rn_watchdog_check(wd, NULL), 0);
    run_for(RN_SEC(2));
    assert_int_equal(rn_watchdog_check(wd, &out), 1);
    if (strstr(rn_strbuf_str(&out), "orphan: route 198.19.0.0/16") == NULL ||
        strstr(rn_strbuf_str(&out), "callout:leaky") == NULL ||
        strstr(rn_strbuf_str(&out), "verdict: 'callout:leaky' a third party's hold on a dying "
                                    "route") == NULL)
        fail_msg("the watchdog did not name the orphan and its holder:\n%s",
                 rn_strbuf_str(&out));
    s = rn_ob_snapshot();
    assert_non_null(s);
    s->s_threshold = RN_DIAG_DEFAULT_THRESHOLD;
    assert_int_equal(rn_diag_orphans(s, ids, 4), 1);
    assert_int_equal(ids[0], rid);
    assert_int_equal(rn_diag_render_orphans(s, &live), 1);
    assert_int_equal(rn_dump_encode(s, &buf, &len), 0);
    assert_int_equal(rn_dump_decode(buf, len, &back, err, sizeof(err)), 0);
    assert_int_equal(rn_diag_render_orphans(back, &dumped), 1);
    assert_string_equal(rn_strbuf_str(&live), rn_strbuf_str(&dumped));
    assert_non_null(strstr(rn_strbuf_str(&out), rn_strbuf_str(&live)));
    rn_snapshot_free(back);
    rn_snapshot_free(s);
    free(buf);

    /* A connection on b's address, then b's interface goes. */
    hl = tcp_listening(P.pb, 80, &e);
    assert_int_equal(e, 0);
    hc = rn_sock_open(P.pa, RN_SOCK_STREAM, 0);
    ha = tcp_connect_accept(P.pa, hc, P.pb, hl, 80);
    submit(P.pb, RN_SOP_RECV, ha, rbuf, sizeof(rbuf), NULL, &rb);
    hu = udp_bound_to(P.pb, ADDR_B, 7100);
    submit(P.pb, RN_SOP_RECV, hu, ubuf, sizeof(ubuf), NULL, &ru);
    assert_int_equal(rn_stack_remove_iface(P.b, P.ifb, removed_fn, &seen, &ifid), 0);
    assert_true(ifid != 0);
    assert_null(rn_stack_iface(P.b, "sim0"));
    assert_int_equal(rn_stack_remove_iface(P.b, P.ifb, removed_fn, &seen, NULL), RN_ENOENT);
    run_for(RN_MSEC(10));
    assert_non_null(last_of(&rb, RN_SOP_RECV));
    assert_int_equal(last_of(&rb, RN_SOP_RECV)->sc_result, RN_ENETDOWN);
    assert_non_null(last_of(&ru, RN_SOP_RECV));
    assert_int_equal(last_of(&ru, RN_SOP_RECV)->sc_result, RN_ENETDOWN);
    run_for(RN_SEC(11));
    assert_int_equal(seen.n, 0);
    chains = render_live_chains();
    if (strstr(chains, "(no waiter object)") == NULL || strstr(chains, "remove pending 11.0s") == NULL ||
        strstr(chains, "interface sim0 198.18.0.3/15") == NULL ||
        strstr(chains, "route delete pending 11.0s") == NULL ||
        strstr(chains, "route 198.18.0.0/15 dev sim0") == NULL ||
        strstr(chains, "verdict: 'callout:leaky' a third party's hold on a dying route") == NULL ||
        strstr(chains, "last ref cache_route (") == NULL)
        fail_msg("the removal's chain does not name the route and its holder:\n%s", chains);
    free(chains);

    /* It lets go: both routes go, then the interface; the removal completes. */
    assert_int_equal(leaky_release(), 2);
    run_for(RN_MSEC(10));
    assert_int_equal(seen.n, 1);
    assert_int_equal(seen.id, ifid);
    assert_int_equal(seen.result, 0);
    assert_int_equal(count_type("interface"), 1);  /* a's */
    assert_int_equal(rn_plugin_unload(P.b, "leaky", NULL), 0);
    run_for(RN_MSEC(10));
    submit(P.pb, RN_SOP_CLOSE, ha, NULL, 0, NULL, &rb);
    submit(P.pb, RN_SOP_CLOSE, hl, NULL, 0, NULL, &rb);
    submit(P.pb, RN_SOP_CLOSE, hu, NULL, 0, NULL, &ru);
    rn_watchdog_free(wd);
    rn_strbuf_free(&out);
    rn_strbuf_free(&live);
    rn_strbuf_free(&dumped);
    fpair_down();
}

/* The leaking plug-in's link filter keeps the routes it cached under its
 * own tag when the plug-in is unloaded: the unload waits for them (the
 * file stays mapped), within the grace the verdict expects them to go,
 * past it the chain names the plug-in, its file, the route and the site
 * that took it, the same live, from the watchdog and from a dump; once
 * the plug-in lets go the unload completes, leak-free. */
static void test_plugin_filter_holds_wait(void **state)
{
    struct rn_strbuf out = RN_STRBUF_INIT, live = RN_STRBUF_INIT, dumped = RN_STRBUF_INIT;
    struct rn_snapshot *s, *back = NULL;
    struct row_seen rs = {0};
    struct rn_watchdog *wd;
    void *buf = NULL;
    size_t len = 0;
    char err[256], *chains;
    int e;

    (void)state;
    fpair_up();
    e = rn_plugin_load(P.b, leaky_path(), "filter:nosuch0", NULL, err, sizeof(err));
    assert_int_equal(e, RN_ENOENT);
    assert_non_null(strstr(err, "cannot stack its filter on that interface"));
    e = rn_plugin_load(P.b, leaky_path(), "filter:sim0", NULL, err, sizeof(err));
    if (e != 0)
        fail_msg("load: %s", err);
    assert_string_equal(rn_link_name(rn_iface_link(P.ifb)), "leaky-cache");
    assert_int_equal(objects_held_by("filter:leaky-cache"), 2);  /* the interface, 198.18/15 */
    rn_plugin_rows(P.b, row_fn, &rs);
    assert_int_equal(rs.last.pr_held, 2);

    /* Unloaded: the filter leaves the chain at once, with its hold on the
     * interface; the route it cached keeps the unload waiting. */
    wd = rn_watchdog_new(RN_DIAG_DEFAULT_THRESHOLD);
    assert_non_null(wd);
    assert_int_equal(rn_plugin_unload(P.b, "leaky", NULL), 0);
    run_for(RN_MSEC(300));
    assert_string_equal(rn_link_kind(rn_iface_link(P.ifb)), "sim-cable");
    assert_int_equal(objects_held_by("filter:leaky-cache"), 1);
    assert_int_equal(count_type("plug-in"), 1);
    assert_int_equal(count_type("plug-in holder"), 1);
    rs.n = 0;
    rn_plugin_rows(P.b, row_fn, &rs);
    assert_int_equal(rs.n, 1);
    assert_true(rs.last.pr_unloading);
    assert_int_equal(rs.last.pr_held, 1);
    chains = render_live_chains();
    if (strstr(chains, "(unloading for 300ms; 'filter:leaky-cache' holds 1 object, which the "
                       "plug-in may still let go)") == NULL ||
        strstr(chains, "verdict: no suspect holder") == NULL)
        fail_msg("within its grace the hold is not expected:\n%s", chains);
    free(chains);
    assert_int_equal(rn_watchdog_check(wd, NULL), 0);

    /* Past the threshold: named by file, tag, route and site. */
    run_for(RN_SEC(11));
    chains = render_live_chains();
    if (strstr(chains, "plug-in leaky 1.0 ") == NULL || strstr(chains, "refnet-leaky.so") == NULL ||
        strstr(chains, "unload pending 11.") == NULL ||
        strstr(chains, "holder filter:leaky-cache of plug-in leaky: holds 1 object") == NULL ||
        strstr(chains, "verdict: 'plugin.holds' unloaded 11.") == NULL ||
        strstr(chains, "'filter:leaky-cache' still holds 1 object: route #") == NULL ||
        strstr(chains, "last ref cache_filter_route (") == NULL ||
        strstr(chains, "tests/plugins/leaky.c:") == NULL)
        fail_msg("the unload's chain does not name the plug-in, file, route and site:\n%s",
                 chains);
    free(chains);
    assert_true(rn_watchdog_check(wd, &out) >= 1);
    if (strstr(rn_strbuf_str(&out), "holder filter:leaky-cache of plug-in leaky") == NULL ||
        strstr(rn_strbuf_str(&out), "last ref cache_filter_route (") == NULL)
        fail_msg("the watchdog does not name the holder and site:\n%s", rn_strbuf_str(&out));
    s = rn_ob_snapshot();
    assert_non_null(s);
    s->s_threshold = RN_DIAG_DEFAULT_THRESHOLD;
    assert_true(rn_diag_render_chains(s, 0, &live) >= 1);
    assert_int_equal(rn_dump_encode(s, &buf, &len), 0);
    assert_int_equal(rn_dump_decode(buf, len, &back, err, sizeof(err)), 0);
    assert_true(rn_diag_render_chains(back, 0, &dumped) >= 1);
    assert_string_equal(rn_strbuf_str(&live), rn_strbuf_str(&dumped));
    assert_non_null(strstr(rn_strbuf_str(&live), "'filter:leaky-cache' still holds 1 object"));
    rn_snapshot_free(back);
    rn_snapshot_free(s);
    free(buf);

    /* It lets go: the next look finds the tag empty, the unload ends. */
    assert_int_equal(leaky_release(), 1);
    run_for(RN_MSEC(300));
    assert_int_equal(count_type("plug-in holder"), 0);
    assert_int_equal(count_type("plug-in"), 0);
    assert_int_equal(objects_held_by("filter:leaky-cache"), 0);
    rs.n = 0;
    rn_plugin_rows(P.b, row_fn, &rs);
    assert_int_equal(rs.n, 0);
    rn_watchdog_free(wd);
    rn_strbuf_free(&out);
    rn_strbuf_free(&live);
    rn_strbuf_free(&dumped);
    fpair_down();
}

/* The example plug-in behaves: it lets go of each flow as it ends, so its
 * unload completes at once. */
static void test_example_plugin_unloads_at_once(void **state)
{
    struct rn_sockaddr_in to = {.sin_addr = ADDR_B, .sin_port = 8080};
    struct rec ra = {0}, rb = {0};
    char err[256];
    int hl, hc, e;

    (void)state;
    fpair_up();
    e = rn_plugin_load(P.b, example_path(), "8080+x", NULL, err, sizeof(err));
    assert_int_equal(e, RN_EINVAL);
    assert_non_null(strstr(err, "porttally refused to load: bad ports '8080+x'"));
    e = rn_plugin_load(P.b, example_path(), "8080", NULL, err, sizeof(err));
    if (e != 0)
        fail_msg("load: %s", err);
    add_filter(P.b, "layer=accept,action=callout:porttally");
    hl = tcp_listening(P.pb, 8080, &e);
    submit(P.pb, RN_SOP_ACCEPT, hl, NULL, 0, NULL, &rb);
    hc = rn_sock_open(P.pa, RN_SOCK_STREAM, 0);
    submit(P.pa, RN_SOP_CONNECT, hc, NULL, 0, &to, &ra);
    run_for(RN_MSEC(50));
    assert_int_equal(objects_held_by("callout:porttally"), 1);
    submit(P.pa, RN_SOP_CLOSE, hc, NULL, 0, NULL, &ra);
    submit(P.pb, RN_SOP_CLOSE, (int)last_of(&rb, RN_SOP_ACCEPT)->sc_result, NULL, 0, NULL, &rb);
    submit(P.pb, RN_SOP_CLOSE, hl, NULL, 0, NULL, &rb);
    run_for(RN_SEC(70));
    assert_int_equal(objects_held_by("callout:porttally"), 0);
    assert_int_equal(rn_plugin_unload(P.b, "porttally", NULL), 0);
    run_for(RN_MSEC(1));
    assert_int_equal(count_type("plug-in"), 0);
    fpair_down();
}

/* Values of one link, by name. */
struct link_vals {
    char block[32];
    uint64_t rx_ipv4, blocked_rx;
    unsigned n;
};

static void vals_fn(const struct rn_value *v, void *ctx)
{
    struct link_vals *lv = ctx;

    lv->n++;
    if (strcmp(v->v_name, "block") == 0 && v->v_text != NULL)
        snprintf(lv->block, sizeof(lv->block), "%s", v->v_text);
    else if (strcmp(v->v_name, "rx_ipv4") == 0)
        lv->rx_ipv4 = v->v_value;
    else if (strcmp(v->v_name, "blocked_rx") == 0)
        lv->blocked_rx = v->v_value;
}

/* Sends a datagram from a to b's port 7000 with a receive of b pending
 * (recorded in *rb, which outlives it: a receive not satisfied stays
 * pending for the next datagram); returns whether it got there. */
static bool udp_gets_through(int hb, int ha, struct rec *rb, char *in, size_t inlen)
{
    struct rn_sockaddr_in to = {.sin_addr = ADDR_B, .sin_port = 7000};
    struct rec ra = {0};
    unsigned before = rb->n;

    submit(P.pb, RN_SOP_RECV, hb, in, inlen, NULL, rb);
    submit(P.pa, RN_SOP_SEND, ha, "ping", 4, &to, &ra);
    run_for(RN_MSEC(50));
    return rb->n > before && rb->c[rb->n - 1].sc_result == 4;
}

/* The example link filter: stacked on b's interface at load, it counts
 * IPv4 frames; told to block IPv4 it drops them (counted), and unloading
 * takes it out of the chain at once: datagrams get through again, the
 * interface's chain is as before, nothing is held. */
static void test_example_link_filter(void **state)
{
    static struct rec rb;
    struct link_vals lv = {0};
    struct row_seen rs = {0};
    struct rn_link *top;
    char err[256], in1[16], in2[16];
    int e, hb, ha;

    (void)state;
    fpair_up();
    e = rn_plugin_load(P.b, filter_example_path(), "nosuch0", NULL, err, sizeof(err));
    assert_int_equal(e, RN_ENOENT);
    assert_non_null(strstr(err, "ethcount refused to load: no interface 'nosuch0'"));
    top = rn_iface_link(P.ifb);
    e = rn_plugin_load(P.b, filter_example_path(), "sim0", NULL, err, sizeof(err));
    if (e != 0)
        fail_msg("load: %s", err);
    assert_string_equal(rn_link_kind(rn_iface_link(P.ifb)), "plugin");
    assert_string_equal(rn_link_name(rn_iface_link(P.ifb)), "ethcount");
    assert_ptr_equal(rn_link_lower(rn_iface_link(P.ifb)), top);
    assert_int_equal(objects_held_by("filter:ethcount"), 1);  /* the interface */
    rn_plugin_rows(P.b, row_fn, &rs);
    assert_int_equal(rs.last.pr_filters, 1);
    hb = udp_bound(P.pb, 7000);
    ha = udp_bound(P.pa, 7001);
    memset(&rb, 0, sizeof(rb));
    assert_true(udp_gets_through(hb, ha, &rb, in1, sizeof(in1)));
    rn_link_values(rn_iface_link(P.ifb), vals_fn, &lv);
    assert_string_equal(lv.block, "none");
    assert_true(lv.rx_ipv4 >= 1);
    assert_int_equal(lv.blocked_rx, 0);
    assert_int_equal(rn_plugin_unload(P.b, "ethcount", NULL), 0);
    run_for(RN_MSEC(1));
    assert_ptr_equal(rn_iface_link(P.ifb), top);
    assert_int_equal(objects_held_by("filter:ethcount"), 0);

    /* Blocking IPv4: the datagram is dropped by the filter, and counted. */
    e = rn_plugin_load(P.b, filter_example_path(), "sim0,block=0x0800", NULL, err, sizeof(err));
    if (e != 0)
        fail_msg("load: %s", err);
    assert_false(udp_gets_through(hb, ha, &rb, in2, sizeof(in2)));
    memset(&lv, 0, sizeof(lv));
    rn_link_values(rn_iface_link(P.ifb), vals_fn, &lv);
    assert_string_equal(lv.block, "0x0800");
    assert_true(lv.blocked_rx >= 1);
    assert_int_equal(rn_plugin_unload(P.b, "ethcount", NULL), 0);
    run_for(RN_MSEC(1));
    /* The receive still waiting gets the next datagram. */
    {
        struct rn_sockaddr_in to = {.sin_addr = ADDR_B, .sin_port = 7000};
        struct rec ra = {0};

        submit(P.pa, RN_SOP_SEND, ha, "ping", 4, &to, &ra);
        run_for(RN_MSEC(50));
        assert_int_equal(rb.n, 2);
        assert_int_equal(rb.c[1].sc_result, 4);
    }
    assert_ptr_equal(rn_iface_link(P.ifb), top);
    assert_int_equal(count_type("plug-in"), 0);
    fpair_down();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plugin_files_refused),
        cmocka_unit_test(test_leaking_plugin_named_by_file_and_site),
        cmocka_unit_test(test_example_plugin_unloads_at_once),
        cmocka_unit_test(test_plugin_route_cache_blocks_iface_removal),
        cmocka_unit_test(test_plugin_filter_holds_wait),
        cmocka_unit_test(test_example_link_filter),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
