/* The two-stack pair shared by the socket, transport and service tests. */
#include "pair/pair.c"
