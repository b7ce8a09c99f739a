/*
 * Internal interfaces of src/diag: the text helpers every renderer shares,
 * the verdict engine (verdict.c) that the chain renderer (render.c) calls on
 * the object at the bottom of a chain, the chain renderer's selection hook
 * that the watchdog uses, and the CRC32 of the dump format.
 *
 * Nothing here touches the live object manager: it all reads snapshots,
 * which is what lets `refnet analyze` print exactly what the watchdog
 * printed.
 */
#ifndef REFNET_DIAG_PRIV_H
#define REFNET_DIAG_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "refnet/diag.h"
#include "refnet/snapshot.h"
#include "refnet/strbuf.h"

/* ---- Text --------------------------------------------------------------- */

/* Appends str (NULL prints as "") with every byte that is not part of a
 * printable UTF-8 character escaped as \xNN: C0 and C1 controls, DEL and
 * invalid sequences.  Text from a dump can thus never forge a line or send
 * the terminal an escape sequence. */
void rn__diag_put_text(struct rn_strbuf *out, const char *str);

/* Returns the number of terminal columns the first len bytes of str take,
 * counting each UTF-8 character as one column (the box-drawing characters
 * the renderer uses included). */
size_t rn__diag_width(const char *str, size_t len);

/* Formats now - since with rn_fmt_age(); a since in the future is age 0. */
char *rn__diag_age(rn_time_t now, rn_time_t since, char *buf, size_t len);

/* ---- Verdicts ----------------------------------------------------------- */

enum rn__verdict_class {
    RN__VERDICT_EXPECTED,  /* the holder has a reason to hold */
    RN__VERDICT_SUSPECT,   /* the holder should have let go */
    RN__VERDICT_NO_RULE,   /* no rule says either */
};

/* The judgement on one holder tag of an object. */
struct rn__verdict {
    enum rn__verdict_class v_class;  /* expected, suspect or no rule */
    char v_reason[256];              /* one phrase: "expected while bound",
                                        "holds past its bound (1.0s) ..." */
};

/* Judges every holder tag of o, the object that blocks a wait, reading
 * only the snapshot.  Writes o->so_ntags verdicts into v, in ledger order.
 * The grace a holder of a dying object gets is s->s_threshold, or
 * RN_DIAG_DEFAULT_THRESHOLD when the snapshot has none. */
void rn__verdict_judge(const struct rn_snapshot *s, const struct rn_snap_object *o,
                       struct rn__verdict *v);

/* Appends the verdict line's text (without "verdict: " and newline) for o
 * judged as v: the suspects with their reasons, or why there is none. */
void rn__verdict_summary(const struct rn_snap_object *o, const struct rn__verdict *v,
                         struct rn_strbuf *out);
/* The same for an object nothing waits for. */
void rn__verdict_summary_alone(const struct rn_snap_object *o, const struct rn__verdict *v,
                               struct rn_strbuf *out);

/* ---- Rendering ---------------------------------------------------------- */

/* Chooses the waits a chain rendering starts from. */
typedef bool (*rn__diag_wait_pred)(const struct rn_snapshot *s, const struct rn_snap_wait *w,
                                   void *ctx);

/* Renders, as rn_diag_render_chains() does, every chain that contains at
 * least one wait for which pred returns true.  Returns the number of chains
 * rendered, or RN_ENOMEM (out may then hold part of the text). */
int rn__diag_render_selected(const struct rn_snapshot *s, rn__diag_wait_pred pred, void *ctx,
                             struct rn_strbuf *out);

/* The pieces of an object's rendering, so that the chain renderer can put
 * the header on a tree line and align it:
 *   left   "tcp listener 0.0.0.0:80  #4" (the id is left out when the
 *          describe line already ends with it);
 *   right  "live, refs 2" or "dying 31.2s, refs 2, traced";
 *   body   one line per holder tag, then the holds by stack of a traced
 *          object, each line starting with prefix and two spaces.  With v
 *          (from rn__verdict_judge()), the lines of expected holders and of
 *          holders without a rule end with their reason in parentheses. */
void rn__diag_object_left(const struct rn_snap_object *o, struct rn_strbuf *out);
void rn__diag_object_right(const struct rn_snapshot *s, const struct rn_snap_object *o,
                           struct rn_strbuf *out);
void rn__diag_object_body(const struct rn_snapshot *s, const struct rn_snap_object *o,
                          const char *prefix, const struct rn__verdict *v,
                          struct rn_strbuf *out);

/* ---- Orphans (orphan.c) ------------------------------------------------- */

/* The ids that take part in a snapshot's waits, sorted, for the orphan
 * test. */
struct rn__orphan_scan {
    uint64_t *os_ids;  /* waiters and waited, sorted, with repeats */
    uint32_t os_nids;
};

struct rn__orphan_scan *rn__orphan_scan_new(const struct rn_snapshot *s);
void rn__orphan_scan_free(struct rn__orphan_scan *os);
/* How long o may stay dying before it counts as an orphan: its type's
 * bound, else the snapshot's threshold, else the default. */
rn_time_t rn__orphan_bound(const struct rn_snapshot *s, const struct rn_snap_object *o);
/* True if o is an orphan: dying past its bound, in no wait, and kept by a
 * holder the verdict suspects.  Judges o into v (nv verdicts of room;
 * false if o has more tags). */
bool rn__orphan_is(const struct rn_snapshot *s, const struct rn__orphan_scan *os,
                   const struct rn_snap_object *o, struct rn__verdict *v, size_t nv);
/* Renders orphan o judged as v: "orphan: <object> ...", ledger, verdict. */
void rn__orphan_render(const struct rn_snapshot *s, const struct rn_snap_object *o,
                       const struct rn__verdict *v, struct rn_strbuf *out);

/* Chooses the orphans a rendering shows. */
typedef bool (*rn__diag_orphan_pred)(const struct rn_snapshot *s, const struct rn_snap_object *o,
                                     void *ctx);
/* Renders the orphans of s for which pred (NULL: all) returns true, in id
 * order.  Returns how many, or RN_ENOMEM. */
int rn__diag_render_orphans_selected(const struct rn_snapshot *s, rn__diag_orphan_pred pred,
                                     void *ctx, struct rn_strbuf *out);

/* ---- CRC32 -------------------------------------------------------------- */

/* Returns the CRC-32 (IEEE 802.3, reflected, as zlib's crc32()) of len
 * bytes at p, continuing from crc (0 to start). */
uint32_t rn__crc32(uint32_t crc, const void *p, size_t len);

#endif /* REFNET_DIAG_PRIV_H */
