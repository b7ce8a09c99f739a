/*
 * The diagnostics sink.
 *
 * Misuse of references, leaks found at shutdown and watchdog reports are
 * delivered here as whole texts (one or more lines, newline-terminated).  The
 * default sink writes to stderr; tests and the daemon install their own.
 * Delivery is serialised, so one report never interleaves with another.
 *
 * Thread safety: [any]: any thread may report, and the sink may be called
 * from any thread (one call at a time).  Install the sink before threads
 * that report are started.
 */
#ifndef REFNET_REPORT_H
#define REFNET_REPORT_H

#include <stdarg.h>

enum rn_report_kind {
    RN_REPORT_MISUSE,    /* a reference misused: refused, never absorbed */
    RN_REPORT_LEAK,      /* objects still alive where none should be */
    RN_REPORT_WATCHDOG,  /* a wait older than its threshold */
    RN_REPORT_INFO,      /* anything else worth a line */
};

/* A sink receives one complete report.  It is called with the sink lock
 * held and must not report itself. */
typedef void (*rn_sink_fn)(void *ctx, enum rn_report_kind kind, const char *text);

/* Installs fn as the sink, or with fn == NULL restores the stderr sink. */
void rn_report_set_sink(rn_sink_fn fn, void *ctx);

/* Formats and delivers one report. */
void rn_report(enum rn_report_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Delivers an already formatted report. */
void rn_report_text(enum rn_report_kind kind, const char *text);

/* Returns the kind's name: "misuse", "leak", "watchdog", "info". */
const char *rn_report_kind_name(enum rn_report_kind kind);

#endif /* REFNET_REPORT_H */
