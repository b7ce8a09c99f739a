/*
 * The TAP's steering program (tap_steer.c): receive-side scaling over the
 * queues of a multi-queue TAP, built from the RSS key.
 */
#ifndef REFNET_LINK_TAP_STEER_H
#define REFNET_LINK_TAP_STEER_H

#include <stddef.h>

#include "refnet/rss.h"

/* Builds and loads the program that steers each frame to the queue
 * rn_rss_frame_queue() names.  Returns its file descriptor (the caller
 * attaches it with TUNSETSTEERINGEBPF and closes it), or a negative code
 * with a one-line reason in why.  Loading needs CAP_BPF or CAP_SYS_ADMIN. */
int rn__tap_steer_load(const struct rn_rss *rss, char *why, size_t whylen);

#endif /* REFNET_LINK_TAP_STEER_H */
