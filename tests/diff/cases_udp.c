#include "sockdiff.h"

const struct diffcase cases_udp[] = {
    {NULL, NULL, F_NONE, 0, NULL},
};
