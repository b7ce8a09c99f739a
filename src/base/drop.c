/*
 * The name and description tables of the packet drop reasons, made from
 * RN_DROP_MAP (include/refnet/drop.h).  Shared by every layer that drops.
 */
#include <string.h>

#include "refnet/drop.h"
#include "refnet/error.h"

/* Index 0 is RN_DROP_NONE; the map follows in enum order. */
static const char *const drop_names[RN_DROP_MAX_] = {
    "none",
#define RN_DROP_NAME_(name, str, desc) str,
    RN_DROP_MAP(RN_DROP_NAME_)
#undef RN_DROP_NAME_
};

static const char *const drop_descs[RN_DROP_MAX_] = {
    "not dropped",
#define RN_DROP_DESC_(name, str, desc) desc,
    RN_DROP_MAP(RN_DROP_DESC_)
#undef RN_DROP_DESC_
};

const char *rn_drop_name(enum rn_drop reason)
{
    if ((unsigned)reason >= RN_DROP_MAX_)
        return "unknown";
    return drop_names[reason];
}

const char *rn_drop_desc(enum rn_drop reason)
{
    if ((unsigned)reason >= RN_DROP_MAX_)
        return "unknown drop reason";
    return drop_descs[reason];
}

int rn_drop_from_name(const char *name)
{
    int i;

    if (name == NULL)
        return RN_EINVAL;
    for (i = 0; i < RN_DROP_MAX_; i++) {
        if (strcmp(drop_names[i], name) == 0)
            return i;
    }
    return RN_EINVAL;
}
