/*
 * Built-in services that run on a stack's loop thread (apps/).
 *
 * Each is an ordinary client of the socket layer: it owns a process (so
 * `refnet objects` shows "process echo (pid N) 1 handles" and its socket),
 * and drives it with asynchronous requests whose callbacks run on the loop.
 * The host (daemon, simulator, tests) starts and stops them; stopping
 * closes the service's handles and completes once its process is released.
 *
 * Hosting: a host that runs a service in a process of its own (the
 * service controller, service.h, which runs echo's UDP and TCP halves in
 * one process) passes it as ep_proc / sv_proc / hp_proc.  The service then
 * neither creates nor exits a process: its stop only halts it (no request
 * is submitted any more; open connections will be reset at the close),
 * the host exits the process (rn_proc_exit() closes every handle), and
 * once the process was released the host calls rn_*_released(), which
 * runs the stop's done(ctx) and frees the service.  A hosted start that
 * fails may leave a socket open in the process; the host exits it.
 *
 * Thread safety: [L] the stack's loop thread only.
 */
#ifndef REFNET_APPS_H
#define REFNET_APPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rn_stack;
struct rn_proc;

/* ---- UDP echo (RFC 862) ------------------------------------------------------ */

struct rn_echo;

struct rn_echo_params {
    uint32_t ep_addr;    /* local address, host order; 0: every address */
    uint16_t ep_port;    /* 0: 7 */
    unsigned ep_depth;   /* receives kept outstanding; 0: 8 */
    uint32_t ep_rcvbuf;  /* SO_RCVBUF; 0: the default */
    struct rn_proc *ep_proc; /* hosted: run in this process (borrowed); NULL:
                                create one named "echo" */
};

struct rn_echo_stats {
    uint64_t es_received;     /* datagrams received */
    uint64_t es_echoed;       /* datagrams sent back */
    uint64_t es_send_errors;  /* sends that failed (no route, no buffers) */
    uint64_t es_recv_errors;  /* receives that failed other than by the stop */
};

/* [L] Starts UDP echo on st (rn_sock_layer_init() must have run): every
 * datagram, up to the 65507-byte maximum, goes back to its sender
 * unchanged.  Returns 0 and sets *out, or RN_EADDRINUSE, RN_EADDRNOTAVAIL,
 * RN_ENOMEM, RN_EINVAL. */
/* [L] True if the stack speaks IPv6 (an interface has an IPv6 address):
 * a service bound to every address then opens one dual-stack socket on
 * ::, which serves IPv4 peers as mapped addresses. */
bool rn__apps_stack_has_ipv6(struct rn_stack *st);

int rn__echo_start(struct rn_stack *st, const struct rn_echo_params *params,
                  struct rn_echo **out);

/* [L] Stops the service: its process exits, its socket closes, and once
 * the process has been released done(ctx) runs on the loop thread (may be
 * NULL) and e is freed.  The wait shows in the object manager as "stop"
 * on the process meanwhile.  Stop services before destroying their
 * stack. */
void rn__echo_stop(struct rn_echo *e, void (*done)(void *ctx), void *ctx);

/* [L] Hosted only, after rn__echo_stop() and once the host's process was
 * released: runs done(ctx) and frees e. */
void rn__echo_released(struct rn_echo *e);

/* [L] Copies the service's counters. */
void rn__echo_stats(const struct rn_echo *e, struct rn_echo_stats *out);

/* [L] The service's process, for listings (borrowed: valid until stop). */
struct rn_proc *rn__echo_proc(const struct rn_echo *e);

/* ---- TCP services: echo (RFC 862), discard (RFC 863), chargen (RFC 864) ---- */
/*
 * Each is a listener that accepts many connections at once and drives them
 * with asynchronous requests only, with one bounded buffer per connection:
 *   echo     reads into its buffer, writes it back, and only then reads
 *            more, so a peer that does not read stops being read from;
 *   discard  reads and drops, counting bytes;
 *   chargen  sends the RFC's rotating 72-character lines as fast as the
 *            window allows, and drops what it receives, until the peer
 *            closes (then it resets: the rest is of no interest).
 * A peer's close ends echo and discard gracefully; a reset, an error, or
 * the cap on connections (accepted and reset at once) end it abortively.
 * The process is named "tcpecho", "discard" or "chargen".
 */

struct rn_tcpsvc;

/* The most connections at once a built-in TCP service may be given. */
#define RN_SVC_CONNS_MAX 4000000u

/* Limits the built-in services of the daemon start with (the daemon's
 * --set svc.*); 0 leaves a default. */
struct rn_svc_limits {
    unsigned lim_max_conns;        /* echo, discard, chargen: connections at
                                      once; 0: 1024; at most RN_SVC_CONNS_MAX */
    unsigned lim_httpd_max_conns;  /* httpd: 0: 4000; at most RN_SVC_CONNS_MAX */
    unsigned lim_backlog;          /* every one's listen backlog; 0: 1024; <= 65535 */
    uint64_t lim_httpd_idle;       /* httpd: ns without a request; 0: 30 s */
};

/* [L] Sets the limits services started from now on use.  Not checked
 * here: a start with a value out of range fails with RN_EINVAL. */
void rn__svc_kinds_set_limits(const struct rn_svc_limits *lim);

struct rn_tcpsvc_params {
    uint32_t sv_addr;       /* local address, host order; 0: every address */
    uint16_t sv_port;       /* 0: the service's port (7, 9, 19) */
    unsigned sv_max_conns;  /* connections at once; 0: 1024 (at most
                               RN_SVC_CONNS_MAX, and the process's handles) */
    unsigned sv_backlog;    /* SYN and accept queue bound; 0: 1024 */
    uint32_t sv_bufsize;    /* echo/discard buffer per connection; 0: 16 KiB
                               (at most 1 MiB); chargen sends in pieces of this */
    struct rn_proc *sv_proc; /* hosted: run in this process (borrowed); NULL:
                                create one */
};

/* Counters of a TCP service (also the connection part of httpd's). */
struct rn_tcpsvc_stats {
    uint64_t ss_accepted;       /* connections accepted */
    uint64_t ss_refused;        /* accepted over the cap and reset at once */
    uint64_t ss_active;         /* connections open or closing now */
    uint64_t ss_closed;         /* connections ended gracefully */
    uint64_t ss_aborted;        /* connections ended with a reset by us */
    uint64_t ss_resets;         /* connections the peer reset (or that failed) */
    uint64_t ss_accept_errors;  /* accepts that failed (retried after 100 ms) */
    uint64_t ss_bytes_in;       /* bytes received */
    uint64_t ss_bytes_out;      /* bytes sent (taken by TCP) */
};

/* [L] Start TCP echo, discard or chargen on st (rn_sock_layer_init() must
 * have run).  Return 0 and set *out, or RN_EADDRINUSE, RN_EADDRNOTAVAIL,
 * RN_ENOMEM, RN_EINVAL (a parameter out of range). */
int rn__tcpecho_start(struct rn_stack *st, const struct rn_tcpsvc_params *params,
                     struct rn_tcpsvc **out);
int rn__discard_start(struct rn_stack *st, const struct rn_tcpsvc_params *params,
                     struct rn_tcpsvc **out);
int rn__chargen_start(struct rn_stack *st, const struct rn_tcpsvc_params *params,
                     struct rn_tcpsvc **out);

/* [L] Stops the service: its open connections are reset, its listener
 * closes, its process exits, and once the process has been released
 * done(ctx) runs on the loop thread (may be NULL) and s is freed.  The
 * wait shows as "stop" on the process meanwhile. */
void rn__tcpsvc_stop(struct rn_tcpsvc *s, void (*done)(void *ctx), void *ctx);

/* [L] Drains s (a stop to come): accepts no more; echo and discard serve
 * their connections until the peers end them, chargen closes each after
 * the send in flight.  The stop (rn__tcpsvc_stop()) aborts what is left. */
void rn__tcpsvc_drain(struct rn_tcpsvc *s);
/* [L] How far a drain is: connections left, and bytes moved (received
 * and sent) so far, its progress. */
void rn__tcpsvc_drain_status(const struct rn_tcpsvc *s, uint32_t *conns, uint64_t *moved);

/* [L] Hosted only, after rn__tcpsvc_stop() and once the host's process was
 * released: runs done(ctx) and frees s. */
void rn__tcpsvc_released(struct rn_tcpsvc *s);

/* [L] Copies the service's counters. */
void rn__tcpsvc_stats(const struct rn_tcpsvc *s, struct rn_tcpsvc_stats *out);

/* [L] The service's process, for listings (borrowed: valid until stop). */
struct rn_proc *rn__tcpsvc_proc(const struct rn_tcpsvc *s);

/* [any] The chargen stream (RFC 864, the pattern BSD inetd sends): line
 * i is the 72 printable characters starting at ' ' + i mod 95, then CR LF;
 * the stream repeats every 95 lines.  Returns the byte at offset off. */
uint8_t rn__chargen_byte(uint64_t off);

/* ---- httpd: static files over HTTP/1.1 (RFC 9110, RFC 9112) ----------------- */
/*
 * GET and HEAD of the files under a document root, with persistent
 * connections (HTTP/1.1 by default, HTTP/1.0 with keep-alive), pipelining,
 * Content-Length always, Content-Type by extension, "Server: refnet", no
 * Date (no wall clock in the core).  Files are read in pieces of
 * hp_chunk bytes, one piece per send request, so a large file never holds
 * the loop; the file stays open for its response only.
 *
 * Answers:
 *   200  the file, or a directory's index.html
 *   400  a malformed request line or field, bad percent-encoding, a
 *        decoded control character (NUL...), no Host in HTTP/1.1, two Hosts,
 *        conflicting Content-Length
 *   403  the file exists but may not be read (permission)
 *   404  no such file, a directory without index.html, and every refused
 *        path: a ".." segment (literal or percent-encoded), a symbolic link
 *        anywhere on the path, a special file.  Refusals look like absence
 *        on purpose: they say nothing about what lies outside the root.
 *   405  any method but GET and HEAD, with "Allow: GET, HEAD"
 *   408  the head was not complete within hp_header_timeout of its first
 *        byte, or a request body (dropped) within as long again
 *   413  a request body longer than 1 MiB (shorter ones are read and dropped)
 *   414  a request target longer than 8 KiB
 *   431  a field line longer than 8 KiB, fields over 16 KiB, over 100 fields
 *   500  the file could not be opened or read for another reason
 *   501  Transfer-Encoding in a request
 *   505  an HTTP version other than 1.0 and 1.1
 * Every error but 403/404 closes the connection after the answer; 403 and
 * 404 keep it.  Closing is lingering: the server shuts its side, reads and
 * drops what the peer still sends until the peer closes (then a graceful
 * close) or hp_linger_timeout passes (then a reset), so the answer is not
 * lost to a reset on data the client had already sent.
 *
 * Paths never leave the root: the target is decoded once, "." and empty
 * segments dropped, ".." refused; files are opened beneath the root's
 * descriptor with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) where the
 * kernel has it, else one component at a time with O_NOFOLLOW.
 *
 * Limits: connections at once (more are accepted and reset), an idle
 * keep-alive timeout, a deadline for a request's head from its first byte
 * (slowloris), a send timeout per piece (a peer that stops reading).
 * The process is named "httpd".
 */

struct rn_httpd;

struct rn_httpd_params {
    uint32_t hp_addr;              /* local address, host order; 0: every address */
    uint16_t hp_port;              /* 0: 80 */
    const char *hp_root;           /* document root directory (required; copied) */
    unsigned hp_max_conns;         /* connections at once; 0: 4000 (at most
                                      RN_SVC_CONNS_MAX, and the process's handles) */
    unsigned hp_backlog;           /* SYN and accept queue bound; 0: 1024 */
    uint64_t hp_idle_timeout;      /* ns without a request before closing; 0: 30 s */
    uint64_t hp_header_timeout;    /* ns from a head's first byte to its end; 0: 10 s */
    uint64_t hp_send_timeout;      /* ns for one piece to be taken; 0: 60 s */
    uint64_t hp_linger_timeout;    /* ns of lingering close; 0: 5 s */
    uint32_t hp_chunk;             /* file bytes per send; 0: 64 KiB (4 KiB..1 MiB) */
    struct rn_proc *hp_proc;       /* hosted: run in this process (borrowed);
                                      NULL: create one */
};

struct rn_httpd_stats {
    struct rn_tcpsvc_stats hs_conn; /* connections and bytes */
    uint64_t hs_requests;           /* request heads answered (errors included) */
    uint64_t hs_status_2xx;         /* answers by class */
    uint64_t hs_status_4xx;
    uint64_t hs_status_5xx;
    uint64_t hs_status[7];          /* 400, 404, 405, 408, 414, 431, 505 */
    uint64_t hs_refused_paths;      /* targets refused for their path (..,
                                       symlinks, escapes): counted in 404 too */
    uint64_t hs_idle_closed;        /* connections closed after the idle timeout */
    uint64_t hs_header_timeouts;    /* heads not finished in time (408) */
    uint64_t hs_send_timeouts;      /* pieces not taken in time (reset) */
    uint64_t hs_file_bytes;         /* body bytes read from files and sent */
    uint64_t hs_file_errors;        /* files that could not be read to the end (reset) */
};

/* Index of status in hs_status[], or -1. */
int rn__httpd_status_index(int status);

/* [L] Starts the web server on st (rn_sock_layer_init() must have run)
 * serving hp_root.  Returns 0 and sets *out, or RN_ENOENT / RN_EINVAL
 * (hp_root is not a directory one can open), RN_EADDRINUSE,
 * RN_EADDRNOTAVAIL, RN_ENOMEM, RN_EINVAL (a parameter out of range). */
int rn__httpd_start(struct rn_stack *st, const struct rn_httpd_params *params,
                   struct rn_httpd **out);

/* [L] Stops it, as rn__tcpsvc_stop(): responses in progress are cut (reset),
 * open files closed, and done(ctx) runs once the process was released. */
void rn__httpd_stop(struct rn_httpd *h, void (*done)(void *ctx), void *ctx);

/* [L] Drains it: the listener closes, idle connections are shut, and
 * every request being read or answered is answered in full, then its
 * connection closes.  rn__httpd_stop() afterwards cuts what is left. */
void rn__httpd_drain(struct rn_httpd *h);

/* [L] How far a drain is: connections left, the file bytes they still
 * have to send, and the bytes sent since the start. */
void rn__httpd_drain_status(const struct rn_httpd *h, uint32_t *conns, uint64_t *left,
                            uint64_t *sent);

/* [L] Hosted only, after rn__httpd_stop() and once the host's process was
 * released: runs done(ctx) and frees h. */
void rn__httpd_released(struct rn_httpd *h);

/* [L] Copies the counters. */
void rn__httpd_stats(const struct rn_httpd *h, struct rn_httpd_stats *out);

/* [L] The server's process (borrowed: valid until stop). */
struct rn_proc *rn__httpd_proc(const struct rn_httpd *h);

/* [any] Parses the daemon's "PORT:DIR" into params (zeroed first):
 * hp_port from PORT (1..65535), hp_root pointing into spec after the
 * colon.  Returns 0, or RN_EINVAL with a one-line reason in err. */
int rn__httpd_parse_spec(const char *spec, struct rn_httpd_params *params, char *err,
                        size_t errlen);

#endif /* REFNET_APPS_H */
