/*
 * Socket endpoints: open, the immediate calls on the loop thread, the pull
 * from the transport into pending requests, and close (socket.h).
 *
 * Events, in call order:
 *   transport upcall (e.g. udp_input -> up_event) -> sock_upcall()
 *     -> rn__sock_kick(): to_recv() into the oldest receive, to_send() from
 *        the oldest send, connect and accept results, then poll requests
 *     -> rn__sock_req_complete() (request.c) for each request satisfied
 *     -> rn__rset_sock_event() (rset.c) if readiness sets watch the socket
 * Close, in call order (it returns at once, as close(2) does: the socket
 * stays its process's, "closing", until its transport object is released):
 *   rn__sock_close() [L]: register the process's "cleanup" wait and free
 *     the handle's number (proc.c), cancel pending requests, leave every
 *     readiness set, kill the socket, to_close(), register the socket's
 *     "close" wait on the object to_close() handed back, drop
 *     "socket.endpoint" on it; the close request completes now, or under
 *     SO_LINGER > 0 once the transport says everything sent was
 *     acknowledged (to_settled), or at the linger time, when the close
 *     turns abortive (to_abort)
 *   ... transport object released -> sock_close_fired() [any] -> posted
 *   -> sock_close_done() [L]: a lingering close request completes; the
 *      slot drops "handle", releasing the socket (proc.c takes it from
 *      there).
 */
#include <assert.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "refnet/error.h"
#include "socket/sock_priv.h"
#include "wire/ipv4.h"

int rn__sock_addr_in(struct sock *so, const struct rn_sockaddr_in *in, struct rn_sockaddr_in *out)
{
    struct rn_sockaddr_in a = {.sin_port = in->sin_port};

    if (!so->so_inet6) {
        if (in->sin_family != 0 && in->sin_family != RN_AF_INET)
            return RN_EAFNOSUPPORT;
        a.sin_family = RN_AF_INET;
        a.sin_addr = in->sin_addr;
        a.sin6_addr = rn_inaddr_v4(in->sin_addr).ia_ip6;
    } else {
        struct rn_inaddr ia = rn_inaddr_v6(&in->sin6_addr);
        int64_t v6only = 0;

        if (in->sin_family != RN_AF_INET6)
            return RN_EAFNOSUPPORT;
        if (rn_inaddr_is_v4(&ia)) {
            if (so->so_t != NULL &&
                so->so_ops->to_getopt(so->so_t, RN_IPV6_V6ONLY, &v6only) == 0 && v6only)
                return RN_ENETUNREACH;
            a.sin_addr = rn_inaddr_to_v4(&ia);
        }
        a.sin_family = RN_AF_INET6;
        a.sin6_addr = in->sin6_addr;
    }
    *out = a;
    return 0;
}

void rn__sock_addr_out(const struct sock *so, struct rn_sockaddr_in *a)
{
    struct rn_inaddr ia = rn_inaddr_v6(&a->sin6_addr);

    a->sin_family = so->so_inet6 ? RN_AF_INET6 : RN_AF_INET;
    a->sin_addr = rn_inaddr_is_v4(&ia) ? rn_inaddr_to_v4(&ia) : 0;
    /* An AF_INET socket's "no address" (a zeroed answer) reads as
     * 0.0.0.0 mapped, so that both forms agree. */
    if (!so->so_inet6 && !rn_inaddr_is_v4(&ia))
        a->sin6_addr = rn_inaddr_v4(0).ia_ip6;
}

static const char *const state_names[] = {
    [SO_OPEN] = "open",
    [SO_CLOSE_PENDING] = "close pending",
    [SO_CLOSED] = "closed",
};

static void sock_describe(const void *ob, char *buf, size_t len)
{
    const struct sock *so = ob;
    unsigned state = atomic_load_explicit(&so->so_state, memory_order_relaxed);
    char la[RN_IP6_STRLEN + 8], ra[RN_IP6_STRLEN + 8], peer[RN_IP6_STRLEN + 16] = "";
    struct rn__ep_name_copy n;

    if (so->so_ops == NULL) {  /* still being created */
        snprintf(buf, len, "socket #%d", so->so_handle);
        return;
    }
    if (!rn__ep_names_get(&so->so_names, &n)) {
        snprintf(buf, len, "socket #%d %s (names changing) %s", so->so_handle,
                 so->so_ops->to_name, state < 3 ? state_names[state] : "?");
        return;
    }
    if (n.ec_port[1] != 0)
        snprintf(peer, sizeof(peer), " peer %s",
                 rn__ep_name_fmt(&n.ec_addr[1], n.ec_port[1], so->so_inet6, ra, sizeof(ra)));
    snprintf(buf, len, "socket #%d %s %s%s %s", so->so_handle, so->so_ops->to_name,
             rn__ep_name_fmt(&n.ec_addr[0], n.ec_port[0], so->so_inet6, la, sizeof(la)), peer,
             state < 3 ? state_names[state] : "?");
}

static void sock_release(void *ob)
{
    struct sock *so = ob;

    atomic_fetch_sub_explicit(&so->so_sl->sl_nsockets, 1, memory_order_release);
}

static const struct rn_ob_type_ops sock_ops = {
    .name = "socket",
    .size = sizeof(struct sock),
    .release = sock_release,
    .describe = sock_describe,
    /* "create", "handle", "request" and a readiness set's, or a passing
     * enumeration or look-up in its place. */
    .holders = 4,
};

/* Who holds a socket (object.h, "Holder contracts").  Condition bit 0,
 * "in a handle slot", covers the slot's "handle" hold, from the socket's
 * attach to the end of its close; a slot has one socket, a socket one
 * slot. */
#define SOCK_COND_SLOT 0x1u
static const char *const sock_conds[] = {"in a handle slot"};
static const struct rn_ob_holder sock_holders[] = {
    {"create", 0, 0, 0, "expected: the socket layer's own, until the socket closes"},
    {"handle", SOCK_COND_SLOT, RN_HOLD_DYING | RN_HOLD_ONE, 0,
     "expected while a handle is open; its cleanup drops it once the close completes"},
    {"request", 0, RN_HOLD_DYING, 0,
     "expected while a request is pending; its completion drops it"},
    {"readiness-set", 0, RN_HOLD_DYING, 0,
     "expected while registered in a readiness set; the close takes it out"},
};
static const struct rn_ob_contract sock_contract = {
    sock_holders, sizeof(sock_holders) / sizeof(sock_holders[0]), sock_conds, 1, 0,
};

void rn__sock_types_init(void)
{
    rn__sock_types.st_sock = rn_ob_type_register(&sock_ops);
    if (rn__sock_types.st_sock != NULL)
        (void)rn_ob_type_set_contract(rn__sock_types.st_sock, &sock_contract);
}

/* ---- Events from the transport ------------------------------------------------ */

void rn__sock_names(struct sock *so)
{
    struct rn_sockaddr_in l = {0}, r = {0};

    if (so->so_t == NULL)
        return;
    so->so_ops->to_getname(so->so_t, &l, &r);
    struct rn_inaddr la, ra;

    rn__sock_addr_out(so, &l);
    rn__sock_addr_out(so, &r);
    la = rn_inaddr_v6(&l.sin6_addr);
    ra = rn_inaddr_v6(&r.sin6_addr);
    rn__ep_names_set(&so->so_names, &la, l.sin_port, &ra, r.sin_port);
}

/* True if a stream has what SO_RCVLOWAT asks before a receive completes:
 * as many bytes as the low-water mark (or the request's length, if
 * smaller), or the end of data, or an error. */
static bool lowat_met(struct sock *so, size_t len)
{
    size_t need = so->so_rcvlowat < len ? so->so_rcvlowat : len;
    ssize_t inq;

    if (need <= 1 || so->so_ops->to_type != RN_SOCK_STREAM)
        return true;
    if (so->so_ops->to_poll(so->so_t) & (RN_POLLRDHUP | RN_POLLERR | RN_POLLHUP))
        return true;
    inq = so->so_ops->to_inq(so->so_t);
    return inq < 0 || (size_t)inq >= need;
}

/* True if the oldest receive may be tried now. */
static bool recv_ready(struct sock *so, struct sock_req *rq)
{
    return (rq->rq_flags & RN_MSG_PEEK) || rq->rq_done > 0 || lowat_met(so, rq->rq_len);
}

/* One pass over the pending requests; see rn__sock_kick(). */
static void kick_once(struct sock *so)
{
    const struct rn_transport_ops *ops = so->so_ops;
    struct sock_req *rq;
    struct poll_link *pl;

    while ((rq = so->so_recvq.rqq_head) != NULL && so->so_t != NULL) {
        struct rn_sockaddr_in from = {0};
        uint32_t oflags = 0;
        bool waitall;
        ssize_t n;

        if (!recv_ready(so, rq))
            break;
        waitall = ops->to_type == RN_SOCK_STREAM &&
                  (rq->rq_flags & (RN_MSG_WAITALL | RN_MSG_PEEK)) == RN_MSG_WAITALL;
        n = ops->to_recv(so->so_t, (char *)rq->rq_buf + rq->rq_done, rq->rq_len - rq->rq_done,
                         rq->rq_flags, &from, &oflags);
        if (n == RN_EAGAIN)
            break;
        rn__sock_addr_out(so, &from);
        rq->rq_comp.sc_addr = from;
        rq->rq_comp.sc_flags = oflags;
        if (waitall) {
            /* The whole length, or what came before the end, an error or
             * a timeout (request.c). */
            if (n > 0)
                rq->rq_done += (size_t)n;
            if (n > 0 && rq->rq_done < rq->rq_len)
                continue;
            n = rq->rq_done > 0 ? (ssize_t)rq->rq_done : n;
        }
        rn__sock_req_complete(rq, n);
    }
    while ((rq = so->so_sendq.rqq_head) != NULL && so->so_t != NULL) {
        ssize_t n = ops->to_send(so->so_t, (const char *)rq->rq_buf + rq->rq_done,
                                 rq->rq_len - rq->rq_done, rq->rq_has_to ? &rq->rq_to : NULL,
                                 rq->rq_flags);

        if (n == RN_EAGAIN)
            break;
        if (n < 0) {
            /* A stream reports what it took before the error. */
            rn__sock_req_complete(rq, rq->rq_done > 0 ? (ssize_t)rq->rq_done : n);
            continue;
        }
        rq->rq_done += (size_t)n;
        if (ops->to_type == RN_SOCK_DGRAM || rq->rq_done == rq->rq_len) {
            /* RN_MSG_EOF: the stream shut itself as it took the last byte. */
            rn__sock_req_complete(rq, (ssize_t)rq->rq_done);
            continue;
        }
        break;  /* partly taken: wait for RN_POLLOUT */
    }
    if ((rq = so->so_connq.rqq_head) != NULL && so->so_t != NULL) {
        unsigned m = ops->to_poll(so->so_t);

        if (m & RN_POLLERR) {
            int err = ops->to_error(so->so_t);

            rn__sock_req_complete(rq, err < 0 ? err : RN_ECONNREFUSED);
        } else if (m & RN_POLLOUT) {
            /* Connecting again sees it done (0), so that a later connect
             * answers EISCONN, as after a blocking connect(2). */
            int err = ops->to_connect(so->so_t, &rq->rq_to);  /* checked at the start */

            rn__sock_req_complete(rq, err == RN_EISCONN ? 0 : err);
        }
    }
    while ((rq = so->so_acceptq.rqq_head) != NULL && so->so_t != NULL) {
        struct rn_sockaddr_in peer = {0};
        int h = rn__sock_accept_one(so, rq->rq_proc, &peer, rq->rq_flags);

        if (h == RN_EAGAIN)
            break;
        rq->rq_comp.sc_addr = peer;
        rn__sock_req_complete(rq, h);
    }
    /* Completing a poll unlinks all its entries, and its object may be
     * gone at once (another thread reaps it), so restart after each. */
    pl = so->so_pollers;
    while (pl != NULL)
        pl = rn__sock_poll_check(pl->pl_req) ? so->so_pollers : pl->pl_next;
}

void rn__sock_kick(struct sock *so)
{
    /* A transport may report an event while it is being called from here;
     * the outer pass then runs once more instead of recursing. */
    if (so->so_kicking) {
        so->so_kick_again = true;
        return;
    }
    so->so_kicking = true;
    do {
        so->so_kick_again = false;
        kick_once(so);
    } while (so->so_kick_again);
    so->so_kicking = false;
    /* A send may have bound the socket to an ephemeral port. */
    if (rn__ep_names_lport(&so->so_names) == 0)
        rn__sock_names(so);
}

static void sock_upcall(void *ctx, unsigned events)
{
    struct sock *so = ctx;

    rn__sock_mark_loop(so->so_sl);
    rn__sock_kick(so);  /* the pull re-reads the transport's state */
    /* Readiness sets hear of it after the pull took what it could. */
    if (so->so_ritems != NULL)
        rn__rset_sock_event(so, events);
}

/* ---- Open ------------------------------------------------------------------------ */

/* Creates a socket object for p on slot hs, without its transport. */
static struct sock *sock_new(struct rn_proc *p, struct hslot *hs,
                             const struct rn_transport_ops *ops)
{
    struct sock *so = rn_ob_create(rn__sock_types.st_sock, RN_TAG_CREATE);

    if (so == NULL)
        return NULL;
    so->so_sl = p->p_sl;
    so->so_proc = p;
    so->so_slot = hs;
    so->so_handle = hs->hs_handle;
    so->so_nslots = 1;
    so->so_linger = -1;
    so->so_rcvlowat = 1;
    so->so_ops = ops;
    atomic_fetch_add_explicit(&p->p_sl->sl_nsockets, 1, memory_order_relaxed);
    return so;
}

/* What the transport of socket so calls; it keeps a copy. */
static struct rn_sock_upcall sock_upcall_of(struct sock *so)
{
    struct rn_sock_upcall up = {
        .up_event = sock_upcall, .up_ctx = so, .up_owner = so, .up_inet6 = so->so_inet6};

    return up;
}

/* Hands the new socket to its slot and makes it visible. */
static void sock_attach(struct sock *so, struct hslot *hs)
{
    rn_ob_cond_set(so, SOCK_COND_SLOT);
    rn_ob_ref(so, RN_TAG_HANDLE);
    hs->hs_so = so;
    rn__sock_names(so);
    rn_ob_publish(so);
}

int rn__sock_open(struct rn_proc *p, int type, int proto)
{
    const struct rn_transport_ops *ops;
    uint32_t flags = (uint32_t)type & RN_SOCK_NONBLOCK;
    bool inet6 = ((uint32_t)type & RN_SOCK_INET6) != 0;
    struct rn_sock_upcall up;
    struct hslot *hs;
    struct sock *so;
    int err;

    if (atomic_load_explicit(&p->p_state, memory_order_relaxed) != PROC_RUNNING)
        return RN_ESHUTDOWN;
    type &= ~(RN_SOCK_NONBLOCK | RN_SOCK_INET6);
    /* As Linux answers types it knows but refnet does not serve, and an
     * unknown one. */
    if (type == RN_SOCK_RAW)
        return RN_EPROTONOSUPPORT;
    if (type == RN_SOCK_SEQPACKET || type == 4 /* RDM */ || type == 6 /* DCCP */)
        return RN_ESOCKTNOSUPPORT;
    if (type != RN_SOCK_DGRAM && type != RN_SOCK_STREAM)
        return RN_EINVAL;
    ops = rn__transport_find(type, proto);
    if (ops == NULL)
        return RN_EPROTONOSUPPORT;  /* a known type, not with that protocol */
    hs = rn__sock_slot_alloc(p, &err);
    if (hs == NULL)
        return err;
    so = sock_new(p, hs, ops);
    if (so == NULL) {
        rn__sock_slot_free(hs);
        return RN_ENOMEM;
    }
    so->so_inet6 = inet6;
    up = sock_upcall_of(so);
    err = ops->to_open(p->p_stack, &up, &so->so_t);
    if (err < 0) {
        atomic_store_explicit(&so->so_state, SO_CLOSED, memory_order_relaxed);
        rn_ob_kill(so);
        rn__sock_slot_free(hs);
        return err;
    }
    atomic_store_explicit(&hs->hs_flags, flags ? RN_O_NONBLOCK : 0, memory_order_relaxed);
    sock_attach(so, hs);
    return hs->hs_handle;
}

int rn__sock_accept_one(struct sock *lso, struct rn_proc *p, struct rn_sockaddr_in *peer,
                        uint32_t flags)
{
    struct rn_sock_upcall up;
    struct hslot *hs;
    struct sock *so;
    int err;

    if (!(lso->so_ops->to_poll(lso->so_t) & RN_POLLIN))
        return RN_EAGAIN;
    /* An exiting process takes no more: the connection waits for another. */
    if (atomic_load_explicit(&p->p_state, memory_order_relaxed) != PROC_RUNNING)
        return RN_ESHUTDOWN;
    hs = rn__sock_slot_alloc(p, &err);
    if (hs == NULL)
        return err;
    so = sock_new(p, hs, lso->so_ops);
    if (so == NULL) {
        rn__sock_slot_free(hs);
        return RN_ENOMEM;
    }
    so->so_inet6 = lso->so_inet6;
    up = sock_upcall_of(so);
    err = lso->so_ops->to_accept(lso->so_t, &up, &so->so_t, peer);
    if (err == 0)
        rn__sock_addr_out(so, peer);
    if (err < 0) {
        atomic_store_explicit(&so->so_state, SO_CLOSED, memory_order_relaxed);
        rn_ob_kill(so);
        rn__sock_slot_free(hs);
        return err;
    }
    if (flags & RN_SOCK_NONBLOCK)
        atomic_store_explicit(&hs->hs_flags, RN_O_NONBLOCK, memory_order_relaxed);
    /* The socket-level options pass from the listener, as on Linux. */
    so->so_rcvtimeo = lso->so_rcvtimeo;
    so->so_sndtimeo = lso->so_sndtimeo;
    so->so_linger = lso->so_linger;
    so->so_rcvlowat = lso->so_rcvlowat;
    sock_attach(so, hs);
    return hs->hs_handle;
}

/* ---- Immediate operations --------------------------------------------------------- */

int rn__sock_bind(struct sock *so, const struct rn_sockaddr_in *addr)
{
    struct rn_sockaddr_in a;
    int err = rn__sock_addr_in(so, addr, &a);

    if (err == 0)
        err = so->so_ops->to_bind(so->so_t, &a);

    rn__sock_names(so);
    return err;
}

static rn_time_t ms_to_time(int64_t ms)
{
    return (rn_time_t)ms * RN_NSEC_PER_MSEC;
}

bool rn__sock_opt_is_str(enum rn_sockopt opt)
{
    return opt == RN_TCP_CONGESTION;
}

/* The longest string option's value, its NUL included. */
#define SOCK_OPT_STR_MAX 64

int rn__sock_setopt_str(struct sock *so, enum rn_sockopt opt, const char *val)
{
    if (val == NULL || !rn__sock_opt_is_str(opt))
        return RN_EINVAL;
    /* A name longer than any is no algorithm's (Linux: ENOENT). */
    if (strnlen(val, SOCK_OPT_STR_MAX) >= SOCK_OPT_STR_MAX)
        return RN_ENOENT;
    if (so->so_ops->to_setopt_str == NULL)
        return RN_ENOPROTOOPT;  /* not this transport's level, as Linux */
    return so->so_ops->to_setopt_str(so->so_t, opt, val);
}

int rn__sock_getopt_str(struct sock *so, enum rn_sockopt opt, char *buf, size_t len)
{
    if (buf == NULL || len == 0 || !rn__sock_opt_is_str(opt))
        return RN_EINVAL;
    if (so->so_ops->to_getopt_str == NULL)
        return RN_EOPNOTSUPP;  /* as Linux reads TCP's options of a datagram socket */
    return so->so_ops->to_getopt_str(so->so_t, opt, buf, len);
}

int rn__sock_setopt(struct sock *so, enum rn_sockopt opt, int64_t val)
{
    if (rn__sock_opt_is_str(opt))
        return RN_EINVAL;  /* its value is a string: rn_sock_setopt_str() */
    switch (opt) {
    case RN_SO_RCVTIMEO:
    case RN_SO_SNDTIMEO:
        if (val < 0 || val > INT64_MAX / (int64_t)RN_NSEC_PER_MSEC)
            return RN_EINVAL;
        if (opt == RN_SO_RCVTIMEO)
            so->so_rcvtimeo = ms_to_time(val);
        else
            so->so_sndtimeo = ms_to_time(val);
        return 0;
    case RN_SO_LINGER:
        if (val < -1)
            return RN_EINVAL;
        so->so_linger = val > INT32_MAX ? INT32_MAX : (int32_t)val;  /* as Linux's int */
        return 0;
    case RN_SO_RCVLOWAT:
        /* As Linux: 0 means 1; the socket's receive buffer caps it. */
        if (val < 0)
            return RN_EINVAL;
        so->so_rcvlowat = val == 0 ? 1 : val > INT32_MAX ? INT32_MAX : (uint32_t)val;
        return 0;
    case RN_SO_ERROR:
    case RN_SO_TYPE:
    case RN_SO_ACCEPTCONN:
        return RN_ENOPROTOOPT;  /* read-only, as Linux answers */
    case RN_IPV6_V6ONLY:
        if (!so->so_inet6)
            return RN_ENOPROTOOPT;  /* an IPv6 option on an AF_INET socket */
        return so->so_ops->to_setopt(so->so_t, opt, val);
    default:
        return so->so_ops->to_setopt(so->so_t, opt, val);
    }
}

int rn__sock_getopt(struct sock *so, enum rn_sockopt opt, int64_t *val)
{
    if (rn__sock_opt_is_str(opt))
        return RN_EINVAL;  /* its value is a string: rn_sock_getopt_str() */
    switch (opt) {
    case RN_IPV6_V6ONLY:
        if (!so->so_inet6)
            return RN_ENOPROTOOPT;
        return so->so_ops->to_getopt(so->so_t, opt, val);
    case RN_SO_RCVTIMEO:
        *val = (int64_t)(so->so_rcvtimeo / RN_NSEC_PER_MSEC);
        return 0;
    case RN_SO_SNDTIMEO:
        *val = (int64_t)(so->so_sndtimeo / RN_NSEC_PER_MSEC);
        return 0;
    case RN_SO_LINGER:
        *val = so->so_linger;
        return 0;
    case RN_SO_RCVLOWAT:
        *val = so->so_rcvlowat;
        return 0;
    case RN_SO_TYPE:
        *val = so->so_ops->to_type;
        return 0;
    case RN_SO_ERROR: {
        /* An errno value, as getsockopt(SO_ERROR) gives a program. */
        int err = so->so_ops->to_error(so->so_t);

        *val = err < 0 ? rn_err_to_errno(err) : 0;
        return 0;
    }
    default:
        return so->so_ops->to_getopt(so->so_t, opt, val);
    }
}

unsigned rn__sock_ready(struct sock *so)
{
    unsigned m;

    if (atomic_load_explicit(&so->so_state, memory_order_relaxed) != SO_OPEN || so->so_t == NULL)
        return RN_POLLNVAL;
    m = so->so_ops->to_poll(so->so_t);
    /* Readable once the low-water mark is met (SO_RCVLOWAT), as on Linux. */
    if ((m & RN_POLLIN) && !lowat_met(so, SIZE_MAX))
        m &= ~RN_POLLIN;
    return m;
}

/* ---- fcntl and ioctl ------------------------------------------------------------- */

int rn__sock_fcntl(struct rn_proc *p, int h, int cmd, int arg)
{
    struct hslot *hs = rn__sock_open_slot(p, h);

    if (hs == NULL)
        return RN_EBADF;
    switch (cmd) {
    case RN_F_GETFL:
        return RN_O_RDWR | (rn__sock_slot_nonblock(hs) ? RN_O_NONBLOCK : 0);
    case RN_F_SETFL:
        atomic_store_explicit(&hs->hs_flags, (uint32_t)arg & RN_O_NONBLOCK,
                              memory_order_relaxed);
        return 0;
    default:
        return RN_EINVAL;
    }
}

int rn__sock_ioctl(struct sock *so, unsigned long req, int *val)
{
    ssize_t n;

    if (req == RN_FIONREAD)
        n = so->so_ops->to_inq(so->so_t);
    else if (req == RN_SIOCOUTQ)
        n = so->so_ops->to_outq(so->so_t);
    else
        return RN_ENOTTY;
    if (n < 0)
        return (int)n;
    *val = n > INT32_MAX ? INT32_MAX : (int)n;
    return 0;
}

/* ---- Close ------------------------------------------------------------------------- */

/* How often a lingering close looks again whether everything it sent was
 * acknowledged. */
#define SOCK_LINGER_CHECK RN_MSEC(10)

/* Completes a lingering close request, if one waits. */
static void linger_done(struct sock *so, ssize_t result)
{
    struct sock_closing *rec = so->so_rec;
    struct sock_req *rq = rec->sc_linger_req;

    if (rq == NULL)
        return;
    rec->sc_linger_req = NULL;
    rn_timer_cancel(rn_stack_timers(so->so_proc->p_stack), &rec->sc_linger_timer);
    rn__sock_req_complete(rq, result);
}

/* The lingering close's check: done once the transport says all it sent
 * was acknowledged, or once the object is gone; at the linger time, the
 * close turns abortive, as closesocket() does under a linger timeout. */
static void linger_check(struct rn_timer *t, rn_time_t now)
{
    struct sock_closing *rec =
        (struct sock_closing *)((char *)t - offsetof(struct sock_closing, sc_linger_timer));
    struct sock *so = rec->sc_so;
    void *ob = rn_ob_wait_ref(&rec->sc_close, RN_TAG_LOOKUP);

    if (ob == NULL || so->so_ops->to_settled(ob)) {
        linger_done(so, 0);
    } else if (now >= rec->sc_linger_end) {
        so->so_ops->to_abort(ob);
        linger_done(so, 0);
    } else {
        rn_timer_arm(rn_stack_timers(so->so_proc->p_stack), &rec->sc_linger_timer,
                     now + SOCK_LINGER_CHECK);
    }
    if (ob != NULL)
        rn_ob_deref(ob, RN_TAG_LOOKUP);
}

static void sock_close_done(struct rn_stack *st, struct rn_work *w)
{
    struct sock_closing *rec =
        (struct sock_closing *)((char *)w - offsetof(struct sock_closing, sc_close_work));
    struct sock *so = rec->sc_so;
    struct hslot *hs = so->so_slot;

    rn__sock_mark_loop(rn__sock_layer(st));
    atomic_store_explicit(&so->so_state, SO_CLOSED, memory_order_relaxed);
    linger_done(so, 0);
    /* The handle's reference goes last: it may release the socket, whose
     * release the process's cleanup wait is waiting for. */
    hs->hs_so = NULL;
    rn_ob_deref_cond(so, RN_TAG_HANDLE, SOCK_COND_SLOT);
}

void rn__sock_abort_closing(struct sock *so)
{
    void *ob = rn_ob_wait_ref(&so->so_rec->sc_close, RN_TAG_LOOKUP);

    if (ob == NULL)
        return;
    so->so_ops->to_abort(ob);
    rn_ob_deref(ob, RN_TAG_LOOKUP);
    linger_done(so, 0);
}

/* The transport object was released: finish on the loop thread. */
static void sock_close_fired(struct rn_ob_wait *w, void *ctx)
{
    struct sock *so = ctx;

    (void)w;
    rn_stack_post(so->so_proc->p_stack, &so->so_rec->sc_close_work, sock_close_done);
}

int rn__sock_close(struct sock *so, struct sock_req *req)
{
    bool abort = so->so_linger == 0 || so->so_sl->sl_fini;
    struct sock_closing *rec;
    void *ob;
    int err;

    assert(atomic_load_explicit(&so->so_state, memory_order_relaxed) == SO_OPEN);
    assert(so->so_t != NULL);
    if (rn__sock_slot_closing(so->so_slot) < 0)
        return RN_ENOMEM;
    rec = so->so_slot->hs_rec;
    rec->sc_so = so;
    so->so_rec = rec;
    atomic_store_explicit(&so->so_state, SO_CLOSE_PENDING, memory_order_relaxed);
    /* 1. Cancel the handle's pending requests; polls watching it complete
     *    with RN_POLLNVAL for it. */
    rn__sock_req_flush(&so->so_recvq, RN_ECANCELED);
    rn__sock_req_flush(&so->so_sendq, RN_ECANCELED);
    rn__sock_req_flush(&so->so_connq, RN_ECANCELED);
    rn__sock_req_flush(&so->so_acceptq, RN_ECANCELED);
    while (so->so_pollers != NULL)
        rn__sock_poll_check(so->so_pollers->pl_req);
    /* Readiness sets forget it, silently. */
    if (so->so_ritems != NULL)
        rn__rset_sock_closing(so);
    /* 2. Nobody finds the socket by its handle any more. */
    rn_ob_kill(so);
    /* 3. Ask the transport to close (abortively under SO_LINGER 0, and
     *    when the stack is being torn down), and finish when its object is
     *    released: the wait is what the watchdog shows meanwhile. */
    ob = so->so_ops->to_close(so->so_t, abort);
    so->so_t = NULL;
    if (ob == NULL) {
        /* It never had an object (a stream socket never connected). */
        rn_stack_post(so->so_proc->p_stack, &rec->sc_close_work, sock_close_done);
    } else {
        err = rn_ob_wait_release(ob, &rec->sc_close, so, "close", sock_close_fired, so);
        assert(err == 0);
        (void)err;
        rn_ob_deref(ob, RN_TAG_SOCKET_ENDPOINT);
    }
    if (req == NULL)
        return 0;
    /* 4. The close request completes now, as close(2) returns, unless
     *    SO_LINGER asks it to wait for what was sent to be acknowledged. */
    if (ob == NULL || abort || so->so_linger <= 0) {
        rn__sock_req_complete(req, 0);
        return 0;
    }
    rec->sc_linger_req = req;
    rec->sc_linger_end = rn_stack_now(so->so_proc->p_stack) + RN_SEC(so->so_linger);
    rn_timer_init(&rec->sc_linger_timer, linger_check);
    linger_check(&rec->sc_linger_timer, rn_stack_now(so->so_proc->p_stack));
    return 0;
}

/* Takes slot hs off its socket's list of slots; the first slot left
 * becomes the socket's own (its process and number are what listings
 * show). */
static void slot_unlink(struct sock *so, struct hslot *hs)
{
    struct hslot **pp;

    for (pp = &so->so_slot; *pp != hs; pp = &(*pp)->hs_snext)
        assert(*pp != NULL);
    *pp = hs->hs_snext;
    hs->hs_snext = NULL;
    so->so_nslots--;
    so->so_proc = so->so_slot->hs_proc;
    so->so_handle = so->so_slot->hs_handle;
}

int rn__sock_close_slot(struct hslot *hs, struct sock_req *req)
{
    struct sock *so = hs->hs_so;

    assert(so != NULL && !hs->hs_closing);
    if (so->so_nslots <= 1)
        return rn__sock_close(so, req);
    /* Another handle still refers to the socket, as another descriptor
     * keeps a file open: only this handle goes. */
    slot_unlink(so, hs);
    rn__sock_slot_gone(hs);
    rn_ob_deref(so, RN_TAG_HANDLE);
    if (req != NULL)
        rn__sock_req_complete(req, 0);
    return 0;
}

int rn_sock_share(struct rn_proc *from, int h, struct rn_proc *to)
{
    struct hslot *fhs, *hs, *last;
    struct sock *so;
    int err;

    rn__sock_mark_loop(from->p_sl);
    fhs = rn__sock_open_slot(from, h);
    if (fhs == NULL || fhs->hs_so == NULL)
        return RN_EBADF;
    if (to->p_sl != from->p_sl)
        return RN_EINVAL;
    if (atomic_load_explicit(&to->p_state, memory_order_relaxed) != PROC_RUNNING)
        return RN_ESHUTDOWN;
    so = fhs->hs_so;
    hs = rn__sock_slot_alloc(to, &err);
    if (hs == NULL)
        return err;
    atomic_store_explicit(&hs->hs_flags,
                          atomic_load_explicit(&fhs->hs_flags, memory_order_relaxed),
                          memory_order_relaxed);
    rn_ob_ref(so, RN_TAG_HANDLE);
    hs->hs_so = so;
    for (last = so->so_slot; last->hs_snext != NULL; last = last->hs_snext)
        ;
    last->hs_snext = hs;
    so->so_nslots++;
    return hs->hs_handle;
}

/* ---- Owners ------------------------------------------------------------------------- */

int rn_sock_owner_of(const void *ob, struct rn_sock_owner *out)
{
    struct sock *so = rn__transport_owner(ob);
    struct rn_proc *p;

    memset(out, 0, sizeof(*out));
    if (so == NULL)
        return RN_ENOENT;
    p = so->so_proc;
    out->ow_sock = rn_ob_id(so);
    out->ow_closing = atomic_load_explicit(&so->so_state, memory_order_relaxed) != SO_OPEN;
    out->ow_handle = so->so_handle;
    out->ow_proc = rn_ob_id(p);
    out->ow_pid = p->p_pid;
    snprintf(out->ow_proc_name, sizeof(out->ow_proc_name), "%s", p->p_name);
    snprintf(out->ow_owner, sizeof(out->ow_owner), "%s", rn_proc_owner(p));
    return 0;
}

/* ---- The immediate calls of socket.h ------------------------------------------------ */

/* Returns the open socket of (p, h) on the loop thread, or NULL. */
static struct sock *loop_handle(struct rn_proc *p, int h)
{
    rn__sock_mark_loop(p->p_sl);
    return rn__sock_handle(p, h);
}

int rn_sock_open(struct rn_proc *p, int type, int proto)
{
    rn__sock_mark_loop(p->p_sl);
    return rn__sock_open(p, type, proto);
}

int rn_sock_bind(struct rn_proc *p, int h, const struct rn_sockaddr_in *addr)
{
    struct sock *so = loop_handle(p, h);

    return so ? rn__sock_bind(so, addr) : RN_EBADF;
}

int rn_sock_listen(struct rn_proc *p, int h, int backlog)
{
    struct sock *so = loop_handle(p, h);
    int err;

    if (so == NULL)
        return RN_EBADF;
    err = so->so_ops->to_listen(so->so_t, backlog);
    rn__sock_names(so);
    return err;
}

int rn_sock_shutdown(struct rn_proc *p, int h, int how)
{
    struct sock *so = loop_handle(p, h);
    int err;

    if (so == NULL)
        return RN_EBADF;
    err = so->so_ops->to_shutdown(so->so_t, how);
    rn__sock_kick(so);  /* pending receives may now see the end of data */
    if (so->so_ritems != NULL)
        rn__rset_sock_event(so, 0);
    return err;
}

int rn_sock_setopt(struct rn_proc *p, int h, enum rn_sockopt opt, int64_t val)
{
    struct sock *so = loop_handle(p, h);
    int err;

    if (so == NULL)
        return RN_EBADF;
    err = rn__sock_setopt(so, opt, val);
    /* SO_RCVLOWAT, the buffer sizes may have made it ready. */
    if (err == 0 && so->so_ritems != NULL)
        rn__rset_sock_event(so, 0);
    return err;
}

int rn_sock_getopt(struct rn_proc *p, int h, enum rn_sockopt opt, int64_t *val)
{
    struct sock *so = loop_handle(p, h);

    return so ? rn__sock_getopt(so, opt, val) : RN_EBADF;
}

int rn_sock_setopt_str(struct rn_proc *p, int h, enum rn_sockopt opt, const char *val)
{
    struct sock *so = loop_handle(p, h);

    return so ? rn__sock_setopt_str(so, opt, val) : RN_EBADF;
}

int rn_sock_getopt_str(struct rn_proc *p, int h, enum rn_sockopt opt, char *buf, size_t len)
{
    struct sock *so = loop_handle(p, h);

    return so ? rn__sock_getopt_str(so, opt, buf, len) : RN_EBADF;
}

int rn_sock_getname(struct rn_proc *p, int h, struct rn_sockaddr_in *local,
                    struct rn_sockaddr_in *remote)
{
    struct sock *so = loop_handle(p, h);

    if (so == NULL)
        return RN_EBADF;
    so->so_ops->to_getname(so->so_t, local, remote);
    if (local != NULL)
        rn__sock_addr_out(so, local);
    if (remote != NULL)
        rn__sock_addr_out(so, remote);
    return 0;
}

int rn_sock_fcntl(struct rn_proc *p, int h, int cmd, int arg)
{
    rn__sock_mark_loop(p->p_sl);
    return rn__sock_fcntl(p, h, cmd, arg);
}

int rn_sock_ioctl(struct rn_proc *p, int h, unsigned long req, int *val)
{
    struct sock *so = loop_handle(p, h);

    return so ? rn__sock_ioctl(so, req, val) : RN_EBADF;
}

int rn__sock_tcp_info(struct sock *so, struct rn_tcp_info *out)
{
    if (so->so_ops->to_tcp_info == NULL)
        return RN_EOPNOTSUPP;
    return so->so_ops->to_tcp_info(so->so_t, out);
}

int rn_sock_tcp_info(struct rn_proc *p, int h, struct rn_tcp_info *out)
{
    struct sock *so = loop_handle(p, h);

    return so ? rn__sock_tcp_info(so, out) : RN_EBADF;
}

unsigned rn_sock_ready(struct rn_proc *p, int h)
{
    struct sock *so = loop_handle(p, h);

    return so ? rn__sock_ready(so) : RN_POLLNVAL;
}
