/*
 * Leak reports: what is still alive when nothing should be (diag.h).
 * Used at daemon shutdown and by tests, through the same renderer as the
 * watchdog, so a leak reads like any other report.
 */
#include <string.h>

#include "refnet/diag.h"
#include "refnet/error.h"
#include "refnet/report.h"

int rn_diag_report_leaks(const char *type_name)
{
    struct rn_snapshot *s = rn_ob_snapshot();
    struct rn_strbuf sb = RN_STRBUF_INIT;
    uint32_t i;
    int n = 0;

    if (s == NULL)
        return RN_ENOMEM;
    for (i = 0; i < s->s_nobjects; i++) {
        const struct rn_snap_object *o = &s->s_objects[i];

        if (type_name != NULL && strcmp(o->so_type, type_name) != 0)
            continue;
        rn_diag_render_object(s, o, 2, &sb);
        n++;
    }
    if (n > 0) {
        struct rn_strbuf head = RN_STRBUF_INIT;

        rn_strbuf_printf(&head, "refnet: %d object%s still alive:\n", n, n == 1 ? "" : "s");
        rn_strbuf_puts(&head, rn_strbuf_str(&sb));
        rn_report_text(RN_REPORT_LEAK, rn_strbuf_str(&head));
        rn_strbuf_free(&head);
    }
    rn_strbuf_free(&sb);
    rn_snapshot_free(s);
    return n;
}
