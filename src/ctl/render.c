/*
 * The listings' tables and JSON (render.h), from the library's rows.
 *
 * Each listing walks its rows once: for text it appends a line per row;
 * for JSON it builds json-c objects and appends them serialised when the
 * listing is complete (netstat, which arrives row by row across several
 * wakes of the loop, appends each row's object as it comes).
 */
#include <inttypes.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/render.h"
#include "refnet/addr.h"
#include "refnet/diag.h"
#include "refnet/drop.h"
#include "refnet/filter.h"
#include "refnet/plugin.h"
#include "refnet/link.h"
#include "refnet/netbuf.h"
#include "refnet/object.h"
#include "refnet/service.h"
#include "refnet/snapshot.h"
#include "refnet/socket.h"
#include "refnet/stack.h"
#include "refnet/tcp.h"

/* ---- JSON helpers ------------------------------------------------------------- */

void rn__render_json(struct rn_strbuf *sb, struct json_object *obj)
{
    const char *text;

    if (obj == NULL) {
        sb->sb_oom = true;
        return;
    }
    text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
                                                   JSON_C_TO_STRING_NOSLASHESCAPE);
    if (text == NULL)
        sb->sb_oom = true;
    else
        rn_strbuf_puts(sb, text);
    json_object_put(obj);
}

/* Ends a JSON listing: the value, then a newline. */
static void json_line(struct rn_strbuf *sb, struct json_object *obj)
{
    rn__render_json(sb, obj);
    rn_strbuf_puts(sb, "\n");
}

static void put_str(struct json_object *o, const char *key, const char *val)
{
    json_object_object_add(o, key, val != NULL ? json_object_new_string(val) : NULL);
}

static void put_u64(struct json_object *o, const char *key, uint64_t val)
{
    json_object_object_add(o, key, json_object_new_uint64(val));
}

/* "198.18.0.2:80"; with star, "*:*" for an unset remote end. */
/* addr:port, an IPv6 address in brackets (RFC 5952 6): "198.18.0.2:80",
 * "[2001:2::2]:80"; with star, no address and no port as "*:*". */
static char *endpoint(char *buf, size_t len, struct rn_inaddr addr, uint16_t port, bool star)
{
    char a[RN_IP6_STRLEN];

    if (star && rn_inaddr_is_any(&addr) && port == 0)
        snprintf(buf, len, "*:*");
    else
        snprintf(buf, len, rn_inaddr_is_v4(&addr) ? "%s:%u" : "[%s]:%u",
                 rn_inaddr_fmt(&addr, a), port);
    return buf;
}

/* The protocol column: "tcp6" and "udp6" for IPv6 endpoints, as Linux's
 * netstat writes them. */
static const char *proto_name(const struct rn_netstat_row *row, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s", row->nr_proto, rn_inaddr_is_v4(&row->nr_laddr) ? "" : "6");
    return buf;
}

/* A JSON object of named values (value.h): counters as numbers, settings
 * as strings. */
static void value_to_json(const struct rn_value *v, void *ctx)
{
    if (v->v_text != NULL)
        put_str(ctx, v->v_name, v->v_text);
    else
        put_u64(ctx, v->v_name, v->v_value);
}

/* Named values as text: "name value, name value". */
struct values_text {
    struct rn_strbuf *vt_sb;
    unsigned vt_n;
};

static void value_to_text(const struct rn_value *v, void *ctx)
{
    struct values_text *vt = ctx;

    if (v->v_text != NULL)
        rn_strbuf_printf(vt->vt_sb, "%s%s %s", vt->vt_n ? ", " : "", v->v_name, v->v_text);
    else
        rn_strbuf_printf(vt->vt_sb, "%s%s %" PRIu64, vt->vt_n ? ", " : "", v->v_name,
                         v->v_value);
    vt->vt_n++;
}

/* ---- ifconfig ----------------------------------------------------------------- */

struct render_ctx {
    struct rn_strbuf *rc_sb;
    struct json_object *rc_json;  /* the listing's array or object, or NULL for text */
    unsigned rc_n;                /* rows so far */
    struct rn_stack *rc_stack;    /* ifconfig, neigh: the stack listed */
    uint8_t rc_family;            /* neigh: 4 or 6 for one family, 0 for both */
};

static struct json_object *link_json(struct rn_link *link)
{
    struct json_object *o = json_object_new_object(), *values = json_object_new_object();
    struct rn_link_stats ls;

    rn_link_stats(link, &ls);
    put_str(o, "name", rn_link_name(link));
    put_str(o, "kind", rn_link_kind(link));
    put_u64(o, "tx_frames", ls.ls_tx_frames);
    put_u64(o, "tx_bytes", ls.ls_tx_bytes);
    put_u64(o, "tx_drops", ls.ls_tx_drops);
    put_u64(o, "tx_errors", ls.ls_tx_errors);
    put_u64(o, "rx_frames", ls.ls_rx_frames);
    put_u64(o, "rx_bytes", ls.ls_rx_bytes);
    put_u64(o, "rx_drops", ls.ls_rx_drops);
    put_u64(o, "rx_errors", ls.ls_rx_errors);
    rn_link_values(link, value_to_json, values);
    json_object_object_add(o, "values", values);
    return o;
}

static void link_text(struct rn_strbuf *sb, struct rn_link *link)
{
    struct values_text vt = {sb, 0};
    struct rn_link_stats ls;

    rn_link_stats(link, &ls);
    rn_strbuf_printf(sb,
                     "    %s (%s): tx %" PRIu64 "/%" PRIu64 "B drop %" PRIu64 " err %" PRIu64
                     ", rx %" PRIu64 "/%" PRIu64 "B drop %" PRIu64 " err %" PRIu64,
                     rn_link_name(link), rn_link_kind(link), ls.ls_tx_frames, ls.ls_tx_bytes,
                     ls.ls_tx_drops, ls.ls_tx_errors, ls.ls_rx_frames, ls.ls_rx_bytes,
                     ls.ls_rx_drops, ls.ls_rx_errors);
    rn_strbuf_puts(sb, "; ");
    rn_link_values(link, value_to_text, &vt);
    if (vt.vt_n == 0)
        sb->sb_len -= 2, sb->sb_buf[sb->sb_len] = '\0';
    rn_strbuf_puts(sb, "\n");
}

/* The IPv6 addresses of one interface, for ifconfig. */
struct addr6_ctx {
    const char *ac_iface;         /* the interface whose addresses */
    struct rn_strbuf *ac_sb;      /* text, or */
    struct json_object *ac_json;  /* a JSON array */
};

static void addr6_row(const struct rn_addr6_row *r, void *ctx)
{
    struct addr6_ctx *ac = ctx;
    char a[RN_IP6_STRLEN];

    if (strcmp(r->ar_iface, ac->ac_iface) != 0)
        return;
    rn_ip6_addr_fmt(&r->ar_addr, a);
    if (ac->ac_json != NULL) {
        struct json_object *o = json_object_new_object();

        put_str(o, "addr", a);
        put_u64(o, "plen", r->ar_plen);
        put_str(o, "state", rn_addr6_state_name(r->ar_state));
        json_object_array_add(ac->ac_json, o);
        return;
    }
    rn_strbuf_printf(ac->ac_sb, "    inet6 %s/%u  %s\n", a, r->ar_plen,
                     rn_addr6_state_name(r->ar_state));
}

static void iface_row(const struct rn_iface_row *r, void *ctx)
{
    struct render_ctx *rc = ctx;
    char addr[RN_IP4_STRLEN], mac[RN_MAC_STRLEN], cidr[RN_IP4_CIDR_STRLEN + 4];
    struct rn_link *link;

    rn_ip4_addr_fmt(r->ir_addr, addr);
    rn_mac_fmt(&r->ir_mac, mac);
    snprintf(cidr, sizeof(cidr), "%s/%u", addr, r->ir_plen);
    if (rc->rc_json != NULL) {
        struct json_object *o = json_object_new_object(), *links = json_object_new_array();

        put_str(o, "name", r->ir_name);
        put_u64(o, "index", r->ir_index);
        put_str(o, "addr", cidr);
        put_str(o, "mac", mac);
        put_u64(o, "mtu", r->ir_mtu);
        if (r->ir_mtu6 != 0)
            put_u64(o, "mtu6", r->ir_mtu6);
        put_str(o, "link", r->ir_link ? rn_link_kind(r->ir_link) : "closed");
        put_u64(o, "id", r->ir_id);
        put_u64(o, "refs", r->ir_refs);
        put_u64(o, "rx_frames", r->ir_rx_frames);
        put_u64(o, "rx_bytes", r->ir_rx_bytes);
        put_u64(o, "tx_frames", r->ir_tx_frames);
        put_u64(o, "tx_bytes", r->ir_tx_bytes);
        put_u64(o, "drops", r->ir_drops);
        for (link = r->ir_link; link != NULL; link = rn_link_lower(link))
            json_object_array_add(links, link_json(link));
        json_object_object_add(o, "links", links);
        {
            struct addr6_ctx ac = {r->ir_name, NULL, json_object_new_array()};

            rn_stack_addrs6(rc->rc_stack, addr6_row, &ac);
            json_object_object_add(o, "addr6", ac.ac_json);
        }
        json_object_array_add(rc->rc_json, o);
        return;
    }
    rn_strbuf_printf(rc->rc_sb,
                     "%s: index %u  inet %s  ether %s  mtu %" PRIu32 "  object #%" PRIu64
                     " refs %u\n",
                     r->ir_name, r->ir_index, cidr, mac, r->ir_mtu, r->ir_id, r->ir_refs);
    {
        struct addr6_ctx ac = {r->ir_name, rc->rc_sb, NULL};

        rn_stack_addrs6(rc->rc_stack, addr6_row, &ac);
    }
    rn_strbuf_printf(rc->rc_sb,
                     "    rx %" PRIu64 " frames %" PRIu64 " bytes  tx %" PRIu64 " frames %" PRIu64
                     " bytes  drops %" PRIu64 "\n",
                     r->ir_rx_frames, r->ir_rx_bytes, r->ir_tx_frames, r->ir_tx_bytes,
                     r->ir_drops);
    for (link = r->ir_link; link != NULL; link = rn_link_lower(link))
        link_text(rc->rc_sb, link);
}

void rn__render_ifaces(struct rn_stack *st, struct rn_strbuf *sb, bool json)
{
    struct render_ctx rc = {sb, json ? json_object_new_array() : NULL, 0, st, 0};

    rn_stack_ifaces(st, iface_row, &rc);
    if (json)
        json_line(sb, rc.rc_json);
}

/* ---- arp ---------------------------------------------------------------------- */

static void neigh_row(const struct rn_neigh_row *r, void *ctx)
{
    struct render_ctx *rc = ctx;
    char ip[RN_IP6_STRLEN], mac[RN_MAC_STRLEN], expires[32] = "-";
    bool resolved = r->nr_state != RN_NEIGH_INCOMPLETE;

    if (rc->rc_family != 0 && r->nr_family != rc->rc_family)
        return;
    if (r->nr_family == 6)
        rn_ip6_addr_fmt(&r->nr_addr6, ip);
    else
        rn_ip4_addr_fmt(r->nr_addr, ip);
    rn_mac_fmt(&r->nr_mac, mac);
    if (rc->rc_json != NULL) {
        struct json_object *o = json_object_new_object();

        put_str(o, "address", ip);
        if (rc->rc_family == 0) {
            put_str(o, "family", r->nr_family == 6 ? "ipv6" : "ipv4");
            json_object_object_add(o, "router", json_object_new_boolean(r->nr_router));
        }
        put_str(o, "hwaddr", resolved ? mac : "");
        put_str(o, "iface", r->nr_iface);
        put_str(o, "state", rn_neigh_state_name(r->nr_state));
        put_u64(o, "expires_ns", r->nr_expires_in);
        put_u64(o, "queue", r->nr_queued);
        put_u64(o, "id", r->nr_id);
        put_u64(o, "refs", r->nr_refs);
        json_object_array_add(rc->rc_json, o);
        return;
    }
    if (r->nr_expires_in > 0)
        rn_fmt_age(r->nr_expires_in, expires, sizeof(expires));
    rn_strbuf_printf(rc->rc_sb, rc->rc_family == 4 ? "%-16s %-18s %-8s %-11s %9s %5u %4u\n"
                                                   : "%-26s %-18s %-8s %-11s %9s %5u %4u\n",
                     ip,
                     resolved ? mac : "(incomplete)", r->nr_iface,
                     rn_neigh_state_name(r->nr_state), expires, r->nr_queued, r->nr_refs);
}

/* Lists the neighbour entries of family (4, 6, or 0 for both). */
static void render_neigh(struct rn_stack *st, struct rn_strbuf *sb, bool json, uint8_t family)
{
    struct render_ctx rc = {sb, json ? json_object_new_array() : NULL, 0, st, family};

    if (!json)
        rn_strbuf_printf(sb, family == 4 ? "%-16s %-18s %-8s %-11s %9s %5s %4s\n"
                                         : "%-26s %-18s %-8s %-11s %9s %5s %4s\n",
                         "address", "hwaddr", "iface", "state", "expires", "queue", "refs");
    rn_stack_neighbours(st, neigh_row, &rc);
    if (json)
        json_line(sb, rc.rc_json);
}

void rn__render_arp(struct rn_stack *st, struct rn_strbuf *sb, bool json)
{
    render_neigh(st, sb, json, 4);
}

void rn__render_neighbours(struct rn_stack *st, struct rn_strbuf *sb, bool json)
{
    render_neigh(st, sb, json, 0);
}

/* ---- route -------------------------------------------------------------------- */

static void route_row(const struct rn_route_row *r, void *ctx)
{
    struct render_ctx *rc = ctx;
    char dst[RN_IP6_STRLEN], gw[RN_IP6_STRLEN], cidr[RN_IP6_CIDR_STRLEN + 4];
    bool has_gw;

    if (r->rr_family == 6) {
        rn_ip6_addr_fmt(&r->rr_dst6, dst);
        rn_ip6_addr_fmt(&r->rr_gw6, gw);
        has_gw = !rn_ip6_is_any(&r->rr_gw6);
    } else {
        rn_ip4_addr_fmt(r->rr_dst, dst);
        rn_ip4_addr_fmt(r->rr_gw, gw);
        has_gw = r->rr_gw != 0;
    }
    snprintf(cidr, sizeof(cidr), "%s/%u", dst, r->rr_plen);
    if (rc->rc_json != NULL) {
        struct json_object *o = json_object_new_object();

        put_str(o, "destination", cidr);
        put_str(o, "gateway", has_gw ? gw : "");
        put_str(o, "iface", r->rr_iface);
        put_u64(o, "id", r->rr_id);
        put_u64(o, "refs", r->rr_refs);
        if (r->rr_family == 6)
            put_u64(o, "expires_ms", (uint64_t)(r->rr_expires_in / RN_MSEC(1)));
        json_object_array_add(rc->rc_json, o);
        return;
    }
    rn_strbuf_printf(rc->rc_sb, "%-19s %-16s %-8s %4u", cidr, has_gw ? gw : "*", r->rr_iface,
                     r->rr_refs);
    if (r->rr_expires_in != 0)
        rn_strbuf_printf(rc->rc_sb, "  expires %" PRIu64 "s", (uint64_t)(r->rr_expires_in / RN_SEC(1)));
    rn_strbuf_printf(rc->rc_sb, "\n");
}

void rn__render_routes(struct rn_stack *st, struct rn_strbuf *sb, bool json)
{
    struct render_ctx rc = {sb, json ? json_object_new_array() : NULL, 0, NULL, 0};

    if (!json)
        rn_strbuf_printf(sb, "%-19s %-16s %-8s %4s\n", "destination", "gateway", "iface", "refs");
    rn_stack_routes(st, route_row, &rc);
    if (json)
        json_line(sb, rc.rc_json);
}

/* ---- stat --------------------------------------------------------------------- */

/* stat's JSON: {"interfaces": [...], "protocols": {...}, "drops": {...},
 * "pool": {...}}, filled row by row. */
struct stat_json {
    struct json_object *sj_ifaces;    /* array */
    struct json_object *sj_protocols; /* object */
    struct json_object *sj_drops;     /* the stack's own, object */
    struct json_object *sj_owners;    /* the pool by owner, object */
    struct rn_strbuf *sj_sb;          /* text, when the others are NULL */
};

static void stat_iface(const struct rn_iface_row *r, void *ctx)
{
    struct stat_json *sj = ctx;
    struct json_object *o;

    o = json_object_new_object();
    put_str(o, "name", r->ir_name);
    put_u64(o, "rx_frames", r->ir_rx_frames);
    put_u64(o, "rx_bytes", r->ir_rx_bytes);
    put_u64(o, "tx_frames", r->ir_tx_frames);
    put_u64(o, "tx_bytes", r->ir_tx_bytes);
    json_object_object_add(o, "drops", json_object_new_object());
    json_object_array_add(sj->sj_ifaces, o);
}

static void stat_drop(const struct rn_drop_row *r, void *ctx)
{
    struct stat_json *sj = ctx;
    struct json_object *to = sj->sj_drops;
    size_t i, n;

    if (r->dr_iface != NULL) {
        n = json_object_array_length(sj->sj_ifaces);
        for (i = 0, to = NULL; i < n; i++) {
            struct json_object *o = json_object_array_get_idx(sj->sj_ifaces, i), *name;

            if (json_object_object_get_ex(o, "name", &name) &&
                strcmp(json_object_get_string(name), r->dr_iface) == 0)
                json_object_object_get_ex(o, "drops", &to);
        }
        if (to == NULL)
            return;
    }
    put_u64(to, rn_drop_name(r->dr_reason), r->dr_count);
}

static void stat_counter(const struct rn_stack_counter *c, void *ctx)
{
    struct stat_json *sj = ctx;

    if (sj->sj_protocols == NULL)
        rn_strbuf_printf(sj->sj_sb, "%-20s %10" PRIu64 "\n", c->sc_name, c->sc_value);
    else
        put_u64(sj->sj_protocols, c->sc_name, c->sc_value);
}

static void stat_owner(const struct rn_nbpool_owner_row *r, void *ctx)
{
    struct stat_json *sj = ctx;
    struct json_object *o;

    if (sj->sj_owners == NULL) {
        rn_strbuf_printf(sj->sj_sb, "  %-24s %u outstanding", r->po_owner, r->po_outstanding);
        if (r->po_refused)
            rn_strbuf_printf(sj->sj_sb, ", %" PRIu64 " refused", r->po_refused);
        rn_strbuf_puts(sj->sj_sb, "\n");
        return;
    }
    o = json_object_new_object();
    put_u64(o, "outstanding", r->po_outstanding);
    put_u64(o, "refused", r->po_refused);
    json_object_object_add(sj->sj_owners, r->po_owner, o);
}

/* stat's text: each interface's line, then its drops. */
struct stat_text {
    struct rn_stack *stt_stack;
    struct rn_strbuf *stt_sb;
    const char *stt_iface;   /* whose drops to list; NULL: the stack's own */
};

static void stat_text_drop(const struct rn_drop_row *r, void *ctx)
{
    struct stat_text *stt = ctx;

    if ((r->dr_iface == NULL) != (stt->stt_iface == NULL) ||
        (r->dr_iface != NULL && strcmp(r->dr_iface, stt->stt_iface) != 0))
        return;
    rn_strbuf_printf(stt->stt_sb, "%s drop %-22s %10" PRIu64 "  %s\n",
                     r->dr_iface ? " " : "stack", rn_drop_name(r->dr_reason), r->dr_count,
                     rn_drop_desc(r->dr_reason));
}

static void stat_text_iface(const struct rn_iface_row *r, void *ctx)
{
    struct stat_text *stt = ctx;

    rn_strbuf_printf(stt->stt_sb,
                     "%s: rx %" PRIu64 " frames %" PRIu64 " bytes, tx %" PRIu64
                     " frames %" PRIu64 " bytes\n",
                     r->ir_name, r->ir_rx_frames, r->ir_rx_bytes, r->ir_tx_frames,
                     r->ir_tx_bytes);
    stt->stt_iface = r->ir_name;
    rn_stack_drop_rows(stt->stt_stack, stat_text_drop, stt);
}

void rn__render_stats(struct rn_stack *st, struct rn_strbuf *sb, bool json)
{
    struct rn_nbpool *pool = rn_stack_pool(st);
    struct rn_nbpool_stats ps;
    struct stat_json sj = {.sj_sb = sb};
    struct json_object *o, *p;

    rn_nbpool_stats(pool, &ps);
    if (!json) {
        struct stat_text stt = {st, sb, NULL};

        rn_stack_ifaces(st, stat_text_iface, &stt);
        stt.stt_iface = NULL;
        rn_stack_drop_rows(st, stat_text_drop, &stt);
        rn_stack_counters(st, stat_counter, &sj);
        rn_strbuf_printf(sb,
                         "netbuf pool \"%s\": %u outstanding (peak %u), %u allocated of max %u, "
                         "%u bytes each; allocs %" PRIu64 " frees %" PRIu64
                         " exhausted %" PRIu64 " nomem %" PRIu64 "\n",
                         rn_nbpool_name(pool), ps.ps_outstanding, ps.ps_peak, ps.ps_total,
                         ps.ps_max, ps.ps_buf_size, ps.ps_allocs, ps.ps_frees,
                         ps.ps_exhausted, ps.ps_nomem);
        rn_nbpool_owners(pool, stat_owner, &sj);
        return;
    }
    sj.sj_ifaces = json_object_new_array();
    sj.sj_protocols = json_object_new_object();
    sj.sj_drops = json_object_new_object();
    sj.sj_owners = json_object_new_object();
    rn_stack_ifaces(st, stat_iface, &sj);
    rn_stack_drop_rows(st, stat_drop, &sj);
    rn_stack_counters(st, stat_counter, &sj);
    rn_nbpool_owners(pool, stat_owner, &sj);
    o = json_object_new_object();
    json_object_object_add(o, "interfaces", sj.sj_ifaces);
    json_object_object_add(o, "protocols", sj.sj_protocols);
    json_object_object_add(o, "drops", sj.sj_drops);
    p = json_object_new_object();
    put_u64(p, "outstanding", ps.ps_outstanding);
    put_u64(p, "peak", ps.ps_peak);
    put_u64(p, "max", ps.ps_max);
    put_u64(p, "allocated", ps.ps_total);
    put_u64(p, "exhausted", ps.ps_exhausted);
    put_u64(p, "nomem", ps.ps_nomem);
    json_object_object_add(p, "owners", sj.sj_owners);
    json_object_object_add(o, "pool", p);
    json_line(sb, o);
}

/* ---- filter list -------------------------------------------------------------- */

static void filter_row(const struct rn_filter_row *r, void *ctx)
{
    struct render_ctx *rc = ctx;

    rc->rc_n++;
    if (rc->rc_json != NULL) {
        struct json_object *o = json_object_new_object();

        put_u64(o, "id", r->fr_id);
        put_str(o, "layer", rn_filter_layer_name(r->fr_layer));
        put_u64(o, "weight", r->fr_weight);
        put_u64(o, "hits", r->fr_hits);
        put_str(o, "action", r->fr_action);
        put_str(o, "callout", r->fr_callout);
        put_str(o, "spec", r->fr_spec);
        json_object_array_add(rc->rc_json, o);
        return;
    }
    rn_strbuf_printf(rc->rc_sb, "%-5" PRIu64 " %-19s %6u %10" PRIu64 "  %s\n", r->fr_id,
                     rn_filter_layer_name(r->fr_layer), r->fr_weight, r->fr_hits, r->fr_spec);
}

static void callout_row(const struct rn_callout_row *r, void *ctx)
{
    struct render_ctx *rc = ctx;

    if (rc->rc_json != NULL) {
        struct json_object *o = json_object_new_object(), *values = json_object_new_object();

        put_str(o, "name", r->cr_name);
        put_u64(o, "id", r->cr_id);
        put_u64(o, "filters", r->cr_filters);
        put_u64(o, "flows", r->cr_flows);
        put_u64(o, "pended", r->cr_pended);
        rn_callout_values(r->cr_callout, value_to_json, values);
        json_object_object_add(o, "values", values);
        json_object_array_add(rc->rc_json, o);
    } else {
        struct values_text vt = {rc->rc_sb, 0};

        rn_strbuf_printf(rc->rc_sb, "%-12s %7u %6u %7u  ", r->cr_name, r->cr_filters,
                         r->cr_flows, r->cr_pended);
        rn_callout_values(r->cr_callout, value_to_text, &vt);
        rn_strbuf_puts(rc->rc_sb, "\n");
    }
}

void rn__render_filters(struct rn_stack *st, struct rn_strbuf *sb, bool json)
{
    struct render_ctx filters = {sb, json ? json_object_new_array() : NULL, 0, NULL, 0};
    struct render_ctx callouts = {sb, json ? json_object_new_array() : NULL, 0, NULL, 0};
    struct json_object *layers = json ? json_object_new_array() : NULL, *o;
    unsigned l;

    if (!json)
        rn_strbuf_printf(sb, "%-5s %-19s %6s %10s  %s\n", "ID", "LAYER", "WEIGHT", "HITS",
                         "SPEC");
    rn_filter_rows(st, filter_row, &filters);
    if (!json && filters.rc_n == 0)
        rn_strbuf_puts(sb, "(no filters: every layer permits)\n");
    if (!json)
        rn_strbuf_puts(sb, "\nCALLOUT      FILTERS  FLOWS  PENDED  VALUES\n");
    rn_callout_rows(st, callout_row, &callouts);
    if (!json)
        rn_strbuf_puts(sb, "\nLAYER               FILTERS  CLASSIFIED  PERMITTED    BLOCKED"
                           "     PENDED\n");
    for (l = 0; l < RN_FL_COUNT_; l++) {
        struct rn_filter_layer_stats ls;

        rn_filter_layer_stats(st, (enum rn_filter_layer)l, &ls);
        if (!json) {
            rn_strbuf_printf(sb, "%-19s %8u %11" PRIu64 " %10" PRIu64 " %10" PRIu64
                                 " %10" PRIu64 "\n",
                             rn_filter_layer_name((enum rn_filter_layer)l), ls.fls_filters,
                             ls.fls_classified, ls.fls_permitted, ls.fls_blocked, ls.fls_pended);
            continue;
        }
        o = json_object_new_object();
        put_str(o, "layer", rn_filter_layer_name((enum rn_filter_layer)l));
        put_u64(o, "filters", ls.fls_filters);
        put_u64(o, "classified", ls.fls_classified);
        put_u64(o, "permitted", ls.fls_permitted);
        put_u64(o, "blocked", ls.fls_blocked);
        put_u64(o, "pended", ls.fls_pended);
        json_object_array_add(layers, o);
    }
    if (!json)
        return;
    o = json_object_new_object();
    json_object_object_add(o, "filters", filters.rc_json);
    json_object_object_add(o, "callouts", callouts.rc_json);
    json_object_object_add(o, "layers", layers);
    json_line(sb, o);
}

/* ---- plugin list ---------------------------------------------------------------- */

static void plugin_row(const struct rn_plugin_row *r, void *ctx)
{
    struct render_ctx *rc = ctx;

    rc->rc_n++;
    if (rc->rc_json != NULL) {
        struct json_object *o = json_object_new_object();

        put_str(o, "name", r->pr_name);
        put_str(o, "version", r->pr_version);
        put_str(o, "path", r->pr_path);
        put_str(o, "args", r->pr_args);
        put_u64(o, "id", r->pr_id);
        put_str(o, "state", r->pr_unloading ? "unloading" : "loaded");
        put_u64(o, "callouts", r->pr_callouts);
        put_u64(o, "flows", r->pr_flows);
        put_u64(o, "pended", r->pr_pended);
        put_u64(o, "link_filters", r->pr_filters);
        put_u64(o, "held", r->pr_held);
        json_object_array_add(rc->rc_json, o);
        return;
    }
    rn_strbuf_printf(rc->rc_sb, "%-16s %-10s %-9s %8u %6u %7u %7u %6u  %s%s%s\n", r->pr_name,
                     r->pr_version[0] ? r->pr_version : "-",
                     r->pr_unloading ? "unloading" : "loaded", r->pr_callouts, r->pr_flows,
                     r->pr_pended, r->pr_filters, r->pr_held, r->pr_path, r->pr_args[0] ? ":" : "",
                     r->pr_args);
}

void rn__render_plugins(struct rn_stack *st, struct rn_strbuf *sb, bool json)
{
    struct render_ctx rc = {sb, json ? json_object_new_array() : NULL, 0, NULL, 0};

    if (!json)
        rn_strbuf_printf(sb, "%-16s %-10s %-9s %8s %6s %7s %7s %6s  %s\n", "PLUG-IN", "VERSION",
                         "STATE", "CALLOUTS", "FLOWS", "PENDED", "FILTERS", "HELD", "FILE[:ARGS]");
    rn_plugin_rows(st, plugin_row, &rc);
    if (json)
        json_line(sb, rc.rc_json);
    else if (rc.rc_n == 0)
        rn_strbuf_puts(sb, "(no plug-ins loaded)\n");
}

/* ---- svc ---------------------------------------------------------------------- */

/* A command as one line: words with a blank or a quote in them between
 * single quotes, as a shell would read them back. */
static void put_command(struct rn_strbuf *sb, const char *const *argv)
{
    size_t i;

    for (i = 0; argv[i] != NULL; i++) {
        const char *w = argv[i], *c;

        if (i > 0)
            rn_strbuf_puts(sb, " ");
        if (w[0] != '\0' && strpbrk(w, " \t\n'\"\\$`;&|<>()*?[]#~") == NULL) {
            rn_strbuf_puts(sb, w);
            continue;
        }
        rn_strbuf_puts(sb, "'");
        for (c = w; *c != '\0'; c++) {
            if (*c == '\'')
                rn_strbuf_puts(sb, "'\\''");
            else
                rn_strbuf_append(sb, c, 1);
        }
        rn_strbuf_puts(sb, "'");
    }
}

/* How a command ended: "exit status 0", "killed by SIGKILL". */
static const char *exit_text(const struct rn_svc_exec_info *ei, char *buf, size_t len)
{
    char sn[16];

    if (ei->ei_exit_status >= 0)
        snprintf(buf, len, "exit status %d", ei->ei_exit_status);
    else if (ei->ei_exit_signal > 0)
        snprintf(buf, len, "killed by %s", rn_svc_signal_name(ei->ei_exit_signal, sn,
                                                               sizeof(sn)));
    else
        snprintf(buf, len, "status unknown");
    return buf;
}

static void service_exec_json(struct json_object *o, const struct rn_svc_exec_info *ei)
{
    struct json_object *cmd = json_object_new_array(), *ex;
    rn_time_t now = rn_clock_now();
    char sn[16];
    size_t i;

    for (i = 0; ei->ei_argv[i] != NULL; i++)
        json_object_array_add(cmd, json_object_new_string(ei->ei_argv[i]));
    json_object_object_add(o, "command", cmd);
    put_str(o, "stop_signal", rn_svc_signal_name(ei->ei_stop_signal, sn, sizeof(sn)));
    put_u64(o, "stop_grace_ns", ei->ei_grace);
    put_str(o, "stop_to", ei->ei_stop_main ? "command" : "group");
    if (ei->ei_run != 0)
        put_u64(o, "real_process", ei->ei_run);
    else
        json_object_object_add(o, "real_process", NULL);
    if (!ei->ei_exited) {
        json_object_object_add(o, "exit", NULL);
        return;
    }
    ex = json_object_new_object();
    if (ei->ei_exit_status >= 0)
        json_object_object_add(ex, "status", json_object_new_int(ei->ei_exit_status));
    else
        json_object_object_add(ex, "status", NULL);
    if (ei->ei_exit_signal > 0)
        put_str(ex, "signal", rn_svc_signal_name(ei->ei_exit_signal, sn, sizeof(sn)));
    else
        json_object_object_add(ex, "signal", NULL);
    put_u64(ex, "ago_ns", now > ei->ei_exited_at ? now - ei->ei_exited_at : 0);
    json_object_object_add(o, "exit", ex);
}

/* The other loops' instances (sl, may be NULL): counter k's addition. */
static uint64_t loops_more(const struct rn__svc_loops *sl, size_t k)
{
    return sl != NULL && sl->sl_loops > 1 ? sl->sl_counters[k] : 0;
}

static struct json_object *service_json(const struct rn_svc *svc, rn_time_t now,
                                        const struct rn__svc_loops *sl)
{
    struct rn_svc_counter c[RN_SVC_COUNTERS_MAX];
    struct json_object *o = json_object_new_object(), *counters = json_object_new_object();
    rn_time_t since = rn_svc_since(svc);
    struct rn_proc *p = rn_svc_proc(svc);
    size_t n = rn_svc_counters(svc, c), k;
    struct rn_svc_exec_info ei;

    put_str(o, "name", rn_svc_name(svc));
    put_u64(o, "id", rn_svc_id(svc));
    put_str(o, "state", rn_svc_state_name(rn_svc_state(svc)));
    put_u64(o, "for_ns", now > since ? now - since : 0);
    put_str(o, "what", rn_svc_kind(svc)->sk_what);
    put_str(o, "arg", rn_svc_arg(svc));
    if (rn_svc_exec_info(svc, &ei)) {
        if (ei.ei_pid != 0)
            put_u64(o, "pid", (uint64_t)ei.ei_pid);
        else
            json_object_object_add(o, "pid", NULL);
        json_object_object_add(o, "process", NULL);
        put_u64(o, "handles", 0);
        service_exec_json(o, &ei);
    } else if (p != NULL) {
        put_u64(o, "pid", rn_proc_pid(p));
        put_u64(o, "process", rn_ob_id(p));
        put_u64(o, "handles", rn_proc_handles(p) + (sl != NULL ? sl->sl_handles : 0));
    } else {
        json_object_object_add(o, "pid", NULL);
        json_object_object_add(o, "process", NULL);
        put_u64(o, "handles", 0);
    }
    for (k = 0; k < n; k++)
        put_u64(counters, c[k].sc_name, c[k].sc_value + loops_more(sl, k));
    json_object_object_add(o, "counters", counters);
    if (sl != NULL && sl->sl_loops > 1) {
        struct json_object *states = json_object_new_array();
        unsigned i;

        for (i = 0; i < sl->sl_loops && i < RN__SVC_LOOPS_MAX; i++)
            json_object_array_add(states, json_object_new_string(
                                              rn_svc_state_name(i == 0 ? rn_svc_state(svc)
                                                                       : sl->sl_state[i])));
        put_u64(o, "loops", sl->sl_loops);
        json_object_object_add(o, "loop_states", states);
    }
    return o;
}

/* ", on 2 loops", and the loops whose instance is not in the first's
 * state. */
static void loops_text(struct rn_strbuf *sb, enum rn_svc_state state,
                       const struct rn__svc_loops *sl)
{
    unsigned i;

    if (sl == NULL || sl->sl_loops <= 1)
        return;
    rn_strbuf_printf(sb, ", on %u loops", sl->sl_loops);
    for (i = 1; i < sl->sl_loops && i < RN__SVC_LOOPS_MAX; i++)
        if (sl->sl_state[i] != state)
            rn_strbuf_printf(sb, " (loop %u's %s)", i,
                             rn_svc_state_name((enum rn_svc_state)sl->sl_state[i]));
}

static void service_text(struct rn_strbuf *sb, const struct rn_svc *svc, rn_time_t now,
                         const struct rn__svc_loops *sl)
{
    struct rn_svc_counter c[RN_SVC_COUNTERS_MAX];
    enum rn_svc_state state = rn_svc_state(svc);
    rn_time_t since = rn_svc_since(svc);
    struct rn_proc *p = rn_svc_proc(svc);
    size_t n = rn_svc_counters(svc, c), k;
    struct rn_svc_exec_info ei;
    bool exec = rn_svc_exec_info(svc, &ei);
    char age[32], sn[16], how[48];

    if (exec) {
        rn_strbuf_printf(sb, "%s (command: ", rn_svc_name(svc));
        put_command(sb, ei.ei_argv);
        rn_strbuf_printf(sb, "): %s for %s", rn_svc_state_name(state),
                         rn_fmt_age(now > since ? now - since : 0, age, sizeof(age)));
    } else {
        rn_strbuf_printf(sb, "%s (%s): %s for %s", rn_svc_name(svc), rn_svc_kind(svc)->sk_what,
                         rn_svc_state_name(state),
                         rn_fmt_age(now > since ? now - since : 0, age, sizeof(age)));
    }
    if (exec && ei.ei_pid != 0)
        rn_strbuf_printf(sb, ", pid %" PRId32 " (real process #%" PRIu64 ")", ei.ei_pid,
                         ei.ei_run);
    if (p != NULL) {
        uint64_t h = rn_proc_handles(p) + (sl != NULL ? sl->sl_handles : 0);

        rn_strbuf_printf(sb, ", process %s (pid %" PRIu32 ") #%" PRIu64 ", %" PRIu64 " handle%s",
                         rn_proc_name(p), rn_proc_pid(p), rn_ob_id(p), h, h == 1 ? "" : "s");
    }
    rn_strbuf_printf(sb, ", service #%" PRIu64, rn_svc_id(svc));
    loops_text(sb, state, sl);
    rn_strbuf_puts(sb, "\n");
    if (exec) {
        rn_strbuf_printf(sb, "  stop: %s to its %s, SIGKILL to its group %s later\n",
                         rn_svc_signal_name(ei.ei_stop_signal, sn, sizeof(sn)),
                         ei.ei_stop_main ? "command alone" : "process group",
                         rn_fmt_age(ei.ei_grace, age, sizeof(age)));
        if (ei.ei_exited) {
            rn_time_t t = rn_clock_now();

            rn_strbuf_printf(sb, "  %s: exited %s ago, %s",
                             state == RN_SVC_STOPPED ? "last run" : "its command",
                             rn_fmt_age(t > ei.ei_exited_at ? t - ei.ei_exited_at : 0, age,
                                        sizeof(age)),
                             exit_text(&ei, how, sizeof(how)));
            if (ei.ei_group > 0)
                rn_strbuf_printf(sb, "; %" PRIu32 " other process%s of its group still "
                                 "running", ei.ei_group, ei.ei_group == 1 ? "" : "es");
            rn_strbuf_puts(sb, "\n");
        }
    }
    if (state == RN_SVC_STOP_PENDING)
        rn_strbuf_printf(sb, "  its process is running down; `refnet why %s` says what "
                             "holds it\n",
                         rn_svc_name(svc));
    for (k = 0; k < n; k++)
        rn_strbuf_printf(sb, "  %-18s %12" PRIu64 "\n", c[k].sc_name,
                         c[k].sc_value + loops_more(sl, k));
}

void rn__render_services(const struct rn_svcctl *sc, const struct rn_svc *only, rn_time_t now,
                         const struct rn__svc_loops *loops, struct rn_strbuf *sb, bool json)
{
    struct json_object *list = NULL;
    size_t i, n = rn_svcctl_count(sc);

    if (only != NULL) {
        if (json)
            json_line(sb, service_json(only, now, loops));
        else
            service_text(sb, only, now, loops);
        return;
    }
    if (json)
        list = json_object_new_array();
    for (i = 0; i < n; i++) {
        const struct rn_svc *svc = rn_svcctl_at(sc, i);
        const struct rn__svc_loops *sl = loops != NULL ? &loops[i] : NULL;

        if (json)
            json_object_array_add(list, service_json(svc, now, sl));
        else
            service_text(sb, svc, now, sl);
    }
    if (json)
        json_line(sb, list);
    else if (n == 0)
        rn_strbuf_puts(sb, "no services\n");
}

/* ---- get tcp: TCP's settings --------------------------------------------------- */

struct settings_ctx {
    struct rn_strbuf *sc_sb;
    struct json_object *sc_list;  /* JSON: the array, or NULL for text */
};

static struct json_object *setting_json(const struct rn_tcp_setting_row *r)
{
    struct json_object *o = json_object_new_object();

    put_str(o, "name", r->sr_name);
    put_str(o, "value", r->sr_value);
    put_str(o, "default", r->sr_default);
    put_str(o, "linux", r->sr_linux);
    put_str(o, "accepts", r->sr_accepts);
    put_str(o, "description", r->sr_desc);
    return o;
}

static void setting_text(struct rn_strbuf *sb, const struct rn_tcp_setting_row *r)
{
    rn_strbuf_printf(sb, "%-20s %-12s %-12s %-46s %s\n", r->sr_name, r->sr_value, r->sr_default,
                     r->sr_linux, r->sr_desc);
}

static void setting_row(const struct rn_tcp_setting_row *r, void *ctx)
{
    struct settings_ctx *sc = ctx;

    if (sc->sc_list != NULL)
        json_object_array_add(sc->sc_list, setting_json(r));
    else
        setting_text(sc->sc_sb, r);
}

void rn__render_tcp_settings(struct rn_stack *st, const char *name, struct rn_strbuf *sb,
                             bool json)
{
    struct settings_ctx sc = {sb, NULL};
    struct rn_tcp_setting_row row;
    struct rn_tcp_params p;

    if (rn_tcp_params_get(st, &p) != 0)
        return;
    if (name != NULL) {
        if (rn_tcp_params_row(&p, name, &row) != 0)
            return;
        if (json) {
            json_line(sb, setting_json(&row));
            return;
        }
    }
    if (!json)
        rn_strbuf_printf(sb, "%-20s %-12s %-12s %-46s %s\n", "NAME", "VALUE", "DEFAULT",
                         "LINUX", "DESCRIPTION");
    if (name != NULL) {
        setting_text(sb, &row);
        return;
    }
    if (json)
        sc.sc_list = json_object_new_array();
    rn_tcp_params_rows(&p, setting_row, &sc);
    if (json)
        json_line(sb, sc.sc_list);
}

/* ---- netstat ------------------------------------------------------------------ */

/* A time as ss(8) shows it: milliseconds with three decimals. */
static void put_ms(struct rn_strbuf *sb, const char *name, rn_time_t t)
{
    rn_strbuf_printf(sb, " %s:%" PRIu64 ".%03" PRIu64, name, (uint64_t)(t / RN_NSEC_PER_MSEC),
                     (uint64_t)(t % RN_NSEC_PER_MSEC / 1000));
}

/* A connection's statistics on the line under its row, in the words of
 * ss -i. */
static void info_text(struct rn_strbuf *sb, const struct rn_tcp_info *ti)
{
    rn_strbuf_puts(sb, "\t");
    if (ti->ti_options & RN_TCPI_OPT_TIMESTAMPS)
        rn_strbuf_puts(sb, " ts");
    if (ti->ti_options & RN_TCPI_OPT_SACK)
        rn_strbuf_puts(sb, " sack");
    rn_strbuf_printf(sb, " %s", ti->ti_cc);
    if (ti->ti_options & RN_TCPI_OPT_WSCALE)
        rn_strbuf_printf(sb, " wscale:%u,%u", ti->ti_snd_wscale, ti->ti_rcv_wscale);
    put_ms(sb, "rto", ti->ti_rto);
    if (ti->ti_rtt != 0) {
        put_ms(sb, "rtt", ti->ti_rtt);
        put_ms(sb, "rttvar", ti->ti_rttvar);
        put_ms(sb, "minrtt", ti->ti_min_rtt);
    }
    if (ti->ti_backoff != 0)
        rn_strbuf_printf(sb, " backoff:%" PRIu32, ti->ti_backoff);
    rn_strbuf_printf(sb, " mss:%" PRIu32 " advmss:%" PRIu32 " rcvmss:%" PRIu32
                     " peermss:%" PRIu32 " cwnd:%" PRIu32,
                     ti->ti_snd_mss, ti->ti_advmss, ti->ti_rcv_mss, ti->ti_peer_mss,
                     ti->ti_snd_cwnd);
    if (ti->ti_snd_ssthresh != UINT32_MAX)
        rn_strbuf_printf(sb, " ssthresh:%" PRIu32, ti->ti_snd_ssthresh);
    rn_strbuf_printf(sb, " snd_wnd:%" PRIu32 " rcv_wnd:%" PRIu32 " sndbuf:%" PRIu32
                     " rcvbuf:%" PRIu32,
                     ti->ti_snd_wnd, ti->ti_rcv_wnd, ti->ti_sndbuf, ti->ti_rcvbuf);
    rn_strbuf_printf(sb, " bytes_sent:%" PRIu64 " bytes_retrans:%" PRIu64 " bytes_acked:%" PRIu64
                     " bytes_received:%" PRIu64 " segs_out:%" PRIu64 " segs_in:%" PRIu64
                     " data_segs_out:%" PRIu64 " data_segs_in:%" PRIu64,
                     ti->ti_bytes_sent, ti->ti_bytes_retrans, ti->ti_bytes_acked,
                     ti->ti_bytes_received, ti->ti_segs_out, ti->ti_segs_in,
                     ti->ti_data_segs_out, ti->ti_data_segs_in);
    if (ti->ti_total_retrans != 0)
        rn_strbuf_printf(sb, " retrans:%" PRIu64, ti->ti_total_retrans);
    if (ti->ti_delivery_rate != 0)
        rn_strbuf_printf(sb, " delivery_rate:%" PRIu64 "bps", ti->ti_delivery_rate * 8);
    put_ms(sb, "lastrcv", ti->ti_last_recv);
    if (ti->ti_unacked != 0)
        rn_strbuf_printf(sb, " unacked:%" PRIu32, ti->ti_unacked);
    if (ti->ti_notsent != 0)
        rn_strbuf_printf(sb, " notsent:%" PRIu32, ti->ti_notsent);
    rn_strbuf_puts(sb, "\n");
}

static struct json_object *info_json(const struct rn_tcp_info *ti)
{
    struct json_object *o = json_object_new_object();

    put_str(o, "state", rn_tcp_state_name(ti->ti_state));
    put_u64(o, "state_age_ns", ti->ti_state_age);
    json_object_object_add(o, "timestamps",
                           json_object_new_boolean((ti->ti_options & RN_TCPI_OPT_TIMESTAMPS) != 0));
    json_object_object_add(o, "sack",
                           json_object_new_boolean((ti->ti_options & RN_TCPI_OPT_SACK) != 0));
    json_object_object_add(o, "wscale",
                           json_object_new_boolean((ti->ti_options & RN_TCPI_OPT_WSCALE) != 0));
    put_u64(o, "snd_wscale", ti->ti_snd_wscale);
    put_u64(o, "rcv_wscale", ti->ti_rcv_wscale);
    put_str(o, "congestion", ti->ti_cc);
    put_u64(o, "rtt_ns", ti->ti_rtt);
    put_u64(o, "rttvar_ns", ti->ti_rttvar);
    put_u64(o, "min_rtt_ns", ti->ti_min_rtt);
    put_u64(o, "rto_ns", ti->ti_rto);
    put_u64(o, "backoff", ti->ti_backoff);
    put_u64(o, "snd_mss", ti->ti_snd_mss);
    put_u64(o, "rcv_mss", ti->ti_rcv_mss);
    put_u64(o, "advmss", ti->ti_advmss);
    put_u64(o, "peer_mss", ti->ti_peer_mss);
    put_u64(o, "snd_cwnd", ti->ti_snd_cwnd);
    if (ti->ti_snd_ssthresh != UINT32_MAX)
        put_u64(o, "snd_ssthresh", ti->ti_snd_ssthresh);
    else
        json_object_object_add(o, "snd_ssthresh", NULL);
    put_u64(o, "snd_wnd", ti->ti_snd_wnd);
    put_u64(o, "rcv_wnd", ti->ti_rcv_wnd);
    put_u64(o, "sndbuf", ti->ti_sndbuf);
    put_u64(o, "rcvbuf", ti->ti_rcvbuf);
    put_u64(o, "unacked", ti->ti_unacked);
    put_u64(o, "notsent", ti->ti_notsent);
    put_u64(o, "recvq", ti->ti_recvq);
    put_u64(o, "bytes_sent", ti->ti_bytes_sent);
    put_u64(o, "bytes_retrans", ti->ti_bytes_retrans);
    put_u64(o, "bytes_acked", ti->ti_bytes_acked);
    put_u64(o, "bytes_received", ti->ti_bytes_received);
    put_u64(o, "segs_out", ti->ti_segs_out);
    put_u64(o, "segs_in", ti->ti_segs_in);
    put_u64(o, "data_segs_out", ti->ti_data_segs_out);
    put_u64(o, "data_segs_in", ti->ti_data_segs_in);
    put_u64(o, "total_retrans", ti->ti_total_retrans);
    put_u64(o, "delivery_rate", ti->ti_delivery_rate);
    put_u64(o, "last_recv_ns", ti->ti_last_recv);
    return o;
}

/* ---- netstat rows ---------------------------------------------------------------- */

void rn__render_netstat_begin(struct rn_strbuf *sb, bool refs, bool json)
{
    if (json)
        rn_strbuf_puts(sb, "[");
    else if (refs)
        rn_strbuf_printf(sb, "%-5s %-22s %-22s %-12s %6s %6s %5s %-8s %-18s %s\n", "Proto",
                         "Local Address", "Foreign Address", "State", "Send-Q", "Recv-Q", "Refs",
                         "Id", "Owner", "Holders");
    else
        rn_strbuf_printf(sb, "%-5s %-22s %-22s %-12s %7s %7s %5s  Id\n", "Proto",
                         "Local Address", "Foreign Address", "State", "Send-Q", "Recv-Q",
                         "Refs");
}

/* The owner column: the service for "service NAME", else the process. */
static const char *owner_name(const struct rn_netstat_walk_row *r)
{
    const char *o = r->wr_owner.ow_owner;

    return strncmp(o, "service ", 8) == 0 ? o + 8 : r->wr_owner.ow_proc_name;
}

static void netstat_json(struct rn_strbuf *sb, const struct rn_netstat_walk_row *r, bool refs,
                         int loop)
{
    const struct rn_netstat_row *row = &r->wr_row;
    struct json_object *o = json_object_new_object(), *holders;
    char ls[RN_IP6_STRLEN + 8], fs[RN_IP6_STRLEN + 8];
    unsigned i;

    put_str(o, "proto", row->nr_proto);
    put_str(o, "local", endpoint(ls, sizeof(ls), row->nr_laddr, row->nr_lport, false));
    put_str(o, "remote", endpoint(fs, sizeof(fs), row->nr_faddr, row->nr_fport, true));
    put_str(o, "state", row->nr_state);
    put_u64(o, "sendq", row->nr_sendq);
    put_u64(o, "recvq", row->nr_recvq);
    put_u64(o, "id", r->wr_id);
    put_u64(o, "refs", r->wr_refs);
    if (loop >= 0)
        put_u64(o, "loop", (uint64_t)loop);
    if (refs) {
        if (r->wr_has_owner) {
            put_str(o, "owner", owner_name(r));
            put_str(o, "process", r->wr_owner.ow_proc_name);
            put_u64(o, "pid", r->wr_owner.ow_pid);
            put_u64(o, "socket", r->wr_owner.ow_sock);
            /* A closing socket's number is free again: no handle. */
            json_object_object_add(o, "handle", !r->wr_owner.ow_closing
                                                    ? json_object_new_int(r->wr_owner.ow_handle)
                                                    : NULL);
        } else {
            json_object_object_add(o, "owner", NULL);
            json_object_object_add(o, "process", NULL);
            json_object_object_add(o, "pid", NULL);
            json_object_object_add(o, "socket", NULL);
            json_object_object_add(o, "handle", NULL);
        }
        if (r->wr_conns >= 0)
            put_u64(o, "conns", (uint64_t)r->wr_conns);
        holders = json_object_new_object();
        for (i = 0; i < r->wr_nholders; i++)
            put_u64(holders, r->wr_holders[i].nh_tag, r->wr_holders[i].nh_count);
        json_object_object_add(o, "holders", holders);
    }
    if (r->wr_has_info)
        json_object_object_add(o, "info", info_json(&r->wr_info));
    rn__render_json(sb, o);
}

void rn__render_netstat_row(struct rn_strbuf *sb, const struct rn_netstat_walk_row *r,
                            bool refs, bool json, bool *first)
{
    rn__render_netstat_row_loop(sb, r, refs, json, first, -1);
}

void rn__render_netstat_row_loop(struct rn_strbuf *sb, const struct rn_netstat_walk_row *r,
                                 bool refs, bool json, bool *first, int loop)
{
    const struct rn_netstat_row *row = &r->wr_row;
    char ls[RN_IP6_STRLEN + 8], fs[RN_IP6_STRLEN + 8], owner[96], id[24], proto[8];
    unsigned i;

    if (json) {
        if (!*first)
            rn_strbuf_puts(sb, ",");
        netstat_json(sb, r, refs, loop);
        *first = false;
        return;
    }
    *first = false;
    endpoint(ls, sizeof(ls), row->nr_laddr, row->nr_lport, false);
    endpoint(fs, sizeof(fs), row->nr_faddr, row->nr_fport, true);
    snprintf(id, sizeof(id), "#%" PRIu64, r->wr_id);
    if (!refs) {
        rn_strbuf_printf(sb, "%-5s %-22s %-22s %-12s %7" PRIu32 " %7" PRIu32 " %5u  %s\n",
                         proto_name(row, proto, sizeof(proto)), ls, fs, row->nr_state,
                         row->nr_sendq, row->nr_recvq, r->wr_refs, id);
        if (r->wr_has_info)
            info_text(sb, &r->wr_info);
        return;
    }
    if (r->wr_has_owner)
        snprintf(owner, sizeof(owner), "%s[%" PRIu32 "]", owner_name(r), r->wr_owner.ow_pid);
    else
        snprintf(owner, sizeof(owner), "-");
    if (r->wr_conns >= 0) {
        size_t o = strlen(owner);

        snprintf(owner + o, sizeof(owner) - o, " %ld conn%s", r->wr_conns,
                 r->wr_conns == 1 ? "" : "s");
    }
    rn_strbuf_printf(sb, "%-5s %-22s %-22s %-12s %6" PRIu32 " %6" PRIu32 " %5u %-8s %-18s ",
                     proto_name(row, proto, sizeof(proto)), ls, fs, row->nr_state,
                     row->nr_sendq, row->nr_recvq, r->wr_refs, id, owner);
    for (i = 0; i < r->wr_nholders; i++)
        rn_strbuf_printf(sb, "%s%s %" PRIu32, i ? ", " : "", r->wr_holders[i].nh_tag,
                         r->wr_holders[i].nh_count);
    rn_strbuf_puts(sb, "\n");
    if (r->wr_has_info)
        info_text(sb, &r->wr_info);
}

void rn__render_netstat_end(struct rn_strbuf *sb, bool json)
{
    if (json)
        rn_strbuf_puts(sb, "]\n");
}

/* ---- objects, refs ------------------------------------------------------------ */

/* now - since on the snapshot's clock, 0 if since is later or unknown. */
static uint64_t age_at(const struct rn_snapshot *s, rn_time_t since)
{
    return since != 0 && s->s_now > since ? s->s_now - since : 0;
}

struct json_object *rn__render_object_json(const struct rn_snapshot *s,
                                           const struct rn_snap_object *o)
{
    struct json_object *obj = json_object_new_object(), *ledger = json_object_new_array();
    uint32_t i, f;

    if (obj == NULL || ledger == NULL) {
        json_object_put(obj);
        json_object_put(ledger);
        return NULL;
    }
    put_u64(obj, "id", o->so_id);
    put_str(obj, "type", o->so_type ? o->so_type : "?");
    put_str(obj, "desc", o->so_desc ? o->so_desc : "");
    put_str(obj, "state", o->so_state == RN_OB_DYING ? "dying" : "live");
    put_u64(obj, "refs", o->so_refs);
    json_object_object_add(obj, "traced", json_object_new_boolean(o->so_traced));
    json_object_object_add(obj, "saturated", json_object_new_boolean(o->so_saturated));
    put_u64(obj, "age_ns", age_at(s, o->so_created));
    if (o->so_killed != 0)
        put_u64(obj, "dying_ns", age_at(s, o->so_killed));
    for (i = 0; i < o->so_ntags; i++) {
        const struct rn_snap_tag *t = &o->so_tags[i];
        struct json_object *line = json_object_new_object();

        put_str(line, "tag", t->st_tag ? t->st_tag : "?");
        put_u64(line, "count", t->st_count);
        put_u64(line, "held_ns", age_at(s, t->st_since));
        if (t->st_last_ref != NULL)
            put_str(line, "last_ref", t->st_last_ref);
        json_object_array_add(ledger, line);
    }
    json_object_object_add(obj, "ledger", ledger);
    if (o->so_traced) {
        struct json_object *holds = json_object_new_array();

        for (i = 0; i < o->so_nholds; i++) {
            const struct rn_snap_hold *h = &o->so_holds[i];
            struct json_object *hold = json_object_new_object(), *stack = json_object_new_array();

            put_str(hold, "tag", h->sh_tag ? h->sh_tag : "?");
            put_u64(hold, "count", h->sh_count);
            put_u64(hold, "oldest_ns", age_at(s, h->sh_oldest));
            if (h->sh_stack != RN_SNAP_NO_STACK && h->sh_stack < s->s_nstacks) {
                const struct rn_snap_stack *st = &s->s_stacks[h->sh_stack];

                for (f = 0; f < st->ss_nframes; f++)
                    json_object_array_add(
                        stack, json_object_new_string(st->ss_frames[f] ? st->ss_frames[f] : "?"));
            }
            json_object_object_add(hold, "stack", stack);
            json_object_array_add(holds, hold);
        }
        json_object_object_add(obj, "holds", holds);
        put_u64(obj, "untraced", o->so_untraced);
    }
    return obj;
}

/* ---- The live view and the HTML report ------------------------------------------ */

void rn__render_web_history(const struct rn_web_hist *ring, unsigned n, unsigned next,
                            unsigned cap, rn_time_t now, struct rn_strbuf *sb)
{
    struct json_object *list = json_object_new_array();
    unsigned i;

    for (i = 0; i < n && list != NULL; i++) {
        const struct rn_web_hist *h = &ring[(next + cap - n + i) % cap];
        struct json_object *o = json_object_new_object();

        put_u64(o, "age_ns", now > h->wh_when ? now - h->wh_when : 0);
        put_u64(o, "rx_frames", h->wh_rx_frames);
        put_u64(o, "tx_frames", h->wh_tx_frames);
        put_u64(o, "rx_bytes", h->wh_rx_bytes);
        put_u64(o, "tx_bytes", h->wh_tx_bytes);
        put_u64(o, "drops", h->wh_drops);
        put_u64(o, "tcp_opens", h->wh_tcp_opens);
        put_u64(o, "tcp_retrans", h->wh_tcp_retrans);
        put_u64(o, "tcp_conns", h->wh_tcp_conns);
        json_object_array_add(list, o);
    }
    rn__render_json(sb, list);
}

static const char *class_name(enum rn_diag_class c)
{
    return c == RN_DIAG_SUSPECT ? "suspect" : c == RN_DIAG_NO_RULE ? "no-rule" : "expected";
}

/* Where most of o's holds of tag were taken: the innermost frames of the
 * stack with the largest count (traced objects), else the site of the
 * tag's latest reference, else NULL. */
static const char *hold_site(const struct rn_snapshot *s, const struct rn_snap_object *o,
                             const char *tag, char *buf, size_t len)
{
    const struct rn_snap_hold *best = NULL;
    uint32_t i, k;
    size_t used = 0;

    for (i = 0; i < o->so_nholds; i++) {
        const struct rn_snap_hold *h = &o->so_holds[i];

        if (h->sh_tag == NULL || strcmp(h->sh_tag, tag) != 0 || h->sh_stack >= s->s_nstacks)
            continue;
        if (best == NULL || h->sh_count > best->sh_count)
            best = h;
    }
    if (best == NULL) {
        for (i = 0; i < o->so_ntags; i++)
            if (o->so_tags[i].st_tag != NULL && strcmp(o->so_tags[i].st_tag, tag) == 0)
                return o->so_tags[i].st_last_ref;
        return NULL;
    }
    buf[0] = '\0';
    for (k = 0; k < s->s_stacks[best->sh_stack].ss_nframes && k < 4 && used < len; k++) {
        const char *f = s->s_stacks[best->sh_stack].ss_frames[k];
        int m = snprintf(buf + used, len - used, "%s%s", k ? " <- " : "", f ? f : "?");

        if (m < 0)
            break;
        used += (size_t)m;
    }
    return buf;
}

struct holders_json {
    const struct rn_snapshot *hj_s;
    const struct rn_snap_object *hj_o;
    struct json_object *hj_list;
};

static void holder_json(const struct rn_diag_holder *h, void *ctx)
{
    struct holders_json *hj = ctx;
    struct json_object *o = json_object_new_object();
    char site[512];
    const char *where = hold_site(hj->hj_s, hj->hj_o, h->dh_tag, site, sizeof(site));

    put_str(o, "tag", h->dh_tag);
    put_u64(o, "count", h->dh_count);
    put_u64(o, "held_ns", h->dh_age);
    put_str(o, "class", class_name(h->dh_class));
    put_str(o, "reason", h->dh_reason);
    put_str(o, "site", where);
    json_object_array_add(hj->hj_list, o);
}

static int cmp_id(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

struct json_object *rn__render_waits_json(const struct rn_snapshot *s)
{
    struct json_object *doc = json_object_new_object(), *waits = json_object_new_array();
    struct json_object *nodes = json_object_new_array();
    struct rn_strbuf why = RN_STRBUF_INIT;
    uint64_t *ids = malloc(((size_t)s->s_nwaits * 2 + 1) * sizeof(*ids));
    uint32_t i, j, n = 0;

    if (doc == NULL || waits == NULL || nodes == NULL || ids == NULL)
        goto out_oom;
    put_u64(doc, "now_ns", s->s_now);
    put_u64(doc, "threshold_ns", s->s_threshold);
    for (i = 0; i < s->s_nwaits; i++) {
        const struct rn_snap_wait *w = &s->s_waits[i];
        struct json_object *o = json_object_new_object();

        put_u64(o, "waiter", w->sw_waiter);
        put_u64(o, "waited", w->sw_waited);
        put_str(o, "what", w->sw_what ? w->sw_what : "wait");
        put_u64(o, "age_ns", age_at(s, w->sw_since));
        json_object_array_add(waits, o);
        if (w->sw_waiter != 0)
            ids[n++] = w->sw_waiter;
        ids[n++] = w->sw_waited;
    }
    qsort(ids, n, sizeof(*ids), cmp_id);
    for (i = 0; i < n; i++) {
        const struct rn_snap_object *ob;
        struct json_object *o;
        bool blocker = true;

        if (i > 0 && ids[i] == ids[i - 1])
            continue;
        for (j = 0; j < s->s_nwaits && blocker; j++)
            blocker = s->s_waits[j].sw_waiter != ids[i];
        ob = rn_snapshot_find(s, ids[i]);
        if (ob == NULL) {
            o = json_object_new_object();
            put_u64(o, "id", ids[i]);
            json_object_object_add(o, "gone", json_object_new_boolean(true));
            json_object_array_add(nodes, o);
            continue;
        }
        o = rn__render_object_json(s, ob);
        if (o == NULL)
            goto out_oom;
        json_object_object_add(o, "blocker", json_object_new_boolean(blocker));
        if (blocker) {
            struct holders_json hj = {s, ob, json_object_new_array()};
            struct rn_strbuf line = RN_STRBUF_INIT;

            (void)rn_diag_verdict(s, ids[i], holder_json, &hj, &line);
            json_object_object_add(o, "holders", hj.hj_list);
            put_str(o, "verdict", rn_strbuf_str(&line));
            rn_strbuf_free(&line);
        }
        json_object_array_add(nodes, o);
    }
    json_object_object_add(doc, "waits", waits);
    json_object_object_add(doc, "nodes", nodes);
    waits = nodes = NULL;
    if (rn_diag_render_chains(s, 0, &why) < 0)
        goto out_oom;
    put_str(doc, "why", rn_strbuf_str(&why));
    rn_strbuf_free(&why);
    free(ids);
    return doc;

out_oom:
    rn_strbuf_free(&why);
    free(ids);
    json_object_put(waits);
    json_object_put(nodes);
    json_object_put(doc);
    return NULL;
}

/* True if hay contains needle, ASCII case ignored. */
static bool contains_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle), i;

    if (hay == NULL)
        return false;
    for (; *hay != '\0'; hay++) {
        for (i = 0; i < n && hay[i] != '\0'; i++) {
            char a = hay[i], b = needle[i];

            if (a >= 'A' && a <= 'Z')
                a = (char)(a - 'A' + 'a');
            if (b >= 'A' && b <= 'Z')
                b = (char)(b - 'A' + 'a');
            if (a != b)
                break;
        }
        if (i == n)
            return true;
    }
    return false;
}

static bool object_matches(const struct rn_snap_object *o, const char *query)
{
    char id[32];

    if (query == NULL || query[0] == '\0')
        return true;
    snprintf(id, sizeof(id), "%" PRIu64, o->so_id);
    if (strcmp(query + (query[0] == '#'), id) == 0)
        return true;
    return contains_nocase(o->so_type, query) || contains_nocase(o->so_desc, query);
}

struct json_object *rn__render_objects_json(const struct rn_snapshot *s, const char *query,
                                            const char *type, size_t max)
{
    struct json_object *doc = json_object_new_object(), *types = json_object_new_object();
    struct json_object *list = json_object_new_array();
    uint64_t matched = 0;
    uint32_t i;

    if (doc == NULL || types == NULL || list == NULL)
        goto out_oom;
    for (i = 0; i < s->s_nobjects; i++) {
        const struct rn_snap_object *o = &s->s_objects[i];
        const char *t = o->so_type ? o->so_type : "?";
        struct json_object *c;

        if (json_object_object_get_ex(types, t, &c))
            json_object_set_uint64(c, json_object_get_uint64(c) + 1);
        else
            put_u64(types, t, 1);
        if ((type != NULL && strcmp(type, t) != 0) || !object_matches(o, query))
            continue;
        if (matched++ < max) {
            struct json_object *ob = rn__render_object_json(s, o);

            if (ob == NULL)
                goto out_oom;
            json_object_array_add(list, ob);
        }
    }
    put_u64(doc, "now_ns", s->s_now);
    put_u64(doc, "total", s->s_nobjects);
    json_object_object_add(doc, "types", types);
    put_u64(doc, "matched", matched);
    json_object_object_add(doc, "objects", list);
    return doc;

out_oom:
    json_object_put(types);
    json_object_put(list);
    json_object_put(doc);
    return NULL;
}

struct json_object *rn__render_report_json(const struct rn_snapshot *s, const char *title)
{
    struct json_object *doc = json_object_new_object(), *misuse = json_object_new_object();
    struct json_object *waits = rn__render_waits_json(s);
    struct json_object *objects = rn__render_objects_json(s, NULL, NULL, RN_REPORT_OBJECTS_MAX);
    int i;

    if (doc == NULL || misuse == NULL || waits == NULL || objects == NULL) {
        json_object_put(doc);
        json_object_put(misuse);
        json_object_put(waits);
        json_object_put(objects);
        return NULL;
    }
    put_str(doc, "title", title);
    put_u64(doc, "now_ns", s->s_now);
    put_u64(doc, "threshold_ns", s->s_threshold);
    for (i = 0; i < RN_MISUSE_COUNT_; i++)
        if (s->s_misuse[i] != 0)
            put_u64(misuse, rn_ob_misuse_name((enum rn_misuse)i), s->s_misuse[i]);
    json_object_object_add(doc, "misuse", misuse);
    json_object_object_add(doc, "waits", waits);
    json_object_object_add(doc, "objects", objects);
    return doc;
}
