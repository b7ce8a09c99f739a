/*
 * Plug-ins (plugin.h): callouts loaded from shared objects into a running
 * stack, and unloaded once nothing of theirs is held.
 *
 * Loading:
 *   rn_plugin_load() -> open the file, check owner and mode on the open
 *     descriptor -> dlopen() it through /proc/self/fd (what was checked is
 *     what is mapped) -> RN_PLUGIN_SYMBOL, its ABI and name -> the
 *     "plug-in" object -> pd_load(), which registers callouts
 *
 * Unloading:
 *   rn_plugin_unload() -> pd_unload() -> the filters naming its callouts
 *     go -> each callout is retired (its registration killed) and the
 *     plug-in waits ("unload") for each registration's release, which the
 *     callout's flow contexts and pended operations hold off -> the last
 *     release posts plugin_done() to the loop -> dlclose(), the plug-in
 *     object let go
 * Link filters (rn_plugin_filter_attach()): a link of kind "plugin" that
 * refnet stacks on an interface and that calls the plug-in's frame hooks;
 * it holds the interface under "filter:NAME".  Unloading takes each out
 * of its chain (rn_iface_filter_remove()) and frees it before anything
 * else, so that no frame reaches the plug-in's code again; an interface
 * removed first closes its filters with its chain (pf_gone).
 * Holds under its tags: a plug-in's code may also take references of its
 * own under "callout:NAME" or "filter:NAME" (a route cache, say).  Once
 * its registrations are released, each of its tags that still holds
 * anything (rn_tag_holds()) gets a "plug-in holder" object, dying and held
 * under "plugin.holds" until the tag holds nothing, which a timer checks
 * every PLUGIN_POLL; the plug-in waits ("unload") for each, and its file
 * stays mapped until the last goes.
 * So a plug-in that never lets go is a chain: the plug-in (its file in
 * its description) waits for its registration, held under its callout's
 * tag, or for its holder; the verdict names the objects the callout or
 * filter still holds and where it took them (verdict.c).
 *
 * Who holds a plug-in object: "create" while it is loaded, "plugin.file"
 * while its file is mapped (until the last registration and holder are
 * released).  Who holds a plug-in holder: "plugin.holds", while its tag
 * holds something.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/once.h"
#include "filter/filter_priv.h"
#include "refnet/error.h"
#include "refnet/plugin.h"
#include "refnet/report.h"
#include "refnet/runtime.h"
#include "refnet/stack.h"

/* A plug-in's link filter, on an interface's chain. */
struct plugin_filter {
    struct rn_link pf_link;                    /* first: the link */
    struct rn_plugin *pf_pl;                   /* [L] NULL once its interface closed it */
    struct rn_iface *pf_ifp;                   /* [I] held under pf_tag */
    rn_tag_t pf_tag;                           /* [I] "filter:NAME" */
    const struct rn_plugin_filter_ops *pf_ops; /* [I] the plug-in's */
    void *pf_ctx;                              /* [I] */
    uint64_t pf_blocked_rx;                    /* [L] frames its pf_rx dropped */
    uint64_t pf_blocked_tx;                    /* [L] frames its pf_tx dropped */
};

/* The most tags a plug-in's holds are taken under: one per callout and
 * one per distinct filter name. */
#define PLUGIN_TAGS_MAX (RN_PLUGIN_CALLOUTS_MAX + RN_PLUGIN_FILTERS_MAX)
/* How often an unloading plug-in's holders look at their tags. */
#define PLUGIN_POLL RN_MSEC(100)

/* One tag of an unloading plug-in that still held something when its
 * registrations were gone: an object of type "plug-in holder". */
struct plugin_holder {
    struct rn_plugin *ph_pl;  /* [I] */
    rn_tag_t ph_tag;          /* [I] "callout:NAME" or "filter:NAME" */
};

struct rn_plugin {
    struct filter_engine *pl_fe;             /* [I] */
    struct rn_plugin *pl_next;               /* [L] on fe_plugins */
    void *pl_dl;                             /* [L] the mapped file, NULL once closed */
    const struct rn_plugin_desc *pl_desc;    /* [I] what it exports */
    char pl_name[RN_PLUGIN_NAME_MAX + 1];    /* [I] */
    char pl_version[64];                     /* [I] */
    char pl_path[PATH_MAX];                  /* [I] the file, as given */
    char pl_args[256];                       /* [I] */
    struct rn_callout *pl_callouts[RN_PLUGIN_CALLOUTS_MAX]; /* [L] */
    unsigned pl_ncallouts;                   /* [L] */
    struct rn_ob_wait pl_waits[RN_PLUGIN_CALLOUTS_MAX];  /* [L] unload's waits */
    struct plugin_filter *pl_filters[RN_PLUGIN_FILTERS_MAX]; /* [L] attached, NULL once gone */
    unsigned pl_nfilters;                    /* [L] slots used */
    rn_tag_t pl_tags[PLUGIN_TAGS_MAX];       /* [L] the tags its holds carry */
    unsigned pl_ntags;                       /* [L] */
    struct plugin_holder *pl_holders[PLUGIN_TAGS_MAX]; /* [L] unload's, NULL once let go */
    struct rn_ob_wait pl_hwaits[PLUGIN_TAGS_MAX]; /* [L] unload's waits for them */
    unsigned pl_nholders;                    /* [L] slots used */
    struct rn_timer pl_poll;                 /* [L] looks at the holders' tags */
    _Atomic unsigned pl_pending;             /* [A] registrations (then holders)
                                                not yet released */
    _Atomic bool pl_unloading;               /* [A] unload begun */
    bool pl_loading;                         /* [L] inside pd_load */
    bool pl_holders_begun;                   /* [L] unload reached its holders */
    struct rn_work pl_done;                  /* [L] plugin_done(), posted */
};

static void plugin_filters_detach(struct rn_plugin *pl);

static struct rn_ob_type *plugin_type;
static struct rn_ob_type *holder_type;
static rn_tag_t tag_file;
static rn_tag_t tag_holds;
static struct rn_once plugin_once = RN_ONCE_INIT;

static void plugin_describe(const void *ob, char *buf, size_t len)
{
    const struct rn_plugin *pl = ob;

    if (pl->pl_name[0] == '\0')
        return;
    snprintf(buf, len, "plug-in %s%s%s %s, %u callout%s%s", pl->pl_name,
             pl->pl_version[0] ? " " : "", pl->pl_version, pl->pl_path, pl->pl_ncallouts,
             pl->pl_ncallouts == 1 ? "" : "s",
             atomic_load_explicit(&pl->pl_unloading, memory_order_relaxed) ? ", unloading" : "");
}

static const struct rn_ob_type_ops plugin_ops = {
    .name = "plug-in",
    .size = sizeof(struct rn_plugin),
    .describe = plugin_describe,
};

/* "holder filter:drop of plug-in acme: holds 2 objects" (verdict.c reads
 * the tag and the plug-in's name from it). */
static void holder_describe(const void *ob, char *buf, size_t len)
{
    const struct plugin_holder *ph = ob;
    uint32_t n = rn_tag_holds(ph->ph_tag);

    if (ph->ph_pl == NULL)
        return;
    snprintf(buf, len, "holder %s of plug-in %s: holds %" PRIu32 " object%s",
             rn_tag_name(ph->ph_tag), ph->ph_pl->pl_name, n, n == 1 ? "" : "s");
}

static const struct rn_ob_type_ops holder_ops = {
    .name = "plug-in holder",
    .size = sizeof(struct plugin_holder),
    .describe = holder_describe,
};

static const struct rn_ob_holder plugin_holders[] = {
    {"create", 0, 0, 0, "expected: loaded until unloaded"},
    {"plugin.file", 0, RN_HOLD_DYING, 0,
     "expected: its file stays mapped while its callouts or filters hold anything"},
};
static const struct rn_ob_contract plugin_contract = {plugin_holders, 2, NULL, 0, 0};
static const struct rn_ob_holder holder_holders[] = {
    {"create", 0, 0, 0, "expected: only while it is set up"},
    {"plugin.holds", 0, RN_HOLD_DYING, 0,
     "expected: until its tag holds nothing"},
};
static const struct rn_ob_contract holder_contract = {holder_holders, 2, NULL, 0, 0};

static bool plugin_types(void)
{
    plugin_type = rn_ob_type_register(&plugin_ops);
    holder_type = rn_ob_type_register(&holder_ops);
    tag_file = rn_tag_intern("plugin.file");
    tag_holds = rn_tag_intern("plugin.holds");
    return plugin_type != NULL && holder_type != NULL && tag_file != RN_TAG_NONE &&
           tag_holds != RN_TAG_NONE &&
           rn_ob_type_set_contract(plugin_type, &plugin_contract) == 0 &&
           rn_ob_type_set_contract(holder_type, &holder_contract) == 0;
}

/* Adds tag to the tags pl's holds carry, once. */
static void plugin_tag_add(struct rn_plugin *pl, rn_tag_t tag)
{
    unsigned i;

    for (i = 0; i < pl->pl_ntags; i++)
        if (pl->pl_tags[i] == tag)
            return;
    if (pl->pl_ntags < PLUGIN_TAGS_MAX)
        pl->pl_tags[pl->pl_ntags++] = tag;
}

static int plerr(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int plerr(char *err, size_t errlen, int code, const char *fmt, ...)
{
    va_list ap;

    if (err != NULL && errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

static bool name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0, i;

    if (n == 0 || n > RN_PLUGIN_NAME_MAX)
        return false;
    for (i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
              s[i] == '_'))
            return false;
    return true;
}

static struct rn_plugin *plugin_find(struct filter_engine *fe, const char *name)
{
    struct rn_plugin *pl;

    for (pl = fe->fe_plugins; pl != NULL; pl = pl->pl_next)
        if (strcmp(pl->pl_name, name) == 0)
            return pl;
    return NULL;
}

static void plugin_unlink(struct rn_plugin *pl)
{
    struct rn_plugin **pp = &pl->pl_fe->fe_plugins;

    while (*pp != NULL && *pp != pl)
        pp = &(*pp)->pl_next;
    if (*pp == pl)
        *pp = pl->pl_next;
}

/* Opens path and checks that it may be mapped: a regular file, owned by
 * root or by this process's user, not writable by everyone.  Returns the
 * descriptor, or a negative code with err set. */
static int open_checked(const char *path, char *err, size_t errlen)
{
    struct stat sb;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return plerr(err, errlen, errno == ENOENT ? RN_ENOENT : RN_EACCES,
                     "plug-in '%s': cannot open it: %s", path, strerror(errno));
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return plerr(err, errlen, RN_EACCES, "plug-in '%s': not a regular file", path);
    }
    if (sb.st_uid != 0 && sb.st_uid != geteuid()) {
        close(fd);
        return plerr(err, errlen, RN_EACCES, "plug-in '%s': refused: owned by uid %u, neither "
                     "root nor the user running refnet (uid %u)", path, (unsigned)sb.st_uid,
                     (unsigned)geteuid());
    }
    if (sb.st_mode & S_IWOTH) {
        close(fd);
        return plerr(err, errlen, RN_EACCES, "plug-in '%s': refused: writable by everyone "
                     "(mode %04o)", path, (unsigned)(sb.st_mode & 07777));
    }
    return fd;
}

int rn_plugin_load(struct rn_stack *st, const char *path, const char *args,
                   struct rn_plugin **out, char *err, size_t errlen)
{
    struct filter_engine *fe = rn__filter_engine(st);
    const struct rn_plugin_desc *d;
    struct rn_plugin *pl;
    char fdpath[64], why[200] = "";
    void *dl;
    int fd, e;
    unsigned i;

    if (fe == NULL || fe->fe_fini || path == NULL || path[0] == '\0')
        return plerr(err, errlen, RN_EINVAL, "plug-in: no filtering platform on this stack, "
                     "or no file named");
    if (strlen(path) >= sizeof(pl->pl_path) || (args != NULL && strlen(args) >= sizeof(pl->pl_args)))
        return plerr(err, errlen, RN_EINVAL, "plug-in '%.64s': path or arguments too long", path);
    if (!rn_once(&plugin_once, plugin_types))
        return plerr(err, errlen, RN_ENOMEM, "plug-in '%s': out of memory", path);
    fd = open_checked(path, err, errlen);
    if (fd < 0)
        return fd;
    /* Map what was checked, not whatever the path names by now. */
    snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fd);
    dl = dlopen(fdpath, RTLD_NOW | RTLD_LOCAL);
    close(fd);
    if (dl == NULL)
        return plerr(err, errlen, RN_EINVAL, "plug-in '%s': cannot load it: %s", path,
                     dlerror());
    d = dlsym(dl, RN_PLUGIN_SYMBOL);
    if (d == NULL) {
        dlclose(dl);
        return plerr(err, errlen, RN_EINVAL, "plug-in '%s': not a refnet plug-in (no symbol %s)",
                     path, RN_PLUGIN_SYMBOL);
    }
    if (d->pd_abi != RN_PLUGIN_ABI) {
        dlclose(dl);
        return plerr(err, errlen, RN_ENOTSUP, "plug-in '%s': built for plug-in ABI %u; this "
                     "refnet implements ABI %d", path, d->pd_abi, RN_PLUGIN_ABI);
    }
    if (!name_ok(d->pd_name) || d->pd_load == NULL) {
        dlclose(dl);
        return plerr(err, errlen, RN_EINVAL, "plug-in '%s': bad name (1 to %d of a-z 0-9 - _) "
                     "or no pd_load", path, RN_PLUGIN_NAME_MAX);
    }
    if (plugin_find(fe, d->pd_name) != NULL) {
        dlclose(dl);
        return plerr(err, errlen, RN_EEXIST, "plug-in '%s': a plug-in named %s is loaded "
                     "already", path, d->pd_name);
    }
    pl = rn_ob_create(plugin_type, RN_TAG_CREATE);
    if (pl == NULL) {
        dlclose(dl);
        return plerr(err, errlen, RN_ENOMEM, "plug-in '%s': out of memory", path);
    }
    pl->pl_fe = fe;
    pl->pl_dl = dl;
    pl->pl_desc = d;
    snprintf(pl->pl_version, sizeof(pl->pl_version), "%s", d->pd_version ? d->pd_version : "");
    snprintf(pl->pl_path, sizeof(pl->pl_path), "%s", path);
    snprintf(pl->pl_args, sizeof(pl->pl_args), "%s", args ? args : "");
    snprintf(pl->pl_name, sizeof(pl->pl_name), "%s", d->pd_name);
    rn_ob_ref(pl, tag_file);
    rn_ob_publish(pl);
    pl->pl_loading = true;
    e = d->pd_load(pl, st, pl->pl_args, why, sizeof(why));
    pl->pl_loading = false;
    if (e < 0) {
        char name[RN_PLUGIN_NAME_MAX + 1];

        snprintf(name, sizeof(name), "%s", pl->pl_name);
        /* Undo what it registered; what it pended or holds already makes
         * this a failure to unregister, left as it is and reported. */
        for (i = 0; i < pl->pl_ncallouts; i++)
            if (rn_callout_unregister(pl->pl_callouts[i]) < 0)
                rn_report(RN_REPORT_LEAK, "plug-in %s (%s): its load failed, and callout %s "
                          "holds what it took meanwhile\n", pl->pl_name, path,
                          rn_callout_name(pl->pl_callouts[i]));
        pl->pl_ncallouts = 0;
        plugin_filters_detach(pl);
        pl->pl_dl = NULL;
        dlclose(dl);
        rn_ob_deref(pl, tag_file);
        rn_ob_kill(pl);
        return plerr(err, errlen, e, "plug-in '%s': %s refused to load: %s", path, name,
                     why[0] ? why : rn_strerror(e));
    }
    /* Oldest first, so `plugin list` keeps the order of loading. */
    {
        struct rn_plugin **pp = &fe->fe_plugins;

        while (*pp != NULL)
            pp = &(*pp)->pl_next;
        *pp = pl;
    }
    if (out != NULL)
        *out = pl;
    return 0;
}

int rn_plugin_callout_register(struct rn_plugin *pl, const struct rn_callout_ops *ops, void *ctx,
                               struct rn_callout **out)
{
    struct rn_callout *co;
    int e;

    if (pl == NULL || !pl->pl_loading)
        return RN_EINVAL;
    if (pl->pl_ncallouts == RN_PLUGIN_CALLOUTS_MAX)
        return RN_ENOSPC;
    e = rn_callout_register(pl->pl_fe->fe_stack, ops, ctx, &co);
    if (e < 0)
        return e;
    pl->pl_callouts[pl->pl_ncallouts++] = co;
    plugin_tag_add(pl, co->co_tag);
    if (out != NULL)
        *out = co;
    return 0;
}

/* ---- Link filters ---------------------------------------------------------- */

/* Runs the hook over a batch in place: the frames it blocks are freed and
 * counted, the others close up.  Returns how many pass. */
static unsigned pf_run(int (*hook)(void *, const struct rn_netbuf *), void *ctx,
                       struct rn_netbuf **pkts, unsigned n, uint64_t *blocked)
{
    unsigned i, j = 0;

    if (hook == NULL)
        return n;
    for (i = 0; i < n; i++) {
        if (hook(ctx, pkts[i]) == RN_FILTER_BLOCK) {
            rn_nb_free(pkts[i]);
            (*blocked)++;
        } else {
            pkts[j++] = pkts[i];
        }
    }
    return j;
}

static int pf_tx(struct rn_link *link, struct rn_netbuf **pkts, unsigned n, rn_time_t now)
{
    struct plugin_filter *pf = (struct plugin_filter *)link;
    unsigned pass = pf_run(pf->pf_ops->pf_tx, pf->pf_ctx, pkts, n, &pf->pf_blocked_tx), i;
    int sent = 0;

    link->lk_stats.ls_tx_frames += pass;
    for (i = 0; i < pass; i++)
        link->lk_stats.ls_tx_bytes += pkts[i]->nb_pktlen;
    if (pass > 0)
        sent = rn_link_tx(link->lk_lower, pkts, pass, now);
    /* What the filter blocked counts as accepted: loss the sender cannot see. */
    return sent < 0 ? sent : sent + (int)(n - pass);
}

static int pf_rx(struct rn_link *link, struct rn_netbuf **pkts, unsigned max, rn_time_t now)
{
    struct plugin_filter *pf = (struct plugin_filter *)link;
    int n = rn_link_rx(link->lk_lower, pkts, max, now);
    unsigned pass, i;

    if (n <= 0)
        return n;
    pass = pf_run(pf->pf_ops->pf_rx, pf->pf_ctx, pkts, (unsigned)n, &pf->pf_blocked_rx);
    link->lk_stats.ls_rx_frames += pass;
    for (i = 0; i < pass; i++)
        link->lk_stats.ls_rx_bytes += pkts[i]->nb_pktlen;
    return (int)pass;
}

static void pf_values(struct rn_link *link, rn_value_fn fn, void *ctx)
{
    struct plugin_filter *pf = (struct plugin_filter *)link;

    rn_value_text(fn, ctx, "plug-in", pf->pf_pl != NULL ? pf->pf_pl->pl_name : "(unloaded)");
    rn_value_counter(fn, ctx, "blocked_rx", pf->pf_blocked_rx);
    rn_value_counter(fn, ctx, "blocked_tx", pf->pf_blocked_tx);
    if (pf->pf_ops->pf_values != NULL)
        pf->pf_ops->pf_values(pf->pf_ctx, fn, ctx);
}

/* Frees pf once it is out of its chain or closed with it. */
static void pf_free(struct plugin_filter *pf)
{
    struct rn_plugin *pl = pf->pf_pl;
    unsigned i;

    if (pl != NULL)
        for (i = 0; i < pl->pl_nfilters; i++)
            if (pl->pl_filters[i] == pf)
                pl->pl_filters[i] = NULL;
    rn_ob_deref(pf->pf_ifp, pf->pf_tag);
    free(pf);
}

/* The interface closes its chain (removed, or the stack goes). */
static void pf_close(struct rn_link *link)
{
    struct plugin_filter *pf = (struct plugin_filter *)link;

    rn_link_close(link->lk_lower);
    pf_free(pf);
}

static const struct rn_link_ops pf_link_ops = {
    .kind = "plugin",
    .tx = pf_tx,
    .rx = pf_rx,
    .values = pf_values,
    .close = pf_close,
    .tx_keeps_none = true,
};

int rn_plugin_filter_attach(struct rn_plugin *pl, struct rn_stack *st, const char *iface,
                            const struct rn_plugin_filter_ops *ops, void *ctx)
{
    char tag[RN_TAG_NAME_MAX + 1];
    struct plugin_filter *pf;
    struct rn_iface *ifp;
    unsigned slot;

    if (pl == NULL || ops == NULL || !name_ok(ops->pf_name) || iface == NULL ||
        st != pl->pl_fe->fe_stack || atomic_load_explicit(&pl->pl_unloading, memory_order_relaxed))
        return RN_EINVAL;
    ifp = rn_stack_iface(st, iface);
    if (ifp == NULL)
        return RN_ENOENT;
    for (slot = 0; slot < pl->pl_nfilters && pl->pl_filters[slot] != NULL; slot++)
        ;
    if (slot == RN_PLUGIN_FILTERS_MAX)
        return RN_ENOSPC;
    snprintf(tag, sizeof(tag), "filter:%s", ops->pf_name);
    pf = calloc(1, sizeof(*pf));
    if (pf == NULL || (pf->pf_tag = rn_tag_intern(tag)) == RN_TAG_NONE) {
        free(pf);
        return RN_ENOMEM;
    }
    pf->pf_pl = pl;
    pf->pf_ifp = ifp;
    pf->pf_ops = ops;
    pf->pf_ctx = ctx;
    rn_link_init(&pf->pf_link, &pf_link_ops, rn_iface_link(ifp), ops->pf_name);
    if (rn_iface_filter_push(ifp, &pf->pf_link) < 0) {
        free(pf);
        return RN_EINVAL;
    }
    rn_ob_ref(ifp, pf->pf_tag);
    plugin_tag_add(pl, pf->pf_tag);
    pl->pl_filters[slot] = pf;
    if (slot == pl->pl_nfilters)
        pl->pl_nfilters++;
    return 0;
}

/* Takes pl's filters out of their chains and frees them. */
static void plugin_filters_detach(struct rn_plugin *pl)
{
    unsigned i;

    for (i = 0; i < pl->pl_nfilters; i++) {
        struct plugin_filter *pf = pl->pl_filters[i];

        if (pf == NULL)
            continue;
        (void)rn_iface_filter_remove(pf->pf_ifp, &pf->pf_link);
        pf_free(pf);
    }
    pl->pl_nfilters = 0;
}

static unsigned plugin_nfilters(const struct rn_plugin *pl)
{
    unsigned i, n = 0;

    for (i = 0; i < pl->pl_nfilters; i++)
        n += pl->pl_filters[i] != NULL;
    return n;
}

static void registration_released(struct rn_ob_wait *w, void *ctx);

/* Lets go of ph: its tag holds nothing now, or the stack goes. */
static void holder_let_go(struct plugin_holder *ph, unsigned slot)
{
    ph->ph_pl->pl_holders[slot] = NULL;
    rn_ob_deref(ph, tag_holds);
}

/* On the loop, every PLUGIN_POLL while pl has holders: those whose tag
 * holds nothing any more go, which may finish the unload. */
static void plugin_poll(struct rn_timer *t, rn_time_t now)
{
    struct rn_plugin *pl = (struct rn_plugin *)((char *)t - offsetof(struct rn_plugin, pl_poll));
    unsigned i, left = 0;

    for (i = 0; i < pl->pl_nholders; i++) {
        struct plugin_holder *ph = pl->pl_holders[i];

        if (ph == NULL)
            continue;
        if (rn_tag_holds(ph->ph_tag) == 0)
            holder_let_go(ph, i);  /* its release calls registration_released() */
        else
            left++;
    }
    if (left > 0)
        (void)rn_timer_arm(rn_stack_timers(pl->pl_fe->fe_stack), &pl->pl_poll,
                           now + PLUGIN_POLL);
}

/* For each of pl's tags that still holds something, a holder the unload
 * waits for.  Returns how many it waits for. */
static unsigned plugin_holders_begin(struct rn_plugin *pl)
{
    struct rn_stack *st = pl->pl_fe->fe_stack;
    unsigned i;

    pl->pl_holders_begun = true;
    rn_timer_init(&pl->pl_poll, plugin_poll);
    /* Only plugin_poll(), on this thread and later, lets a holder go. */
    atomic_store_explicit(&pl->pl_pending, 0, memory_order_relaxed);
    for (i = 0; i < pl->pl_ntags; i++) {
        struct plugin_holder *ph;

        if (rn_tag_holds(pl->pl_tags[i]) == 0)
            continue;
        ph = rn_ob_create(holder_type, RN_TAG_CREATE);
        if (ph == NULL) {
            rn_report(RN_REPORT_LEAK, "plug-in %s (%s): out of memory for the holder of '%s', "
                      "which still holds %" PRIu32 " object(s); its file stays mapped\n",
                      pl->pl_name, pl->pl_path, rn_tag_name(pl->pl_tags[i]),
                      rn_tag_holds(pl->pl_tags[i]));
            pl->pl_dl = NULL;  /* never closed under the holds */
            continue;
        }
        ph->ph_pl = pl;
        ph->ph_tag = pl->pl_tags[i];
        rn_ob_ref(ph, tag_holds);
        rn_ob_publish(ph);
        pl->pl_holders[pl->pl_nholders] = ph;
        atomic_fetch_add_explicit(&pl->pl_pending, 1, memory_order_relaxed);
        if (rn_ob_wait_release(ph, &pl->pl_hwaits[pl->pl_nholders++], pl, "unload",
                               registration_released, pl) < 0)
            atomic_fetch_sub_explicit(&pl->pl_pending, 1, memory_order_relaxed);
        rn_ob_kill(ph);
    }
    if (atomic_load_explicit(&pl->pl_pending, memory_order_relaxed) == 0)
        return 0;
    (void)rn_timer_arm(rn_stack_timers(st), &pl->pl_poll, rn_stack_now(st) + PLUGIN_POLL);
    return atomic_load_explicit(&pl->pl_pending, memory_order_relaxed);
}

/* On the loop, once every registration of pl is released, and again once
 * every holder is: then nothing of the plug-in can run or be named any
 * more. */
static void plugin_done(struct rn_stack *st, struct rn_work *w)
{
    struct rn_plugin *pl = (struct rn_plugin *)((char *)w - offsetof(struct rn_plugin, pl_done));
    void *dl;

    (void)st;
    if (!pl->pl_holders_begun && plugin_holders_begin(pl) > 0)
        return;
    dl = pl->pl_dl;
    plugin_unlink(pl);
    pl->pl_dl = NULL;
    if (dl != NULL)
        dlclose(dl);
    rn_ob_deref(pl, tag_file);
}

/* A registration of an unloading plug-in was released (any thread). */
static void registration_released(struct rn_ob_wait *w, void *ctx)
{
    struct rn_plugin *pl = ctx;

    (void)w;
    if (atomic_fetch_sub_explicit(&pl->pl_pending, 1, memory_order_acq_rel) == 1)
        rn_stack_post(pl->pl_fe->fe_stack, &pl->pl_done, plugin_done);
}

int rn_plugin_unload(struct rn_stack *st, const char *name, unsigned *filters_deleted)
{
    struct filter_engine *fe = rn__filter_engine(st);
    struct rn_plugin *pl = fe != NULL && name != NULL ? plugin_find(fe, name) : NULL;
    unsigned i, n = 0;

    if (pl == NULL)
        return RN_ENOENT;
    if (atomic_load_explicit(&pl->pl_unloading, memory_order_relaxed))
        return RN_EALREADY;
    atomic_store_explicit(&pl->pl_unloading, true, memory_order_relaxed);
    if (pl->pl_desc->pd_unload != NULL)
        pl->pl_desc->pd_unload(pl, st);
    plugin_filters_detach(pl);
    for (i = 0; i < pl->pl_ncallouts; i++)
        n += rn__filter_del_callout(fe, pl->pl_callouts[i]);
    if (filters_deleted != NULL)
        *filters_deleted = n;
    /* One for each registration, and one for this call, so that releases
     * during the loop cannot finish the unload under it. */
    atomic_store_explicit(&pl->pl_pending, pl->pl_ncallouts + 1, memory_order_relaxed);
    for (i = 0; i < pl->pl_ncallouts; i++) {
        struct rn_callout *co = pl->pl_callouts[i];

        if (rn_ob_wait_release(co, &pl->pl_waits[i], pl, "unload", registration_released,
                               pl) < 0)
            atomic_fetch_sub_explicit(&pl->pl_pending, 1, memory_order_relaxed);
        rn__callout_retire(co);
    }
    rn_ob_kill(pl);  /* its "plugin.file" hold keeps it until plugin_done() */
    registration_released(NULL, pl);
    return 0;
}

void rn__plugins_fini(struct filter_engine *fe)
{
    while (fe->fe_plugins != NULL) {
        struct rn_plugin *pl = fe->fe_plugins;
        bool unloading = atomic_load_explicit(&pl->pl_unloading, memory_order_relaxed);
        unsigned i;

        fe->fe_plugins = pl->pl_next;
        pl->pl_next = NULL;
        plugin_filters_detach(pl);
        if (unloading) {
            /* Its callouts or filters hold something still: the stack's
             * leak report names them; the file stays mapped, the waits
             * and holders go. */
            for (i = 0; i < pl->pl_ncallouts; i++)
                rn_ob_wait_cancel(&pl->pl_waits[i]);
            if (pl->pl_holders_begun)
                rn_timer_cancel(rn_stack_timers(fe->fe_stack), &pl->pl_poll);
            for (i = 0; i < pl->pl_nholders; i++) {
                struct plugin_holder *ph = pl->pl_holders[i];

                if (ph != NULL && rn_ob_wait_cancel(&pl->pl_hwaits[i]))
                    holder_let_go(ph, i);
            }
            rn_report(RN_REPORT_LEAK, "plug-in %s (%s): unloading when the stack went; its "
                      "callouts or filters still held what they took\n", pl->pl_name,
                      pl->pl_path);
            continue;
        }
        /* Its callouts were told (co_unregister) and killed with the rest. */
        pl->pl_dl = NULL;  /* left mapped: a leaked hold may still name its strings */
        rn_ob_deref(pl, tag_file);
        rn_ob_kill(pl);
    }
}

const char *rn_plugin_name(const struct rn_plugin *pl)
{
    return pl->pl_name;
}

const char *rn_plugin_path(const struct rn_plugin *pl)
{
    return pl->pl_path;
}

void rn_plugin_rows(struct rn_stack *st, rn_plugin_row_fn fn, void *ctx)
{
    struct filter_engine *fe = rn__filter_engine(st);
    struct rn_plugin *pl;

    for (pl = fe ? fe->fe_plugins : NULL; pl != NULL; pl = pl->pl_next) {
        struct rn_plugin_row r = {
            .pr_name = pl->pl_name,
            .pr_version = pl->pl_version,
            .pr_path = pl->pl_path,
            .pr_args = pl->pl_args,
            .pr_id = rn_ob_id(pl),
            .pr_callouts = pl->pl_ncallouts,
            .pr_unloading = atomic_load_explicit(&pl->pl_unloading, memory_order_relaxed),
            .pr_filters = plugin_nfilters(pl),
        };
        unsigned i;

        for (i = 0; i < pl->pl_ntags; i++)
            r.pr_held += rn_tag_holds(pl->pl_tags[i]);

        if (r.pr_unloading) {
            /* Its registrations may be gone already: count those left
             * (none once its holders are what it waits for). */
            unsigned left = atomic_load_explicit(&pl->pl_pending, memory_order_relaxed);

            r.pr_callouts = left > 0 && !pl->pl_holders_begun ? left - 1 : 0;
        } else {
            for (i = 0; i < pl->pl_ncallouts; i++) {
                r.pr_flows += atomic_load_explicit(&pl->pl_callouts[i]->co_nflows,
                                                   memory_order_relaxed);
                r.pr_pended += atomic_load_explicit(&pl->pl_callouts[i]->co_npends,
                                                    memory_order_relaxed);
            }
        }
        fn(&r, ctx);
    }
}
