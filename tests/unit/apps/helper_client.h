/*
 * A TCP test client on the loop thread of stack a (the pair of support.h): it
 * connects, sends copies of what it is given, keeps one receive in flight
 * (unless paused) collecting everything into a growing buffer, and records
 * how the stream ended.  Plus an HTTP/1.1 response reader for what it
 * collected, and a count of the process's open files.
 */
#ifndef REFNET_TEST_APPS_HELPER_CLIENT_H
#define REFNET_TEST_APPS_HELPER_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "refnet/socket.h"

struct tcl {
    struct rn_proc *cl_proc;   /* the client process (shared by clients) */
    int cl_h;                  /* its socket */
    bool cl_connected;         /* connect completed with 0 */
    int cl_connect_err;        /* connect's error, 0 if none */
    uint8_t *cl_rx;            /* everything received */
    size_t cl_rx_len;
    size_t cl_rx_cap;
    size_t cl_rx_max;          /* stop collecting (drop) beyond this */
    uint64_t cl_rx_total;      /* bytes received in all */
    bool cl_eof;               /* a receive returned 0 */
    int cl_err;                /* a receive failed with this (RN_ECONNRESET) */
    bool cl_paused;            /* do not receive */
    bool cl_recv_pending;      /* a receive is in flight */
    unsigned cl_sends;         /* sends in flight */
    int cl_send_err;           /* a send failed with this */
    bool cl_close_sent;        /* tcl_close() was called */
    bool cl_closed;            /* the close completed */
    uint8_t cl_buf[65536];     /* receive buffer */
};

/* Opens a socket on p and connects to ADDR_B:port; the receive loop starts
 * once connected. */
void tcl_connect(struct tcl *c, struct rn_proc *p, uint16_t port);
/* Sends a copy of data. */
void tcl_send(struct tcl *c, const void *data, size_t len);
void tcl_send_str(struct tcl *c, const char *s);
/* Stops or resumes receiving. */
void tcl_pause(struct tcl *c, bool paused);
/* Half-closes (SHUT_WR). */
void tcl_shutdown(struct tcl *c);
/* Closes the socket (abortively if abort); frees nothing. */
void tcl_close(struct tcl *c, bool abort);
/* Frees the collected bytes (the socket must be closed). */
void tcl_free(struct tcl *c);
/* Forgets the first n collected bytes. */
void tcl_consume(struct tcl *c, size_t n);

/* Conditions for run_while_not(). */
bool tcl_is_connected(void *c);
bool tcl_is_ended(void *c);       /* eof or error */
bool tcl_is_closed(void *c);
bool tcl_sends_done(void *c);

/* Runs until c holds at least n bytes (or ended); returns whether it does. */
bool tcl_wait_bytes(struct tcl *c, size_t n, uint64_t limit_ns);

/* ---- HTTP responses -------------------------------------------------------------- */

struct resp {
    int r_status;              /* status code */
    size_t r_head_len;         /* bytes of the head, final CRLF CRLF included */
    bool r_has_length;
    uint64_t r_length;         /* Content-Length */
    size_t r_total;            /* head + body bytes (body absent for HEAD) */
    char r_head[8192];         /* the head, NUL-terminated */
};

/* Parses one response at the start of buf[0..len).  head_only: the
 * request was HEAD (no body follows).  Returns true when the whole
 * response is there; fails the test on a malformed head. */
bool resp_parse(const uint8_t *buf, size_t len, bool head_only, struct resp *r);
/* The value of a field of r (case-insensitive name), or NULL; in a static
 * buffer. */
const char *resp_field(const struct resp *r, const char *name);

/* Runs until c holds one whole response, parses it into r and removes it
 * from c.  Returns false (r untouched) if none came in limit. */
bool tcl_response(struct tcl *c, bool head_only, struct resp *r, uint64_t limit_ns);

/* ---- Objects ------------------------------------------------------------------- */

/* Open file descriptors of this process. */
unsigned count_fds(void);

#endif
