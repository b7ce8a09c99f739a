/*
 * Allocation failure, one allocation at a time.
 *
 * The test is linked with the allocator wrapped (-Wl,--wrap=malloc and
 * friends, see CMakeLists.txt), so that it can make the k-th allocation
 * refnet asks for fail.  For k = 0, 1, 2, ... until a run needs no more
 * than k allocations:
 *
 *   - setup: two stacks with transports, a cable and an interface each.
 *     The call that met the failure returns an error; what was built is
 *     torn down.
 *   - exchange: on a pair built without failures, a process on each side,
 *     a listener, an accept, a connect, 48 KiB sent and received, and
 *     closes.  A request may fail, with an error; a transfer that reports
 *     success must have delivered every byte, in order.
 *   - services: on a pair built without failures, the filtering platform
 *     with a callout filter and a block filter, a service controller with
 *     the echo service started, a client's round trip through it, the
 *     services table and the stop.  A step may fail, with an error; an
 *     echo that reports success came back byte for byte.
 *   - the web server: httpd started under the controller, one GET of a
 *     6 KiB file read to the end of the connection, and the stop.  A
 *     response that says 200 carries the whole file; one the server could
 *     not build says 500.
 *   - diagnosis: with a close left pending (a wait), a snapshot, its
 *     chains, a dump encoded and decoded and the watchdog.  Each may fail
 *     with an error; what reports success must be exactly what a run
 *     without failures gives, never a silently shortened report.
 *
 * And first, the rule that makes the rest possible: a reference never fails
 * for lack of ledger memory.  A holder that can get no line is counted on
 * the object's reserve line, "unrecorded", and its deref takes it back.
 *
 * Either way, nothing crashes, and once the processes exit and the stacks
 * are destroyed no object is left alive and both buffer pools are empty
 * (pair_down()); under ASan nothing leaks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "ctl/render.h"
#include "refnet/diag.h"
#include "refnet/error.h"
#include "refnet/link.h"
#include "refnet/filter.h"
#include "refnet/object.h"
#include "refnet/service.h"
#include "refnet/snapshot.h"
#include "refnet/socket.h"
#include "refnet/strbuf.h"
#include "refnet/transport.h"
#include "failalloc.h"
#include "support.h"

/* No run may need more allocations than this; a sweep that does not end
 * by then has a loop that allocates without bound. */
#define MAX_ALLOCS 5000

/* ---- The ledger's reserve ------------------------------------------------ */

/* Holders beside the creator that a thing has ledger lines for; the next
 * one needs memory. */
#define INLINE_HOLDERS 2

static const struct rn_ob_type_ops thing_ops = {
    .name = "alloc thing", .size = 8, .holders = INLINE_HOLDERS + 1};

static void test_ref_never_fails_for_memory(void **state)
{
    struct rn_ob_type *type = rn_ob_type_register(&thing_ops);
    rn_tag_t tags[8];
    char name[32];
    void *ob;
    int i;

    (void)state;
    for (i = 0; i < 8; i++) {
        snprintf(name, sizeof(name), "alloc.holder-%d", i);
        tags[i] = rn_tag_intern(name);
        assert_true(tags[i] != RN_TAG_NONE);
    }
    ob = rn_ob_create(type, RN_TAG_CREATE);
    assert_non_null(ob);
    for (i = 0; i < INLINE_HOLDERS; i++)  /* with the creator's, every ordinary
                                             inline line */
        assert_int_equal(rn_ob_ref(ob, tags[i]), 0);

    /* One more holder needs memory for a line, and gets none. */
    capture_begin();
    arm(0);
    assert_int_equal(rn_ob_ref(ob, tags[INLINE_HOLDERS]), 0);
    assert_true(disarm());
    capture_end();
    assert_true(capture_has("counted as 'unrecorded'"));
    assert_int_equal(ledger_count(ob, RN_TAG_UNRECORDED), 1);
    assert_int_equal(ledger_count(ob, tags[INLINE_HOLDERS]), 0);
    assert_int_equal(rn_ob_refcount(ob), INLINE_HOLDERS + 2);

    /* A transfer to a holder without a line, with no memory: the hold
     * moves to the reserve too. */
    capture_begin();
    arm(0);
    assert_int_equal(rn_ob_transfer(ob, tags[0], tags[6]), 0);
    assert_true(disarm());
    capture_end();
    assert_int_equal(ledger_count(ob, tags[0]), 0);
    assert_int_equal(ledger_count(ob, RN_TAG_UNRECORDED), 2);
    {
        /* Reports name the line as what it is (the snapshot's own hold
         * grows the ledger: memory is back). */
        struct rn_snapshot *s = rn_ob_snapshot();
        const struct rn_snap_object *o;
        struct rn_strbuf sb = RN_STRBUF_INIT;

        assert_non_null(s);
        o = rn_snapshot_find(s, rn_ob_id(ob));
        assert_non_null(o);
        rn_diag_render_object(s, o, 0, &sb);
        assert_non_null(strstr(rn_strbuf_str(&sb), "unrecorded"));
        rn_strbuf_free(&sb);
        rn_snapshot_free(s);
    }

    /* Their derefs take them back; one more is misuse, refused. */
    assert_int_equal(rn_ob_deref(ob, tags[INLINE_HOLDERS]), 0);
    assert_int_equal(rn_ob_deref(ob, tags[6]), 0);
    assert_int_equal(ledger_count(ob, RN_TAG_UNRECORDED), 0);
    capture_begin();
    assert_int_equal(rn_ob_deref(ob, tags[6]), RN_ENOTHELD);
    capture_end();
    assert_true(capture_has("deref-unheld"));
    assert_int_equal(rn_ob_refcount(ob), INLINE_HOLDERS);

    /* With memory back, a new holder gets a line of its own. */
    assert_int_equal(rn_ob_ref(ob, tags[7]), 0);
    assert_int_equal(ledger_count(ob, tags[7]), 1);
    assert_int_equal(rn_ob_deref(ob, tags[7]), 0);
    for (i = 1; i < INLINE_HOLDERS; i++)
        assert_int_equal(rn_ob_deref(ob, tags[i]), 0);
    rn_ob_kill(ob);
    rn_ob_drain();
    check_live_objects(0);
}

/* ---- Setup ------------------------------------------------------------------ */

static void test_setup_fails_cleanly(void **state)
{
    long k;
    int err, failures = 0;

    (void)state;
    for (k = 0; k < MAX_ALLOCS; k++) {
        memset(&P, 0, sizeof(P));
        arm(k);
        err = pair_build(&(struct pair_params){0});
        if (!disarm()) {
            assert_int_equal(err, 0);  /* no failure met: it all worked */
            pair_down();
            break;
        }
        if (err < 0)
            failures++;
        pair_down();
    }
    assert_true(k < MAX_ALLOCS);
    assert_true(failures > 0);
    print_message("setup: %ld allocations, %d of their failures reported\n", k, failures);
}

/* ---- An exchange through sockets ------------------------------------------- */

#define DATA_LEN (48u * 1024u)

struct side {
    struct rn_proc *p;
    int h;                  /* the connected socket */
    int err;                /* first error met, 0 if none */
    bool connected, closed, eof;
    size_t got;             /* bytes received */
    size_t sent;            /* bytes the send completed with */
    uint8_t buf[8192];
};

static struct side A, B;
static uint8_t data[DATA_LEN], rx[DATA_LEN];

static void note_err(struct side *s, long result)
{
    if (result < 0 && s->err == 0)
        s->err = (int)result;
}

static void b_recv(struct side *s);

static void b_done(struct rn_proc *p, const struct rn_sock_completion *c)
{
    (void)p;
    switch (c->sc_op) {
    case RN_SOP_ACCEPT:
        if (c->sc_result <= 0) {
            note_err(&B, c->sc_result);
            return;
        }
        B.h = (int)c->sc_result;
        B.connected = true;
        b_recv(&B);
        break;
    case RN_SOP_RECV:
        if (c->sc_result < 0) {
            note_err(&B, c->sc_result);
        } else if (c->sc_result == 0) {
            B.eof = true;
        } else {
            assert_true(B.got + (size_t)c->sc_result <= DATA_LEN);
            memcpy(rx + B.got, B.buf, (size_t)c->sc_result);
            B.got += (size_t)c->sc_result;
            b_recv(&B);
        }
        break;
    case RN_SOP_CLOSE:
        note_err(&B, c->sc_result);
        B.closed = true;
        break;
    default:
        break;
    }
}

static void b_recv(struct side *s)
{
    struct rn_sock_req rq = {.sq_op = RN_SOP_RECV, .sq_handle = s->h, .sq_buf = s->buf,
                             .sq_len = sizeof(s->buf)};

    note_err(s, rn_sock_submit(s->p, &rq, b_done));
}

static void a_done(struct rn_proc *p, const struct rn_sock_completion *c)
{
    (void)p;
    if (c->sc_op == RN_SOP_CONNECT && c->sc_result == 0)
        A.connected = true;
    if (c->sc_op == RN_SOP_SEND && c->sc_result >= 0)
        A.sent = (size_t)c->sc_result;
    if (c->sc_op == RN_SOP_CLOSE)
        A.closed = true;
    note_err(&A, c->sc_result);
}

static bool both_settled(void *ctx)
{
    (void)ctx;
    return (A.closed || A.err != 0) && (B.eof || B.err != 0);
}

static bool a_connected(void *ctx)
{
    (void)ctx;
    return A.connected || A.err != 0;
}

static bool a_sent(void *ctx)
{
    (void)ctx;
    return A.sent != 0 || A.err != 0;
}

/* The exchange, every step allowed to fail.  Returns true if it reported
 * success end to end. */
static bool exchange(void)
{
    struct rn_sockaddr_in l = {.sin_addr = 0, .sin_port = 7000}, to = {.sin_addr = ADDR_B, .sin_port = 7000};
    struct rn_sock_req rq = {0};
    int hl;

    memset(&A, 0, sizeof(A));
    memset(&B, 0, sizeof(B));
    memset(rx, 0, sizeof(rx));
    note_err(&A, rn_proc_create(P.a, "client", &A.p));
    note_err(&B, rn_proc_create(P.b, "server", &B.p));
    if (A.p == NULL || B.p == NULL)
        return false;
    hl = rn_sock_open(B.p, RN_SOCK_STREAM, 0);
    note_err(&B, hl);
    if (hl < 0 || (B.err = rn_sock_bind(B.p, hl, &l)) < 0 ||
        (B.err = rn_sock_listen(B.p, hl, 4)) < 0)
        return false;
    rq = (struct rn_sock_req){.sq_op = RN_SOP_ACCEPT, .sq_handle = hl};
    note_err(&B, rn_sock_submit(B.p, &rq, b_done));
    A.h = rn_sock_open(A.p, RN_SOCK_STREAM, 0);
    note_err(&A, A.h);
    if (A.h < 0 || B.err != 0)
        return false;
    rq = (struct rn_sock_req){.sq_op = RN_SOP_CONNECT, .sq_handle = A.h, .sq_to = &to};
    note_err(&A, rn_sock_submit(A.p, &rq, a_done));
    if (!run_while_not(a_connected, NULL, RN_SEC(30)) || A.err != 0)
        return false;
    rq = (struct rn_sock_req){.sq_op = RN_SOP_SEND, .sq_handle = A.h, .sq_buf = data,
                              .sq_len = DATA_LEN};
    note_err(&A, rn_sock_submit(A.p, &rq, a_done));
    if (!run_while_not(a_sent, NULL, RN_SEC(60)) || A.err != 0)
        return false;
    rq = (struct rn_sock_req){.sq_op = RN_SOP_CLOSE, .sq_handle = A.h};
    note_err(&A, rn_sock_submit(A.p, &rq, a_done));
    run_while_not(both_settled, NULL, RN_SEC(120));
    return A.err == 0 && B.err == 0 && A.closed && B.eof;
}

static void test_exchange_fails_cleanly(void **state)
{
    long k;
    size_t i;
    int ok = 0, failed_runs = 0;
    bool success;

    (void)state;
    for (i = 0; i < DATA_LEN; i++)
        data[i] = (uint8_t)(i * 31 + (i >> 8));
    for (k = 0; k < MAX_ALLOCS; k++) {
        bool met;

        pair_up(1500, false);
        arm(k);
        success = exchange();
        met = disarm();
        if (success) {
            /* Success means every byte arrived, in order: an allocation
             * that failed on the way was recovered from, not lost. */
            assert_int_equal(A.sent, DATA_LEN);
            assert_int_equal(B.got, DATA_LEN);
            assert_memory_equal(rx, data, DATA_LEN);
            ok++;
        } else {
            assert_true(met);  /* only an injected failure may fail it */
            failed_runs++;
        }
        /* The processes exit: their sockets close, or abort. */
        if (A.p != NULL)
            rn_proc_exit(A.p);
        if (B.p != NULL)
            rn_proc_exit(B.p);
        run_for(RN_SEC(240));  /* past every timer, TIME_WAIT included */
        pair_down();
        if (!met)
            break;
    }
    assert_true(k < MAX_ALLOCS);
    print_message("exchange: %ld allocations; %d runs succeeded, %d failed with an error\n",
                  k, ok, failed_runs);
}

/* ---- Services ---------------------------------------------------------- */

#define ECHO_LEN 4096u

static struct rn_svcctl *SC;
static struct rn_svc *SVC;
static bool stop_heard;
static int stop_result;

static size_t client_want;  /* bytes the client reads before it stops; 0: to the end */

static void client_recv(struct side *s);

/* The client of the echo service and the web server: what it receives goes
 * to rx, until client_want bytes or the end of the connection. */
static void client_done(struct rn_proc *p, const struct rn_sock_completion *c)
{
    (void)p;
    if (c->sc_op == RN_SOP_RECV && c->sc_result > 0) {
        assert_true(A.got + (size_t)c->sc_result <= (client_want ? client_want : DATA_LEN));
        memcpy(rx + A.got, A.buf, (size_t)c->sc_result);
        A.got += (size_t)c->sc_result;
        if (client_want == 0 || A.got < client_want)
            client_recv(&A);
        return;
    }
    if (c->sc_op == RN_SOP_RECV && c->sc_result == 0)
        A.eof = true;
    a_done(p, c);
}

static void client_recv(struct side *s)
{
    struct rn_sock_req rq = {.sq_op = RN_SOP_RECV, .sq_handle = s->h, .sq_buf = s->buf,
                             .sq_len = sizeof(s->buf)};

    note_err(s, rn_sock_submit(s->p, &rq, client_done));
}

/* The client has what it wanted, or the connection ended. */
static bool client_over(void *ctx)
{
    (void)ctx;
    return (client_want != 0 && A.got >= client_want) || A.eof || A.err != 0;
}

static void heard(struct rn_svc_stop *stp, int result, void *ctx)
{
    (void)stp;
    (void)ctx;
    stop_heard = true;
    stop_result = result;
}

static bool stop_was_heard(void *ctx)
{
    (void)ctx;
    return stop_heard;
}

/* Stops SVC and waits; returns the result, or 1 if it was stopped. */
static int stop_service(void)
{
    static struct rn_svc_stop stp;
    int r;

    stop_heard = false;
    r = rn_svc_stop(SVC, RN_SEC(30), &stp, heard, NULL);
    if (r != 0)
        return r;
    run_while_not(stop_was_heard, NULL, RN_SEC(31));
    return stop_heard ? stop_result : RN_ETIMEDOUT;
}

/* The services round, every step allowed to fail.  Returns true if every
 * step reported success. */
static bool services_round(void)
{
    struct rn_sockaddr_in to = {.sin_addr = ADDR_B, .sin_port = 7};
    struct rn_sock_req rq;
    struct rn_strbuf table = RN_STRBUF_INIT;
    char err[200];
    bool ok;

    memset(&A, 0, sizeof(A));
    client_want = ECHO_LEN;
    memset(rx, 0, sizeof(rx));
    if (rn_filter_init(P.b) < 0 ||
        rn_filter_add(P.b, "layer=accept,action=callout:connlog", NULL, err, sizeof(err)) < 0 ||
        rn_filter_add(P.b, "layer=inbound-transport,proto=udp,lport=9,action=block", NULL, err,
                      sizeof(err)) < 0)
        return false;
    if (rn_svcctl_create(P.b, rn_svc_builtin, &SC) < 0)
        return false;
    if (rn_svcctl_add(SC, "echo", &SVC, err, sizeof(err)) < 0 ||
        rn_svc_start(SVC, err, sizeof(err)) < 0)
        return false;
    if (rn_proc_create(P.a, "client", &A.p) < 0)
        return false;
    A.h = rn_sock_open(A.p, RN_SOCK_STREAM, 0);
    if (A.h < 0)
        return false;
    rq = (struct rn_sock_req){.sq_op = RN_SOP_CONNECT, .sq_handle = A.h, .sq_to = &to};
    note_err(&A, rn_sock_submit(A.p, &rq, client_done));
    if (!run_while_not(a_connected, NULL, RN_SEC(30)) || A.err != 0)
        return false;
    client_recv(&A);
    rq = (struct rn_sock_req){.sq_op = RN_SOP_SEND, .sq_handle = A.h, .sq_buf = data,
                              .sq_len = ECHO_LEN};
    note_err(&A, rn_sock_submit(A.p, &rq, client_done));
    run_while_not(client_over, NULL, RN_SEC(60));
    if (A.err != 0 || A.got != ECHO_LEN)
        return false;
    rn__render_services(SC, NULL, rn_stack_now(P.b), NULL, &table, false);
    ok = !table.sb_oom && strstr(rn_strbuf_str(&table), "echo") != NULL;
    rn_strbuf_free(&table);
    return ok && stop_service() == 0;
}

static void test_services_fail_cleanly(void **state)
{
    long k;
    int ok = 0, failed_runs = 0;

    (void)state;
    for (k = 0; k < MAX_ALLOCS; k++) {
        bool met, success;

        pair_up(1500, false);
        SC = NULL;
        SVC = NULL;
        capture_begin();  /* connlog's lines, reports of unrecorded holds */
        arm(k);
        success = services_round();
        met = disarm();
        if (success) {
            assert_int_equal(A.got, ECHO_LEN);
            assert_memory_equal(rx, data, ECHO_LEN);
            ok++;
        } else {
            assert_true(met);
            failed_runs++;
        }
        if (A.p != NULL)
            rn_proc_exit(A.p);
        if (SVC != NULL && rn_svc_state(SVC) != RN_SVC_STOPPED) {
            run_for(RN_SEC(1));  /* a start that failed goes back to STOPPED */
            if (rn_svc_state(SVC) != RN_SVC_STOPPED)
                assert_int_equal(stop_service(), 0);
        }
        rn_svcctl_destroy(SC);
        run_for(RN_SEC(240));
        capture_end();
        pair_down();
        if (!met)
            break;
    }
    assert_true(k < MAX_ALLOCS);
    print_message("services: %ld allocations; %d runs succeeded, %d failed with an error\n", k,
                  ok, failed_runs);
}

/* ---- The web server ---------------------------------------------------- */

#define PAGE_LEN 6144u

static char docroot[64];
static uint8_t page[PAGE_LEN];

/* The round, every step allowed to fail.  Returns true if every step
 * reported success; the response is checked by the caller. */
static bool httpd_round(void)
{
    static const char get[] = "GET /page.bin HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n";
    struct rn_sockaddr_in to = {.sin_addr = ADDR_B, .sin_port = 80};
    struct rn_sock_req rq;
    char spec[128], err[200];

    memset(&A, 0, sizeof(A));
    client_want = 0;  /* the response, to the end of the connection */
    memset(rx, 0, sizeof(rx));
    snprintf(spec, sizeof(spec), "httpd=80:%s", docroot);
    if (rn_svcctl_create(P.b, rn_svc_builtin, &SC) < 0 ||
        rn_svcctl_add(SC, spec, &SVC, err, sizeof(err)) < 0 ||
        rn_svc_start(SVC, err, sizeof(err)) < 0)
        return false;
    if (rn_proc_create(P.a, "client", &A.p) < 0)
        return false;
    A.h = rn_sock_open(A.p, RN_SOCK_STREAM, 0);
    if (A.h < 0)
        return false;
    rq = (struct rn_sock_req){.sq_op = RN_SOP_CONNECT, .sq_handle = A.h, .sq_to = &to};
    note_err(&A, rn_sock_submit(A.p, &rq, client_done));
    if (!run_while_not(a_connected, NULL, RN_SEC(30)) || A.err != 0)
        return false;
    client_recv(&A);
    rq = (struct rn_sock_req){.sq_op = RN_SOP_SEND, .sq_handle = A.h, .sq_buf = (void *)get,
                              .sq_len = sizeof(get) - 1};
    note_err(&A, rn_sock_submit(A.p, &rq, client_done));
    run_while_not(client_over, NULL, RN_SEC(60));
    return A.err == 0 && A.eof && stop_service() == 0;
}

/* A response that says 200 and ends cleanly must carry the page whole,
 * whatever failed on the way (the server resets a connection whose body
 * it cannot finish; a client that failed itself knows).  Returns whether
 * it was one. */
static bool check_response(void)
{
    const char *end;
    size_t hlen;

    if (A.got < 12 || memcmp(rx, "HTTP/1.1 200", 12) != 0 || A.err != 0 || !A.eof)
        return false;
    end = memmem(rx, A.got, "\r\n\r\n", 4);
    assert_non_null(end);
    hlen = (size_t)(end - (const char *)rx) + 4;
    assert_int_equal(A.got - hlen, PAGE_LEN);
    assert_memory_equal(rx + hlen, page, PAGE_LEN);
    return true;
}

static void test_httpd_fails_cleanly(void **state)
{
    char path[96];
    FILE *f;
    long k;
    size_t i;
    int ok = 0, failed_runs = 0, whole = 0;

    (void)state;
    snprintf(docroot, sizeof(docroot), "/tmp/refnet-alloc-XXXXXX");
    assert_non_null(mkdtemp(docroot));
    snprintf(path, sizeof(path), "%s/page.bin", docroot);
    for (i = 0; i < PAGE_LEN; i++)
        page[i] = (uint8_t)(i * 13 + (i >> 7));
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(page, 1, PAGE_LEN, f), PAGE_LEN);
    fclose(f);
    for (k = 0; k < MAX_ALLOCS; k++) {
        bool met, success;

        pair_up(1500, false);
        SC = NULL;
        SVC = NULL;
        capture_begin();
        arm(k);
        success = httpd_round();
        met = disarm();
        if (check_response())
            whole++;
        if (success) {
            /* A response, whole: the page (checked above), or an error
             * status the server gave when it ran short (500). */
            assert_true(A.got >= 12 && memcmp(rx, "HTTP/1.1 ", 9) == 0);
            ok++;
        } else {
            assert_true(met);
            failed_runs++;
        }
        if (A.p != NULL)
            rn_proc_exit(A.p);
        if (SVC != NULL && rn_svc_state(SVC) != RN_SVC_STOPPED) {
            run_for(RN_SEC(1));
            if (rn_svc_state(SVC) != RN_SVC_STOPPED)
                assert_int_equal(stop_service(), 0);
        }
        rn_svcctl_destroy(SC);
        run_for(RN_SEC(240));
        capture_end();
        pair_down();
        if (!met)
            break;
    }
    assert_true(k < MAX_ALLOCS);
    unlink(path);
    rmdir(docroot);
    print_message("httpd: %ld allocations; %d runs succeeded, %d failed with an error, "
                  "%d whole 200 responses\n", k, ok, failed_runs, whole);
}

/* ---- Diagnosis ----------------------------------------------------------- */

/* What the tools say of the process now: the chains of every wait, the
 * dump of the snapshot, that dump decoded and rendered again, and the
 * watchdog's report.  Returns false, having freed everything, if any step
 * failed; every step that reports success is checked against ref when
 * ref is not NULL. */
struct told {
    struct rn_strbuf t_chains;
    void *t_dump;
    size_t t_dump_len;
    struct rn_strbuf t_decoded;
    struct rn_strbuf t_watchdog;
};

static void told_free(struct told *t)
{
    rn_strbuf_free(&t->t_chains);
    free(t->t_dump);
    rn_strbuf_free(&t->t_decoded);
    rn_strbuf_free(&t->t_watchdog);
    memset(t, 0, sizeof(*t));
}

static void same_text(const struct rn_strbuf *got, const struct rn_strbuf *want)
{
    assert_false(got->sb_oom);
    assert_string_equal(rn_strbuf_str(got), rn_strbuf_str(want));
}

static bool tell(struct told *t, const struct told *ref)
{
    struct rn_snapshot *s = rn_ob_snapshot(), *back = NULL;
    struct rn_watchdog *wd;
    char err[160];
    bool ok = false;
    int r;

    memset(t, 0, sizeof(*t));
    if (s == NULL)
        return false;
    r = rn_diag_render_chains(s, 0, &t->t_chains);
    if (r < 0)
        goto out;
    assert_true(r > 0);
    if (ref != NULL)
        same_text(&t->t_chains, &ref->t_chains);
    if (rn_dump_encode(s, &t->t_dump, &t->t_dump_len) < 0)
        goto out;
    if (ref != NULL) {
        assert_int_equal(t->t_dump_len, ref->t_dump_len);
        assert_memory_equal(t->t_dump, ref->t_dump, t->t_dump_len);
    }
    r = rn_dump_decode(t->t_dump, t->t_dump_len, &back, err, sizeof(err));
    if (r == RN_ENOMEM)
        goto out;
    assert_int_equal(r, 0);
    if (rn_diag_render_chains(back, 0, &t->t_decoded) < 0)
        goto out;
    same_text(&t->t_decoded, &t->t_chains);  /* offline says what live says */
    wd = rn_watchdog_new(1);
    if (wd == NULL)
        goto out;
    capture_begin();
    r = rn_watchdog_check_snapshot(wd, s, &t->t_watchdog);
    capture_end();
    s = NULL;  /* consumed */
    rn_watchdog_free(wd);
    if (r < 0)
        goto out;
    assert_true(r > 0);
    if (ref != NULL)
        same_text(&t->t_watchdog, &ref->t_watchdog);
    ok = true;
out:
    rn_snapshot_free(back);
    rn_snapshot_free(s);
    if (!ok)
        told_free(t);
    return ok;
}

static void test_diagnosis_fails_cleanly(void **state)
{
    struct rn_sockaddr_in l = {.sin_addr = 0, .sin_port = 7001}, to = {.sin_addr = ADDR_B, .sin_port = 7001};
    struct rn_sock_req rq;
    struct told ref, t;
    long k;
    int hl, told_ok = 0;

    (void)state;
    /* A connection whose server never closes: the client's close returns,
     * but its socket stays "close pending", a wait the chains show. */
    pair_up(1500, false);
    memset(&A, 0, sizeof(A));
    memset(&B, 0, sizeof(B));
    assert_int_equal(rn_proc_create(P.a, "client", &A.p), 0);
    assert_int_equal(rn_proc_create(P.b, "server", &B.p), 0);
    hl = rn_sock_open(B.p, RN_SOCK_STREAM, 0);
    assert_true(hl > 0);
    assert_int_equal(rn_sock_bind(B.p, hl, &l), 0);
    assert_int_equal(rn_sock_listen(B.p, hl, 4), 0);
    rq = (struct rn_sock_req){.sq_op = RN_SOP_ACCEPT, .sq_handle = hl};
    assert_int_equal(rn_sock_submit(B.p, &rq, b_done), 0);
    A.h = rn_sock_open(A.p, RN_SOCK_STREAM, 0);
    assert_true(A.h > 0);
    rq = (struct rn_sock_req){.sq_op = RN_SOP_CONNECT, .sq_handle = A.h, .sq_to = &to};
    assert_int_equal(rn_sock_submit(A.p, &rq, a_done), 0);
    assert_true(run_while_not(a_connected, NULL, RN_SEC(5)));
    rq = (struct rn_sock_req){.sq_op = RN_SOP_CLOSE, .sq_handle = A.h};
    assert_int_equal(rn_sock_submit(A.p, &rq, a_done), 0);
    run_for(RN_SEC(1));
    assert_true(A.closed);
    assert_int_equal(count_type("tcp connection"), 2);  /* FIN_WAIT_2, CLOSE_WAIT */

    assert_true(tell(&ref, NULL));
    for (k = 0; k < MAX_ALLOCS; k++) {
        bool ok, met;

        arm(k);
        ok = tell(&t, &ref);
        met = disarm();
        if (ok)
            told_ok++;
        told_free(&t);
        if (!met) {
            assert_true(ok);
            break;
        }
    }
    assert_true(k < MAX_ALLOCS);
    print_message("diagnosis: %ld allocations; %d runs told all, %ld failed with an error\n",
                  k, told_ok, k + 1 - told_ok);
    told_free(&ref);
    rn_proc_exit(A.p);
    rn_proc_exit(B.p);
    run_for(RN_SEC(240));
    pair_down();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ref_never_fails_for_memory),
        cmocka_unit_test(test_setup_fails_cleanly),
        cmocka_unit_test(test_exchange_fails_cleanly),
        cmocka_unit_test(test_services_fail_cleanly),
        cmocka_unit_test(test_httpd_fails_cleanly),
        cmocka_unit_test(test_diagnosis_fails_cleanly),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
