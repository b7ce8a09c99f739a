/*
 * Growable text buffer (see strbuf.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "refnet/strbuf.h"

void rn_strbuf_init(struct rn_strbuf *sb)
{
    sb->sb_buf = NULL;
    sb->sb_len = 0;
    sb->sb_cap = 0;
    sb->sb_oom = false;
}

void rn_strbuf_free(struct rn_strbuf *sb)
{
    free(sb->sb_buf);
    rn_strbuf_init(sb);
}

void rn_strbuf_reset(struct rn_strbuf *sb)
{
    sb->sb_len = 0;
    sb->sb_oom = false;
    if (sb->sb_buf)
        sb->sb_buf[0] = '\0';
}

static bool strbuf_reserve(struct rn_strbuf *sb, size_t extra)
{
    size_t need, cap;
    char *p;

    if (sb->sb_oom)
        return false;
    need = sb->sb_len + extra + 1;
    if (need <= sb->sb_cap)
        return true;
    cap = sb->sb_cap ? sb->sb_cap : 256;
    while (cap < need)
        cap *= 2;
    p = realloc(sb->sb_buf, cap);
    if (p == NULL) {
        sb->sb_oom = true;
        return false;
    }
    sb->sb_buf = p;
    sb->sb_cap = cap;
    return true;
}

void rn_strbuf_vprintf(struct rn_strbuf *sb, const char *fmt, va_list ap)
{
    va_list ap2;
    int n;

    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0 || !strbuf_reserve(sb, (size_t)n))
        return;
    vsnprintf(sb->sb_buf + sb->sb_len, (size_t)n + 1, fmt, ap);
    sb->sb_len += (size_t)n;
}

void rn_strbuf_printf(struct rn_strbuf *sb, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    rn_strbuf_vprintf(sb, fmt, ap);
    va_end(ap);
}

void rn_strbuf_append(struct rn_strbuf *sb, const char *s, size_t n)
{
    if (!strbuf_reserve(sb, n))
        return;
    memcpy(sb->sb_buf + sb->sb_len, s, n);
    sb->sb_len += n;
    sb->sb_buf[sb->sb_len] = '\0';
}

void rn_strbuf_puts(struct rn_strbuf *sb, const char *s)
{
    rn_strbuf_append(sb, s, strlen(s));
}

const char *rn_strbuf_str(const struct rn_strbuf *sb)
{
    return sb->sb_buf ? sb->sb_buf : "";
}

char *rn_strbuf_detach(struct rn_strbuf *sb)
{
    char *p = sb->sb_buf;

    if (p == NULL)
        p = calloc(1, 1);
    rn_strbuf_init(sb);
    return p;
}
