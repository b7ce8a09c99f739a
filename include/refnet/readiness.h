/*
 * Readiness sets: epoll's model for a process with many sockets.
 *
 * A readiness set is a handle of its process, like a socket's: made by
 * rn_rset_create(), closed by rn_close() or RN_SOP_CLOSE, and closed by
 * the process's exit.  It is an object of type "readiness set" ("readiness
 * set #4 10100 sockets, 3 ready, 1 waiting"), so `refnet objects` lists it
 * and the diagnosis sees the process's cleanup wait on it.  Each
 * registration holds its socket under the tag "readiness-set".
 *
 * Registration (rn_rset_ctl(), as epoll_ctl): a socket handle of the same
 * process with an event mask (RN_POLLIN, RN_POLLOUT, RN_POLLRDHUP;
 * RN_POLLERR and RN_POLLHUP are always reported) and a user value handed
 * back with each event.  Each registration is
 *   - level-triggered by default: reported by every wait while ready;
 *   - edge-triggered with RN_RSET_ET: reported once each time the
 *     transport says the socket became ready again (data arrived, space
 *     opened, the peer's FIN, a connection to accept), as EPOLLET;
 *   - one-shot with RN_RSET_ONESHOT: disabled after one report, until
 *     RN_RSET_MOD arms it again, as EPOLLONESHOT.
 * Closing a socket takes it out of every set, silently, as epoll forgets a
 * file whose last descriptor closed.
 *
 * A wait costs in proportion to the sockets that are ready, not to the
 * sockets in the set: the socket layer keeps a list of the registrations
 * that may be ready, fed by the transports' readiness events, and a wait
 * reads only that list (re-checking each, as epoll does).  Waits and
 * events allocate nothing; a registration allocates once, at RN_RSET_ADD.
 *
 * Four ways in:
 *   - Immediate calls [L] (rn_rset_create, rn_rset_ctl, rn_rset_wait): on
 *     the loop thread, for built-in services; rn_rset_wait() never waits.
 *   - A request, RN_SOP_RSET_WAIT (socket.h), submitted with
 *     rn_sock_submit() [L] or rn_sock_submit_cq() [any]: it completes with
 *     the ready events, or 0 at its timeout.
 *   - The blocking calls [B] (rn_epoll_create, rn_epoll_ctl,
 *     rn_epoll_wait), from any thread but the loop thread.  A thread
 *     blocked in rn_epoll_wait() is counted as "waiting" on the set's line
 *     in `refnet objects`; closing the set wakes it with RN_ECANCELED.
 *   - For a host's own event loop: a set made with RN_RSET_EVENTFD has an
 *     eventfd (rn_rset_eventfd(), rn_epoll_eventfd()) that is readable
 *     while registrations may be ready; the host then waits with a zero
 *     timeout.
 *
 * Every function returns a count, a handle or 0 on success, and a
 * negative refnet code (error.h) on failure.
 *
 * Legend: [L] loop thread of the process's stack only; [any] any thread;
 * [B] any thread but the loop thread.
 */
#ifndef REFNET_READINESS_H
#define REFNET_READINESS_H

#include <stdint.h>

#include "refnet/socket.h"

/* Flags of a registration, or'ed into re_events beside the RN_POLL* bits
 * (which use the low byte). */
#define RN_RSET_ET 0x40000000u       /* edge-triggered (EPOLLET) */
#define RN_RSET_ONESHOT 0x20000000u  /* disabled after one report (EPOLLONESHOT) */

/* Flags of rn_rset_create(). */
#define RN_RSET_EVENTFD 0x1u  /* give the set an eventfd (rn_rset_eventfd()) */

/* Operations of rn_rset_ctl(), as EPOLL_CTL_*. */
enum rn_rset_op {
    RN_RSET_ADD = 1,  /* register a handle; RN_EEXIST if it is in the set */
    RN_RSET_MOD,      /* change its mask and value, re-arming a one-shot */
    RN_RSET_DEL,      /* take it out (the event may be NULL) */
};

/* The user's value of a registration, handed back with its events, as
 * epoll_data. */
union rn_rset_data {
    void *rd_ptr;
    int rd_handle;
    uint32_t rd_u32;
    uint64_t rd_u64;
};

/* An event: what a registration asks for (rn_rset_ctl()), or what a wait
 * reports. */
struct rn_rset_event {
    uint32_t re_events;        /* ctl: RN_POLLIN | RN_POLLOUT | RN_POLLRDHUP and
                                  RN_RSET_ET, RN_RSET_ONESHOT; wait: the
                                  RN_POLL* bits ready now */
    union rn_rset_data re_data; /* the user's value */
};

/* ---- Immediate calls on the loop thread [L] ---------------------------------- */

/* Makes a readiness set owned by p and returns its handle (>= 1), or
 * RN_EINVAL (unknown flags), RN_EMFILE, RN_ENOMEM, RN_EIO (no eventfd
 * could be made), RN_ESHUTDOWN (p is exiting). */
int rn_rset_create(struct rn_proc *p, unsigned flags);

/* Adds, modifies or deletes the registration of socket handle h in the
 * set rset, as epoll_ctl.  ev is copied.  Returns 0, or
 *   RN_EBADF   rset or h is not an open handle;
 *   RN_EINVAL  rset is not a readiness set, h is rset itself, op is
 *              unknown, ev is NULL for ADD or MOD, or ev has bits beyond
 *              RN_POLLIN | RN_POLLOUT | RN_POLLRDHUP | RN_POLLERR |
 *              RN_POLLHUP | RN_RSET_ET | RN_RSET_ONESHOT;
 *   RN_EPERM   h is not a socket (another readiness set: sets do not nest);
 *   RN_EEXIST  ADD of a handle already in the set;
 *   RN_ENOENT  MOD or DEL of a handle not in the set;
 *   RN_ENOMEM  ADD could not allocate the registration.
 * A registration that is ready when added or modified is reported by the
 * next wait. */
int rn_rset_ctl(struct rn_proc *p, int rset, int op, int h, const struct rn_rset_event *ev);

/* Takes up to max ready events of rset into out, without waiting, oldest
 * readiness first.  Returns how many (0: none ready), or RN_EBADF, or
 * RN_EINVAL (not a readiness set, max 0, out NULL). */
int rn_rset_wait(struct rn_proc *p, int rset, struct rn_rset_event *out, unsigned max);

/* The eventfd of a set made with RN_RSET_EVENTFD: readable while
 * registrations may be ready.  Returns it (owned by the set: closed with
 * it), or RN_EBADF, or RN_EINVAL (not a set, or made without one). */
int rn_rset_eventfd(struct rn_proc *p, int rset);

/* ---- The blocking calls [B] ------------------------------------------------- */

/* Each runs its immediate counterpart on the loop and waits for it;
 * return values as theirs.  A call in flight holds its process under
 * "readiness-call". */
int rn_epoll_create(struct rn_proc *p, unsigned flags);
int rn_epoll_ctl(struct rn_proc *p, int rset, int op, int h, const struct rn_rset_event *ev);
int rn_epoll_eventfd(struct rn_proc *p, int rset);

/* Waits up to timeout_ms (-1: forever, 0: not at all), on the stack's
 * clock, until some registration of rset is ready, and takes up to max
 * events into out.  Returns how many, 0 on timeout, RN_ECANCELED if the
 * set was closed meanwhile, or as rn_rset_wait().  Allocates nothing; the
 * wait holds the set under "readiness-call" while it waits. */
int rn_epoll_wait(struct rn_proc *p, int rset, struct rn_rset_event *out, unsigned max,
                  int timeout_ms);

#endif /* REFNET_READINESS_H */
