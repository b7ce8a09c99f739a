#include "sockdiff.h"

const struct diffcase cases_opts[] = {
    {NULL, NULL, F_NONE, 0, NULL},
};
