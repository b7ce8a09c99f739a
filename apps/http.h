/*
 * HTTP/1.1 message syntax for the built-in web server (apps/httpd.c): the
 * request-head parser, the request target turned into a path under the
 * document root, content types by extension, and response heads.
 * Internal to refnet's apps/.
 *
 * Pure: no I/O, no allocation, no clock.  Everything works on caller
 * buffers of fixed size, so the module can be unit-tested and fuzzed
 * (fuzz/fuzz_http.c) on its own.
 *
 * The parser is incremental: the server hands it bytes as they arrive, in
 * pieces of any size, and it keeps only what the server needs (method,
 * raw target, version, the Host count, the Connection tokens, the body
 * framing).  Its memory is the struct itself, whatever the input.  It
 * reads one byte at a time through a state machine, and never looks
 * behind or ahead of the byte it is on.
 *
 * Syntax (RFC 9112 sections 2 to 6), strictly:
 *   request-line = method SP request-target SP HTTP-version CRLF
 *   field-line   = field-name ":" OWS field-value OWS CRLF
 * Lines may also end in a bare LF (RFC 9112 2.2); a CR anywhere but
 * before LF is an error.  Empty lines before the request line are
 * skipped (2.2).  Obsolete line folding, whitespace before a colon or
 * before the first field, NUL and other control characters are errors
 * (400).  Limits give 414 (target), 431 (a field line, the field section,
 * the number of fields), 505 (a well-formed version other than 1.0 and
 * 1.1).  At the end of the head: HTTP/1.1 needs exactly one Host, never
 * two in any version (3.2); Transfer-Encoding with Content-Length is 400
 * (6.1), Transfer-Encoding alone 501 (the server takes no request
 * bodies but drops a Content-Length body, up to a limit: 413 beyond).
 *
 * Thread safety: none needed; a parser belongs to one connection.
 */
#ifndef REFNET_APPS_HTTP_H
#define REFNET_APPS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Fixed sizes of what the parser keeps. */
#define RN_HTTP_METHOD_MAX 32u      /* longest method token (longer: 400) */
#define RN_HTTP_TARGET_MAX 8192u    /* longest request target (longer: 414) */
#define RN_HTTP_NAME_KEEP 24u       /* field-name bytes kept to recognise it */
#define RN_HTTP_TOKEN_KEEP 16u      /* Connection token bytes kept */

/* Limits; a zero field takes the default shown. */
struct rn_http_limits {
    uint32_t hl_target_max;    /* request-target bytes; 8192, at most RN_HTTP_TARGET_MAX */
    uint32_t hl_line_max;      /* one field line, terminator included; 8192 */
    uint32_t hl_fields_max;    /* field section bytes, final empty line included; 16384 */
    uint32_t hl_nfields_max;   /* field lines; 100 */
    uint32_t hl_blank_max;     /* bytes of empty lines skipped before a request; 64 */
    uint64_t hl_body_max;      /* Content-Length accepted (and dropped); 1 MiB */
};

enum rn_http_method {
    RN_HTTP_M_NONE = 0,  /* not parsed yet */
    RN_HTTP_M_GET,
    RN_HTTP_M_HEAD,
    RN_HTTP_M_OTHER,     /* any other token: the server answers 405 */
};

/* What rn__http_parse() says. */
enum rn_http_parse_status {
    RN_HTTP_MORE = 0,    /* every byte was taken; the head is not complete */
    RN_HTTP_DONE = 1,    /* the head is complete: read the request */
    RN_HTTP_ERROR = -1,  /* malformed or over a limit: hp_status says which */
};

/* The parser's state machine positions (http.c). */
enum rn_http_pstate {
    RN_HTTP_PS_START,        /* before the request line; empty lines skipped */
    RN_HTTP_PS_START_CR,     /* a CR of an empty line seen */
    RN_HTTP_PS_METHOD,
    RN_HTTP_PS_TARGET,
    RN_HTTP_PS_VERSION,
    RN_HTTP_PS_LINE_CR,      /* CR ending the request line seen */
    RN_HTTP_PS_FIELD_START,  /* at the start of a field line or the final empty line */
    RN_HTTP_PS_NAME,
    RN_HTTP_PS_OWS,          /* after the colon, before the value */
    RN_HTTP_PS_VALUE,
    RN_HTTP_PS_FIELD_CR,     /* CR ending a field line seen */
    RN_HTTP_PS_END_CR,       /* CR of the final empty line seen */
    RN_HTTP_PS_DONE,         /* finished (hr_status says how) */
};

/* Which field the current line is, for the ones the server reads. */
enum rn_http_field {
    RN_HTTP_F_OTHER = 0,
    RN_HTTP_F_HOST,
    RN_HTTP_F_CONNECTION,
    RN_HTTP_F_CONTENT_LENGTH,
    RN_HTTP_F_TRANSFER_ENCODING,
};

/* A request head being parsed, and once parsed, the request.  Invariants:
 * hp_method_len <= RN_HTTP_METHOD_MAX, hp_target_len <= hl_target_max,
 * hp_target[hp_target_len] == '\0'. */
struct rn_http_parser {
    struct rn_http_limits hp_lim;        /* limits, defaults filled in */
    enum rn_http_pstate hp_state;        /* where the machine is */
    int hp_status;                       /* after DONE: 0; after ERROR: 400, 413,
                                            414, 431, 501 or 505 */
    uint64_t hp_consumed;                /* bytes taken for this request, from its
                                            first byte (empty lines included) */
    bool hp_started;                     /* a byte of a request line was seen
                                            (empty lines before it do not count) */
    /* The request line. */
    enum rn_http_method hp_method;       /* once the method is complete */
    char hp_method_name[RN_HTTP_METHOD_MAX + 1]; /* the token, NUL-terminated */
    uint32_t hp_method_len;              /* its bytes */
    char hp_target[RN_HTTP_TARGET_MAX + 1]; /* raw request target, NUL-terminated */
    uint32_t hp_target_len;              /* its bytes */
    char hp_version[9];                  /* "HTTP/1.1" as read, NUL-terminated */
    uint32_t hp_version_len;             /* its bytes so far */
    uint8_t hp_minor;                    /* 0 or 1 once the line is complete */
    /* The field section. */
    uint32_t hp_line_len;                /* bytes of the current field line */
    uint32_t hp_fields_len;              /* bytes of the field section so far */
    uint32_t hp_nfields;                 /* field lines so far */
    uint32_t hp_blank_len;               /* bytes of empty lines before the request */
    enum rn_http_field hp_field;         /* the current line's field */
    char hp_name[RN_HTTP_NAME_KEEP + 1]; /* the current name, lower case, cut */
    uint32_t hp_name_len;                /* bytes of the name (may exceed the kept) */
    char hp_token[RN_HTTP_TOKEN_KEEP + 1]; /* Connection: the token being read */
    uint32_t hp_token_len;               /* its bytes (may exceed the kept) */
    uint32_t hp_token_ows;               /* trailing whitespace in hp_token */
    bool hp_cl_digits;                   /* Content-Length: a digit was seen */
    bool hp_cl_ws;                       /* Content-Length: whitespace after digits */
    uint64_t hp_cl_value;                /* Content-Length: the value being read */
    /* What the server reads once DONE. */
    bool hp_conn_close;                  /* a Connection "close" token */
    bool hp_conn_keepalive;              /* a Connection "keep-alive" token */
    bool hp_has_length;                  /* a Content-Length field */
    uint64_t hp_length;                  /* its value */
    bool hp_has_te;                      /* a Transfer-Encoding field */
    uint32_t hp_nhosts;                  /* Host fields */
};

/* Prepares hp with lim (NULL: the defaults) for a new request.  A limit
 * above the parser's fixed sizes is cut to them. */
void rn__http_parser_init(struct rn_http_parser *hp, const struct rn_http_limits *lim);

/* Forgets the request but keeps the limits, for the next request on the
 * same connection. */
void rn__http_parser_reset(struct rn_http_parser *hp);

/* Feeds len bytes of buf.  Returns RN_HTTP_MORE (all taken; *used = len),
 * RN_HTTP_DONE (the head ended within buf; *used bytes were taken, the
 * rest belongs to what follows), or RN_HTTP_ERROR (*used bytes were taken,
 * the last of them the offending one; hp_status is the response status).
 * Once DONE or ERROR, feeding again is a programmer error (asserted) until
 * rn__http_parser_reset(). */
int rn__http_parse(struct rn_http_parser *hp, const uint8_t *buf, size_t len, size_t *used);

/* True once the parser has seen the first byte of a request line. */
bool rn__http_parser_started(const struct rn_http_parser *hp);

/* After DONE: whether the connection stays open after the response.
 * HTTP/1.1 persists unless "close"; HTTP/1.0 only with "keep-alive" and
 * without "close" (RFC 9112 9.3). */
bool rn__http_keep_alive(const struct rn_http_parser *hp);

/* ---- Request target to path ------------------------------------------------ */

/* Turns a raw request target into a path relative to the document root:
 * origin-form ("/a/b?q") or absolute-form ("http://host/a/b"); the query is
 * dropped.  Percent-encoding is decoded once; a decoded "/" separates like
 * a literal one.  Empty and "." segments are dropped (so "//" collapses).
 * out gets the segments joined by single "/", without a leading "/", ""
 * for the root; *dir is set when the target ended in "/".  Returns 0, 400
 * (not origin- or absolute-form, a byte outside visible ASCII, bad
 * percent-encoding, a decoded control character such as NUL), or 404 (a ".." segment, before or after
 * decoding: nothing outside the root is ever named).  out needs
 * len + 1 bytes at most; outlen smaller than needed gives 414. */
int rn__http_target_path(const char *target, size_t len, char *out, size_t outlen, bool *dir);

/* ---- Responses --------------------------------------------------------------- */

/* The reason phrase of a status ("Not Found"), or "Unknown". */
const char *rn__http_reason(int status);

/* The media type for a file name by its extension, case-insensitive:
 * html, htm, txt, css, js, json, png, jpg, jpeg, gif, svg, ico, pdf,
 * wasm; anything else is "application/octet-stream". */
const char *rn__http_content_type(const char *name);

/* Flags of a response head. */
#define RN_HTTP_RF_CLOSE 0x1u      /* "Connection: close": the server closes after it */
#define RN_HTTP_RF_KEEPALIVE 0x2u  /* "Connection: keep-alive" (HTTP/1.0 persistence) */
#define RN_HTTP_RF_ALLOW 0x4u      /* "Allow: GET, HEAD" (405) */

/* Writes a response head into buf: status line (HTTP/1.1), Server,
 * Content-Type (if ctype), Content-Length, the fields of flags, and the
 * empty line.  There is no Date: refnet's core has no wall clock, and RFC
 * 9110 6.6.1 says an origin server without one must not send it.  Returns
 * the bytes written, or 0 if len is too small (nothing usable written). */
size_t rn__http_format_head(char *buf, size_t len, int status, const char *ctype,
                           uint64_t content_length, unsigned flags);

#endif /* REFNET_APPS_HTTP_H */
