/*
 * The service controller (service.h): service objects, their states, the
 * process each runs in, start, stop with its waiters and timeouts, the
 * listing, and the holder of a port a start needs.
 *
 * Start, in call order (rn_svc_start()):
 *   STOP_PENDING? -> the ports' holders are checked (RN_EADDRINUSE naming
 *   one, else RN_EBUSY) -> START_PENDING -> rn_proc_create() named after
 *   the service, owner "service NAME", held under "service" -> sk_start()
 *   -> RUNNING; or, on failure, the stop below without a halt, and the
 *   message gains the holder of a port the start found taken.
 * Stop (rn_svc_stop(), rn_svcctl_stop_all()):
 *   STOP_PENDING -> sk_halt() -> wait "stop" (waiter: the service) on the
 *   process -> rn_proc_exit() -> drop "service"
 *   ... process released -> svc_proc_released() [any] -> posted
 *   -> svc_stopped() [L]: sk_released(), STOPPED, waiters told 0.
 * A waiter's timeout (a stack timer) tells it RN_ETIMEDOUT and leaves the
 * service STOP_PENDING.
 *
 * The controller hooks the stack's destruction: the waiters still waiting
 * hear RN_ECANCELED and their timers go before the stack's timer heap
 * does; the stops themselves go on, and complete inside rn_stack_destroy()
 * when the socket layer runs the processes down.
 */
#include <assert.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/once.h"
#include "net/net.h"
#include "refnet/diag.h"
#include "refnet/error.h"
#include "refnet/object.h"
#include "refnet/service.h"
#include "refnet/snapshot.h"
#include "refnet/socket.h"
#include "refnet/strbuf.h"
#include "svc/svc_priv.h"
#include "transport/tcp.h"

static const char *const state_names[] = {
    [RN_SVC_STOPPED] = "STOPPED",
    [RN_SVC_START_PENDING] = "START_PENDING",
    [RN_SVC_RUNNING] = "RUNNING",
    [RN_SVC_STOP_PENDING] = "STOP_PENDING",
};

const char *rn_svc_state_name(enum rn_svc_state state)
{
    return (unsigned)state < 4 ? state_names[state] : "?";
}

/* Writes n bytes as "12.0MB", "512kB", "80B" (powers of 1000). */
static void svc_fmt_bytes(uint64_t n, char *buf, size_t len)
{
    if (n >= 1000000000u)
        snprintf(buf, len, "%.1fGB", (double)n / 1e9);
    else if (n >= 1000000u)
        snprintf(buf, len, "%.1fMB", (double)n / 1e6);
    else if (n >= 1000u)
        snprintf(buf, len, "%.1fkB", (double)n / 1e3);
    else
        snprintf(buf, len, "%" PRIu64 "B", n);
}

/* ---- The object type ---------------------------------------------------- */

static void svc_describe(const void *ob, char *buf, size_t len)
{
    const struct rn_svc *svc = ob;

    if (!atomic_load_explicit(&svc->sv_ready, memory_order_acquire))
        return;  /* still being created */
    snprintf(buf, len, "service %s %s", svc->sv_name,
             rn_svc_state_name(atomic_load_explicit(&svc->sv_state, memory_order_relaxed)));
    if (atomic_load_explicit(&svc->sv_drain.dr_shown, memory_order_acquire)) {
        const struct svc_drain *d = &svc->sv_drain;
        uint32_t conns = atomic_load_explicit(&d->dr_conns, memory_order_relaxed);
        uint64_t stalled = atomic_load_explicit(&d->dr_stalled, memory_order_relaxed);
        size_t off = strlen(buf);
        char left[32], rate[32], age[32];

        svc_fmt_bytes(atomic_load_explicit(&d->dr_left, memory_order_relaxed), left,
                     sizeof(left));
        svc_fmt_bytes(atomic_load_explicit(&d->dr_rate, memory_order_relaxed), rate,
                     sizeof(rate));
        if (off < len)
            off += (size_t)snprintf(buf + off, len - off, " draining %" PRIu32 " connection%s, "
                                    "%s left, %s/s", conns, conns == 1 ? "" : "s", left, rate);
        if (stalled > 0 && off < len)
            snprintf(buf + off, len - off, ", stalled %s",
                     rn_fmt_age((rn_time_t)stalled, age, sizeof(age)));
    }
    /* With a stack per loop, the loop last: "service httpd RUNNING (loop 1)". */
    if (svc->sv_ctl->sc_label[0] != '\0') {
        size_t off = strlen(buf);

        if (off < len)
            snprintf(buf + off, len - off, " (%s)", svc->sv_ctl->sc_label);
    }
}

static void svc_release(void *ob)
{
    struct rn_svc *svc = ob;

    free(svc->sv_arg);
    rn__svc_exec_free(svc->sv_exec);
}

static const struct rn_ob_type_ops svc_ops = {
    .name = "service",
    .size = sizeof(struct rn_svc),
    .release = svc_release,
    .describe = svc_describe,
};

static struct rn_ob_type *svc_type;
static struct rn_once svc_once = RN_ONCE_INIT;

/* Who holds a service (object.h, "Holder contracts"), and its conditions. */
static const struct rn_ob_holder svc_holders[] = {
    {"create", 0, 0, 0, "expected: its controller's, until it is removed"},
};
static const char *const svc_conds[] = {"draining", "stalled"};
static const struct rn_ob_contract svc_contract = {svc_holders, 1, svc_conds, 2, 0};
static rn_tag_t svc_tag_drain;

static bool svc_types(void)
{
    svc_type = rn_ob_type_register(&svc_ops);
    svc_tag_drain = rn_tag_intern("drain");
    return svc_type != NULL && svc_tag_drain != RN_TAG_NONE &&
           rn_ob_type_set_contract(svc_type, &svc_contract) == 0;
}

/* ---- Controller ---------------------------------------------------------- */

static int svc_new(struct rn_svcctl *sc, const char *name, const struct rn_svc_kind *k,
                   const char *arg, struct svc_exec *ex, struct rn_svc **out, char *err,
                   size_t errlen);
static void svc_begin_stop(struct rn_svc *svc);
static void svc_drain_finish(struct rn_svc *svc);

static void svc_set_state(struct rn_svc *svc, enum rn_svc_state state)
{
    atomic_store_explicit(&svc->sv_state, (uint8_t)state, memory_order_relaxed);
    svc->sv_since = svc->sv_ctl->sc_stack ? rn_stack_now(svc->sv_ctl->sc_stack) : rn_clock_now();
}

/* Tells every waiter of svc result, oldest first. */
static void svc_tell_waiters(struct rn_svc *svc, int result)
{
    struct rn_svc_stop *list = svc->sv_waiters, *rev = NULL, *stp;

    svc->sv_waiters = NULL;
    while (list != NULL) {
        stp = list;
        list = stp->ss_next;
        stp->ss_next = rev;
        rev = stp;
    }
    while (rev != NULL) {
        stp = rev;
        rev = stp->ss_next;
        stp->ss_next = NULL;
        stp->ss_waiting = false;
        if (svc->sv_ctl->sc_stack != NULL)
            rn_timer_cancel(rn_stack_timers(svc->sv_ctl->sc_stack), &stp->ss_timer);
        stp->ss_fn(stp, result, stp->ss_ctx);
    }
}

/* The stack is being destroyed: nobody may wait on its timers any more. */
static void svcctl_stack_gone(struct rn_stack *st, void *ctx)
{
    struct svc_hook *h = ctx;
    struct rn_svcctl *sc = h->sh_sc;
    size_t i;

    (void)st;
    free(h);
    if (sc == NULL)
        return;
    sc->sc_hook = NULL;
    for (i = 0; i < sc->sc_n; i++) {
        svc_tell_waiters(sc->sc_svcs[i], RN_ECANCELED);
        svc_drain_finish(sc->sc_svcs[i]);  /* its timer is the stack's */
    }
    /* The stops go on: the socket layer's teardown, which runs after this
     * hook, releases the processes, and their posted completions run
     * before the stack is gone.  Afterwards only destroy touches sc. */
}

int rn_svcctl_create(struct rn_stack *st, const struct rn_svc_kind *kinds,
                     struct rn_svcctl **out)
{
    struct rn_svcctl *sc;
    int err;

    assert(st != NULL && kinds != NULL && out != NULL);
    if (!rn_once(&svc_once, svc_types))
        return RN_ENOMEM;
    sc = calloc(1, sizeof(*sc));
    if (sc == NULL)
        return RN_ENOMEM;
    sc->sc_stack = st;
    sc->sc_kinds = kinds;
    {
        unsigned q, n = rn_stack_rss_queues(st, &q);

        if (n > 1)
            snprintf(sc->sc_label, sizeof(sc->sc_label), "loop %u", q);
    }
    sc->sc_hook = calloc(1, sizeof(*sc->sc_hook));
    if (sc->sc_hook == NULL) {
        free(sc);
        return RN_ENOMEM;
    }
    sc->sc_hook->sh_sc = sc;
    err = rn_stack_on_destroy(st, svcctl_stack_gone, sc->sc_hook);
    if (err < 0) {
        free(sc->sc_hook);
        free(sc);
        return err;
    }
    *out = sc;
    return 0;
}

void rn_svcctl_destroy(struct rn_svcctl *sc)
{
    size_t i;

    if (sc == NULL)
        return;
    /* Its loop still exists if a host is still attached. */
    rn_svcctl_exec_detach(sc);
    if (sc->sc_hook != NULL) {
        /* The stack lives on: its hook forgets us, and its timers are
         * still there for the waiters' to be cancelled. */
        sc->sc_hook->sh_sc = NULL;
        assert(rn_svcctl_stopping(sc) == 0);
    }
    for (i = 0; i < sc->sc_n; i++) {
        struct rn_svc *svc = sc->sc_svcs[i];

        /* Waiters were told when the stack went; if it still exists, tell
         * them now. */
        if (sc->sc_hook != NULL)
            svc_tell_waiters(svc, RN_ECANCELED);
        if (svc->sv_waiting && rn_ob_wait_cancel(&svc->sv_wait)) {
            /* Its process was never released: it is reported as a leak
             * with its holders; the kind's state stays with it, since
             * requests of the process may still name it. */
            svc->sv_waiting = false;
        }
        rn_ob_kill(svc);
    }
    free(sc->sc_svcs);
    free(sc);
}

const struct rn_svc_kind *rn_svcctl_kind(const struct rn_svcctl *sc, const char *name)
{
    const struct rn_svc_kind *k;

    for (k = sc->sc_kinds; k->sk_name != NULL; k++) {
        if (strcmp(k->sk_name, name) == 0)
            return k;
    }
    return NULL;
}

void rn_svcctl_kinds(const struct rn_svcctl *sc, char *buf, size_t len)
{
    const struct rn_svc_kind *k;
    size_t off = 0;

    if (len == 0)
        return;
    buf[0] = '\0';
    for (k = sc->sc_kinds; k->sk_name != NULL && off < len; k++)
        off += (size_t)snprintf(buf + off, len - off, "%s%s%s%s", off ? ", " : "", k->sk_name,
                                k->sk_arg ? "=" : "", k->sk_arg ? k->sk_arg : "");
}

int rn_svcctl_add(struct rn_svcctl *sc, const char *spec, struct rn_svc **out, char *err,
                  size_t errlen)
{
    const char *eq = strchr(spec, '=');
    size_t n = eq ? (size_t)(eq - spec) : strlen(spec);
    const struct rn_svc_kind *k = NULL;
    const char *arg = eq ? eq + 1 : NULL;
    char name[SVC_NAME_MAX], known[256];
    int e;

    if (n > 0 && n < sizeof(name)) {
        memcpy(name, spec, n);
        name[n] = '\0';
        k = rn_svcctl_kind(sc, name);
    }
    if (k == NULL) {
        rn_svcctl_kinds(sc, known, sizeof(known));
        snprintf(err, errlen, "unknown service '%.*s' (known: %s)", (int)(n < 64 ? n : 64), spec,
                 known);
        return RN_EINVAL;
    }
    if ((k->sk_arg == NULL) != (arg == NULL)) {
        if (arg == NULL)
            snprintf(err, errlen, "%s needs %s, e.g. %s=%s", name, k->sk_arg, name,
                     strcmp(k->sk_arg, "PORT:DIR") == 0 ? "80:/srv/www" : k->sk_arg);
        else
            snprintf(err, errlen, "%s takes no argument", name);
        return RN_EINVAL;
    }
    if (k->sk_check != NULL && (e = k->sk_check(arg, err, errlen)) != 0)
        return e;
    return svc_new(sc, name, k, arg, NULL, out, err, errlen);
}

/* Adds a service of kind k named name, with arg (copied) or a command ex
 * (taken: freed on failure).  Returns 0 and *out (may be NULL), RN_EEXIST
 * or RN_ENOMEM, with one line in err. */
static int svc_new(struct rn_svcctl *sc, const char *name, const struct rn_svc_kind *k,
                   const char *arg, struct svc_exec *ex, struct rn_svc **out, char *err,
                   size_t errlen)
{
    struct rn_svc *svc;

    if (rn_svcctl_find(sc, name) != NULL) {
        snprintf(err, errlen, "service %s is configured already", name);
        rn__svc_exec_free(ex);
        return RN_EEXIST;
    }
    if (sc->sc_n == sc->sc_cap) {
        size_t cap = sc->sc_cap ? sc->sc_cap * 2 : 8;
        struct rn_svc **v = realloc(sc->sc_svcs, cap * sizeof(*v));

        if (v == NULL)
            goto out_nomem;
        sc->sc_svcs = v;
        sc->sc_cap = cap;
    }
    svc = rn_ob_create(svc_type, RN_TAG_CREATE);
    if (svc == NULL)
        goto out_nomem;
    /* The release frees the command from here on. */
    svc->sv_exec = ex;
    ex = NULL;
    if (arg != NULL && (svc->sv_arg = strdup(arg)) == NULL) {
        rn_ob_kill(svc);
        goto out_nomem;
    }
    svc->sv_ctl = sc;
    snprintf(svc->sv_name, sizeof(svc->sv_name), "%s", name);
    svc_set_state(svc, RN_SVC_STOPPED);
    svc->sv_kind = k;
    atomic_store_explicit(&svc->sv_ready, true, memory_order_release);
    rn_ob_publish(svc);
    sc->sc_svcs[sc->sc_n++] = svc;
    if (out != NULL)
        *out = svc;
    return 0;

out_nomem:
    rn__svc_exec_free(ex);
    snprintf(err, errlen, "out of memory");
    return RN_ENOMEM;
}

const struct rn_svc_kind rn__svc_exec_kind = {
    .sk_name = "exec",
    .sk_what = "a command",
};

/* A name a service that is a command may have: 1 to 31 of [A-Za-z0-9_.-],
 * not starting with '-' or '.'. */
static bool svc_name_ok(const char *name)
{
    size_t i, n = strlen(name);

    if (n == 0 || n >= SVC_NAME_MAX || name[0] == '-' || name[0] == '.')
        return false;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];

        if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') &&
            c != '_' && c != '.' && c != '-')
            return false;
    }
    return true;
}

int rn_svcctl_add_exec(struct rn_svcctl *sc, const char *name, const struct rn_svc_exec *ex,
                       struct rn_svc **out, char *err, size_t errlen)
{
    struct svc_exec *e;
    int rc;

    assert(sc != NULL && name != NULL && ex != NULL);
    if (!svc_name_ok(name)) {
        snprintf(err, errlen, "'%.64s': not a service name (1 to %d of letters, digits, "
                 "'_', '.' and '-', not starting with '-' or '.')", name, SVC_NAME_MAX - 1);
        return RN_EINVAL;
    }
    if (rn_svcctl_find(sc, name) != NULL) {
        snprintf(err, errlen, "service %s is configured already", name);
        return RN_EEXIST;
    }
    rc = rn__svc_exec_new(ex, &e, err, errlen);
    if (rc != 0)
        return rc;
    return svc_new(sc, name, &rn__svc_exec_kind, NULL, e, out, err, errlen);
}

int rn_svcctl_remove(struct rn_svcctl *sc, struct rn_svc *svc, char *err, size_t errlen)
{
    size_t i;

    if (rn_svc_state(svc) != RN_SVC_STOPPED || svc->sv_waiting) {
        snprintf(err, errlen, "%s is %s: only a STOPPED service can be removed",
                 svc->sv_name, rn_svc_state_name(rn_svc_state(svc)));
        return RN_EBUSY;
    }
    for (i = 0; i < sc->sc_n && sc->sc_svcs[i] != svc; i++)
        ;
    assert(i < sc->sc_n);
    memmove(&sc->sc_svcs[i], &sc->sc_svcs[i + 1], (sc->sc_n - i - 1) * sizeof(*sc->sc_svcs));
    sc->sc_n--;
    rn_ob_kill(svc);
    return 0;
}

void rn_svcctl_exec_detach(struct rn_svcctl *sc)
{
    size_t i;

    if (sc->sc_loop == NULL)
        return;
    for (i = 0; i < sc->sc_n; i++) {
        struct rn_svc *svc = sc->sc_svcs[i];

        if (svc->sv_exec == NULL)
            continue;
        if (rn_svc_state(svc) == RN_SVC_RUNNING)
            svc_begin_stop(svc);
        rn__svc_exec_detach_run(svc);
    }
    sc->sc_loop = NULL;
    for (i = 0; sc->sc_launcher != NULL && sc->sc_launcher[i] != NULL; i++)
        free(sc->sc_launcher[i]);
    free(sc->sc_launcher);
    sc->sc_launcher = NULL;
}

struct rn_svc *rn_svcctl_find(const struct rn_svcctl *sc, const char *name)
{
    size_t i;

    for (i = 0; i < sc->sc_n; i++) {
        if (strcmp(sc->sc_svcs[i]->sv_name, name) == 0)
            return sc->sc_svcs[i];
    }
    return NULL;
}

size_t rn_svcctl_count(const struct rn_svcctl *sc)
{
    return sc->sc_n;
}

struct rn_svc *rn_svcctl_at(const struct rn_svcctl *sc, size_t i)
{
    return i < sc->sc_n ? sc->sc_svcs[i] : NULL;
}

size_t rn_svcctl_stopping(const struct rn_svcctl *sc)
{
    size_t i, n = 0;

    for (i = 0; i < sc->sc_n; i++)
        n += rn_svc_state(sc->sc_svcs[i]) == RN_SVC_STOP_PENDING;
    return n;
}

/* ---- Ports and their holders ---------------------------------------------- */

bool rn_svc_port_holder(struct rn_stack *st, uint32_t addr, uint16_t port, char *buf,
                        size_t len)
{
    struct rn_ob_ledger_entry led[8];
    struct rn_sock_owner ow;
    uint64_t id = rn_tcp_port_holder(st, addr, port);
    char desc[160], age[32];
    size_t n, i, off;
    void *ob;

    if (id == 0)
        return false;
    ob = rn_ob_lookup(id, RN_TAG_LOOKUP);
    if (ob == NULL) {
        /* Released just now; the port goes on the loop's next pass. */
        snprintf(buf, len, "object #%" PRIu64 ", released a moment ago", id);
        return true;
    }
    rn_ob_describe(ob, desc, sizeof(desc));
    off = (size_t)snprintf(buf, len, "#%" PRIu64 " %s", id, desc);
    if (rn_ob_state(ob) == RN_OB_DYING && off < len)
        off += (size_t)snprintf(buf + off, len - off, ", dying");
    /* Our own lookup hold is not the holder's business. */
    n = rn_ob_ledger(ob, led, sizeof(led) / sizeof(led[0]));
    if (off < len)
        off += (size_t)snprintf(buf + off, len - off, ", refs %u (", rn_ob_refcount(ob) - 1);
    for (i = 0; i < n && i < sizeof(led) / sizeof(led[0]) && off < len; i++) {
        uint32_t c = led[i].count - (led[i].tag == RN_TAG_LOOKUP);

        if (c == 0)
            continue;
        off += (size_t)snprintf(buf + off, len - off, "%s%s %u held %s",
                                buf[off - 1] == '(' ? "" : ", ", rn_tag_name(led[i].tag), c,
                                rn_fmt_age(rn_clock_now() - led[i].since, age, sizeof(age)));
    }
    if (off < len)
        off += (size_t)snprintf(buf + off, len - off, ")");
    if (rn_sock_owner_of(ob, &ow) == 0 && off < len)
        snprintf(buf + off, len - off, "; owner %s%sprocess %s (pid %" PRIu32 "), socket #%d%s",
                 ow.ow_owner, ow.ow_owner[0] ? ", " : "", ow.ow_proc_name, ow.ow_pid,
                 ow.ow_handle, ow.ow_closing ? " closing" : "");
    rn_ob_deref(ob, RN_TAG_LOOKUP);
    return true;
}

/* Appends to err ("...: address in use") the holder of the first of svc's
 * ports that is taken.  Returns true if one was. */
static bool svc_explain_ports(struct rn_svc *svc, char *err, size_t errlen)
{
    uint16_t ports[RN_SVC_PORTS_MAX];
    size_t n, i, off = strlen(err);
    char holder[400];

    if (svc->sv_kind->sk_ports == NULL || svc->sv_ctl->sc_stack == NULL)
        return false;
    n = svc->sv_kind->sk_ports(svc->sv_arg, ports);
    for (i = 0; i < n && i < RN_SVC_PORTS_MAX; i++) {
        if (!rn_svc_port_holder(svc->sv_ctl->sc_stack, 0, ports[i], holder, sizeof(holder)))
            continue;
        if (off == 0)
            off = (size_t)snprintf(err, errlen, "TCP port %u: address in use", ports[i]);
        if (off < errlen)
            snprintf(err + off, errlen - off, ": held by %s (`refnet why %" PRIu64
                     "` says why)", holder, rn_tcp_port_holder(svc->sv_ctl->sc_stack, 0,
                                                                ports[i]));
        return true;
    }
    return false;
}

/* ---- Stop ------------------------------------------------------------------ */

static void svc_all_check(struct rn_svcctl *sc)
{
    void (*fn)(void *ctx) = sc->sc_all_done;

    if (fn != NULL && rn_svcctl_stopping(sc) == 0) {
        sc->sc_all_done = NULL;
        fn(sc->sc_all_ctx);
    }
}

/* The process (or the real process) was released; on the loop thread. */
static void svc_stopped(struct rn_stack *st, struct rn_work *w)
{
    struct rn_svc *svc = (struct rn_svc *)((char *)w - offsetof(struct rn_svc, sv_work));
    void *ks = svc->sv_kstate;

    (void)st;
    svc->sv_waiting = false;
    svc->sv_proc = NULL;
    if (svc->sv_exec != NULL)
        rn__svc_exec_run_gone(svc);
    svc->sv_kstate = NULL;
    svc->sv_running = false;
    if (ks != NULL)
        svc->sv_kind->sk_released(ks);
    svc_set_state(svc, RN_SVC_STOPPED);
    svc_tell_waiters(svc, 0);
    svc_all_check(svc->sv_ctl);
}

/* On whichever thread dropped the process's last reference. */
static void svc_proc_released(struct rn_ob_wait *w, void *ctx)
{
    struct rn_svc *svc = ctx;

    (void)w;
    rn_stack_post(svc->sv_ctl->sc_stack, &svc->sv_work, svc_stopped);
}

/* Runs the process of svc down: the kind halted already (or never
 * started); STOP_PENDING until the process is released. */
static void svc_rundown(struct rn_svc *svc)
{
    struct rn_proc *p = svc->sv_proc;
    int err;

    assert(p != NULL && !svc->sv_waiting);
    svc_set_state(svc, RN_SVC_STOP_PENDING);
    err = rn_ob_wait_release(p, &svc->sv_wait, svc, "stop", svc_proc_released, svc);
    assert(err == 0);
    (void)err;
    svc->sv_waiting = true;
    /* 1. every handle closes, 2. the process runs down once every cleanup
     * completed; the creator's reference goes with the exit. */
    rn_proc_exit(p);
    rn_ob_deref(p, RN_TAG_SERVICE);
}

/* The run of a command goes down: STOP_PENDING until the real process
 * was released (its group gone, its refnet processes released). */
static void svc_exec_rundown(struct rn_svc *svc)
{
    void *ru = svc->sv_run;
    int err;

    assert(ru != NULL && !svc->sv_waiting);
    svc_set_state(svc, RN_SVC_STOP_PENDING);
    err = rn_ob_wait_release(ru, &svc->sv_wait, svc, "stop", svc_proc_released, svc);
    assert(err == 0);
    (void)err;
    svc->sv_waiting = true;
    rn__svc_exec_signal(svc);
    rn_ob_deref(ru, RN_TAG_SERVICE);
}

static void svc_begin_stop(struct rn_svc *svc)
{
    assert(rn_svc_state(svc) == RN_SVC_RUNNING);
    svc->sv_running = false;
    if (svc->sv_exec != NULL) {
        svc_exec_rundown(svc);
        return;
    }
    svc->sv_kind->sk_halt(svc->sv_kstate);
    svc_rundown(svc);
}

void rn__svc_exec_exited(struct rn_svc *svc)
{
    if (rn_svc_state(svc) == RN_SVC_RUNNING)
        svc_begin_stop(svc);
}

/* ---- Drain ------------------------------------------------------------------ */

/* The process cannot be released while the drain holds it; a wait must
 * have a function all the same. */
static void svc_drain_released(struct rn_ob_wait *w, void *ctx)
{
    (void)w;
    (void)ctx;
}

/* Takes the kind's progress: the describe line's figures, the rate over
 * the last half second or more, and whether it is stalled. */
static void svc_drain_note(struct rn_svc *svc, rn_time_t now)
{
    struct svc_drain *d = &svc->sv_drain;
    struct rn_svc_drain ds = {0, 0, 0};
    rn_time_t still;

    svc->sv_kind->sk_drain_status(svc->sv_kstate, &ds);
    if (ds.sd_sent != d->dr_sent) {
        d->dr_sent = ds.sd_sent;
        d->dr_moved = now;
    }
    if (now - d->dr_win_at >= RN_MSEC(500)) {
        atomic_store_explicit(&d->dr_rate, (uint64_t)((double)(ds.sd_sent - d->dr_win_sent) *
                                                      1e9 / (double)(now - d->dr_win_at)),
                              memory_order_relaxed);
        d->dr_win_sent = ds.sd_sent;
        d->dr_win_at = now;
    }
    still = now - d->dr_moved;
    if (ds.sd_conns > 0 && still >= RN_SVC_DRAIN_STALL) {
        atomic_store_explicit(&d->dr_stalled, (uint64_t)still, memory_order_relaxed);
        rn_ob_cond_set(svc, SVC_COND_STALLED);
    } else {
        atomic_store_explicit(&d->dr_stalled, 0, memory_order_relaxed);
        rn_ob_cond_clear(svc, SVC_COND_STALLED);
    }
    atomic_store_explicit(&d->dr_conns, ds.sd_conns, memory_order_relaxed);
    atomic_store_explicit(&d->dr_left, ds.sd_left, memory_order_relaxed);
    d->dr_conns_now = ds.sd_conns;
}

/* The drain is over (nothing left, the grace passed, or the controller
 * stops everything): the stop goes on, aborting what is left. */
static void svc_drain_finish(struct rn_svc *svc)
{
    struct svc_drain *d = &svc->sv_drain;

    if (!d->dr_on)
        return;
    d->dr_on = false;
    if (svc->sv_ctl->sc_stack != NULL)
        rn_timer_cancel(rn_stack_timers(svc->sv_ctl->sc_stack), &d->dr_tick);
    (void)rn_ob_wait_cancel(&d->dr_wait);
    atomic_store_explicit(&d->dr_shown, false, memory_order_release);
    /* The hold goes before the condition that covers it. */
    rn_ob_deref(svc->sv_proc, svc_tag_drain);
    rn_ob_cond_clear(svc, SVC_COND_DRAINING | SVC_COND_STALLED);
    svc->sv_kind->sk_halt(svc->sv_kstate);
    svc->sv_running = false;
    svc_rundown(svc);
}

static void svc_drain_tick(struct rn_timer *t, rn_time_t now)
{
    struct rn_svc *svc =
        (struct rn_svc *)((char *)t - offsetof(struct rn_svc, sv_drain.dr_tick));
    struct svc_drain *d = &svc->sv_drain;

    svc_drain_note(svc, now);
    if (d->dr_conns_now == 0 || now >= d->dr_end ||
        rn_timer_arm(rn_stack_timers(svc->sv_ctl->sc_stack), &d->dr_tick,
                     now + SVC_DRAIN_TICK) < 0)
        svc_drain_finish(svc);
}

/* Begins a stop that drains, if svc has a grace and its kind drains.
 * Returns false if the stop is to abort at once. */
static bool svc_begin_drain(struct rn_svc *svc)
{
    struct svc_drain *d = &svc->sv_drain;
    struct rn_stack *st = svc->sv_ctl->sc_stack;
    rn_time_t now;

    assert(rn_svc_state(svc) == RN_SVC_RUNNING);
    if (d->dr_grace == 0 || svc->sv_kind->sk_drain == NULL || st == NULL)
        return false;
    now = rn_stack_now(st);
    rn_timer_init(&d->dr_tick, svc_drain_tick);
    if (rn_timer_arm(rn_stack_timers(st), &d->dr_tick, now + SVC_DRAIN_TICK) < 0)
        return false;  /* no memory for the timer: a stop without a drain */
    if (rn_ob_wait_release(svc->sv_proc, &d->dr_wait, svc, "drain", svc_drain_released,
                           svc) != 0) {
        rn_timer_cancel(rn_stack_timers(st), &d->dr_tick);
        return false;
    }
    rn_ob_cond_set(svc, SVC_COND_DRAINING);
    rn_ob_ref(svc->sv_proc, svc_tag_drain);
    d->dr_on = true;
    d->dr_end = now + d->dr_grace;
    d->dr_moved = now;
    d->dr_win_at = now;
    d->dr_sent = 0;
    atomic_store_explicit(&d->dr_rate, 0, memory_order_relaxed);
    svc->sv_kind->sk_drain(svc->sv_kstate);
    svc_drain_note(svc, now);
    d->dr_win_sent = d->dr_sent;
    d->dr_moved = now;
    svc_set_state(svc, RN_SVC_STOP_PENDING);
    atomic_store_explicit(&d->dr_shown, true, memory_order_release);
    return true;
}

int rn_svc_set_drain(struct rn_svc *svc, rn_time_t grace)
{
    if (grace > RN_SVC_DRAIN_MAX)
        return RN_EINVAL;
    if (grace > 0 && svc->sv_kind->sk_drain == NULL)
        return RN_ENOTSUP;
    svc->sv_drain.dr_grace = grace;
    return 0;
}

rn_time_t rn_svc_drain_grace(const struct rn_svc *svc)
{
    return svc->sv_drain.dr_grace;
}

bool rn_svc_draining(const struct rn_svc *svc)
{
    return svc->sv_drain.dr_on;
}
static void svc_stop_timed_out(struct rn_timer *t, rn_time_t now)
{
    struct rn_svc_stop *stp =
        (struct rn_svc_stop *)((char *)t - offsetof(struct rn_svc_stop, ss_timer));
    struct rn_svc_stop **pp;

    (void)now;
    for (pp = &stp->ss_svc->sv_waiters; *pp != NULL && *pp != stp; pp = &(*pp)->ss_next)
        ;
    if (*pp != NULL)
        *pp = stp->ss_next;
    stp->ss_next = NULL;
    stp->ss_waiting = false;
    stp->ss_fn(stp, RN_ETIMEDOUT, stp->ss_ctx);
}

int rn_svc_stop(struct rn_svc *svc, rn_time_t timeout, struct rn_svc_stop *stp,
                rn_svc_stop_fn fn, void *ctx)
{
    struct rn_stack *st = svc->sv_ctl->sc_stack;

    assert((stp == NULL) == (fn == NULL) && st != NULL);
    switch (rn_svc_state(svc)) {
    case RN_SVC_STOPPED:
        return 1;
    case RN_SVC_START_PENDING:
        return RN_EBUSY;
    case RN_SVC_RUNNING:
        if (!svc_begin_drain(svc))
            svc_begin_stop(svc);
        break;
    case RN_SVC_STOP_PENDING:
        break;
    }
    if (stp == NULL)
        return 0;  /* no one waits */
    memset(stp, 0, sizeof(*stp));
    stp->ss_svc = svc;
    stp->ss_fn = fn;
    stp->ss_ctx = ctx;
    stp->ss_waiting = true;
    rn_timer_init(&stp->ss_timer, svc_stop_timed_out);
    stp->ss_next = svc->sv_waiters;
    svc->sv_waiters = stp;
    /* Without a timer (none asked for, or no memory for one) the wait is
     * as long as the stop. */
    if (timeout > 0)
        (void)rn_timer_arm(rn_stack_timers(st), &stp->ss_timer, rn_stack_now(st) + timeout);
    return 0;
}

void rn_svc_stop_cancel(struct rn_svc_stop *stp)
{
    struct rn_svc_stop **pp;

    if (!stp->ss_waiting)
        return;
    for (pp = &stp->ss_svc->sv_waiters; *pp != NULL && *pp != stp; pp = &(*pp)->ss_next)
        ;
    if (*pp != NULL)
        *pp = stp->ss_next;
    stp->ss_next = NULL;
    stp->ss_waiting = false;
    if (stp->ss_svc->sv_ctl->sc_stack != NULL)
        rn_timer_cancel(rn_stack_timers(stp->ss_svc->sv_ctl->sc_stack), &stp->ss_timer);
}

size_t rn_svcctl_stop_all(struct rn_svcctl *sc, void (*done)(void *ctx), void *ctx)
{
    size_t i = sc->sc_n;

    while (i-- > 0) {
        if (rn_svc_state(sc->sc_svcs[i]) == RN_SVC_RUNNING)
            svc_begin_stop(sc->sc_svcs[i]);
        else
            svc_drain_finish(sc->sc_svcs[i]);
    }
    sc->sc_all_done = done;
    sc->sc_all_ctx = ctx;
    i = rn_svcctl_stopping(sc);
    if (i == 0)
        sc->sc_all_done = NULL;
    return i;
}

/* ---- Start ------------------------------------------------------------------ */

int rn_svc_start(struct rn_svc *svc, char *err, size_t errlen)
{
    struct rn_stack *st = svc->sv_ctl->sc_stack;
    char owner[RN_PROC_OWNER_MAX], why[480];
    struct rn_proc *p;
    void *ks = NULL;
    int e;

    assert(st != NULL);
    err[0] = '\0';
    switch (rn_svc_state(svc)) {
    case RN_SVC_RUNNING:
    case RN_SVC_START_PENDING:
        return 1;
    case RN_SVC_STOP_PENDING:
        if (svc->sv_exec != NULL ? rn__svc_exec_explain_ports(svc, err, errlen)
                                 : svc_explain_ports(svc, err, errlen))
            return RN_EADDRINUSE;
        snprintf(err, errlen, "%s is still STOP_PENDING (its process has not run down; "
                 "`refnet why %s` says why); it can start once STOPPED", svc->sv_name,
                 svc->sv_name);
        return RN_EBUSY;
    case RN_SVC_STOPPED:
        break;
    }
    svc_set_state(svc, RN_SVC_START_PENDING);
    if (svc->sv_exec != NULL) {
        e = rn__svc_exec_start(svc, err, errlen);
        svc_set_state(svc, e == 0 ? RN_SVC_RUNNING : RN_SVC_STOPPED);
        svc->sv_running = e == 0;
        return e;
    }
    e = rn_proc_create(st, svc->sv_name, &p);
    if (e < 0) {
        svc_set_state(svc, RN_SVC_STOPPED);
        snprintf(err, errlen, "cannot create its process: %s", rn_strerror(e));
        return e;
    }
    snprintf(owner, sizeof(owner), "service %s", svc->sv_name);
    (void)rn_proc_set_owner(p, owner);
    rn_ob_ref(p, RN_TAG_SERVICE);
    svc->sv_proc = p;
    why[0] = '\0';
    e = svc->sv_kind->sk_start(st, p, svc->sv_arg, &ks, why, sizeof(why));
    svc->sv_kstate = ks;
    if (e == 0) {
        svc->sv_running = true;
        svc_set_state(svc, RN_SVC_RUNNING);
        return 0;
    }
    snprintf(err, errlen, "%s", why[0] ? why : rn_strerror(e));
    if (e == RN_EADDRINUSE)
        (void)svc_explain_ports(svc, err, errlen);
    /* What the start opened closes with the process; STOPPED once it was
     * released (at once, unless something holds one of its objects). */
    svc_rundown(svc);
    return e;
}

/* ---- Queries ------------------------------------------------------------------ */

const char *rn_svc_name(const struct rn_svc *svc)
{
    return svc->sv_name;
}

const struct rn_svc_kind *rn_svc_kind(const struct rn_svc *svc)
{
    return svc->sv_kind;
}

const char *rn_svc_arg(const struct rn_svc *svc)
{
    return svc->sv_arg;
}

uint64_t rn_svc_id(const struct rn_svc *svc)
{
    return rn_ob_id(svc);
}

enum rn_svc_state rn_svc_state(const struct rn_svc *svc)
{
    return (enum rn_svc_state)atomic_load_explicit(&svc->sv_state, memory_order_relaxed);
}

rn_time_t rn_svc_since(const struct rn_svc *svc)
{
    return svc->sv_since;
}

struct rn_proc *rn_svc_proc(const struct rn_svc *svc)
{
    return svc->sv_proc;
}

size_t rn_svc_counters(const struct rn_svc *svc, struct rn_svc_counter *out)
{
    size_t n;

    if (!svc->sv_running || svc->sv_kind->sk_counters == NULL)
        return 0;
    n = svc->sv_kind->sk_counters(svc->sv_kstate, out);
    assert(n <= RN_SVC_COUNTERS_MAX);
    return n;
}

/* ---- Diagnosis ------------------------------------------------------ */

int rn_svc_why(const struct rn_svc *svc, rn_time_t threshold, struct rn_strbuf *out)
{
    struct rn_snapshot *s = rn_ob_snapshot();
    int rc;

    if (s == NULL)
        return RN_ENOMEM;
    s->s_threshold = threshold;
    rc = rn_diag_render_for(s, rn_svc_id(svc), out);
    rn_snapshot_free(s);
    return rc == RN_ENOENT ? 0 : rc;
}
