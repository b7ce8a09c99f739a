/*
 * The HTTP/1.1 response decoder (http_resp.h).
 *
 * Call order for one response:
 *   rn__http_resp_feed() -> line phases: resp_line() gathers a line, then
 *     resp_status_line() / resp_field() / resp_chunk_size() / trailers
 *     -> resp_head_end() decides the framing (RFC 9112 section 6.3)
 *   -> body phases hand out runs of buf as body data
 *   -> RN_HTTP_COMPLETE, or rn__http_resp_eof() for a body ended by close.
 * Lines end with CRLF; a bare LF is accepted as well (RFC 9112 section
 * 2.2).  Obsolete line folding is refused.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "apps/http_resp.h"
#include "refnet/error.h"

static int resp_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int resp_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err != NULL && errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return RN_EPROTO;
}

void rn__http_resp_init(struct rn_http_resp *hr)
{
    memset(hr, 0, sizeof(*hr));
    hr->hr_phase = RN_HTTP_STATUS;
}

/* Forgets an interim response's fields before the next response. */
static void resp_next_response(struct rn_http_resp *hr)
{
    hr->hr_phase = RN_HTTP_STATUS;
    hr->hr_section = 0;
    hr->hr_has_length = false;
    hr->hr_length = 0;
    hr->hr_has_te = false;
    hr->hr_chunked = false;
    hr->hr_te_other = false;
}

/* Gathers a line.  Returns 1 with the line (line end removed, NUL
 * terminated) in hr_line when complete, 0 when more bytes are needed, or
 * RN_EPROTO. */
static int resp_line(struct rn_http_resp *hr, const uint8_t *buf, size_t len, size_t *used,
                     char *err, size_t errlen)
{
    const uint8_t *nl = memchr(buf, '\n', len);
    size_t take = nl ? (size_t)(nl - buf) + 1 : len;
    size_t keep = nl ? take - 1 : take;

    *used = take;
    if (memchr(buf, '\0', keep) != NULL)
        return resp_err(err, errlen, "a NUL byte in a line of the response");
    if (hr->hr_line_len + keep > RN_HTTP_LINE_MAX + 1)
        return resp_err(err, errlen, "a line of the response is longer than %u bytes",
                        RN_HTTP_LINE_MAX);
    hr->hr_section += take;
    if (hr->hr_phase != RN_HTTP_CHUNK_SIZE && hr->hr_phase != RN_HTTP_CHUNK_END &&
        hr->hr_section > RN_HTTP_HEADERS_MAX)
        return resp_err(err, errlen, "the header section is longer than %u bytes",
                        RN_HTTP_HEADERS_MAX);
    memcpy(hr->hr_line + hr->hr_line_len, buf, keep);
    hr->hr_line_len += keep;
    if (nl == NULL)
        return 0;
    if (hr->hr_line_len > 0 && hr->hr_line[hr->hr_line_len - 1] == '\r')
        hr->hr_line_len--;
    if (hr->hr_line_len > RN_HTTP_LINE_MAX)
        return resp_err(err, errlen, "a line of the response is longer than %u bytes",
                        RN_HTTP_LINE_MAX);
    hr->hr_line[hr->hr_line_len] = '\0';
    hr->hr_line_len = 0;
    return 1;
}

static int resp_status_line(struct rn_http_resp *hr, const char *line, char *err, size_t errlen)
{
    const char *p = line;

    if (strncmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') || p[8] != ' ')
        return resp_err(err, errlen, "not an HTTP/1.x status line: '%.60s'", line);
    hr->hr_version = p[7] == '1' ? 11 : 10;
    p += 9;
    if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]) ||
        !isdigit((unsigned char)p[2]) || (p[3] != ' ' && p[3] != '\0'))
        return resp_err(err, errlen, "bad status code in '%.60s'", line);
    hr->hr_status = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
    if (hr->hr_status < 100 || hr->hr_status > 599)
        return resp_err(err, errlen, "status code %d out of range", hr->hr_status);
    /* Cut to fit: the line is for a message. */
    snprintf(hr->hr_status_line, sizeof(hr->hr_status_line), "%.*s",
             (int)sizeof(hr->hr_status_line) - 1, line);
    return 0;
}

static bool is_tchar(char c)
{
    return isalnum((unsigned char)c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static void trim(const char **s, const char **e)
{
    while (*s < *e && (**s == ' ' || **s == '\t'))
        (*s)++;
    while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
        (*e)--;
}

static bool token_is(const char *s, const char *e, const char *tok)
{
    size_t n = strlen(tok);

    return (size_t)(e - s) == n && strncasecmp(s, tok, n) == 0;
}

/* Content-Length: a list of identical decimal values is one value. */
static int resp_content_length(struct rn_http_resp *hr, const char *v, const char *end,
                               char *err, size_t errlen)
{
    while (v < end) {
        const char *s = v, *e = memchr(v, ',', (size_t)(end - v));
        uint64_t n = 0;

        if (e == NULL)
            e = end;
        v = e < end ? e + 1 : end;
        trim(&s, &e);
        if (s == e)
            return resp_err(err, errlen, "an empty Content-Length");
        for (; s < e; s++) {
            if (!isdigit((unsigned char)*s))
                return resp_err(err, errlen, "Content-Length is not a number");
            if (n > (UINT64_MAX - 9) / 10)
                return resp_err(err, errlen, "Content-Length is too large");
            n = n * 10 + (uint64_t)(*s - '0');
        }
        if (hr->hr_has_length && hr->hr_length != n)
            return resp_err(err, errlen, "Content-Length values differ (%llu and %llu)",
                            (unsigned long long)hr->hr_length, (unsigned long long)n);
        hr->hr_has_length = true;
        hr->hr_length = n;
    }
    return 0;
}

/* Transfer-Encoding: a list of codings; only a final "chunked" is known. */
static void resp_transfer_encoding(struct rn_http_resp *hr, const char *v, const char *end)
{
    hr->hr_has_te = true;
    while (v < end) {
        const char *s = v, *e = memchr(v, ',', (size_t)(end - v));
        const char *semi;

        if (e == NULL)
            e = end;
        v = e < end ? e + 1 : end;
        semi = memchr(s, ';', (size_t)(e - s));
        if (semi != NULL)
            e = semi;
        trim(&s, &e);
        if (s == e)
            continue;
        if (hr->hr_chunked)
            hr->hr_te_other = true;  /* something after chunked */
        if (token_is(s, e, "chunked"))
            hr->hr_chunked = true;
        else
            hr->hr_te_other = true;
    }
}

static int resp_field(struct rn_http_resp *hr, const char *line, bool trailer, char *err,
                      size_t errlen)
{
    const char *colon = strchr(line, ':'), *p, *v, *end;

    if (line[0] == ' ' || line[0] == '\t')
        return resp_err(err, errlen, "obsolete line folding in the %s",
                        trailer ? "trailer section" : "header section");
    if (colon == NULL || colon == line)
        return resp_err(err, errlen, "a header line without a name: '%.60s'", line);
    for (p = line; p < colon; p++) {
        if (!is_tchar(*p))
            return resp_err(err, errlen, "a bad header name: '%.60s'", line);
    }
    if (trailer)
        return 0;  /* trailer fields do not change the framing */
    v = colon + 1;
    end = line + strlen(line);
    trim(&v, &end);
    if (token_is(line, colon, "Content-Length"))
        return resp_content_length(hr, v, end, err, errlen);
    if (token_is(line, colon, "Transfer-Encoding"))
        resp_transfer_encoding(hr, v, end);
    return 0;
}

/* The header section ended: decide how the body ends. */
static int resp_head_end(struct rn_http_resp *hr, char *err, size_t errlen)
{
    if (hr->hr_status >= 100 && hr->hr_status < 200) {
        if (hr->hr_status == 101)
            return resp_err(err, errlen, "the server switched protocols, which was not asked");
        resp_next_response(hr);  /* an interim response: the real one follows */
        return RN_HTTP_MORE;
    }
    hr->hr_section = 0;
    if (hr->hr_status == 204 || hr->hr_status == 304) {
        hr->hr_framing = RN_HTTP_FRAME_NONE;
        hr->hr_phase = RN_HTTP_DONE;
        return RN_HTTP_HEAD;
    }
    if (hr->hr_has_te && hr->hr_has_length)
        return resp_err(err, errlen, "both Transfer-Encoding and Content-Length: the body's "
                        "length is ambiguous");
    if (hr->hr_has_te) {
        if (!hr->hr_chunked || hr->hr_te_other)
            return resp_err(err, errlen, "unsupported transfer coding (only chunked is "
                            "understood)");
        hr->hr_framing = RN_HTTP_FRAME_CHUNKED;
        hr->hr_phase = RN_HTTP_CHUNK_SIZE;
        return RN_HTTP_HEAD;
    }
    if (hr->hr_has_length) {
        hr->hr_framing = RN_HTTP_FRAME_LENGTH;
        hr->hr_left = hr->hr_length;
        hr->hr_phase = hr->hr_left == 0 ? RN_HTTP_DONE : RN_HTTP_BODY;
        return RN_HTTP_HEAD;
    }
    hr->hr_framing = RN_HTTP_FRAME_CLOSE;
    hr->hr_phase = RN_HTTP_BODY;
    return RN_HTTP_HEAD;
}

static int resp_chunk_size(struct rn_http_resp *hr, const char *line, char *err, size_t errlen)
{
    const char *p = line;
    uint64_t n = 0;
    int digits = 0;

    for (; isxdigit((unsigned char)*p); p++) {
        if (++digits > 15)
            return resp_err(err, errlen, "a chunk size of more than 15 hex digits");
        n = n * 16 + (uint64_t)(isdigit((unsigned char)*p) ? *p - '0'
                                                          : tolower((unsigned char)*p) - 'a' + 10);
    }
    while (*p == ' ' || *p == '\t')
        p++;
    if (digits == 0 || (*p != '\0' && *p != ';'))
        return resp_err(err, errlen, "a bad chunk size line: '%.40s'", line);
    hr->hr_left = n;
    if (n == 0) {
        hr->hr_phase = RN_HTTP_TRAILERS;
        hr->hr_section = 0;
    } else {
        hr->hr_phase = RN_HTTP_CHUNK_DATA;
    }
    return RN_HTTP_MORE;
}

int rn__http_resp_feed(struct rn_http_resp *hr, const uint8_t *buf, size_t len, size_t *used,
                      const uint8_t **data, size_t *datalen, char *err, size_t errlen)
{
    size_t n;
    int r;

    *used = 0;
    *data = NULL;
    *datalen = 0;
    switch (hr->hr_phase) {
    case RN_HTTP_DONE:
        return RN_HTTP_COMPLETE;
    case RN_HTTP_BODY:
    case RN_HTTP_CHUNK_DATA:
        n = len;
        if (hr->hr_framing != RN_HTTP_FRAME_CLOSE && n > hr->hr_left)
            n = (size_t)hr->hr_left;
        *used = n;
        *data = buf;
        *datalen = n;
        hr->hr_body += n;
        if (hr->hr_framing == RN_HTTP_FRAME_CLOSE)
            return RN_HTTP_MORE;
        hr->hr_left -= n;
        if (hr->hr_left > 0)
            return RN_HTTP_MORE;
        if (hr->hr_phase == RN_HTTP_CHUNK_DATA) {
            hr->hr_phase = RN_HTTP_CHUNK_END;
            return RN_HTTP_MORE;
        }
        hr->hr_phase = RN_HTTP_DONE;
        return RN_HTTP_COMPLETE;
    default:
        break;
    }
    if (len == 0)
        return RN_HTTP_MORE;
    r = resp_line(hr, buf, len, used, err, errlen);
    if (r <= 0)
        return r;
    switch (hr->hr_phase) {
    case RN_HTTP_STATUS:
        if ((r = resp_status_line(hr, hr->hr_line, err, errlen)) != 0)
            return r;
        hr->hr_phase = RN_HTTP_HEADERS;
        return RN_HTTP_MORE;
    case RN_HTTP_HEADERS:
        if (hr->hr_line[0] == '\0') {
            r = resp_head_end(hr, err, errlen);
            if (r == RN_HTTP_HEAD && hr->hr_phase == RN_HTTP_DONE)
                return RN_HTTP_HEAD;  /* COMPLETE comes at the next call */
            return r;
        }
        return resp_field(hr, hr->hr_line, false, err, errlen);
    case RN_HTTP_CHUNK_SIZE:
        return resp_chunk_size(hr, hr->hr_line, err, errlen);
    case RN_HTTP_CHUNK_END:
        if (hr->hr_line[0] != '\0')
            return resp_err(err, errlen, "chunk data longer than its size");
        hr->hr_phase = RN_HTTP_CHUNK_SIZE;
        return RN_HTTP_MORE;
    case RN_HTTP_TRAILERS:
        if (hr->hr_line[0] == '\0') {
            hr->hr_phase = RN_HTTP_DONE;
            return RN_HTTP_COMPLETE;
        }
        return resp_field(hr, hr->hr_line, true, err, errlen);
    default:
        return resp_err(err, errlen, "decoder in an impossible state");
    }
}

int rn__http_resp_eof(struct rn_http_resp *hr, char *err, size_t errlen)
{
    switch (hr->hr_phase) {
    case RN_HTTP_DONE:
        return RN_HTTP_COMPLETE;
    case RN_HTTP_STATUS:
        if (hr->hr_line_len == 0 && hr->hr_status == 0)
            return resp_err(err, errlen, "the server closed the connection without a response");
        return resp_err(err, errlen, "the server closed the connection inside the status line");
    case RN_HTTP_HEADERS:
        return resp_err(err, errlen, "the server closed the connection inside the headers");
    case RN_HTTP_BODY:
        if (hr->hr_framing == RN_HTTP_FRAME_CLOSE) {
            hr->hr_phase = RN_HTTP_DONE;
            return RN_HTTP_COMPLETE;
        }
        return resp_err(err, errlen, "the body was cut short: %llu of %llu bytes",
                        (unsigned long long)hr->hr_body, (unsigned long long)hr->hr_length);
    default:
        return resp_err(err, errlen, "the chunked body was cut short after %llu bytes",
                        (unsigned long long)hr->hr_body);
    }
}
