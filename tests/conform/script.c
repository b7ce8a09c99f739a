/*
 * Case files (conform.h): scripts (*.pkt) and matrix tables (*.tab) read
 * into cases, and a case run step by step on a fresh world.
 *
 * A script file holds cases and preludes:
 *
 *   prelude established          a named list of steps ("include NAME")
 *   ...steps...
 *   case rfc9293-3.10.7.4-...    a case: its name,
 *   clause RFC 9293 3.10.7.4     the requirement it checks,
 *   quote  "..."                 the RFC's words (optional),
 *   set tcp.sack 0               settings before the stack starts,
 *   ...steps...                  and its steps (conform.h, engine.c)
 *
 * A matrix table generates one case per row and position:
 *
 *   position left   RCV.NXT                    a named sequence number
 *   event    rst    < R $POS(0)                a segment; $POS is replaced
 *   STATE EVENT POSITIONS | EXPECT | AFTER | CLAUSE
 *
 * STATE names a prelude; POSITIONS is a comma list or '*' for all;
 * EXPECT is steps separated by ';' ('-' for none), each at +0 unless it
 * gives its own time; AFTER is the state the connection must then be in,
 * optionally followed by "error NAME"; CLAUSE names the requirement.  The
 * case is named "<clause>:<state>/<event>/<position>", and ends with 50 ms
 * in which the stack must send nothing more.
 */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "conform.h"

#define MAX_POSITIONS 16
#define MAX_EVENTS 32

static char *xstrdup(const char *s)
{
    char *d = strdup(s);

    assert_non_null(d);
    return d;
}

static char *trim(char *s)
{
    char *e;

    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = 0;
    return s;
}

static void case_add_line(struct cf_case *cc, const char *text, const char *file, unsigned lineno)
{
    if (cc->cc_nlines == cc->cc_cap) {
        cc->cc_cap = cc->cc_cap ? 2 * cc->cc_cap : 16;
        cc->cc_lines = realloc(cc->cc_lines, cc->cc_cap * sizeof(*cc->cc_lines));
        assert_non_null(cc->cc_lines);
    }
    cc->cc_lines[cc->cc_nlines].cl_text = xstrdup(text);
    cc->cc_lines[cc->cc_nlines].cl_file = file;
    cc->cc_lines[cc->cc_nlines].cl_lineno = lineno;
    cc->cc_nlines++;
}

static struct cf_case *new_case(struct cf_case **arr, unsigned *n, const char *name)
{
    struct cf_case *cc;

    *arr = realloc(*arr, (*n + 1) * sizeof(**arr));
    assert_non_null(*arr);
    cc = &(*arr)[(*n)++];
    memset(cc, 0, sizeof(*cc));
    cc->cc_name = xstrdup(name);
    return cc;
}

static void case_free(struct cf_case *cc)
{
    unsigned i;

    for (i = 0; i < cc->cc_nlines; i++)
        free(cc->cc_lines[i].cl_text);
    for (i = 0; i < cc->cc_nsettings; i++)
        free(cc->cc_settings[i]);
    free(cc->cc_settings);
    free(cc->cc_lines);
    free(cc->cc_name);
    free(cc->cc_clause);
    free(cc->cc_quote);
}

void cf_suite_free(struct cf_suite *suite)
{
    unsigned i;

    for (i = 0; i < suite->cs_ncases; i++)
        case_free(&suite->cs_cases[i]);
    for (i = 0; i < suite->cs_npreludes; i++)
        case_free(&suite->cs_preludes[i]);
    free(suite->cs_cases);
    free(suite->cs_preludes);
    memset(suite, 0, sizeof(*suite));
}

static int ferr(char *err, size_t len, const char *path, unsigned lineno, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int ferr(char *err, size_t len, const char *path, unsigned lineno, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(err, len, "%s:%u: ", path, lineno);

    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < len)
        vsnprintf(err + n, len - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

/* The name of a clause as a case name's first part: "RFC 9293 3.10.7.4,
 * first check" gives "rfc9293-3.10.7.4". */
static void clause_slug(const char *clause, char *out, size_t len)
{
    size_t n = 0;
    const char *p = clause;

    while (*p && *p != ',' && *p != ';' && *p != '(' && n + 1 < len) {
        if (isalnum((unsigned char)*p) || *p == '.')
            out[n++] = (char)tolower((unsigned char)*p);
        else if (*p == ' ' && n > 0 && out[n - 1] != '-' && !(n == 3 && strncmp(out, "rfc", 3) == 0))
            out[n++] = '-';
        p++;
    }
    while (n > 0 && (out[n - 1] == '-' || out[n - 1] == '.'))
        n--;
    out[n] = 0;
}

/* ---- Scripts ---------------------------------------------------------------- */

static int load_pkt(struct cf_suite *suite, const char *path, FILE *f, char *err, size_t errlen)
{
    char line[1024];
    unsigned lineno = 0;
    struct cf_case *cc = NULL;
    bool is_prelude = false;
    unsigned idx = 0;

    while (fgets(line, sizeof(line), f)) {
        char *s, *hash;

        lineno++;
        hash = strchr(line, '#');
        if (hash != NULL)
            *hash = 0;
        s = trim(line);
        if (*s == 0)
            continue;
        if (strncmp(s, "case ", 5) == 0 || strncmp(s, "prelude ", 8) == 0) {
            is_prelude = s[0] == 'p';
            if (is_prelude) {
                cc = new_case(&suite->cs_preludes, &suite->cs_npreludes, trim(s + 8));
                idx = suite->cs_npreludes - 1;
            } else {
                cc = new_case(&suite->cs_cases, &suite->cs_ncases, trim(s + 5));
                idx = suite->cs_ncases - 1;
            }
            continue;
        }
        if (cc == NULL)
            return ferr(err, errlen, path, lineno, "a step before any 'case' or 'prelude'");
        cc = is_prelude ? &suite->cs_preludes[idx] : &suite->cs_cases[idx];
        if (strncmp(s, "clause ", 7) == 0) {
            free(cc->cc_clause);
            cc->cc_clause = xstrdup(trim(s + 7));
        } else if (strncmp(s, "quote ", 6) == 0) {
            char *q = trim(s + 6);
            size_t old = cc->cc_quote ? strlen(cc->cc_quote) : 0;

            /* Several quote lines make one quote. */
            cc->cc_quote = realloc(cc->cc_quote, old + strlen(q) + 2);
            assert_non_null(cc->cc_quote);
            if (old)
                cc->cc_quote[old++] = ' ';
            strcpy(cc->cc_quote + old, q);
        } else if (strncmp(s, "family ", 7) == 0 && cc->cc_nlines == 0 && !is_prelude) {
            const char *fam = trim(s + 7);

            if (strcmp(fam, "ipv4") == 0)
                cc->cc_family = 4;
            else if (strcmp(fam, "ipv6") == 0)
                cc->cc_family = 6;
            else
                return ferr(err, errlen, path, lineno, "family '%s' is neither ipv4 nor ipv6", fam);
        } else if (strncmp(s, "set ", 4) == 0 && cc->cc_nlines == 0 && !is_prelude) {
            cc->cc_settings = realloc(cc->cc_settings,
                                      (cc->cc_nsettings + 1) * sizeof(*cc->cc_settings));
            assert_non_null(cc->cc_settings);
            cc->cc_settings[cc->cc_nsettings++] = xstrdup(trim(s + 4));
        } else {
            case_add_line(cc, s, path, lineno);
        }
    }
    return 0;
}

/* ---- Matrix tables ----------------------------------------------------------- */

struct named {
    char name[32];
    char text[256];
};

static int load_tab(struct cf_suite *suite, const char *path, FILE *f, char *err, size_t errlen)
{
    struct named pos[MAX_POSITIONS], ev[MAX_EVENTS];
    unsigned npos = 0, nev = 0, lineno = 0;
    char line[2048];

    while (fgets(line, sizeof(line), f)) {
        char *s, *hash, *col[4], *p, *state, *event, *poslist, *save = NULL, *pn;
        unsigned ncol = 0, i;

        lineno++;
        hash = strchr(line, '#');
        if (hash != NULL)
            *hash = 0;
        s = trim(line);
        if (*s == 0)
            continue;
        if (strncmp(s, "position ", 9) == 0 || strncmp(s, "event ", 6) == 0) {
            bool is_pos = s[0] == 'p';
            struct named *nm = is_pos ? &pos[npos] : &ev[nev];
            char *rest = trim(s + (is_pos ? 9 : 6)), *sp = rest;

            if ((is_pos ? npos : nev) >= (is_pos ? MAX_POSITIONS : MAX_EVENTS))
                return ferr(err, errlen, path, lineno, "too many %ss", is_pos ? "position" : "event");
            while (*sp && !isspace((unsigned char)*sp))
                sp++;
            if (*sp == 0)
                return ferr(err, errlen, path, lineno, "write '%s NAME TEXT'",
                            is_pos ? "position" : "event");
            *sp = 0;
            snprintf(nm->name, sizeof(nm->name), "%s", rest);
            snprintf(nm->text, sizeof(nm->text), "%s", trim(sp + 1));
            if (is_pos)
                npos++;
            else
                nev++;
            continue;
        }
        /* A row: STATE EVENT POSITIONS | EXPECT | AFTER | CLAUSE */
        for (p = s; ncol < 4;) {
            char *bar = strchr(p, '|');

            col[ncol++] = p;
            if (bar == NULL)
                break;
            *bar = 0;
            p = bar + 1;
        }
        if (ncol != 4)
            return ferr(err, errlen, path, lineno,
                        "a row is 'STATE EVENT POSITIONS | EXPECT | AFTER | CLAUSE'");
        for (i = 0; i < 4; i++)
            col[i] = trim(col[i]);
        state = strtok_r(col[0], " \t", &save);
        event = strtok_r(NULL, " \t", &save);
        poslist = strtok_r(NULL, " \t", &save);
        if (state == NULL || event == NULL || poslist == NULL)
            return ferr(err, errlen, path, lineno, "the first column is 'STATE EVENT POSITIONS'");
        {
            const struct named *e = NULL;

            for (i = 0; i < nev; i++) {
                if (strcmp(ev[i].name, event) == 0)
                    e = &ev[i];
            }
            if (e == NULL)
                return ferr(err, errlen, path, lineno, "no event '%s' above", event);
            for (i = 0; i < npos; i++) {
                char list[256], *psave = NULL, slug[64], name[512], step[1024], exp[1024];
                char *x, *xsave = NULL;
                const char *q;
                bool chosen = strcmp(poslist, "*") == 0;
                struct cf_case *cc;
                size_t k;

                snprintf(list, sizeof(list), "%s", poslist);
                for (pn = strtok_r(list, ",", &psave); pn && !chosen; pn = strtok_r(NULL, ",", &psave))
                    chosen = strcmp(pn, pos[i].name) == 0;
                if (!chosen)
                    continue;
                clause_slug(col[3], slug, sizeof(slug));
                snprintf(name, sizeof(name), "%.63s:%.63s/%.31s/%.31s", slug, state, event,
                         pos[i].name);
                cc = new_case(&suite->cs_cases, &suite->cs_ncases, name);
                cc->cc_clause = xstrdup(col[3]);
                snprintf(step, sizeof(step), "include %s", state);
                case_add_line(cc, step, path, lineno);
                /* The event, its position put in. */
                k = 0;
                step[0] = 0;
                strcat(step, "+0 ");
                k = strlen(step);
                for (q = e->text; *q && k + 64 < sizeof(step); q++) {
                    if (strncmp(q, "$POS", 4) == 0) {
                        k += (size_t)snprintf(step + k, sizeof(step) - k, "%s", pos[i].text);
                        q += 3;
                    } else {
                        step[k++] = *q;
                        step[k] = 0;
                    }
                }
                case_add_line(cc, step, path, lineno);
                snprintf(exp, sizeof(exp), "%s", col[1]);
                if (strcmp(exp, "-") != 0) {
                    for (x = strtok_r(exp, ";", &xsave); x; x = strtok_r(NULL, ";", &xsave)) {
                        x = trim(x);
                        if (*x == '<' || *x == '>')
                            snprintf(step, sizeof(step), "+0 %.1000s", x);
                        else if (*x == '+')  /* a segment due later: "+T > ..." */
                            snprintf(step, sizeof(step), "%.1000s", x);
                        else
                            snprintf(step, sizeof(step), "%.1000s", x);
                        case_add_line(cc, step, path, lineno);
                    }
                }
                {
                    char after[256], *a, *asave = NULL;

                    snprintf(after, sizeof(after), "%s", col[2]);
                    a = strtok_r(after, " \t", &asave);
                    if (a == NULL)
                        return ferr(err, errlen, path, lineno, "AFTER names a state");
                    snprintf(step, sizeof(step), "state %.200s", a);
                    case_add_line(cc, step, path, lineno);
                    a = strtok_r(NULL, "", &asave);
                    if (a != NULL)
                        case_add_line(cc, trim(a), path, lineno);
                }
                case_add_line(cc, "quiet 0.05", path, lineno);
            }
        }
    }
    return 0;
}

int cf_suite_load(struct cf_suite *suite, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    size_t n = strlen(path);
    int rc;

    if (f == NULL)
        return ferr(err, errlen, path, 0, "cannot be opened");
    if (n > 4 && strcmp(path + n - 4, ".tab") == 0)
        rc = load_tab(suite, path, f, err, errlen);
    else
        rc = load_pkt(suite, path, f, err, errlen);
    fclose(f);
    return rc;
}

/* ---- Running ----------------------------------------------------------------- */

static const struct cf_case *prelude(const struct cf_suite *suite, const char *name)
{
    unsigned i;

    for (i = 0; i < suite->cs_npreludes; i++) {
        if (strcmp(suite->cs_preludes[i].cc_name, name) == 0)
            return &suite->cs_preludes[i];
    }
    return NULL;
}

static int run_lines(const struct cf_suite *suite, struct cf_world *w, const struct cf_case *cc,
                     unsigned depth, char *err, size_t errlen)
{
    unsigned i;

    if (depth > 8)
        return snprintf(err, errlen, "includes nest deeper than 8"), -1;
    for (i = 0; i < cc->cc_nlines; i++) {
        const struct cf_line *l = &cc->cc_lines[i];
        char why[1024];

        if (strncmp(l->cl_text, "include ", 8) == 0) {
            const struct cf_case *p = prelude(suite, l->cl_text + 8);

            if (p == NULL) {
                snprintf(err, errlen, "%s:%u: no prelude '%s'", l->cl_file, l->cl_lineno,
                         l->cl_text + 8);
                return -1;
            }
            if (run_lines(suite, w, p, depth + 1, why, sizeof(why)) < 0) {
                snprintf(err, errlen, "%s (in %s, included at %s:%u)", why, p->cc_name,
                         l->cl_file, l->cl_lineno);
                return -1;
            }
            continue;
        }
        if (cf_world_step(w, l->cl_text, why, sizeof(why)) < 0) {
            snprintf(err, errlen, "%s:%u: %s\n    step: %s", l->cl_file, l->cl_lineno, why,
                     l->cl_text);
            return -1;
        }
    }
    return 0;
}

int cf_case_run(const struct cf_suite *suite, const struct cf_case *cc, char *err, size_t errlen)
{
    char why[2048], wire[16384];
    struct cf_world *w;
    int rc;

    if (cc->cc_clause == NULL) {
        snprintf(err, errlen, "case %s names no clause", cc->cc_name);
        return -1;
    }
    w = cf_world_open(cc->cc_settings, cc->cc_nsettings, why, sizeof(why));
    if (w == NULL) {
        snprintf(err, errlen, "%s: %s", cc->cc_name, why);
        return -1;
    }
    rc = run_lines(suite, w, cc, 0, why, sizeof(why));
    cf_world_wire(w, wire, sizeof(wire));
    if (rc < 0)
        snprintf(err, errlen, "%s (%s)\n  %s\n  the wire (< to the stack, > from it):\n%s",
                 cc->cc_name, cc->cc_clause, why, wire);
    if (cf_world_close(w, why, sizeof(why)) < 0 && rc == 0) {
        snprintf(err, errlen, "%s: %s", cc->cc_name, why);
        rc = -1;
    }
    return rc;
}
