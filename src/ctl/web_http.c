/*
 * The live view's request parser (web.h): an HTTP/1.x request head read
 * from the connection's fixed buffer, strictly and in one pass.
 *
 *   request-line = method SP path [ "?" query ] SP "HTTP/1." digit CRLF
 *   header       = name ":" OWS value OWS CRLF      (at most WEB_HEADERS_MAX)
 *   end          = CRLF
 *
 * Only what the server needs is kept (Host, Authorization, Content-Length,
 * Connection); every other header is checked for shape and skipped.
 * Refused: bare LF line ends, obsolete line folding, control characters,
 * Transfer-Encoding (the server takes no chunked bodies), a second
 * Content-Length, a path with anything but letters, digits and "/-._~"
 * or a ".." segment, a query with anything but those and "=&%+", and a
 * head that does not end within WEB_HEAD_MAX bytes.  Nothing is decoded:
 * the server's paths and queries need no percent-decoding to be
 * recognised, and a path that would is simply not found.
 */
#include <string.h>

#include "ctl/web.h"

static const char *const refusal_names[] = {
#define RN_WEB_X(name, str, status, text) str,
    RN_WEB_REFUSALS(RN_WEB_X)
#undef RN_WEB_X
};

const char *rn__web_refusal_name(enum rn_web_refusal r)
{
    return (unsigned)r < RN_WEB_R_COUNT_ ? refusal_names[r] : "?";
}

static bool path_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '/' || c == '-' || c == '.' || c == '_' || c == '~';
}

static bool query_char(char c)
{
    return path_char(c) || c == '=' || c == '&' || c == '%' || c == '+';
}

/* A token character of a header name (RFC 9110 5.6.2). */
static bool tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool name_is(const char *p, size_t n, const char *name)
{
    size_t i;

    if (strlen(name) != n)
        return false;
    for (i = 0; i < n; i++) {
        char a = p[i], b = name[i];

        if (a >= 'A' && a <= 'Z')
            a = (char)(a - 'A' + 'a');
        if (a != b)
            return false;
    }
    return true;
}

/* Finds the CRLF ending the line at buf[pos]; returns its offset or -1
 * (none within len).  A bare LF or CR, or a control character other than
 * HTAB, makes *bad true. */
static long line_end(const char *buf, size_t len, size_t pos, bool *bad)
{
    size_t i;

    for (i = pos; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];

        if (c == '\r') {
            if (i + 1 >= len)
                return -1;
            if (buf[i + 1] != '\n') {
                *bad = true;
                return -1;
            }
            return (long)i;
        }
        if (c == '\n' || (c < 0x20 && c != '\t') || c == 0x7f) {
            *bad = true;
            return -1;
        }
    }
    return -1;
}

static int refuse(enum rn_web_refusal r, enum rn_web_refusal *why)
{
    *why = r;
    return -1;
}

/* The request line, buf[0..end). */
static int parse_request_line(const char *buf, size_t end, struct rn_web_req *req,
                              enum rn_web_refusal *why)
{
    const char *sp1 = memchr(buf, ' ', end), *sp2, *target, *q;
    size_t tlen, i;

    if (sp1 == NULL)
        return refuse(RN_WEB_R_BAD_REQUEST, why);
    if ((size_t)(sp1 - buf) == 3 && memcmp(buf, "GET", 3) == 0)
        req->wq_method = RN_WEB_GET;
    else if ((size_t)(sp1 - buf) == 4 && memcmp(buf, "HEAD", 4) == 0)
        req->wq_method = RN_WEB_HEAD;
    else if ((size_t)(sp1 - buf) == 4 && memcmp(buf, "POST", 4) == 0)
        req->wq_method = RN_WEB_POST;
    else {
        for (i = 0; buf + i < sp1; i++)
            if (!tchar(buf[i]))
                return refuse(RN_WEB_R_BAD_REQUEST, why);
        return refuse(i > 0 ? RN_WEB_R_BAD_METHOD : RN_WEB_R_BAD_REQUEST, why);
    }
    target = sp1 + 1;
    sp2 = memchr(target, ' ', end - (size_t)(target - buf));
    if (sp2 == NULL || sp2 == target)
        return refuse(RN_WEB_R_BAD_REQUEST, why);
    /* "HTTP/1.0" or "HTTP/1.1" and nothing after. */
    if (end - (size_t)(sp2 + 1 - buf) != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0 ||
        (sp2[8] != '0' && sp2[8] != '1'))
        return refuse(RN_WEB_R_BAD_REQUEST, why);
    req->wq_close = sp2[8] == '0';  /* 1.0: closes unless keep-alive */
    tlen = (size_t)(sp2 - target);
    if (target[0] != '/')
        return refuse(RN_WEB_R_BAD_PATH, why);
    q = memchr(target, '?', tlen);
    req->wq_path = target;
    req->wq_pathlen = q ? (size_t)(q - target) : tlen;
    req->wq_query = q ? q + 1 : NULL;
    req->wq_querylen = q ? tlen - req->wq_pathlen - 1 : 0;
    for (i = 0; i < req->wq_pathlen; i++) {
        if (!path_char(target[i]))
            return refuse(RN_WEB_R_BAD_PATH, why);
        /* A ".." segment: "/../", "/.." at the end. */
        if (target[i] == '.' && i > 0 && target[i - 1] == '/' && i + 1 < req->wq_pathlen &&
            target[i + 1] == '.' && (i + 2 == req->wq_pathlen || target[i + 2] == '/'))
            return refuse(RN_WEB_R_BAD_PATH, why);
        if (target[i] == '/' && i > 0 && target[i - 1] == '/')
            return refuse(RN_WEB_R_BAD_PATH, why);
    }
    for (i = 0; i < req->wq_querylen; i++)
        if (!query_char(req->wq_query[i]))
            return refuse(RN_WEB_R_BAD_PATH, why);
    return 0;
}

static void trim(const char **p, size_t *n)
{
    while (*n > 0 && (**p == ' ' || **p == '\t'))
        (*p)++, (*n)--;
    while (*n > 0 && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
        (*n)--;
}

int rn__web_parse(const char *buf, size_t len, struct rn_web_req *req, enum rn_web_refusal *why)
{
    size_t pos, nheaders = 0;
    bool bad = false, have_length = false, keep_alive = false, close = false, http10;
    long end;

    memset(req, 0, sizeof(*req));
    if (len > WEB_HEAD_MAX)
        len = WEB_HEAD_MAX;
    end = line_end(buf, len, 0, &bad);
    if (bad)
        return refuse(RN_WEB_R_BAD_REQUEST, why);
    if (end < 0)
        return len >= WEB_HEAD_MAX ? refuse(RN_WEB_R_HEAD_TOO_LARGE, why) : 0;
    if (end == 0)
        return refuse(RN_WEB_R_BAD_REQUEST, why);
    if (parse_request_line(buf, (size_t)end, req, why) != 0)
        return -1;
    http10 = req->wq_close;
    pos = (size_t)end + 2;
    for (;;) {
        const char *line = buf + pos, *colon, *val;
        size_t llen, nlen, vlen;

        end = line_end(buf, len, pos, &bad);
        if (bad)
            return refuse(RN_WEB_R_BAD_REQUEST, why);
        if (end < 0)
            return len >= WEB_HEAD_MAX ? refuse(RN_WEB_R_HEAD_TOO_LARGE, why) : 0;
        llen = (size_t)end - pos;
        pos = (size_t)end + 2;
        if (llen == 0)
            break;
        if (++nheaders > WEB_HEADERS_MAX)
            return refuse(RN_WEB_R_HEAD_TOO_LARGE, why);
        colon = memchr(line, ':', llen);
        if (colon == NULL || colon == line)
            return refuse(RN_WEB_R_BAD_REQUEST, why);
        nlen = (size_t)(colon - line);
        for (size_t i = 0; i < nlen; i++)
            if (!tchar(line[i]))
                return refuse(RN_WEB_R_BAD_REQUEST, why);
        val = colon + 1;
        vlen = llen - nlen - 1;
        trim(&val, &vlen);
        if (name_is(line, nlen, "host")) {
            if (req->wq_host != NULL)
                return refuse(RN_WEB_R_BAD_REQUEST, why);
            req->wq_host = val;
            req->wq_hostlen = vlen;
        } else if (name_is(line, nlen, "authorization")) {
            req->wq_auth = val;
            req->wq_authlen = vlen;
        } else if (name_is(line, nlen, "content-length")) {
            size_t v = 0, i;

            if (have_length || vlen == 0 || vlen > 6)
                return refuse(vlen > 6 ? RN_WEB_R_BODY_TOO_LARGE : RN_WEB_R_BAD_REQUEST, why);
            for (i = 0; i < vlen; i++) {
                if (val[i] < '0' || val[i] > '9')
                    return refuse(RN_WEB_R_BAD_REQUEST, why);
                v = v * 10 + (size_t)(val[i] - '0');
            }
            have_length = true;
            req->wq_body_len = v;
        } else if (name_is(line, nlen, "transfer-encoding")) {
            return refuse(RN_WEB_R_BAD_REQUEST, why);
        } else if (name_is(line, nlen, "connection")) {
            if (vlen == 5 && name_is(val, 5, "close"))
                close = true;
            else if (vlen == 10 && name_is(val, 10, "keep-alive"))
                keep_alive = true;
        }
    }
    req->wq_close = close || (http10 && !keep_alive);
    /* HTTP/1.1 needs a Host (RFC 9112 3.2). */
    if (req->wq_host == NULL && !http10)
        return refuse(RN_WEB_R_BAD_REQUEST, why);
    if (req->wq_body_len > 0 && req->wq_method != RN_WEB_POST)
        return refuse(RN_WEB_R_BAD_REQUEST, why);
    if (req->wq_body_len > WEB_BODY_MAX)
        return refuse(RN_WEB_R_BODY_TOO_LARGE, why);
    req->wq_head_len = pos;
    return 1;
}
