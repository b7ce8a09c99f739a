/*
 * HTTP/1.1 message syntax (http.h): the incremental request-head parser,
 * request target to path, content types, response heads.  Pure: no I/O,
 * no allocation, no clock.
 *
 * The parser, in call order:
 *   rn__http_parse() -> parse_byte() for each byte, by hp_state:
 *     START -> METHOD -> TARGET -> VERSION -> line_end()
 *     -> FIELD_START -> NAME -> name_end() -> OWS -> VALUE -> value_byte()
 *     -> field_end() -> FIELD_START ... -> head_end()
 *   Any byte that breaks the grammar or a limit ends it with fail().
 */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "apps/http.h"

#define HTTP_LINE_MAX_DEFAULT 8192u
#define HTTP_FIELDS_MAX_DEFAULT 16384u
#define HTTP_NFIELDS_MAX_DEFAULT 100u
#define HTTP_BLANK_MAX_DEFAULT 64u
#define HTTP_BODY_MAX_DEFAULT (1u << 20)

/* ---- Character classes (RFC 9110 5.6.2, RFC 3986) ----------------------- */

static bool is_tchar(uint8_t c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* A byte that may appear in a request target: visible ASCII except "#"
 * (a fragment is never sent, RFC 9112 3.2). */
static bool is_target_char(uint8_t c)
{
    return c > 0x20 && c < 0x7f && c != '#';
}

/* field-vchar: visible ASCII or obs-text. */
static bool is_field_vchar(uint8_t c)
{
    return (c > 0x20 && c < 0x7f) || c >= 0x80;
}

static bool is_ows(uint8_t c)
{
    return c == ' ' || c == '\t';
}

static uint8_t lower(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/* ---- The parser ------------------------------------------------------------- */

void rn__http_parser_reset(struct rn_http_parser *hp)
{
    struct rn_http_limits lim = hp->hp_lim;

    memset(hp, 0, sizeof(*hp));
    hp->hp_lim = lim;
    hp->hp_state = RN_HTTP_PS_START;
}

void rn__http_parser_init(struct rn_http_parser *hp, const struct rn_http_limits *lim)
{
    struct rn_http_limits l = lim != NULL ? *lim : (struct rn_http_limits){0};

    if (l.hl_target_max == 0 || l.hl_target_max > RN_HTTP_TARGET_MAX)
        l.hl_target_max = RN_HTTP_TARGET_MAX;
    if (l.hl_line_max == 0)
        l.hl_line_max = HTTP_LINE_MAX_DEFAULT;
    if (l.hl_fields_max == 0)
        l.hl_fields_max = HTTP_FIELDS_MAX_DEFAULT;
    if (l.hl_nfields_max == 0)
        l.hl_nfields_max = HTTP_NFIELDS_MAX_DEFAULT;
    if (l.hl_blank_max == 0)
        l.hl_blank_max = HTTP_BLANK_MAX_DEFAULT;
    if (l.hl_body_max == 0)
        l.hl_body_max = HTTP_BODY_MAX_DEFAULT;
    hp->hp_lim = l;
    rn__http_parser_reset(hp);
}

bool rn__http_parser_started(const struct rn_http_parser *hp)
{
    return hp->hp_started;
}

bool rn__http_keep_alive(const struct rn_http_parser *hp)
{
    if (hp->hp_conn_close)
        return false;
    return hp->hp_minor >= 1 || hp->hp_conn_keepalive;
}

static int fail(struct rn_http_parser *hp, int status)
{
    hp->hp_status = status;
    hp->hp_state = RN_HTTP_PS_DONE;
    return RN_HTTP_ERROR;
}

static void method_end(struct rn_http_parser *hp)
{
    hp->hp_method_name[hp->hp_method_len] = '\0';
    if (strcmp(hp->hp_method_name, "GET") == 0)
        hp->hp_method = RN_HTTP_M_GET;
    else if (strcmp(hp->hp_method_name, "HEAD") == 0)
        hp->hp_method = RN_HTTP_M_HEAD;
    else
        hp->hp_method = RN_HTTP_M_OTHER;  /* methods are case-sensitive */
}

/* A byte of "HTTP/" DIGIT "." DIGIT at position pos. */
static bool version_byte_ok(uint32_t pos, uint8_t c)
{
    if (pos < 5)
        return c == (uint8_t)"HTTP/"[pos];
    if (pos == 6)
        return c == '.';
    return c >= '0' && c <= '9';
}

/* The request line ended. */
static int line_end(struct rn_http_parser *hp)
{
    if (hp->hp_version_len != 8)
        return fail(hp, 400);
    hp->hp_version[8] = '\0';
    if (hp->hp_version[5] != '1' || hp->hp_version[7] > '1')
        return fail(hp, 505);
    hp->hp_minor = (uint8_t)(hp->hp_version[7] - '0');
    hp->hp_state = RN_HTTP_PS_FIELD_START;
    return RN_HTTP_MORE;
}

/* A Connection token ended (at a comma or the end of the line). */
static void token_end(struct rn_http_parser *hp)
{
    uint32_t n = hp->hp_token_len - hp->hp_token_ows;

    if (n <= RN_HTTP_TOKEN_KEEP) {
        if (n == 5 && memcmp(hp->hp_token, "close", 5) == 0)
            hp->hp_conn_close = true;
        else if (n == 10 && memcmp(hp->hp_token, "keep-alive", 10) == 0)
            hp->hp_conn_keepalive = true;
    }
    hp->hp_token_len = 0;
    hp->hp_token_ows = 0;
}

/* The field name ended at its colon: which field is it? */
static void name_end(struct rn_http_parser *hp)
{
    static const struct {
        const char *name;
        enum rn_http_field field;
    } known[] = {
        {"host", RN_HTTP_F_HOST},
        {"connection", RN_HTTP_F_CONNECTION},
        {"content-length", RN_HTTP_F_CONTENT_LENGTH},
        {"transfer-encoding", RN_HTTP_F_TRANSFER_ENCODING},
    };
    size_t i;

    hp->hp_field = RN_HTTP_F_OTHER;
    if (hp->hp_name_len <= RN_HTTP_NAME_KEEP) {
        hp->hp_name[hp->hp_name_len] = '\0';
        for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
            if (strcmp(hp->hp_name, known[i].name) == 0)
                hp->hp_field = known[i].field;
        }
    }
    hp->hp_token_len = 0;
    hp->hp_token_ows = 0;
    hp->hp_cl_digits = false;
    hp->hp_cl_ws = false;
    hp->hp_cl_value = 0;
}

/* One byte of a field value (OWS inside or after it included). */
static int value_byte(struct rn_http_parser *hp, uint8_t c)
{
    switch (hp->hp_field) {
    case RN_HTTP_F_CONNECTION:
        if (c == ',') {
            token_end(hp);
        } else if (hp->hp_token_len == 0 && is_ows(c)) {
            /* whitespace before a token */
        } else {
            hp->hp_token_ows = is_ows(c) ? hp->hp_token_ows + 1 : 0;
            if (hp->hp_token_len < RN_HTTP_TOKEN_KEEP)
                hp->hp_token[hp->hp_token_len] = (char)lower(c);
            if (hp->hp_token_len < UINT32_MAX)
                hp->hp_token_len++;
        }
        return RN_HTTP_MORE;
    case RN_HTTP_F_CONTENT_LENGTH:
        if (c >= '0' && c <= '9') {
            unsigned d = (unsigned)(c - '0');

            if (hp->hp_cl_ws)
                return fail(hp, 400);  /* "12 34" */
            /* Saturate: a length past any limit is 413, not a wrap. */
            if (hp->hp_cl_value > (UINT64_MAX - d) / 10)
                hp->hp_cl_value = UINT64_MAX;
            else
                hp->hp_cl_value = hp->hp_cl_value * 10 + d;
            hp->hp_cl_digits = true;
        } else if (is_ows(c)) {
            hp->hp_cl_ws = true;
        } else {
            return fail(hp, 400);  /* signs, lists, anything else */
        }
        return RN_HTTP_MORE;
    default:
        return RN_HTTP_MORE;
    }
}

/* A field line ended. */
static int field_end(struct rn_http_parser *hp)
{
    switch (hp->hp_field) {
    case RN_HTTP_F_HOST:
        hp->hp_nhosts++;
        break;
    case RN_HTTP_F_CONNECTION:
        token_end(hp);
        break;
    case RN_HTTP_F_CONTENT_LENGTH:
        if (!hp->hp_cl_digits)
            return fail(hp, 400);
        if (hp->hp_has_length && hp->hp_length != hp->hp_cl_value)
            return fail(hp, 400);  /* differing lengths: smuggling */
        hp->hp_has_length = true;
        hp->hp_length = hp->hp_cl_value;
        break;
    case RN_HTTP_F_TRANSFER_ENCODING:
        hp->hp_has_te = true;
        break;
    case RN_HTTP_F_OTHER:
        break;
    }
    hp->hp_state = RN_HTTP_PS_FIELD_START;
    return RN_HTTP_MORE;
}

/* The final empty line ended: the checks that need the whole head. */
static int head_end(struct rn_http_parser *hp)
{
    if (hp->hp_nhosts > 1 || (hp->hp_minor == 1 && hp->hp_nhosts == 0))
        return fail(hp, 400);
    if (hp->hp_has_te)
        return fail(hp, hp->hp_has_length ? 400 : 501);
    if (hp->hp_has_length && hp->hp_length > hp->hp_lim.hl_body_max)
        return fail(hp, 413);
    hp->hp_status = 0;
    hp->hp_state = RN_HTTP_PS_DONE;
    return RN_HTTP_DONE;
}

/* Counts a byte of the field section against the limits. */
static int field_count(struct rn_http_parser *hp)
{
    hp->hp_line_len++;
    hp->hp_fields_len++;
    if (hp->hp_line_len > hp->hp_lim.hl_line_max || hp->hp_fields_len > hp->hp_lim.hl_fields_max)
        return fail(hp, 431);
    return RN_HTTP_MORE;
}

static int parse_byte(struct rn_http_parser *hp, uint8_t c)
{
    switch (hp->hp_state) {
    case RN_HTTP_PS_START:
        if (c == '\r' || c == '\n') {
            if (++hp->hp_blank_len > hp->hp_lim.hl_blank_max)
                return fail(hp, 400);
            if (c == '\r')
                hp->hp_state = RN_HTTP_PS_START_CR;
            return RN_HTTP_MORE;
        }
        if (!is_tchar(c))
            return fail(hp, 400);
        hp->hp_started = true;
        hp->hp_method_name[hp->hp_method_len++] = (char)c;
        hp->hp_state = RN_HTTP_PS_METHOD;
        return RN_HTTP_MORE;
    case RN_HTTP_PS_START_CR:
        if (c != '\n')
            return fail(hp, 400);
        if (++hp->hp_blank_len > hp->hp_lim.hl_blank_max)
            return fail(hp, 400);
        hp->hp_state = RN_HTTP_PS_START;
        return RN_HTTP_MORE;
    case RN_HTTP_PS_METHOD:
        if (c == ' ') {
            method_end(hp);
            hp->hp_state = RN_HTTP_PS_TARGET;
            return RN_HTTP_MORE;
        }
        if (!is_tchar(c) || hp->hp_method_len >= RN_HTTP_METHOD_MAX)
            return fail(hp, 400);
        hp->hp_method_name[hp->hp_method_len++] = (char)c;
        return RN_HTTP_MORE;
    case RN_HTTP_PS_TARGET:
        if (c == ' ') {
            if (hp->hp_target_len == 0)
                return fail(hp, 400);
            hp->hp_state = RN_HTTP_PS_VERSION;
            return RN_HTTP_MORE;
        }
        if (!is_target_char(c))
            return fail(hp, 400);
        if (hp->hp_target_len >= hp->hp_lim.hl_target_max)
            return fail(hp, 414);
        hp->hp_target[hp->hp_target_len++] = (char)c;
        hp->hp_target[hp->hp_target_len] = '\0';
        return RN_HTTP_MORE;
    case RN_HTTP_PS_VERSION:
        if (c == '\r') {
            hp->hp_state = RN_HTTP_PS_LINE_CR;
            return RN_HTTP_MORE;
        }
        if (c == '\n')
            return line_end(hp);
        if (hp->hp_version_len >= 8 || !version_byte_ok(hp->hp_version_len, c))
            return fail(hp, 400);
        hp->hp_version[hp->hp_version_len++] = (char)c;
        return RN_HTTP_MORE;
    case RN_HTTP_PS_LINE_CR:
        if (c != '\n')
            return fail(hp, 400);
        return line_end(hp);
    case RN_HTTP_PS_FIELD_START:
        hp->hp_line_len = 0;
        if (field_count(hp) != RN_HTTP_MORE)
            return RN_HTTP_ERROR;
        if (c == '\r') {
            hp->hp_state = RN_HTTP_PS_END_CR;
            return RN_HTTP_MORE;
        }
        if (c == '\n')
            return head_end(hp);
        if (!is_tchar(c))
            return fail(hp, 400);  /* obs-fold, whitespace, controls */
        if (++hp->hp_nfields > hp->hp_lim.hl_nfields_max)
            return fail(hp, 431);
        hp->hp_name[0] = (char)lower(c);
        hp->hp_name_len = 1;
        hp->hp_state = RN_HTTP_PS_NAME;
        return RN_HTTP_MORE;
    case RN_HTTP_PS_NAME:
        if (field_count(hp) != RN_HTTP_MORE)
            return RN_HTTP_ERROR;
        if (c == ':') {
            name_end(hp);
            hp->hp_state = RN_HTTP_PS_OWS;
            return RN_HTTP_MORE;
        }
        if (!is_tchar(c))
            return fail(hp, 400);  /* including whitespace before the colon */
        if (hp->hp_name_len < RN_HTTP_NAME_KEEP)
            hp->hp_name[hp->hp_name_len] = (char)lower(c);
        if (hp->hp_name_len < UINT32_MAX)
            hp->hp_name_len++;
        return RN_HTTP_MORE;
    case RN_HTTP_PS_OWS:
    case RN_HTTP_PS_VALUE:
        if (field_count(hp) != RN_HTTP_MORE)
            return RN_HTTP_ERROR;
        if (c == '\r') {
            hp->hp_state = RN_HTTP_PS_FIELD_CR;
            return RN_HTTP_MORE;
        }
        if (c == '\n')
            return field_end(hp);
        if (hp->hp_state == RN_HTTP_PS_OWS && is_ows(c))
            return RN_HTTP_MORE;
        if (!is_field_vchar(c) && !is_ows(c))
            return fail(hp, 400);  /* NUL and the other controls */
        hp->hp_state = RN_HTTP_PS_VALUE;
        return value_byte(hp, c);
    case RN_HTTP_PS_FIELD_CR:
        if (field_count(hp) != RN_HTTP_MORE)
            return RN_HTTP_ERROR;
        if (c != '\n')
            return fail(hp, 400);
        return field_end(hp);
    case RN_HTTP_PS_END_CR:
        if (field_count(hp) != RN_HTTP_MORE)
            return RN_HTTP_ERROR;
        if (c != '\n')
            return fail(hp, 400);
        return head_end(hp);
    case RN_HTTP_PS_DONE:
        break;
    }
    assert(!"rn__http_parse() called after DONE or ERROR");
    return fail(hp, 400);
}

int rn__http_parse(struct rn_http_parser *hp, const uint8_t *buf, size_t len, size_t *used)
{
    size_t i;
    int r;

    assert(hp->hp_state != RN_HTTP_PS_DONE);
    for (i = 0; i < len; i++) {
        hp->hp_consumed++;
        r = parse_byte(hp, buf[i]);
        if (r != RN_HTTP_MORE) {
            *used = i + 1;
            return r;
        }
    }
    *used = len;
    return RN_HTTP_MORE;
}

/* ---- Request target to path ------------------------------------------------ */

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool has_prefix_ci(const char *s, size_t len, const char *prefix)
{
    size_t i, n = strlen(prefix);

    if (len < n)
        return false;
    for (i = 0; i < n; i++) {
        if (lower((uint8_t)s[i]) != (uint8_t)prefix[i])
            return false;
    }
    return true;
}

/* Ends the segment out[seg..*o): drops it if empty or ".", refuses "..".
 * sep is where its separator was written (or seg when it had none). */
static int segment_end(char *out, size_t sep, size_t seg, size_t *o)
{
    size_t n = *o - seg;

    if (n == 0 || (n == 1 && out[seg] == '.')) {
        *o = sep;
        return 0;
    }
    if (n == 2 && out[seg] == '.' && out[seg + 1] == '.')
        return 404;
    return 0;
}

int rn__http_target_path(const char *t, size_t len, char *out, size_t outlen, bool *dir)
{
    size_t i, end, o = 0, sep = 0, seg = 0;
    bool last_slash = true;  /* the root is a directory */
    int err;

    assert(outlen > 0);
    if (len > 0 && t[0] == '/') {
        i = 0;
    } else if (has_prefix_ci(t, len, "http://") || has_prefix_ci(t, len, "https://")) {
        size_t host = t[4] == ':' ? 7 : 8;

        for (i = host; i < len && t[i] != '/' && t[i] != '?'; i++)
            ;
        if (i == host)
            return 400;  /* no authority */
    } else {
        return 400;  /* asterisk- and authority-form name no file */
    }
    for (end = i; end < len && t[end] != '?' && t[end] != '#'; end++)
        ;
    for (; i < end; i++) {
        uint8_t c = (uint8_t)t[i];

        if (c <= 0x20 || c >= 0x7f)
            return 400;  /* the parser lets none through; callers may not have one */
        if (c == '%') {
            int hi, lo;

            if (i + 2 >= end)
                return 400;  /* "%" or "%4" at the end */
            hi = hex_value(t[i + 1]);
            lo = hex_value(t[i + 2]);
            if (hi < 0 || lo < 0)
                return 400;
            c = (uint8_t)(hi << 4 | lo);
            i += 2;
            if (c < 0x20 || c == 0x7f)
                return 400;  /* NUL and other controls have no place in a name */
        }
        if (c == '/') {
            err = segment_end(out, sep, seg, &o);
            if (err != 0)
                return err;
            sep = o;
            last_slash = true;
            continue;
        }
        if (last_slash) {
            /* A new segment: its separator, unless it is the first. */
            if (o > 0) {
                if (o + 1 >= outlen)
                    return 414;
                out[o++] = '/';
            }
            seg = o;
            last_slash = false;
        }
        if (o + 1 >= outlen)
            return 414;
        out[o++] = (char)c;
    }
    if (!last_slash) {
        /* A last "." names the directory it is in: "/a/." is "/a/". */
        if (o - seg == 1 && out[seg] == '.')
            last_slash = true;
        err = segment_end(out, sep, seg, &o);
        if (err != 0)
            return err;
    }
    out[o] = '\0';
    *dir = last_slash;
    return 0;
}

/* ---- Responses --------------------------------------------------------------- */

const char *rn__http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

const char *rn__http_content_type(const char *name)
{
    static const struct {
        const char *ext;
        const char *type;
    } types[] = {
        {"html", "text/html; charset=utf-8"},
        {"htm", "text/html; charset=utf-8"},
        {"txt", "text/plain; charset=utf-8"},
        {"css", "text/css; charset=utf-8"},
        {"js", "text/javascript; charset=utf-8"},
        {"json", "application/json"},
        {"png", "image/png"},
        {"jpg", "image/jpeg"},
        {"jpeg", "image/jpeg"},
        {"gif", "image/gif"},
        {"svg", "image/svg+xml"},
        {"ico", "image/vnd.microsoft.icon"},
        {"pdf", "application/pdf"},
        {"wasm", "application/wasm"},
    };
    const char *slash = strrchr(name, '/');
    const char *dot = strrchr(slash != NULL ? slash : name, '.');
    size_t i, j;

    if (dot == NULL)
        return "application/octet-stream";
    dot++;
    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        for (j = 0; types[i].ext[j] != '\0' && lower((uint8_t)dot[j]) == (uint8_t)types[i].ext[j];
             j++)
            ;
        if (types[i].ext[j] == '\0' && dot[j] == '\0')
            return types[i].type;
    }
    return "application/octet-stream";
}

/* Appends n bytes of src at *pos if they fit within len; false if not. */
static bool head_put(char *buf, size_t len, size_t *pos, const char *src, size_t n)
{
    if (n >= len - *pos)  /* keeps a byte for the NUL */
        return false;
    memcpy(buf + *pos, src, n);
    *pos += n;
    return true;
}

static bool head_str(char *buf, size_t len, size_t *pos, const char *s)
{
    return head_put(buf, len, pos, s, strlen(s));
}

/* Appends v in decimal. */
static bool head_u64(char *buf, size_t len, size_t *pos, uint64_t v)
{
    char digits[20];
    size_t n = 0;

    do {
        digits[sizeof(digits) - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    return head_put(buf, len, pos, digits + sizeof(digits) - n, n);
}

/* Built by copying, not by a formatted print: it runs once per response. */
size_t rn__http_format_head(char *buf, size_t len, int status, const char *ctype,
                           uint64_t content_length, unsigned flags)
{
    size_t pos = 0;
    bool ok;

    if (len == 0 || status < 100 || status > 999)
        return 0;
    ok = head_str(buf, len, &pos, "HTTP/1.1 ") && head_u64(buf, len, &pos, (uint64_t)status) &&
         head_str(buf, len, &pos, " ") && head_str(buf, len, &pos, rn__http_reason(status)) &&
         head_str(buf, len, &pos, "\r\nServer: refnet\r\n");
    if (ok && ctype != NULL)
        ok = head_str(buf, len, &pos, "Content-Type: ") && head_str(buf, len, &pos, ctype) &&
             head_str(buf, len, &pos, "\r\n");
    ok = ok && head_str(buf, len, &pos, "Content-Length: ") &&
         head_u64(buf, len, &pos, content_length) && head_str(buf, len, &pos, "\r\n");
    if (ok && (flags & RN_HTTP_RF_ALLOW))
        ok = head_str(buf, len, &pos, "Allow: GET, HEAD\r\n");
    if (ok && (flags & RN_HTTP_RF_CLOSE))
        ok = head_str(buf, len, &pos, "Connection: close\r\n");
    else if (ok && (flags & RN_HTTP_RF_KEEPALIVE))
        ok = head_str(buf, len, &pos, "Connection: keep-alive\r\n");
    ok = ok && head_str(buf, len, &pos, "\r\n");
    if (!ok)
        return 0;
    buf[pos] = '\0';
    return pos;
}
