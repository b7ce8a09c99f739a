/*
 * The simple TCP services (apps.h): echo (RFC 862), discard (RFC 863) and
 * chargen (RFC 864), each a listener from the skeleton in tcp_server.c.
 *
 * Per connection, in call order:
 *   echo:    wait(in) -> take a buffer -> recv(buf) -> send(the same bytes)
 *            -> recv(buf, DONTWAIT) -> send ... until that recv finds
 *            nothing (RN_EAGAIN): the buffer goes back, wait(in) again.
 *            One request in flight: a peer that does not read is not read.
 *            recv 0 -> close; an error -> reset
 *   discard: wait(in) -> take a buffer -> recv(buf) -> count ->
 *            recv(buf, DONTWAIT) ... -> RN_EAGAIN: buffer back, wait(in);
 *            recv 0 -> close
 * (wait(in): rn__tsrv_wait_input(), the service's readiness set.)
 *   chargen: send(pattern + offset) -> send ...  and, beside it,
 *            recv(buf) -> drop -> recv ...;  recv 0 or an error -> reset
 * Draining (rn__tcpsvc_drain()): no more accepts; echo and discard serve
 * their connections until the peers end them (what they do is the peer's
 * to finish); chargen, which never finishes, ends each stream after the
 * send in flight with a close (FIN), not a reset.
 * The chargen pattern is one buffer per service, read-only, holding the
 * 95-line cycle repeated so that any send of sv_bufsize bytes starting
 * anywhere in the first cycle lies within it.
 * An idle echo or discard connection holds no buffer and no request, only
 * its registration in the service's readiness set: buffers are taken while
 * data flows, from the service's free list (at most SIMPLE_POOL_MAX kept, the
 * rest freed), so a million idle connections do not pin a million buffers.
 */
#include <assert.h>
#include <stddef.h>
#include <stdlib.h>

#include "refnet/error.h"
#include "apps/tcp_server.h"

#define SIMPLE_BUF_DEFAULT 16384u
#define SIMPLE_BUF_MIN 512u
#define SIMPLE_BUF_MAX (1u << 20)
#define SIMPLE_CONNS_DEFAULT 1024u
#define SIMPLE_CONNS_MAX RN_SVC_CONNS_MAX
#define SIMPLE_BACKLOG_DEFAULT 1024u
#define CHARGEN_LINE 72u                          /* printable characters per line */
#define CHARGEN_CHARS 95u                         /* ' ' .. '~' */
#define CHARGEN_CYCLE ((CHARGEN_LINE + 2u) * CHARGEN_CHARS) /* bytes until it repeats */
#define CHARGEN_SINK 2048u                        /* chargen's receive buffer */
#define SIMPLE_POOL_MAX 64u                       /* free buffers a service keeps */

enum simple_kind {
    SIMPLE_ECHO,
    SIMPLE_DISCARD,
    SIMPLE_CHARGEN,
};

struct rn_tcpsvc {
    struct tsrv sv_srv;          /* the skeleton; first, so a tsrv is a rn_tcpsvc */
    enum simple_kind sv_kind;    /* [I] */
    uint32_t sv_bufsize;         /* [I] receive buffer, or chargen's send size */
    uint8_t *sv_pattern;         /* [I] chargen: CHARGEN_CYCLE + sv_bufsize bytes */
    void *sv_pool;               /* [L] free receive buffers, each linked by its
                                    first pointer; sv_npool of them */
    unsigned sv_npool;           /* [L] <= SIMPLE_POOL_MAX */
};

struct simple_conn {
    struct tsrv_conn sc_base;    /* the skeleton's head */
    uint8_t *sc_buf;             /* [L] receive buffer; echo and discard: NULL
                                    while idle (waiting) */
    uint32_t sc_off;             /* [L] chargen: next offset in the cycle */
    bool sc_ending;              /* [L] chargen: the drain asked it to end */
};

uint8_t rn__chargen_byte(uint64_t off)
{
    uint64_t line = off / (CHARGEN_LINE + 2u);
    uint64_t col = off % (CHARGEN_LINE + 2u);

    if (col == CHARGEN_LINE)
        return '\r';
    if (col == CHARGEN_LINE + 1u)
        return '\n';
    return (uint8_t)(' ' + (line + col) % CHARGEN_CHARS);
}

static struct rn_tcpsvc *svc_of(const struct tsrv_conn *c)
{
    return (struct rn_tcpsvc *)c->tc_srv;
}

/* Takes a receive buffer from the service's free list, or a new one. */
static uint8_t *buf_take(struct rn_tcpsvc *sv)
{
    void *b = sv->sv_pool;

    if (b == NULL)
        return malloc(sv->sv_bufsize);
    sv->sv_pool = *(void **)b;
    sv->sv_npool--;
    return b;
}

/* Gives a receive buffer back: to the free list, or freed when it is
 * full. */
static void buf_give(struct rn_tcpsvc *sv, uint8_t *b)
{
    if (b == NULL)
        return;
    if (sv->sv_npool >= SIMPLE_POOL_MAX) {
        free(b);
        return;
    }
    *(void **)b = sv->sv_pool;
    sv->sv_pool = b;
    sv->sv_npool++;
}

/* Echo, discard: idle, holding no buffer, until the peer sends. */
static void simple_wait(struct simple_conn *sc)
{
    buf_give(svc_of(&sc->sc_base), sc->sc_buf);
    sc->sc_buf = NULL;
    if (rn__tsrv_wait_input(&sc->sc_base) < 0)
        rn__tsrv_close(&sc->sc_base, true);
}

/* Receives into the connection's buffer (taking one if it has none);
 * flags RN_MSG_DONTWAIT: only what is there already. */
static void simple_recv_flags(struct simple_conn *sc, uint32_t flags)
{
    struct rn_tcpsvc *sv = svc_of(&sc->sc_base);
    struct rn_sock_req rq = {
        .sq_op = RN_SOP_RECV,
        .sq_len = sv->sv_kind == SIMPLE_CHARGEN ? CHARGEN_SINK : sv->sv_bufsize,
        .sq_flags = flags,
    };

    if (sc->sc_buf == NULL)
        sc->sc_buf = buf_take(sv);
    if (sc->sc_buf == NULL) {
        rn__tsrv_close(&sc->sc_base, true);
        return;
    }
    rq.sq_buf = sc->sc_buf;

    if (rn__tsrv_submit(&sc->sc_base, &rq) < 0)
        rn__tsrv_close(&sc->sc_base, true);
}

static void simple_recv(struct simple_conn *sc)
{
    simple_recv_flags(sc, 0);
}

static void simple_send(struct simple_conn *sc, const uint8_t *buf, size_t len)
{
    struct rn_sock_req rq = {.sq_op = RN_SOP_SEND, .sq_buf = (void *)buf, .sq_len = len};

    if (rn__tsrv_submit(&sc->sc_base, &rq) < 0)
        rn__tsrv_close(&sc->sc_base, true);
}

static void chargen_send(struct simple_conn *sc)
{
    struct rn_tcpsvc *sv = svc_of(&sc->sc_base);

    simple_send(sc, sv->sv_pattern + sc->sc_off, sv->sv_bufsize);
}

static void simple_open(struct tsrv_conn *c)
{
    struct simple_conn *sc = (struct simple_conn *)c;
    struct rn_tcpsvc *sv = svc_of(c);

    if (sv->sv_kind != SIMPLE_CHARGEN) {
        simple_wait(sc);
        return;
    }
    sc->sc_buf = malloc(CHARGEN_SINK);
    if (sc->sc_buf == NULL) {
        rn__tsrv_close(c, true);
        return;
    }
    simple_recv(sc);
    if (!c->tc_closing)
        chargen_send(sc);
}

/* The end of a connection, by what the last completion said. */
static void simple_end(struct simple_conn *sc, ssize_t result)
{
    struct tsrv *s = sc->sc_base.tc_srv;

    if (result < 0)
        s->ts_stats.ss_resets++;
    /* Chargen resets even on the peer's close: what it has queued is of no
     * interest to a peer that is done. */
    rn__tsrv_close(&sc->sc_base, result < 0 || svc_of(&sc->sc_base)->sv_kind == SIMPLE_CHARGEN);
}

static void simple_done(struct tsrv_conn *c, const struct rn_sock_completion *cmp)
{
    struct simple_conn *sc = (struct simple_conn *)c;
    struct rn_tcpsvc *sv = svc_of(c);
    struct tsrv *s = c->tc_srv;

    if (cmp->sc_op == RN_SOP_RECV && cmp->sc_result == RN_EAGAIN &&
        sv->sv_kind != SIMPLE_CHARGEN) {
        simple_wait(sc);  /* drained: idle again, without a buffer */
        return;
    }
    if (cmp->sc_result <= 0) {
        simple_end(sc, cmp->sc_result);
        return;
    }
    if (cmp->sc_op == RN_SOP_RECV) {
        s->ts_stats.ss_bytes_in += (uint64_t)cmp->sc_result;
        if (sv->sv_kind == SIMPLE_ECHO)
            simple_send(sc, sc->sc_buf, (size_t)cmp->sc_result);
        else if (sv->sv_kind == SIMPLE_DISCARD)
            simple_recv_flags(sc, RN_MSG_DONTWAIT);
        else
            simple_recv(sc);
        return;
    }
    assert(cmp->sc_op == RN_SOP_SEND);
    s->ts_stats.ss_bytes_out += (uint64_t)cmp->sc_result;
    if (sv->sv_kind == SIMPLE_ECHO) {
        simple_recv_flags(sc, RN_MSG_DONTWAIT);
    } else if (sc->sc_ending) {
        rn__tsrv_close(c, false);  /* the drain: a close after what was sent */
    } else {
        sc->sc_off = (uint32_t)((sc->sc_off + (uint64_t)cmp->sc_result) % CHARGEN_CYCLE);
        chargen_send(sc);
    }
}

/* Echo, discard: input, the peer's end or an error came to an idle
 * connection: the receive tells which. */
static void simple_ready(struct tsrv_conn *c, unsigned events)
{
    (void)events;
    simple_recv((struct simple_conn *)c);
}

/* The service drains: chargen ends its stream after the send in flight
 * (it always has one); echo and discard go on until their peers end. */
static void simple_drain(struct tsrv_conn *c)
{
    if (svc_of(c)->sv_kind == SIMPLE_CHARGEN)
        ((struct simple_conn *)c)->sc_ending = true;
}

static void simple_free(struct tsrv_conn *c)
{
    struct simple_conn *sc = (struct simple_conn *)c;

    if (svc_of(c)->sv_kind == SIMPLE_CHARGEN)
        free(sc->sc_buf);
    else
        buf_give(svc_of(c), sc->sc_buf);
}

static void simple_stopped(struct tsrv *s)
{
    struct rn_tcpsvc *sv = (struct rn_tcpsvc *)s;

    while (sv->sv_pool != NULL) {
        void *b = sv->sv_pool;

        sv->sv_pool = *(void **)b;
        free(b);
    }
    free(sv->sv_pattern);
    free(sv);
}

static const struct tsrv_ops simple_ops = {
    .tso_conn_size = sizeof(struct simple_conn),
    .tso_open = simple_open,
    .tso_done = simple_done,
    .tso_ready = simple_ready,
    .tso_free = simple_free,
    .tso_stopped = simple_stopped,
    .tso_drain = simple_drain,
};

static int simple_start(struct rn_stack *st, const struct rn_tcpsvc_params *params,
                        enum simple_kind kind, struct rn_tcpsvc **out)
{
    static const char *const names[] = {"tcpecho", "discard", "chargen"};
    static const uint16_t ports[] = {7, 9, 19};
    struct rn_tcpsvc_params sp = params ? *params : (struct rn_tcpsvc_params){0};
    struct tsrv_params tp = {0};
    struct rn_tcpsvc *sv;
    size_t i;
    int err;

    if (sp.sv_bufsize == 0)
        sp.sv_bufsize = SIMPLE_BUF_DEFAULT;
    if (sp.sv_max_conns == 0)
        sp.sv_max_conns = SIMPLE_CONNS_DEFAULT;
    if (sp.sv_backlog == 0)
        sp.sv_backlog = SIMPLE_BACKLOG_DEFAULT;
    if (sp.sv_bufsize < SIMPLE_BUF_MIN || sp.sv_bufsize > SIMPLE_BUF_MAX ||
        sp.sv_max_conns > SIMPLE_CONNS_MAX || sp.sv_backlog > 65535)
        return RN_EINVAL;
    sv = calloc(1, sizeof(*sv));
    if (sv == NULL)
        return RN_ENOMEM;
    sv->sv_kind = kind;
    sv->sv_bufsize = sp.sv_bufsize;
    if (kind == SIMPLE_CHARGEN) {
        sv->sv_pattern = malloc(CHARGEN_CYCLE + sp.sv_bufsize);
        if (sv->sv_pattern == NULL) {
            free(sv);
            return RN_ENOMEM;
        }
        for (i = 0; i < CHARGEN_CYCLE + sp.sv_bufsize; i++)
            sv->sv_pattern[i] = rn__chargen_byte(i);
    }
    tp.tsp_name = names[kind];
    tp.tsp_addr = sp.sv_addr;
    tp.tsp_port = sp.sv_port != 0 ? sp.sv_port : ports[kind];
    tp.tsp_backlog = sp.sv_backlog;
    tp.tsp_max_conns = sp.sv_max_conns;
    tp.tsp_proc = sp.sv_proc;
    err = rn__tsrv_start(&sv->sv_srv, st, &simple_ops, &tp);
    if (err < 0) {
        free(sv->sv_pattern);
        free(sv);
        return err;
    }
    *out = sv;
    return 0;
}

int rn__tcpecho_start(struct rn_stack *st, const struct rn_tcpsvc_params *params,
                     struct rn_tcpsvc **out)
{
    return simple_start(st, params, SIMPLE_ECHO, out);
}

int rn__discard_start(struct rn_stack *st, const struct rn_tcpsvc_params *params,
                     struct rn_tcpsvc **out)
{
    return simple_start(st, params, SIMPLE_DISCARD, out);
}

int rn__chargen_start(struct rn_stack *st, const struct rn_tcpsvc_params *params,
                     struct rn_tcpsvc **out)
{
    return simple_start(st, params, SIMPLE_CHARGEN, out);
}

void rn__tcpsvc_stop(struct rn_tcpsvc *s, void (*done)(void *ctx), void *ctx)
{
    rn__tsrv_stop(&s->sv_srv, done, ctx);
}

void rn__tcpsvc_drain(struct rn_tcpsvc *s)
{
    rn__tsrv_drain(&s->sv_srv);
}

void rn__tcpsvc_drain_status(const struct rn_tcpsvc *s, uint32_t *conns, uint64_t *moved)
{
    uint64_t left, sent;

    rn__tsrv_drain_status(&s->sv_srv, conns, &left, &sent);
    /* Discard only receives: its progress is what it takes in. */
    *moved = sent + s->sv_srv.ts_stats.ss_bytes_in;
}

void rn__tcpsvc_released(struct rn_tcpsvc *s)
{
    rn__tsrv_released(&s->sv_srv);
}

void rn__tcpsvc_stats(const struct rn_tcpsvc *s, struct rn_tcpsvc_stats *out)
{
    *out = s->sv_srv.ts_stats;
}

struct rn_proc *rn__tcpsvc_proc(const struct rn_tcpsvc *s)
{
    return s->sv_srv.ts_proc;
}
