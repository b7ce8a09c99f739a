/*
 * The conformance suite's engine: one refnet stack (the stack under test)
 * on a simulated cable whose other end is a scripted peer, in virtual
 * time.  The peer injects exact segments and expects exact answers, at
 * exact times; every line of a case is one step (docs/conformance.md has
 * the language and the cases).
 *
 *   engine.c   the world: the stack, the cable, the peer's frames, the
 *              clock, the model of both sequence spaces, matching
 *   script.c   the case files: cases (*.pkt) and matrix tables (*.tab),
 *              read into struct cf_case, and run line by line
 *   main.c     the runner: every case of the files named, one cmocka test
 *              each
 *
 * Cases are data: adding a file under tests/conform/cases/ adds its cases
 * to `make test` without touching the engine.
 */
#ifndef REFNET_CONFORM_H
#define REFNET_CONFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "refnet/clock.h"

struct cf_world;

/* One line of a case, as written (or generated), with where it came from. */
struct cf_line {
    char *cl_text;        /* the line, comment stripped */
    const char *cl_file;  /* the file (or the table) it came from */
    unsigned cl_lineno;   /* its line there */
};

/* A case: a name, the requirement it checks, and its lines. */
struct cf_case {
    char *cc_name;            /* "rfc9293-3.10.7.4-time-wait-old-ack" */
    char *cc_clause;          /* "RFC 9293 3.10.7.4, first check" */
    char *cc_quote;           /* the RFC's words, briefly; may be NULL */
    unsigned cc_family;       /* 4 or 6: runs over that family only
                                 ("family ipv4"); 0: over both */
    char **cc_settings;       /* "tcp.sack 0", ... applied before the stack runs */
    unsigned cc_nsettings;
    struct cf_line *cc_lines; /* the steps */
    unsigned cc_nlines;
    unsigned cc_cap;
};

/* Every case and prelude read so far. */
struct cf_suite {
    struct cf_case *cs_cases;
    unsigned cs_ncases;
    struct cf_case *cs_preludes;   /* named step lists: "include NAME" */
    unsigned cs_npreludes;
};

/* Reads a case file (*.pkt) or a matrix table (*.tab) into suite.
 * Returns 0, or -1 with a one-line error naming the file and line in
 * err (errlen bytes). */
int cf_suite_load(struct cf_suite *suite, const char *path, char *err, size_t errlen);
void cf_suite_free(struct cf_suite *suite);

/* Runs one case of suite from a fresh stack to a leak-free teardown.
 * Returns 0, or -1 with the reason (the failing line, what was expected,
 * what was seen, and the wire so far) in err. */
int cf_case_run(const struct cf_suite *suite, const struct cf_case *cc, char *err, size_t errlen);

/* ---- The engine (engine.c), for script.c and for cases written in C ---- */

/* Makes every world opened from now on run its case over IPv6 (on) or
 * IPv4 (off, the default); see engine.c for how a case's addresses map. */
void cf_use_ipv6(bool on);
/* A fresh world: a stack with the given TCP settings ("name value"
 * strings), its interface on the cable, the peer at the other end, the
 * manual clock at 1 s.  Returns NULL with err set on failure. */
struct cf_world *cf_world_open(char *const *settings, unsigned nsettings, char *err,
                               size_t errlen);
/* Runs one step (a line of the language).  Returns 0 or -1 with err set. */
int cf_world_step(struct cf_world *w, const char *line, char *err, size_t errlen);
/* Closes what the case left open, runs the stack down and checks that
 * nothing leaked.  Returns 0 or -1 with err set; frees w either way. */
int cf_world_close(struct cf_world *w, char *err, size_t errlen);
/* Appends the segments seen on the wire so far, one line each, to buf. */
void cf_world_wire(const struct cf_world *w, char *buf, size_t len);

#endif /* REFNET_CONFORM_H */
