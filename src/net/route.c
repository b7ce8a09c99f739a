/*
 * The IPv4 route table: connected routes, static routes and the default
 * gateway, looked up by longest prefix.  (IPv6 routes learnt from routers
 * are in rd6.c; removing an interface takes both along.)
 *
 * A host's table is small, so it is an array kept sorted longest prefix
 * first and searched linearly: the first match is the answer.  Routes are
 * objects ("route") held by the table under "route-table"; each holds its
 * interface under "route".
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/net_priv.h"
#include "refnet/error.h"
#include "refnet/strbuf.h"

static void route_release(void *ob)
{
    struct net_route *rt = ob;

    if (rt->rt_iface != NULL)
        rn_ob_deref(rt->rt_iface, RN_TAG_ROUTE);
}

static void route_describe(const void *ob, char *buf, size_t len)
{
    const struct net_route *rt = ob;
    char dst[RN_IP4_STRLEN], gw[RN_IP4_STRLEN];

    if (rt->rt_iface == NULL)
        return;
    rn_ip4_addr_fmt(rt->rt_dst, dst);
    rn_ip4_addr_fmt(rt->rt_gw, gw);
    if (rt->rt_gw != 0)
        snprintf(buf, len, "route %s/%u via %s dev %s", dst, rt->rt_plen, gw,
                 rt->rt_iface->if_name);
    else
        snprintf(buf, len, "route %s/%u dev %s", dst, rt->rt_plen, rt->rt_iface->if_name);
}

const struct rn_ob_type_ops rn__net_route_ops = {
    .name = "route",
    .size = sizeof(struct net_route),
    .release = route_release,
    .describe = route_describe,
};

static int route_find(struct rn_stack *st, uint32_t dst, uint8_t plen)
{
    unsigned i;

    for (i = 0; i < net_st(st)->ns_nroutes; i++) {
        if (net_st(st)->ns_routes[i]->rt_dst == dst && net_st(st)->ns_routes[i]->rt_plen == plen)
            return (int)i;
    }
    return -1;
}

int rn__net_route_add(struct rn_stack *st, uint32_t dst, uint8_t plen, uint32_t gw,
                   struct rn_iface *ifp)
{
    struct net_route *rt;
    unsigned i;

    if (plen > 32)
        return RN_EINVAL;
    dst = rn_ip4_net(dst, plen);
    if (route_find(st, dst, plen) >= 0)
        return RN_EEXIST;
    if (ifp == NULL) {
        const struct net_route *via = gw ? rn__net_route_lookup(st, gw) : NULL;

        if (via == NULL || via->rt_gw != 0)
            return RN_ENETUNREACH;  /* the gateway must be on a connected net */
        ifp = via->rt_iface;
    }
    if (net_st(st)->ns_nroutes == net_st(st)->ns_routes_cap) {
        unsigned cap = net_st(st)->ns_routes_cap ? net_st(st)->ns_routes_cap * 2 : 8;
        struct net_route **v = realloc(net_st(st)->ns_routes, cap * sizeof(*v));

        if (v == NULL)
            return RN_ENOMEM;
        net_st(st)->ns_routes = v;
        net_st(st)->ns_routes_cap = cap;
    }
    rt = rn_ob_create(rn__net_types.nt_route, rn__net_types.nt_tag_route_table);
    if (rt == NULL)
        return RN_ENOMEM;
    rn_ob_ref(ifp, RN_TAG_ROUTE);
    rt->rt_dst = dst;
    rt->rt_plen = plen;
    rt->rt_gw = gw;
    rt->rt_iface = ifp;
    rn_ob_publish(rt);
    for (i = net_st(st)->ns_nroutes; i > 0 && net_st(st)->ns_routes[i - 1]->rt_plen < plen; i--)
        net_st(st)->ns_routes[i] = net_st(st)->ns_routes[i - 1];
    net_st(st)->ns_routes[i] = rt;
    net_st(st)->ns_nroutes++;
    return 0;
}

int rn_route_add(struct rn_stack *st, uint32_t dst, uint8_t plen, uint32_t gw,
                 struct rn_iface *ifp)
{
    return rn__net_route_add(st, dst, plen, gw, ifp);
}

int rn_route_del(struct rn_stack *st, uint32_t dst, uint8_t plen)
{
    int i = plen <= 32 ? route_find(st, rn_ip4_net(dst, plen), plen) : -1;
    struct net_route *rt;

    if (i < 0)
        return RN_ENOENT;
    rt = net_st(st)->ns_routes[i];
    memmove(&net_st(st)->ns_routes[i], &net_st(st)->ns_routes[i + 1],
            (net_st(st)->ns_nroutes - (unsigned)i - 1) * sizeof(*net_st(st)->ns_routes));
    net_st(st)->ns_nroutes--;
    rn_ob_kill(rt);
    return 0;
}

unsigned rn__net_route_count_iface(struct rn_iface *ifp)
{
    struct net_stack *ns = net_st(ifp->if_stack);
    unsigned i, n = 0;

    for (i = 0; i < ns->ns_nroutes; i++)
        n += ns->ns_routes[i]->rt_iface == ifp;
    return n + rn__net_rd6_count_iface(ifp);
}

unsigned rn__net_route_flush_iface(struct rn_iface *ifp, struct rn_ob_wait *w,
                                   rn_ob_release_fn fn, void *ctx)
{
    struct net_stack *ns = net_st(ifp->if_stack);
    unsigned i = 0, j = 0, n = 0;

    for (i = 0; i < ns->ns_nroutes; i++) {
        struct net_route *rt = ns->ns_routes[i];

        if (rt->rt_iface != ifp) {
            ns->ns_routes[j++] = rt;
            continue;
        }
        /* The table's hold keeps it while the wait is registered. */
        if (rn_ob_wait_release(rt, &w[n], ifp, "route delete", fn, ctx) == 0)
            n++;
        rn_ob_kill(rt);
    }
    ns->ns_nroutes = j;
    /* And the IPv6 routes learnt through it (rd6.c). */
    return n + rn__net_rd6_flush_iface(ifp, &w[n], fn, ctx);
}

const struct net_route *rn__net_route_lookup(struct rn_stack *st, uint32_t dst)
{
    unsigned i;

    for (i = 0; i < net_st(st)->ns_nroutes; i++) {
        const struct net_route *rt = net_st(st)->ns_routes[i];

        if (rn_ip4_in_prefix(dst, rt->rt_dst, rt->rt_plen))
            return rt;
    }
    return NULL;
}

void rn__net_route_flush(struct rn_stack *st)
{
    while (net_st(st)->ns_nroutes > 0)
        rn_ob_kill(net_st(st)->ns_routes[--net_st(st)->ns_nroutes]);
}

void rn_stack_routes(struct rn_stack *st, rn_route_row_fn fn, void *ctx)
{
    struct net_stack *ns = net_st(st);
    unsigned i;

    for (i = 0; i < ns->ns_nroutes; i++) {
        const struct net_route *rt = ns->ns_routes[i];
        struct rn_route_row row = {
            .rr_dst = rt->rt_dst,
            .rr_plen = rt->rt_plen,
            .rr_gw = rt->rt_gw,
            .rr_iface = rt->rt_iface->if_name,
            .rr_id = rn_ob_id(rt),
            .rr_refs = rn_ob_refcount(rt),
            .rr_family = 4,
        };

        fn(&row, ctx);
    }
    /* IPv6: the on-link prefixes of configured addresses in use, each
     * once (an autoconfigured address's prefix is on-link only if the
     * prefix list, below, says so). */
    for (i = 0; i < ns->ns_nifaces; i++) {
        const struct rn_iface *ifp = ns->ns_ifaces[i];
        unsigned j, k;

        for (j = 0; j < ifp->if_naddr6; j++) {
            const struct iface_addr6 *a = &ifp->if_addr6[j];
            struct rn_route_row row = {
                .rr_plen = a->a6_plen,
                .rr_iface = ifp->if_name,
                .rr_family = 6,
                .rr_dst6 = rn_ip6_net(&a->a6_addr, a->a6_plen),
            };
            bool seen = false;

            if (!rn__net_addr6_usable(a) || a->a6_auto || a->a6_plen == 128)
                continue;
            for (k = 0; k < j && !seen; k++) {
                struct rn_ip6 n = rn_ip6_net(&ifp->if_addr6[k].a6_addr, ifp->if_addr6[k].a6_plen);

                seen = rn__net_addr6_usable(&ifp->if_addr6[k]) && !ifp->if_addr6[k].a6_auto &&
                       ifp->if_addr6[k].a6_plen == a->a6_plen && rn_ip6_eq(&n, &row.rr_dst6);
            }
            if (!seen)
                fn(&row, ctx);
        }
    }
    rn__net_rd6_rows(st, fn, ctx);
}
