/*
 * The daemon's control plane: the wire protocol of the control socket, the
 * server that answers it on the loop thread, and the client that the
 * `refnet` commands use.  The protocol is documented in
 * docs/control-protocol.md; in short:
 *
 *   frame   = "RNC" version(1) | u32 payload length (big-endian) | payload
 *   request = u32 flags | u16 argc | argc x (u16 length | bytes)
 *   reply   = i32 exit status | u32 text length | text
 *
 * A request is the client's argv after "refnet" (the command name first)
 * with flags beside it (RN_CTL_F_JSON).  A reply carries the exit status
 * the client exits with and the text it prints.
 *
 * Server side, each request becomes a struct rn_ctl_req handed to the
 * handler registered for its command.  Handlers run on the loop thread, so
 * they read stack state without locks, and must not block it (a millisecond
 * or so).  A handler that has to wait returns RN_CTL_PENDING, keeps the
 * request, and completes it later with rn__ctl_req_complete(); the request
 * stays valid until then even if the client has gone away.
 *
 * Requests are objects of the object manager (type "ctl request"), so one a
 * handler never completes shows in `refnet objects` and in the leak report
 * at shutdown, with its holders.
 *
 * Streaming mode (commands that move bulk data: `connect`, `accept`): a
 * client that sets RN_CTL_F_STREAM may get, instead of a reply, a "go"
 * reply (status RN_CTL_STATUS_GO).  From then on the connection carries
 *
 *   client -> daemon   raw bytes; shutdown(SHUT_WR) ends them
 *   daemon -> client   chunk* | end chunk | reply frame (the trailer)
 *   chunk   = u32 length n (1..RN_CTL_CHUNK_MAX, big-endian) | n bytes
 *   end     = u32 0
 *
 * and the trailer's status is the command's exit status.  The server side
 * is rn__ctl_req_go() and the rn_ctl_req_stream_*() calls; the client side
 * rn__ctl_stream_open() and struct rn_ctl_unchunker.
 */
#ifndef REFNET_CTL_CTL_H
#define REFNET_CTL_CTL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "refnet/clock.h"

struct rn_loop;
struct rn_strbuf;

/* ---- The protocol ------------------------------------------------------- */

#define RN_CTL_VERSION 1
/* Frame header: magic "RNC", version byte, u32 big-endian payload length. */
#define RN_CTL_HDR_LEN 8
/* The largest request payload a daemon accepts. */
#define RN_CTL_REQ_MAX (64u * 1024u)
/* At most this many arguments (the command name included)... */
#define RN_CTL_ARGS_MAX 64
/* ...of at most this many bytes each. */
#define RN_CTL_ARG_MAX 4096
/* The largest reply payload a client accepts. */
#define RN_CTL_REPLY_MAX (256u * 1024u * 1024u)
/* Request head (flags, argc) and reply head (status, text length). */
#define RN_CTL_REQ_HEAD_LEN 6
#define RN_CTL_REPLY_HEAD_LEN 8

/* Request flags. */
#define RN_CTL_F_JSON 0x00000001u    /* reply with JSON instead of tables */
#define RN_CTL_F_STREAM 0x00000002u  /* the client can take the streaming mode */
#define RN_CTL_F_KNOWN_ (RN_CTL_F_JSON | RN_CTL_F_STREAM)

/* The status of a "go" reply: the connection is a stream from here on.
 * Sent only to a request that carries RN_CTL_F_STREAM. */
#define RN_CTL_STATUS_GO (-1)
/* Streaming mode: each chunk of daemon data is preceded by its length,
 * RN_CTL_CHUNK_HDR_LEN bytes, at most RN_CTL_CHUNK_MAX; a length of 0 ends
 * the data, and the trailer (a reply frame) follows. */
#define RN_CTL_CHUNK_HDR_LEN 4
#define RN_CTL_CHUNK_MAX (1u << 20)

/* Exit statuses of replies: 0 success, 1 failure, 2 bad request or usage. */
#define RN_CTL_EXIT_OK 0
#define RN_CTL_EXIT_FAIL 1
#define RN_CTL_EXIT_USAGE 2

/* Reads frames from a byte stream, incrementally: the caller asks where the
 * next bytes go and how many the current frame still needs (never more, so
 * bytes of the next frame stay in the socket), reads, and advances.  The
 * header is checked as it arrives: a stream that is not this protocol fails
 * at its first wrong byte. */
struct rn_ctl_reader {
    uint8_t rd_hdr[RN_CTL_HDR_LEN];  /* header bytes received */
    uint32_t rd_hdr_have;            /* how many, <= RN_CTL_HDR_LEN */
    uint32_t rd_max;                 /* largest payload accepted */
    uint32_t rd_len;                 /* payload length, once the header is in */
    uint32_t rd_have;                /* payload bytes received, <= rd_len */
    uint8_t *rd_buf;                 /* payload, rd_cap bytes allocated */
    uint32_t rd_cap;                 /* grows with rd_have, so a lying length
                                        costs nothing until bytes arrive */
    bool rd_done;                    /* a whole frame is held */
};

void rn__ctl_reader_init(struct rn_ctl_reader *rd, uint32_t max_payload);
/* Frees the payload buffer. */
void rn__ctl_reader_fini(struct rn_ctl_reader *rd);
/* Forgets the frame held and prepares for the next one. */
void rn__ctl_reader_reset(struct rn_ctl_reader *rd);
/* True if part of a frame, but not all of it, has been received. */
bool rn__ctl_reader_partial(const struct rn_ctl_reader *rd);

/* Sets *where to the place for the next bytes and returns how many the
 * frame still needs there (> 0 unless a whole frame is held).  Returns 0
 * and sets *where to NULL if the buffer could not grow (RN_ENOMEM follows
 * from rn__ctl_reader_advance(rd, 0, ...)). */
size_t rn__ctl_reader_space(struct rn_ctl_reader *rd, uint8_t **where);

/* Records n bytes written at the place rn__ctl_reader_space() gave.  Returns
 * 1 when a whole frame is held, 0 when more bytes are needed, or with a
 * one-line message in err: RN_EFORMAT (bad magic), RN_ENOTSUP (another
 * protocol version), RN_EMSGSIZE (payload longer than the maximum),
 * RN_ENOMEM.  After an error the stream is unusable. */
int rn__ctl_reader_advance(struct rn_ctl_reader *rd, size_t n, char *err, size_t errlen);

/* Copies bytes from buf into the reader, up to the end of one frame; sets
 * *used to how many it took.  Returns as rn__ctl_reader_advance(). */
int rn__ctl_reader_feed(struct rn_ctl_reader *rd, const void *buf, size_t len, size_t *used,
                       char *err, size_t errlen);

/* The payload of the frame held (rd_done), and its length. */
const uint8_t *rn__ctl_reader_payload(const struct rn_ctl_reader *rd, uint32_t *len);

/* A decoded request. */
struct rn_ctl_request {
    uint32_t rq_flags;  /* RN_CTL_F_* */
    int rq_argc;        /* 1..RN_CTL_ARGS_MAX */
    char **rq_argv;     /* rq_argc NUL-terminated strings, then NULL; one
                           allocation owned by the request */
};

/* Encodes a request frame into a malloc'd buffer (*out, *outlen).  Returns
 * 0; RN_EINVAL with err naming the argument that breaks a limit (count,
 * length, NUL byte) or the unknown flag; RN_ENOMEM. */
int rn__ctl_request_encode(uint32_t flags, int argc, const char *const *argv, uint8_t **out,
                          size_t *outlen, char *err, size_t errlen);

/* Decodes a request payload (after the frame header).  Returns 0 and fills
 * *rq (free it with rn__ctl_request_free()), or RN_EFORMAT with err naming
 * what is wrong: a short head, unknown flags, argc 0 or over the limit, an
 * argument longer than the limit or than the bytes left, a NUL byte in an
 * argument, bytes after the last argument; or RN_ENOMEM. */
int rn__ctl_request_decode(const uint8_t *payload, size_t len, struct rn_ctl_request *rq,
                          char *err, size_t errlen);
void rn__ctl_request_free(struct rn_ctl_request *rq);

/* Writes the frame header of a reply whose text is textlen bytes, plus the
 * reply head: RN_CTL_HDR_LEN + RN_CTL_REPLY_HEAD_LEN bytes into out.  The
 * text follows it on the wire.  Returns RN_EMSGSIZE if the reply would
 * exceed RN_CTL_REPLY_MAX, else 0. */
int rn__ctl_reply_header(uint8_t *out, int32_t status, size_t textlen);

/* Decodes a reply payload.  Returns 0 and sets *status, *text (pointing
 * into payload, not NUL-terminated) and *textlen; or RN_EFORMAT with err
 * naming the defect. */
int rn__ctl_reply_decode(const uint8_t *payload, size_t len, int32_t *status, const char **text,
                        size_t *textlen, char *err, size_t errlen);

/* Decodes the daemon's side of a stream (after the go reply): chunks, the
 * end chunk, then the trailer frame.  Incremental, like rn_ctl_reader. */
struct rn_ctl_unchunker {
    uint8_t uc_hdr[RN_CTL_CHUNK_HDR_LEN]; /* length bytes of the next chunk */
    uint32_t uc_hdr_have;            /* how many, <= RN_CTL_CHUNK_HDR_LEN */
    uint32_t uc_left;                /* data bytes of the current chunk still due */
    bool uc_eof;                     /* the end chunk arrived */
    uint64_t uc_bytes;               /* data bytes decoded so far */
    struct rn_ctl_reader uc_trailer; /* the trailer, after uc_eof */
};

void rn__ctl_unchunker_init(struct rn_ctl_unchunker *uc);
void rn__ctl_unchunker_fini(struct rn_ctl_unchunker *uc);

/* Takes bytes from buf, up to the end of one piece: a run of chunk data,
 * a length, or trailer bytes.  Sets *used to the bytes taken, and *data,
 * *datalen to the chunk data among them (pointing into buf; *datalen 0 if
 * none).  Returns 1 once the trailer is complete (read it with
 * rn__ctl_reader_payload(&uc->uc_trailer) and rn__ctl_reply_decode()), 0
 * when more bytes are needed, or RN_EFORMAT / RN_EMSGSIZE / RN_ENOTSUP /
 * RN_ENOMEM with one line in err (the stream is unusable then).  Bytes
 * after the trailer are not taken. */
int rn__ctl_unchunk(struct rn_ctl_unchunker *uc, const uint8_t *buf, size_t len, size_t *used,
                   const uint8_t **data, size_t *datalen, char *err, size_t errlen);

/* ---- The client --------------------------------------------------------- */

/* The socket a daemon listens on unless told otherwise. */
#define RN_CTL_DEFAULT_PATH "/run/refnet/refnet.sock"
/* The environment variable that overrides it. */
#define RN_CTL_ENV "REFNET_CTL"

/* Returns path if not NULL, else $REFNET_CTL if set and not empty, else
 * RN_CTL_DEFAULT_PATH. */
const char *rn__ctl_default_path(const char *path);

/* A reply as the client received it. */
struct rn_ctl_reply {
    int32_t rp_status;  /* the exit status to exit with */
    char *rp_text;      /* malloc'd, NUL-terminated (the text holds no NUL
                           the client relies on); rp_len bytes */
    size_t rp_len;
};

/* Connects to the daemon at path, sends one request and waits at most
 * timeout for the reply.  Returns 0 and fills *reply (free rp_text);
 * otherwise a negative code with err holding one line:
 *   RN_ENOENT / RN_ECONNREFUSED / RN_EACCES ... no daemon reachable
 *     ("cannot reach the daemon at PATH: REASON (is `refnet daemon`
 *     running?)");
 *   RN_ETIMEDOUT  no reply in time;
 *   RN_EPROTO     the daemon's answer broke the protocol;
 *   RN_EINVAL     the request breaks a limit (see rn__ctl_request_encode). */
int rn__ctl_call(const char *path, uint32_t flags, int argc, const char *const *argv,
                rn_time_t timeout, struct rn_ctl_reply *reply, char *err, size_t errlen);

/* Connects to the daemon at path and sends one request with
 * RN_CTL_F_STREAM added to flags, waiting at most timeout for the
 * connection and the request to go out, then as long as it takes for the
 * answer (a command such as `accept` answers when a peer arrives).
 * Returns:
 *   1  the go reply came: *fd is the connection, non-blocking, now a
 *      stream (close it when done); *reply holds the go's text, status
 *      RN_CTL_STATUS_GO;
 *   0  an ordinary reply came instead (an error, usually): *reply holds
 *      it, no fd;
 *   or a negative code with one line in err, as rn__ctl_call().
 * Free reply->rp_text in both first cases. */
int rn__ctl_stream_open(const char *path, uint32_t flags, int argc, const char *const *argv,
                       rn_time_t timeout, int *fd, struct rn_ctl_reply *reply, char *err,
                       size_t errlen);
/* The same, passing the descriptor pass with the request (SCM_RIGHTS;
 * -1: none).  The daemon gets a duplicate: pass stays the caller's. */
int rn__ctl_stream_open_fd(const char *path, uint32_t flags, int argc, const char *const *argv,
                          int pass, rn_time_t timeout, int *fd, struct rn_ctl_reply *reply,
                          char *err, size_t errlen);

/* ---- The server --------------------------------------------------------- */

struct rn_ctl_server;
struct rn_ctl_req;

/* Returned by a handler that will complete its request later. */
#define RN_CTL_PENDING (-1)

/* A command handler.  Runs on the loop thread.  Writes its answer to
 * rn__ctl_req_out() and returns the exit status (0..255), or RN_CTL_PENDING
 * after arranging to call rn__ctl_req_complete() later (it then owns the
 * request until it does). */
typedef int (*rn_ctl_handler_fn)(struct rn_ctl_req *req, void *ctx);

/* One line of a command table: adding a command to the daemon is one such
 * line and its handler. */
struct rn_ctl_cmd {
    const char *cc_name;         /* argv[0] it answers: "objects" */
    rn_ctl_handler_fn cc_fn;     /* the handler */
    const char *cc_usage;        /* "objects [--type NAME]": quoted in usage errors */
};

/* Opens the control socket at path (rn__ctl_default_path(NULL) if NULL) on
 * loop: a UNIX stream socket of mode 0600, accepting and answering on the
 * loop thread.  If a live server already answers on path, refuses with
 * RN_EADDRINUSE; a stale socket file (nobody answers) is replaced; any
 * other file at path is left alone (RN_EEXIST).  The server answers
 * "ping-ctl" by itself; add the rest with rn__ctl_server_add().  Returns 0
 * and sets *out, or a negative code with one line in err. */
int rn__ctl_server_open(struct rn_loop *loop, const char *path, struct rn_ctl_server **out,
                       char *err, size_t errlen);

/* Closes every connection (cancelling their pending requests: see
 * rn__ctl_req_on_cancel()), stops listening and removes the socket file if
 * it is still the one this server created.  Pending requests stay valid
 * until their handlers complete them.  NULL is allowed. */
void rn__ctl_server_close(struct rn_ctl_server *srv);

/* Adds a command table.  cmds (n lines) must outlive the server; ctx is
 * handed to their handlers.  A name already known keeps its first
 * handler.  Returns 0 or RN_ENOMEM. */
int rn__ctl_server_add(struct rn_ctl_server *srv, const struct rn_ctl_cmd *cmds, size_t n,
                      void *ctx);

const char *rn__ctl_server_path(const struct rn_ctl_server *srv);
struct rn_loop *rn__ctl_server_loop(const struct rn_ctl_server *srv);
/* Connections open now. */
size_t rn__ctl_server_connections(const struct rn_ctl_server *srv);
/* Requests answered so far (completed, delivered or not). */
uint64_t rn__ctl_server_requests(const struct rn_ctl_server *srv);

/* The most connections served at once; more are answered with an error
 * and closed. */
#define RN_CTL_CONN_MAX 64
/* A connection that makes no progress this long (a request half sent, a
 * reply not read, or idle between requests) is closed.  A pending request
 * does not count as idle. */
#define RN_CTL_IDLE_TIMEOUT RN_SEC(30)

/* ---- Requests, for handlers ([L]) --------------------------------------- */

/* The request's arguments: argv[0] is the command name. */
int rn__ctl_req_argc(const struct rn_ctl_req *req);
/* Argument i, or NULL if i >= argc. */
const char *rn__ctl_req_arg(const struct rn_ctl_req *req, int i);
/* True if the client asked for JSON (--json). */
bool rn__ctl_req_json(const struct rn_ctl_req *req);
/* The reply text being built. */
struct rn_strbuf *rn__ctl_req_out(struct rn_ctl_req *req);
/* The server the request came to (valid as long as the server is open). */
struct rn_ctl_server *rn__ctl_req_server(const struct rn_ctl_req *req);
/* The client's pid (from the socket's credentials), or 0 if unknown. */
int rn__ctl_req_pid(const struct rn_ctl_req *req);
/* The descriptor the client passed with the request (SCM_RIGHTS on the
 * request's bytes, close-on-exec), now the caller's to close; -1 if none
 * came.  One not taken is closed when the request completes. */
int rn__ctl_req_take_fd(struct rn_ctl_req *req);

/* Replaces the reply text with one line "refnet <command>: <message>" and
 * returns status, so a handler writes `return rn__ctl_req_fail(req, 2,
 * "...")`. */
int rn__ctl_req_fail(struct rn_ctl_req *req, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Completes a pending request with status and the text in
 * rn__ctl_req_out(): queues the reply if the client is still connected, and
 * releases the request.  Call exactly once, on the loop thread, for a
 * request whose handler returned RN_CTL_PENDING; req must not be used
 * afterwards. */
void rn__ctl_req_complete(struct rn_ctl_req *req, int status);

/* True while the client that sent the request is still connected. */
bool rn__ctl_req_connected(const struct rn_ctl_req *req);

/* Asks for fn(req, ctx) to be called, once, on the loop thread if the
 * client disconnects (or the server closes) before the request completes.
 * The handler still completes the request, at once or later; the reply is
 * then discarded. */
void rn__ctl_req_on_cancel(struct rn_ctl_req *req, void (*fn)(struct rn_ctl_req *req, void *ctx),
                          void *ctx);

/* ---- Streaming mode, for handlers ([L]) --------------------------------- */

/* Called on the loop thread when the stream is ready for what the handler
 * asked with rn__ctl_req_stream_want(): EPOLLIN (client bytes, or its end,
 * can be read) and/or EPOLLOUT (data can be written).  Never called once
 * the request completed or its client left (the cancel callback runs
 * then). */
typedef void (*rn_ctl_stream_fn)(struct rn_ctl_req *req, uint32_t events, void *ctx);

/* Switches a pending request's connection to the streaming mode: queues
 * the go reply, whose text is what rn__ctl_req_out() holds (then emptied),
 * and hands the connection's readiness to fn from then on.  The handler
 * ends the stream by completing the request, whose status and text make
 * the trailer; the connection closes once the trailer is written.
 * Returns 0; RN_EINVAL if the client did not set RN_CTL_F_STREAM or the
 * request streams already; RN_ENOTCONN if the client is gone. */
int rn__ctl_req_go(struct rn_ctl_req *req, rn_ctl_stream_fn fn, void *ctx);

/* True if the client set RN_CTL_F_STREAM. */
bool rn__ctl_req_can_stream(const struct rn_ctl_req *req);

/* Sets the readiness the stream's fn wants to hear about (EPOLLIN,
 * EPOLLOUT, both or none); level-triggered, like the loop's fds. */
void rn__ctl_req_stream_want(struct rn_ctl_req *req, uint32_t events);

/* Reads client bytes.  Returns how many (> 0), 0 at the client's end of
 * data (it shut down its writing side), RN_EAGAIN if none are there, or
 * RN_EPIPE if the stream is broken or gone. */
ssize_t rn__ctl_req_stream_read(struct rn_ctl_req *req, void *buf, size_t len);

/* Writes data to the client, framed in chunks.  Returns the bytes taken
 * (0 < n <= len), or RN_EAGAIN if none (ask for EPOLLOUT), or RN_EPIPE.
 * After RN_EAGAIN or a short count, the next call must continue with the
 * bytes not taken: a chunk's length is promised when it starts. */
ssize_t rn__ctl_req_stream_write(struct rn_ctl_req *req, const void *buf, size_t len);

/* Ends the daemon's data (the end chunk), e.g. at the peer's FIN, before
 * the request completes.  Completing without it sends it first.  Returns
 * 0 or RN_EPIPE. */
int rn__ctl_req_stream_eof(struct rn_ctl_req *req);

#endif /* REFNET_CTL_CTL_H */
