/*
 * The run server: the daemon's side of `refnet run` (product).  Programs
 * started under `refnet run` carry a shim (preload/) that puts their TCP
 * and UDP sockets (AF_INET and AF_INET6) on the daemon's stack; each of
 * their processes opens a channel to this server (run_proto.h) and is a
 * refnet process with its host pid, name and owner.
 *
 *   rn__run_server_open()   the run socket, on the daemon's loop
 *   ... channels: HELLO (a process), SOCKET, BIND, LISTEN, CONNECT, ACCEPT,
 *       options, names, DECLARE (after a fork or an exec), CLOSE
 *   ... each socket's pair end is shuttled to and from the stack by
 *       requests (socket.h), with flow control both ways
 *   rn__run_server_close()  every channel and socket closed
 *
 * Thread: the loop's (rn__run_server_open() before it runs, or on it).
 */
#ifndef REFNET_RUN_RUN_H
#define REFNET_RUN_RUN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct rn_loop;
struct rn_stack;
struct rn__run_server;

/* The most uids given to --run-allow-uid. */
#define RN_RUN_UIDS_MAX 16
/* The default per-process socket limit. */
#define RN_RUN_MAX_SOCKETS 1024

struct rn__run_params {
    const char *rp_path;              /* the run socket's path */
    uid_t rp_uids[RN_RUN_UIDS_MAX];   /* uids allowed; none given: the
                                         daemon's own and root */
    size_t rp_nuids;                  /* entries of rp_uids */
    unsigned rp_max_sockets;          /* per process; 0: RN_RUN_MAX_SOCKETS */
};

/* Opens the run socket at params->rp_path (replacing a stale one) on loop,
 * for processes whose sockets go on st, and registers its counters with
 * `refnet stat`.  Returns 0 and sets *out, or a negative code with a
 * one-line reason in err. */
int rn__run_server_open(struct rn_loop *loop, struct rn_stack *st,
                        const struct rn__run_params *params, struct rn__run_server **out,
                        char *err, size_t errlen);

/* Closes every channel (each process exits: its handles run their
 * cleanup) and every socket pair, then the run socket, and frees rs.
 * Programs still running see their sockets fail (end of data, EPIPE) and
 * their shims' calls answer ENETDOWN.  NULL is allowed. */
void rn__run_server_close(struct rn__run_server *rs);

/* The run socket that goes with control socket ctl_path: the same path
 * with ".run" appended, written into buf.  Returns 0, or -1 if it does not
 * fit. */
int rn__run_sock_path(const char *ctl_path, char *buf, size_t len);

#endif /* REFNET_RUN_RUN_H */
