/*
 * refnet analyze FILE [--threshold SECONDS] [--object ID] [--objects] [--html]
 *
 * Reads a dump written by `refnet dump` (or rn_dump_write()) and prints,
 * with no access to the process that wrote it, what the watchdog would
 * have printed: a header line, then the waiting chains at least the
 * threshold old, each down to the object that blocks it with its ledger
 * and verdict.  --object ID prints the chains through one object (or that
 * object alone), --objects every object with its ledger.  --html writes
 * instead one self-contained HTML file (ctl/web.h): every chain drawn as
 * a graph with the blocker's holders, their sites and the verdict, the
 * text of the chains, and every object with its ledger and the counts by
 * type; it opens in a browser from the file, with no network.
 *
 * Exit status: 0 printed; 1 the file cannot be read or is not a valid dump
 * (one line naming the file and the byte offset), or the object is not in
 * it; 2 bad arguments.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "ctl/web.h"
#include "refnet/diag.h"
#include "refnet/error.h"
#include "refnet/object.h"

/* Parses seconds ("10", "0.5", "0") into *t.  Returns false if bad. */
static bool parse_seconds(const char *arg, rn_time_t *t)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(arg, &end);
    if (errno != 0 || end == arg || *end != '\0' || !isfinite(v) || v < 0 || v > 1e9)
        return false;
    *t = (rn_time_t)(v * 1e9 + 0.5);
    return true;
}

/* Parses an object id, with or without a leading '#'. */
static bool parse_id(const char *arg, uint64_t *id)
{
    char *end;
    unsigned long long v;

    if (*arg == '#')
        arg++;
    if (*arg < '0' || *arg > '9')
        return false;
    errno = 0;
    v = strtoull(arg, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *id = v;
    return true;
}

static void put_header(const char *path, const struct rn_snapshot *s, struct rn_strbuf *out)
{
    char now[32], thr[32];
    bool first = true;
    int i;

    rn_strbuf_printf(out, "dump %s: taken at %s on its process clock, watchdog threshold %s; "
                          "%" PRIu32 " object%s, %" PRIu32 " wait%s",
                     path, rn_fmt_age(s->s_now, now, sizeof(now)),
                     s->s_threshold ? rn_fmt_age(s->s_threshold, thr, sizeof(thr)) : "none",
                     s->s_nobjects, s->s_nobjects == 1 ? "" : "s", s->s_nwaits,
                     s->s_nwaits == 1 ? "" : "s");
    for (i = 0; i < RN_MISUSE_COUNT_; i++) {
        if (s->s_misuse[i] == 0)
            continue;
        rn_strbuf_printf(out, "%s%s %" PRIu64, first ? "; misuse: " : ", ",
                         rn_ob_misuse_name((enum rn_misuse)i), s->s_misuse[i]);
        first = false;
    }
    rn_strbuf_puts(out, "\n");
}

enum { O_THRESHOLD = 1, O_OBJECT, O_OBJECTS, O_HTML };

int rn__cmd_analyze(int argc, char **argv)
{
    static const struct cmd_opt opts[] = {
        {"threshold", 0, true, false, O_THRESHOLD},
        {"object", 0, true, false, O_OBJECT},
        {"objects", 0, false, false, O_OBJECTS},
        {"html", 0, false, false, O_HTML},
        {NULL, 0, false, false, 0},
    };
    struct rn_strbuf out = RN_STRBUF_INIT;
    struct cmd_parser p;
    struct rn_snapshot *s = NULL;
    const char *path = NULL;
    rn_time_t threshold = 0;
    bool have_threshold = false, have_object = false, all_objects = false, html = false;
    uint64_t id = 0;
    char err[512], age[32];
    int o, rc, status = 0;

    rn__cmd_parser_init(&p, rn__cmd_find("analyze"), "refnet: analyze: ", opts, argc, argv);
    while ((o = rn__cmd_getopt(&p)) > 0) {
        switch (o) {
        case O_THRESHOLD:
            if (!parse_seconds(p.cp_val, &threshold)) {
                rc = rn__cmd_parser_error(&p, "bad --threshold '%s': expected seconds, e.g. 10 or "
                                      "0.5 (0: every wait)", p.cp_val);
                goto out_usage;
            }
            have_threshold = true;
            break;
        case O_OBJECT:
            if (!parse_id(p.cp_val, &id)) {
                rc = rn__cmd_parser_error(&p, "bad --object '%s': expected an object id, e.g. 17",
                                      p.cp_val);
                goto out_usage;
            }
            have_object = true;
            break;
        case O_OBJECTS:
            all_objects = true;
            break;
        case O_HTML:
            html = true;
            break;
        }
    }
    if (o == CMD_OPT_STOP)
        return p.cp_status;
    if (p.cp_nops == 0) {
        rc = rn__cmd_parser_error(&p, "which dump file? (usage: refnet %s)",
                              p.cp_cmd->cd_synopsis);
        goto out_usage;
    }
    if (p.cp_nops > 1) {
        rc = rn__cmd_parser_error(&p, "one dump file at a time ('%s', then '%s')", p.cp_ops[0],
                              p.cp_ops[1]);
        goto out_usage;
    }
    if (html && (have_object || all_objects || have_threshold)) {
        rc = rn__cmd_parser_error(&p, "--html writes the whole report: it takes no --object, "
                                  "--objects or --threshold");
        goto out_usage;
    }
    if (have_object && all_objects) {
        rc = rn__cmd_parser_error(&p, "--object and --objects exclude each other");
        goto out_usage;
    }
    path = p.cp_ops[0];

    rc = rn_dump_read(path, &s, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "refnet: %s\n", err);
        rn__cmd_parser_free(&p);
        return 1;
    }
    if (!have_threshold)
        threshold = s->s_threshold ? s->s_threshold : RN_DIAG_DEFAULT_THRESHOLD;

    if (html) {
        char title[600];

        snprintf(title, sizeof(title), "dump %s", path);
        rc = rn__web_report_html(s, title, &out);
    } else {
        put_header(path, s, &out);
    }
    if (html) {
        /* written below */
    } else if (all_objects) {
        uint32_t k;

        for (k = 0; k < s->s_nobjects; k++)
            rn_diag_render_object(s, &s->s_objects[k], 0, &out);
    } else if (have_object) {
        rc = rn_diag_render_for(s, id, &out);
        if (rc == RN_ENOENT) {
            fprintf(stderr, "refnet: %s: no object #%" PRIu64 " in the dump, and no wait "
                    "names it\n", path, id);
            status = 1;
        }
    } else {
        int no;

        rc = rn_diag_render_chains(s, threshold, &out);
        if (rc == 0)
            rn_strbuf_printf(&out, "no wait pending for %s or more (%" PRIu32 " wait%s in all%s)\n",
                             rn_fmt_age(threshold, age, sizeof(age)), s->s_nwaits,
                             s->s_nwaits == 1 ? "" : "s",
                             s->s_nwaits > 0 ? "; --threshold 0 shows every one" : "");
        /* Orphans by the dump's own bounds, as the watchdog found them. */
        no = rn_diag_render_orphans(s, &out);
        if (no < 0)
            rc = no;
    }
    if (out.sb_oom || rc == RN_ENOMEM) {
        fprintf(stderr, "refnet: %s: out of memory while rendering\n", path);
        status = 1;
    } else if (status == 0) {
        fputs(rn_strbuf_str(&out), stdout);
        if (fflush(stdout) != 0 || ferror(stdout)) {
            fprintf(stderr, "refnet: cannot write the output: %s\n", strerror(errno));
            status = 1;
        }
    }
    rn_strbuf_free(&out);
    rn_snapshot_free(s);
    rn__cmd_parser_free(&p);
    return status;

out_usage:
    rn__cmd_parser_free(&p);
    return rc;
}
