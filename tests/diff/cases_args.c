#include "sockdiff.h"

const struct diffcase cases_args[] = {
    {NULL, NULL, F_NONE, 0, NULL},
};
