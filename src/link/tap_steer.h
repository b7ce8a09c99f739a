/*
 * The TAP's steering program (tap_steer.c): receive-side scaling over the
 * queues of a multi-queue TAP, built from the RSS key.
 */
#ifndef REFNET_LINK_TAP_STEER_H
#define REFNET_LINK_TAP_STEER_H

#include <stddef.h>
#include <stdint.h>

#include "refnet/rss.h"

/* Creates the map of pinned ports (RN_RSS_PINS_MAX of them at most).
 * Returns its file descriptor, or a negative code with a one-line reason
 * in why. */
int rn__tap_pins_create(char *why, size_t whylen);

/* Pins TCP or UDP (proto) port, as a destination, to queue; or removes
 * the pin.  Any thread.  0, or RN_ENOSPC (too many pins), RN_ENOENT (no
 * such pin), RN_EIO. */
int rn__tap_pin(int pins, uint8_t proto, uint16_t port, unsigned queue);
int rn__tap_unpin(int pins, uint8_t proto, uint16_t port);

/* Builds and loads the program that steers each frame to the queue its
 * pinned destination port names, or else to the one rn_rss_frame_queue()
 * names.  Returns its file descriptor (the caller attaches it with
 * TUNSETSTEERINGEBPF and closes it), or a negative code with a one-line
 * reason in why.  Loading needs CAP_BPF or CAP_SYS_ADMIN. */
int rn__tap_steer_load(const struct rn_rss *rss, int pins, char *why, size_t whylen);

#endif /* REFNET_LINK_TAP_STEER_H */
