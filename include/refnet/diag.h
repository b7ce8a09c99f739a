/*
 * Diagnosis: waiting chains, the watchdog, dumps and their analysis.
 *
 * Everything here works on a snapshot (snapshot.h), whether taken from the
 * running process or read from a dump file, so the live report (`refnet
 * why`, the watchdog) and the offline one (`refnet analyze`) are printed by
 * the same code and agree line for line.
 *
 * Thread safety: [any].  A snapshot belongs to the thread that holds it;
 * the functions that read one may run on any thread (the watchdog runs
 * on its own).  A watchdog is used by one thread at a time.
 */
#ifndef REFNET_DIAG_H
#define REFNET_DIAG_H

#include <stddef.h>
#include <stdint.h>

#include "refnet/clock.h"
#include "refnet/snapshot.h"
#include "refnet/strbuf.h"

/* The watchdog threshold when nothing else is configured.  It is also the
 * grace the verdict gives a holder of a dying object when the snapshot
 * carries no threshold of its own (s_threshold == 0). */
#define RN_DIAG_DEFAULT_THRESHOLD RN_SEC(10)

/* ---- Rendering ---------------------------------------------------------- */

/*
 * All renderers read only the snapshot, never the live process, and print
 * ages relative to s->s_now, so a snapshot and its dump render to the same
 * bytes.  Text taken from the snapshot (descriptions, tags, frames) is
 * printed with control characters and invalid UTF-8 escaped as \xNN, so a
 * hostile dump cannot forge lines or drive the terminal.  The layout is
 * described in docs/dump-format.md ("How a snapshot is printed").
 */

/* Renders one object: its describe line, refcount and ledger (each holder
 * tag with its count and age), and for traced objects its outstanding holds
 * grouped by acquisition stack.  indent is the number of leading spaces. */
void rn_diag_render_object(const struct rn_snapshot *s, const struct rn_snap_object *o,
                           int indent, struct rn_strbuf *out);

/* Renders every wait at least threshold old (0: every wait) as a chain: a
 * tree from the outermost waiter (one nothing waits on) down to each object
 * that blocks it (one that waits for nothing), that object with its ledger
 * and a verdict naming the suspect holders.  Ancestors and descendants of
 * an old wait are shown whatever their own age.  Chains come out ordered by
 * the age of their outermost wait, then by id.  Returns the number of
 * chains (trees) rendered, 0 writing nothing, or RN_ENOMEM. */
int rn_diag_render_chains(const struct rn_snapshot *s, rn_time_t threshold,
                          struct rn_strbuf *out);

/* Renders the chains that pass through object id (as waiter or waited),
 * whatever the age of their waits, or the object alone if it takes part in
 * no wait.  Returns the number of chains rendered (0 when the object was
 * printed alone), or RN_ENOENT if the snapshot neither holds the object nor
 * names it in a wait. */
int rn_diag_render_for(const struct rn_snapshot *s, uint64_t id, struct rn_strbuf *out);

/* Renders every orphan of s: an object killed longer ago than its type's
 * bound (its contract's oc_orphan_bound, else s->s_threshold, else
 * RN_DIAG_DEFAULT_THRESHOLD) that takes part in no wait and that a holder
 * the verdict suspects still keeps.  Each comes as "orphan: " and its
 * describe line, its ledger and its verdict line.  Returns how many were
 * rendered, or RN_ENOMEM. */
int rn_diag_render_orphans(const struct rn_snapshot *s, struct rn_strbuf *out);

/* Writes the ids of s's orphans (as rn_diag_render_orphans() finds them),
 * at most max, into ids, in id order.  Returns how many there are
 * (possibly more than max), or RN_ENOMEM. */
int rn_diag_orphans(const struct rn_snapshot *s, uint64_t *ids, size_t max);

/* One holder the verdict holds suspect. */
struct rn_diag_suspect {
    char ds_tag[64];       /* the holder tag: "enum", "callout:faulty" */
    uint32_t ds_count;     /* references it holds */
    rn_time_t ds_age;      /* since the count last rose from zero */
    char ds_reason[112];   /* the verdict's phrase */
    char ds_site[160];     /* traced objects: where most of its holds were
                              taken, its innermost frames ("tab_keep+0x2f
                              <- walk_one+0x286"), else "" */
};

/* Judges the holders of object id in s exactly as a chain's verdict does
 * and writes the suspects, at most max, into out (may be NULL when max is
 * 0).  Returns how many suspects there are (possibly more than max), or
 * RN_ENOENT if s has no object id. */
int rn_diag_suspects(const struct rn_snapshot *s, uint64_t id, struct rn_diag_suspect *out,
                     size_t max);

/* How the verdict classes a holder of the object that blocks a wait. */
enum rn_diag_class {
    RN_DIAG_EXPECTED,   /* it has a reason to hold */
    RN_DIAG_SUSPECT,    /* it should have let go */
    RN_DIAG_NO_RULE,    /* no rule says either */
};

/* One ledger line of that object, judged. */
struct rn_diag_holder {
    const char *dh_tag;          /* the holder tag; the snapshot's string */
    uint32_t dh_count;           /* references it holds */
    rn_time_t dh_age;            /* since the count last rose from zero */
    enum rn_diag_class dh_class; /* the judgement */
    const char *dh_reason;       /* its phrase ("expected while bound"), valid
                                    during the call */
};
typedef void (*rn_diag_holder_fn)(const struct rn_diag_holder *h, void *ctx);

/* Judges the holders of object id in s as a chain's verdict does: calls fn
 * (may be NULL) for each ledger line in ledger order, then appends to line
 * (may be NULL) the chain's verdict text, the words `refnet why` prints
 * after "verdict: ".  Returns 0; RN_ENOENT if s has no object id;
 * RN_ENOMEM. */
int rn_diag_verdict(const struct rn_snapshot *s, uint64_t id, rn_diag_holder_fn fn, void *ctx,
                    struct rn_strbuf *line);

/* ---- Dump files --------------------------------------------------------- */

/* The dump format version this build writes.  It reads every dump of the
 * same major version; a newer minor version's additions are skipped. */
#define RN_DUMP_VERSION_MAJOR 1
#define RN_DUMP_VERSION_MINOR 1

/* The largest dump file rn_dump_read() accepts. */
#define RN_DUMP_MAX_FILE ((size_t)1 << 30)

/* Encodes s into a malloc'd buffer that the caller frees.  s must be
 * finished (rn_snapshot_finish()) and keep the model's invariants: ids
 * strictly increasing, refs equal to the sum of the ledger's counts, hold
 * stack indices in range.  Strings longer than the format's limits are cut
 * at a character boundary.  Returns 0; RN_EINVAL if s breaks an invariant;
 * RN_ENOMEM. */
int rn_dump_encode(const struct rn_snapshot *s, void **buf, size_t *len);

/* Writes s to path in the dump format (docs/dump-format.md), atomically: to
 * a temporary file beside it, flushed to disk and renamed into place, so a
 * reader sees the old file or the whole new one.  Returns 0 or a negative
 * code; on failure writes into err (if not NULL) one line naming the file
 * and what went wrong, and leaves no temporary file behind. */
int rn_dump_write(const struct rn_snapshot *s, const char *path, char *err, size_t errlen);

/* Decodes a dump held in memory.  On success stores a new snapshot in *out
 * (free it with rn_snapshot_free()) and returns 0.  On any defect returns
 * RN_EFORMAT, or RN_ENOTSUP for a dump of another major version, and
 * writes into err one line naming what is wrong and at which byte offset:
 * "offset 1234: ledger of object #17: tag count 5 exceeds remaining 3
 * bytes".  Never reads outside buf, never loops without consuming input,
 * and allocates at most a fixed multiple of len (plus a constant). */
int rn_dump_decode(const void *buf, size_t len, struct rn_snapshot **out,
                   char *err, size_t errlen);

/* Reads and decodes a dump file.  Returns as rn_dump_decode, with err
 * prefixed by the path; or RN_ENOENT, RN_EACCES, RN_EIO, RN_EFORMAT (file
 * larger than RN_DUMP_MAX_FILE) or RN_ENOMEM with err naming the file when
 * it cannot be read. */
int rn_dump_read(const char *path, struct rn_snapshot **out, char *err, size_t errlen);

/* ---- Leaks ---------------------------------------------------------------- */

/* Reports every unreleased object of the type named type_name (all types
 * if NULL) as a leak through the diagnostics sink, each with its ledger
 * and, when traced, its holds by stack: one RN_REPORT_LEAK report.
 * Returns how many objects were reported, or RN_ENOMEM. */
int rn_diag_report_leaks(const char *type_name);

/* ---- The watchdog ------------------------------------------------------- */

struct rn_watchdog;

/* Creates a watchdog that reports waits at least threshold old
 * (threshold > 0).  Returns NULL on allocation failure. */
struct rn_watchdog *rn_watchdog_new(rn_time_t threshold);
/* Frees the watchdog.  No check may be running.  NULL is allowed. */
void rn_watchdog_free(struct rn_watchdog *wd);

/* Takes a snapshot of the process (rn_ob_snapshot()) and reports, once
 * each, the waits that have become at least the threshold old since the
 * last check: the chains containing them go to the diagnostics sink as one
 * RN_REPORT_WATCHDOG report, and if out is not NULL the same text is
 * appended there.  A wait is known by (waited id, waiter id, since); it is
 * forgotten once it ends.  Safe against concurrent calls.  Returns how
 * many new waits were reported, or RN_ENOMEM; then they count as not
 * reported, and the next check reports them again (the sink may have had
 * them once already, if only out could not take the text). */
int rn_watchdog_check(struct rn_watchdog *wd, struct rn_strbuf *out);

/* The same, on a snapshot the caller took (the simulator's scenarios,
 * tests).  Consumes s: it is freed before this returns.  Sets
 * s->s_threshold to the watchdog's threshold before rendering. */
int rn_watchdog_check_snapshot(struct rn_watchdog *wd, struct rn_snapshot *s,
                               struct rn_strbuf *out);

#endif /* REFNET_DIAG_H */
