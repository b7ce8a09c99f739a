/*
 * The HTML report (web.h): one self-contained file made from a snapshot,
 * for `refnet analyze --html DUMP` and the live view's "save report".
 *
 *   <!doctype html> ... <style> app.css </style>
 *   <script type="application/json" id="rn-report"> the data </script>
 *   <script> app.js </script>
 *
 * The data is rn__render_report_json(); the page's script sees the data
 * block and draws the same waits graph, holders and verdict as the live
 * view, from the file alone.  A Content-Security-Policy in the page
 * forbids every fetch, so a report opened from a ticket cannot reach
 * anything.  In the data, '<', '>' and '&' are written as \u escapes, so
 * no text from the snapshot (a description, a tag, a frame) can close the
 * script block or open markup.
 */
#include <json-c/json.h>
#include <string.h>

#include "ctl/render.h"
#include "ctl/web.h"
#include "refnet/error.h"
#include "refnet/snapshot.h"
#include "refnet/strbuf.h"

/* Appends text with HTML's special characters escaped. */
static void put_html(struct rn_strbuf *out, const char *text)
{
    for (; *text != '\0'; text++) {
        switch (*text) {
        case '<': rn_strbuf_puts(out, "&lt;"); break;
        case '>': rn_strbuf_puts(out, "&gt;"); break;
        case '&': rn_strbuf_puts(out, "&amp;"); break;
        case '"': rn_strbuf_puts(out, "&quot;"); break;
        default: rn_strbuf_append(out, text, 1);
        }
    }
}

/* Appends JSON text with '<', '>' and '&' as \u escapes: they appear only
 * inside strings, where the escape means the same character. */
static void put_json_safe(struct rn_strbuf *out, const char *json)
{
    const char *p = json, *q;

    while ((q = strpbrk(p, "<>&")) != NULL) {
        rn_strbuf_append(out, p, (size_t)(q - p));
        rn_strbuf_puts(out, *q == '<' ? "\\u003c" : *q == '>' ? "\\u003e" : "\\u0026");
        p = q + 1;
    }
    rn_strbuf_puts(out, p);
}

static void put_asset(struct rn_strbuf *out, const char *name)
{
    const struct rn__web_asset *a = rn__web_asset(name);

    if (a != NULL)
        rn_strbuf_append(out, (const char *)a->wa_data, a->wa_len);
}

int rn__web_report_html(const struct rn_snapshot *s, const char *title, struct rn_strbuf *out)
{
    struct json_object *doc = rn__render_report_json(s, title);
    struct rn_strbuf json = RN_STRBUF_INIT;

    if (doc == NULL)
        return RN_ENOMEM;
    rn__render_json(&json, doc);
    if (json.sb_oom) {
        rn_strbuf_free(&json);
        return RN_ENOMEM;
    }
    rn_strbuf_puts(out, "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src "
                        "'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
                        "img-src data:\">\n<meta name=\"viewport\" "
                        "content=\"width=device-width\">\n<title>refnet report: ");
    put_html(out, title);
    rn_strbuf_puts(out, "</title>\n<style>\n");
    put_asset(out, "app.css");
    rn_strbuf_puts(out, "</style>\n</head>\n<body class=\"report\">\n<div id=\"app\"></div>\n"
                        "<script type=\"application/json\" id=\"rn-report\">");
    put_json_safe(out, rn_strbuf_str(&json));
    rn_strbuf_puts(out, "</script>\n<script>\n");
    put_asset(out, "app.js");
    rn_strbuf_puts(out, "</script>\n</body>\n</html>\n");
    rn_strbuf_free(&json);
    return out->sb_oom ? RN_ENOMEM : 0;
}
