/*
 * The diagnostics sink (see report.h).
 */
#include <pthread.h>
#include <stdio.h>

#include "refnet/report.h"
#include "refnet/strbuf.h"

static pthread_mutex_t sink_lock = PTHREAD_MUTEX_INITIALIZER;
static rn_sink_fn sink_fn;  /* guarded by sink_lock; NULL: stderr */
static void *sink_ctx;      /* guarded by sink_lock */

void rn_report_set_sink(rn_sink_fn fn, void *ctx)
{
    pthread_mutex_lock(&sink_lock);
    sink_fn = fn;
    sink_ctx = ctx;
    pthread_mutex_unlock(&sink_lock);
}

const char *rn_report_kind_name(enum rn_report_kind kind)
{
    switch (kind) {
    case RN_REPORT_MISUSE:
        return "misuse";
    case RN_REPORT_LEAK:
        return "leak";
    case RN_REPORT_WATCHDOG:
        return "watchdog";
    case RN_REPORT_INFO:
        return "info";
    }
    return "report";
}

void rn_report_text(enum rn_report_kind kind, const char *text)
{
    pthread_mutex_lock(&sink_lock);
    if (sink_fn) {
        sink_fn(sink_ctx, kind, text);
    } else {
        fputs(text, stderr);
        fflush(stderr);
    }
    pthread_mutex_unlock(&sink_lock);
}

void rn_report(enum rn_report_kind kind, const char *fmt, ...)
{
    struct rn_strbuf sb = RN_STRBUF_INIT;
    va_list ap;

    va_start(ap, fmt);
    rn_strbuf_vprintf(&sb, fmt, ap);
    va_end(ap);
    rn_report_text(kind, rn_strbuf_str(&sb));
    rn_strbuf_free(&sb);
}
