/*
 * The watchdog's one contact with the running process: take a snapshot of
 * the object manager and let watchdog.c judge it.  Kept apart so that the
 * rest of src/diag reads only snapshots, and links without the object
 * manager where only dumps are analysed.
 */
#include "refnet/diag.h"
#include "refnet/error.h"
#include "refnet/snapshot.h"

int rn_watchdog_check(struct rn_watchdog *wd, struct rn_strbuf *out)
{
    struct rn_snapshot *s = rn_ob_snapshot();

    if (s == NULL)
        return RN_ENOMEM;
    return rn_watchdog_check_snapshot(wd, s, out);
}
