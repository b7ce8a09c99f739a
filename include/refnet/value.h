/*
 * Named values: what a component reports about itself beyond the counters
 * its layer keeps for every instance, one value at a time.  Link drivers
 * and filters (link.h) and callouts (filter.h) report their settings and
 * their own counters this way, and refnet renders them as text or JSON.
 *
 * Thread safety: a component reports on the thread its layer calls it on
 * (the stack's loop thread for links and callouts).
 */
#ifndef REFNET_VALUE_H
#define REFNET_VALUE_H

#include <stdint.h>

/* A counter ("no_buffer" 3: v_text NULL) or a setting in text ("device"
 * "rn0"). */
struct rn_value {
    const char *v_name;   /* short, lower case, no spaces: "no_buffer" */
    const char *v_text;   /* a setting's text, or NULL for a counter */
    uint64_t v_value;     /* a counter's value (v_text NULL) */
};

/* Called once per value; v and its strings are valid during the call. */
typedef void (*rn_value_fn)(const struct rn_value *v, void *ctx);

/* Reports a counter. */
static inline void rn_value_counter(rn_value_fn fn, void *ctx, const char *name, uint64_t value)
{
    struct rn_value v = {name, (const char *)0, value};

    fn(&v, ctx);
}

/* Reports a setting. */
static inline void rn_value_text(rn_value_fn fn, void *ctx, const char *name, const char *text)
{
    struct rn_value v = {name, text, 0};

    fn(&v, ctx);
}

#endif /* REFNET_VALUE_H */
