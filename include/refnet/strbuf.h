/*
 * A growable text buffer for reports, listings and control replies.
 *
 * Appends never fail visibly: on allocation failure the buffer keeps what it
 * has, sets sb_oom and ignores further appends, so a renderer can write
 * straight through and check once at the end.
 *
 * Thread safety: none; a buffer belongs to one thread at a time.
 */
#ifndef REFNET_STRBUF_H
#define REFNET_STRBUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct rn_strbuf {
    char *sb_buf;   /* NUL-terminated text, or NULL while empty */
    size_t sb_len;  /* bytes of text, sb_len < sb_cap when sb_buf != NULL */
    size_t sb_cap;  /* bytes allocated */
    bool sb_oom;    /* an append was lost to allocation failure */
};

#define RN_STRBUF_INIT { NULL, 0, 0, false }

/* Makes sb empty, owning no memory (as RN_STRBUF_INIT). */
void rn_strbuf_init(struct rn_strbuf *sb);
/* Frees sb's memory and leaves it empty. */
void rn_strbuf_free(struct rn_strbuf *sb);
/* Empties sb, keeping its memory for the next appends; clears sb_oom. */
void rn_strbuf_reset(struct rn_strbuf *sb);
/* Append formatted text, n bytes of s, or the string s.  On allocation
 * failure, append nothing and set sb_oom (see above). */
void rn_strbuf_printf(struct rn_strbuf *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void rn_strbuf_vprintf(struct rn_strbuf *sb, const char *fmt, va_list ap);
void rn_strbuf_append(struct rn_strbuf *sb, const char *s, size_t n);
void rn_strbuf_puts(struct rn_strbuf *sb, const char *s);
/* Returns the text, "" while empty; valid until the next append. */
const char *rn_strbuf_str(const struct rn_strbuf *sb);
/* Hands the text to the caller (free() it) and leaves the buffer empty. */
char *rn_strbuf_detach(struct rn_strbuf *sb);

#endif /* REFNET_STRBUF_H */
