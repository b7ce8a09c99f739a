/*
 * The strerror, name and errno tables made from RN_ERRNO_MAP.
 */
#include <errno.h>

#include "refnet/error.h"

static const char *const err_msgs[] = {
#define RN_ERR_MSG_(name, errnum, msg) msg,
    RN_ERRNO_MAP(RN_ERR_MSG_)
#undef RN_ERR_MSG_
};

static const char *const err_names[] = {
#define RN_ERR_NAME_(name, errnum, msg) #name,
    RN_ERRNO_MAP(RN_ERR_NAME_)
#undef RN_ERR_NAME_
};

static const int err_errnos[] = {
#define RN_ERR_ERRNO_(name, errnum, msg) errnum,
    RN_ERRNO_MAP(RN_ERR_ERRNO_)
#undef RN_ERR_ERRNO_
};

static int err_index(int err)
{
    if (err <= RN_ERR_FIRST_ || err >= RN_ERR_LAST_)
        return -1;
    return err - RN_ERR_FIRST_ - 1;
}

const char *rn_strerror(int err)
{
    int i;

    if (err == 0)
        return "success";
    i = err_index(err);
    return i < 0 ? "unknown error" : err_msgs[i];
}

const char *rn_err_name(int err)
{
    int i;

    if (err == 0)
        return "OK";
    i = err_index(err);
    return i < 0 ? "UNKNOWN" : err_names[i];
}

int rn_err_to_errno(int err)
{
    int i = err_index(err);

    return i < 0 ? EIO : err_errnos[i];
}
