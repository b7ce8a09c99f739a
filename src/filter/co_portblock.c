/*
 * The built-in callout "portblock": refuses new inbound TCP connections to
 * the ports its filter lists, and counts what it refused.
 *
 *   layer=accept,action=callout:portblock,arg=80+443+8000-8080
 *
 * arg lists up to PORTBLOCK_RANGES ports or ranges joined by '+'.  At the
 * accept layer every connection to a listed port is refused (the SYN is
 * answered with a RST); at inbound-transport only segments that open a
 * connection (SYN without ACK) are, so connections already established
 * carry on.  Anything else gets "continue": the next matching filter
 * decides.  It keeps no flow context and pends nothing.  It looks at ports
 * only, so it refuses IPv4 and IPv6 connections alike; its filter's laddr=
 * or raddr= narrow it to one family or prefix:
 *   layer=accept,raddr=2001:2::/48,action=callout:portblock,arg=22
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter/filter_priv.h"
#include "refnet/error.h"
#include "refnet/strbuf.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"

#define PORTBLOCK_RANGES 16

/* One filter's port list. */
struct portblock_filter {
    uint16_t pf_lo[PORTBLOCK_RANGES];  /* [I] pf_lo[i] <= pf_hi[i] */
    uint16_t pf_hi[PORTBLOCK_RANGES];  /* [I] */
    unsigned pf_n;                     /* [I] ranges */
};

/* The callout's state on a stack. */
struct portblock {
    uint64_t pb_blocked;  /* [L] SYNs refused */
};

static bool parse_range(const char *s, size_t n, uint16_t *lo, uint16_t *hi)
{
    char buf[16], *end;
    unsigned long a, b;
    const char *dash;

    if (n == 0 || n >= sizeof(buf))
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (buf[0] < '0' || buf[0] > '9')
        return false;
    errno = 0;
    a = strtoul(buf, &end, 10);
    b = a;
    dash = end;
    if (*dash == '-') {
        if (dash[1] < '0' || dash[1] > '9')
            return false;
        b = strtoul(dash + 1, &end, 10);
    }
    if (errno != 0 || *end != '\0' || a < 1 || b > 65535 || a > b)
        return false;
    *lo = (uint16_t)a;
    *hi = (uint16_t)b;
    return true;
}

static int portblock_filter_add(struct rn_callout *co, const struct rn_filter_spec *fs,
                                void **fctx, char *err, size_t errlen)
{
    struct portblock_filter *pf;
    const char *p = fs->fs_arg;

    (void)co;
    if (fs->fs_layer != RN_FL_ACCEPT && fs->fs_layer != RN_FL_INBOUND_TRANSPORT) {
        snprintf(err, errlen, "callout portblock refuses inbound connections: use "
                 "layer=accept or layer=inbound-transport, not layer=%s",
                 rn_filter_layer_name(fs->fs_layer));
        return RN_EINVAL;
    }
    if (fs->fs_arg[0] == '\0') {
        snprintf(err, errlen, "callout portblock needs the ports to refuse: "
                 "arg=PORT[+PORT...], e.g. arg=80+8000-8080");
        return RN_EINVAL;
    }
    pf = calloc(1, sizeof(*pf));
    if (pf == NULL) {
        snprintf(err, errlen, "out of memory");
        return RN_ENOMEM;
    }
    for (;;) {
        const char *plus = strchr(p, '+');
        size_t n = plus ? (size_t)(plus - p) : strlen(p);

        if (pf->pf_n == PORTBLOCK_RANGES) {
            snprintf(err, errlen, "callout portblock: 'arg=%s' lists more than %d ports or "
                     "ranges", fs->fs_arg, PORTBLOCK_RANGES);
            free(pf);
            return RN_EINVAL;
        }
        if (!parse_range(p, n, &pf->pf_lo[pf->pf_n], &pf->pf_hi[pf->pf_n])) {
            snprintf(err, errlen, "callout portblock: bad port '%.*s' in 'arg=%s': expected "
                     "P or P-Q in 1..65535, joined by '+'", (int)n, p, fs->fs_arg);
            free(pf);
            return RN_EINVAL;
        }
        pf->pf_n++;
        if (plus == NULL)
            break;
        p = plus + 1;
    }
    *fctx = pf;
    return 0;
}

static void portblock_filter_del(struct rn_callout *co, void *fctx)
{
    (void)co;
    free(fctx);
}

static int portblock_classify(struct rn_callout *co, const struct rn_classify *cl)
{
    const struct portblock_filter *pf = cl->cl_filter_ctx;
    const struct rn_filter_values *v = cl->cl_values;
    struct portblock *pb = rn_callout_ctx(co);
    unsigned i;

    if (v->fv_proto != RN_IPPROTO_TCP)
        return RN_FILTER_CONTINUE;
    if (v->fv_layer == RN_FL_INBOUND_TRANSPORT &&
        (v->fv_tcp_flags & (RN_TCP_SYN | RN_TCP_ACK)) != RN_TCP_SYN)
        return RN_FILTER_CONTINUE;
    for (i = 0; i < pf->pf_n; i++) {
        if (v->fv_lport >= pf->pf_lo[i] && v->fv_lport <= pf->pf_hi[i]) {
            pb->pb_blocked++;
            return RN_FILTER_BLOCK;
        }
    }
    return RN_FILTER_CONTINUE;
}

static void portblock_values(struct rn_callout *co, rn_value_fn fn, void *ctx)
{
    const struct portblock *pb = rn_callout_ctx(co);

    rn_value_counter(fn, ctx, "syns_refused", pb->pb_blocked);
}

static void portblock_unregister(struct rn_callout *co)
{
    free(rn_callout_ctx(co));
}

static const struct rn_callout_ops portblock_ops = {
    .co_name = "portblock",
    .co_filter_add = portblock_filter_add,
    .co_filter_del = portblock_filter_del,
    .co_classify = portblock_classify,
    .co_values = portblock_values,
    .co_unregister = portblock_unregister,
};

int rn__filter_portblock_register(struct rn_stack *st)
{
    struct portblock *pb = calloc(1, sizeof(*pb));
    int err;

    if (pb == NULL)
        return RN_ENOMEM;
    err = rn_callout_register(st, &portblock_ops, pb, NULL);
    if (err < 0)
        free(pb);
    return err;
}

uint64_t rn_callout_portblock_blocked(struct rn_stack *st)
{
    struct rn_callout *co = rn_callout_find(st, "portblock");
    const struct portblock *pb = co ? rn_callout_ctx(co) : NULL;

    return pb ? pb->pb_blocked : 0;
}
