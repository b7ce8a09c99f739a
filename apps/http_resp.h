/*
 * An HTTP/1.1 response decoder (RFC 9112) for `refnet get`: status line,
 * header section, and the body by its framing: Content-Length, chunked
 * transfer coding (with trailer fields), or the end of the connection.
 * Interim responses (1xx but 101) are skipped.
 *
 * Where it sits: the client side of the control stream (tools/cmd_net.c)
 * feeds it the bytes the daemon pipes from refnet's TCP connection.  Pure
 * byte handling, no I/O, no allocation: incremental, so a response may
 * arrive split anywhere.  Everything from the server is bounded before it
 * is trusted: lines, the header section, chunk sizes, lengths.
 *
 * A response whose framing cannot be trusted is an error, never guessed
 * at: both Transfer-Encoding and Content-Length, Content-Length values
 * that differ or are not numbers, a transfer coding other than a final
 * "chunked", a bad chunk size, a body cut short.
 */
#ifndef REFNET_APPS_HTTP_RESP_H
#define REFNET_APPS_HTTP_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest status or field line accepted (without its line end). */
#define RN_HTTP_LINE_MAX 8192u
/* The largest header section (or trailer section) accepted. */
#define RN_HTTP_HEADERS_MAX (64u * 1024u)

/* How the body of a response ends. */
enum rn_http_framing {
    RN_HTTP_FRAME_NONE,     /* no body: 1xx, 204, 304 */
    RN_HTTP_FRAME_LENGTH,   /* Content-Length bytes */
    RN_HTTP_FRAME_CHUNKED,  /* chunked transfer coding */
    RN_HTTP_FRAME_CLOSE,    /* until the server closes */
};

enum rn_http_phase {
    RN_HTTP_STATUS,       /* reading the status line */
    RN_HTTP_HEADERS,      /* reading field lines */
    RN_HTTP_BODY,         /* length or close framing: body bytes */
    RN_HTTP_CHUNK_SIZE,   /* chunked: a chunk-size line */
    RN_HTTP_CHUNK_DATA,   /* chunked: chunk data */
    RN_HTTP_CHUNK_END,    /* chunked: the line end after chunk data */
    RN_HTTP_TRAILERS,     /* chunked: trailer field lines */
    RN_HTTP_DONE,         /* the response is complete */
};

struct rn_http_resp {
    enum rn_http_phase hr_phase;     /* where the decoder is */
    char hr_line[RN_HTTP_LINE_MAX + 2]; /* the line being gathered */
    size_t hr_line_len;              /* its bytes, <= RN_HTTP_LINE_MAX + 1 */
    size_t hr_section;               /* bytes of the current header or
                                        trailer section so far */
    int hr_version;                  /* 10 or 11, from the status line */
    int hr_status;                   /* 100..599 */
    char hr_status_line[256];        /* the final response's status line,
                                        cut to fit, without its line end */
    bool hr_has_length;              /* a Content-Length field was seen */
    uint64_t hr_length;              /* its value */
    bool hr_has_te;                  /* a Transfer-Encoding field was seen */
    bool hr_chunked;                 /* its last coding is chunked */
    bool hr_te_other;                /* it names another coding */
    enum rn_http_framing hr_framing; /* decided at the end of the headers */
    uint64_t hr_left;                /* body or chunk bytes still due */
    uint64_t hr_body;                /* body bytes delivered so far */
};

/* What rn__http_resp_feed() returns besides errors. */
#define RN_HTTP_MORE 0      /* more bytes are needed */
#define RN_HTTP_HEAD 1      /* the final response's header section just
                               ended: status and framing are known */
#define RN_HTTP_COMPLETE 2  /* the response is complete */

void rn__http_resp_init(struct rn_http_resp *hr);

/* Takes bytes from buf, up to the end of one piece (a line, a run of body
 * bytes).  Sets *used to the bytes taken and *data, *datalen to the body
 * bytes among them (pointing into buf, *datalen 0 if none).  Returns
 * RN_HTTP_MORE, RN_HTTP_HEAD (once), RN_HTTP_COMPLETE (then always, taking
 * nothing), or RN_EPROTO with one line in err naming what is wrong. */
int rn__http_resp_feed(struct rn_http_resp *hr, const uint8_t *buf, size_t len, size_t *used,
                      const uint8_t **data, size_t *datalen, char *err, size_t errlen);

/* The server closed the connection.  Returns RN_HTTP_COMPLETE if the
 * response is complete (a close-delimited body ends here), or RN_EPROTO
 * with err naming what was cut short. */
int rn__http_resp_eof(struct rn_http_resp *hr, char *err, size_t errlen);

#endif /* REFNET_APPS_HTTP_RESP_H */
