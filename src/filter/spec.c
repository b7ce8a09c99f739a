/*
 * The filter spec language (filter.h, rn_filter_parse()): one line of
 * comma-separated key=value fields parsed into a struct rn_filter_spec, and
 * the canonical form written back.  Pure functions: no stack, no state, so
 * the command line can check a spec before any daemon sees it.
 *
 * Every error is one line naming the field that is wrong and what would be
 * right, since specs come from people typing them.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "refnet/error.h"
#include "refnet/filter.h"
#include "wire/ipv4.h"

static const char *const layer_names[RN_FL_COUNT_] = {
    [RN_FL_INBOUND_IP] = "inbound-ip",
    [RN_FL_OUTBOUND_IP] = "outbound-ip",
    [RN_FL_INBOUND_TRANSPORT] = "inbound-transport",
    [RN_FL_OUTBOUND_TRANSPORT] = "outbound-transport",
    [RN_FL_CONNECT] = "connect",
    [RN_FL_LISTEN] = "listen",
    [RN_FL_ACCEPT] = "accept",
};

const char *rn_filter_layer_name(enum rn_filter_layer layer)
{
    return (unsigned)layer < RN_FL_COUNT_ ? layer_names[layer] : "?";
}

bool rn_filter_layer_can_pend(enum rn_filter_layer layer)
{
    return layer == RN_FL_CONNECT || layer == RN_FL_LISTEN || layer == RN_FL_ACCEPT;
}

bool rn_filter_layer_has_flow(enum rn_filter_layer layer)
{
    return layer == RN_FL_CONNECT || layer == RN_FL_LISTEN || layer == RN_FL_ACCEPT ||
           layer == RN_FL_INBOUND_TRANSPORT || layer == RN_FL_OUTBOUND_TRANSPORT;
}

/* The layers that exist only for TCP. */
static bool layer_tcp_only(enum rn_filter_layer layer)
{
    return rn_filter_layer_can_pend(layer);
}

static int spec_error(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int spec_error(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err != NULL && errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return RN_EINVAL;
}

/* ---- Values --------------------------------------------------------------- */

/* Parses a decimal number in lo..hi with nothing after it. */
static bool parse_num(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
    unsigned long v;
    char *end;

    if (!isdigit((unsigned char)s[0]))
        return false;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* Parses "P" or "P-Q" with 1 <= P <= Q <= 65535. */
static bool parse_ports(const char *s, uint16_t *lo, uint16_t *hi)
{
    char buf[16];
    const char *dash = strchr(s, '-');
    unsigned long a, b;

    if (strlen(s) >= sizeof(buf))
        return false;
    if (dash == NULL) {
        if (!parse_num(s, 1, 65535, &a))
            return false;
        *lo = *hi = (uint16_t)a;
        return true;
    }
    memcpy(buf, s, (size_t)(dash - s));
    buf[dash - s] = '\0';
    if (!parse_num(buf, 1, 65535, &a) || !parse_num(dash + 1, 1, 65535, &b) || a > b)
        return false;
    *lo = (uint16_t)a;
    *hi = (uint16_t)b;
    return true;
}

/* Parses "A.B.C.D[/N]" (N 0..32) or an IPv6 address "X:X::X[/N]" (N
 * 0..128) into an address of its family (IPv4 held mapped) and the prefix
 * length counted in that family's bits.  Returns 0, or RN_EINVAL with err. */
static int parse_prefix(const char *key, const char *val, struct rn_inaddr *addr,
                        uint8_t *plen, char *err, size_t errlen)
{
    char buf[RN_IP6_STRLEN + 8];
    const char *slash = strchr(val, '/');
    bool v6 = strchr(val, ':') != NULL;
    unsigned long n, max = v6 ? 128 : 32;
    const char *form = v6 ? "an IPv6 address X:X::X or X:X::X/N" : "A.B.C.D or A.B.C.D/N";
    const char *why = "";
    size_t alen = slash ? (size_t)(slash - val) : strlen(val);
    struct rn_inaddr a, net;
    uint32_t a4;

    if (alen >= sizeof(buf))
        return spec_error(err, errlen, "bad address '%.*s...' in '%s=': expected %s",
                          (int)(sizeof(buf) - 1), val, key, form);
    memcpy(buf, val, alen);
    buf[alen] = '\0';
    n = max;
    if (slash != NULL && !parse_num(slash + 1, 0, max, &n))
        return spec_error(err, errlen, "bad prefix length '%s' in '%s=%s': expected 0..%lu "
                          "for an %s address", slash + 1, key, val, max, v6 ? "IPv6" : "IPv4");
    if (v6) {
        if (rn_ip6_addr_parse(buf, &a.ia_ip6, &why) != 0)
            return spec_error(err, errlen, "bad IPv6 address '%s' in '%s=%s': %s", buf, key,
                              val, why);
        if (rn_inaddr_is_v4(&a))
            return spec_error(err, errlen, "'%s=%s' is IPv4-mapped: write an IPv4 address as "
                              "A.B.C.D", key, val);
        net.ia_ip6 = rn_ip6_net(&a.ia_ip6, (unsigned)n);
    } else {
        if (rn_ip4_addr_parse(buf, &a4, &why) != 0)
            return spec_error(err, errlen, "bad address '%s' in '%s=%s': %s; expected %s", buf,
                              key, val, why, form);
        a = rn_inaddr_v4(a4);
        net = rn_inaddr_v4(rn_ip4_net(a4, (unsigned)n));
    }
    if (!rn_inaddr_eq(&a, &net))
        return spec_error(err, errlen, "'%s=%s': host bits set beyond the /%lu prefix", key,
                          val, n);
    *addr = a;
    *plen = (uint8_t)n;
    return 0;
}

static bool callout_name_ok(const char *s)
{
    size_t n = strlen(s), i;

    if (n == 0 || n > RN_CALLOUT_NAME_MAX)
        return false;
    for (i = 0; i < n; i++) {
        if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '-' &&
            s[i] != '_')
            return false;
    }
    return true;
}

/* ---- Fields --------------------------------------------------------------- */

enum spec_key { K_LAYER, K_PROTO, K_LADDR, K_RADDR, K_LPORT, K_RPORT, K_ACTION, K_WEIGHT,
                K_ARG, K_COUNT_ };

static const char *const key_names[K_COUNT_] = {
    "layer", "proto", "laddr", "raddr", "lport", "rport", "action", "weight", "arg",
};

static int parse_field(struct rn_filter_spec *fs, enum spec_key k, const char *val,
                       char *err, size_t errlen)
{
    unsigned long v;
    int i;

    switch (k) {
    case K_LAYER:
        for (i = 0; i < RN_FL_COUNT_; i++) {
            if (strcmp(val, layer_names[i]) == 0) {
                fs->fs_layer = (enum rn_filter_layer)i;
                return 0;
            }
        }
        return spec_error(err, errlen, "unknown layer '%s' in 'layer=%s' (layers: "
                          "inbound-ip, outbound-ip, inbound-transport, outbound-transport, "
                          "connect, listen, accept)", val, val);
    case K_PROTO:
        if (strcmp(val, "any") == 0)
            return 0;
        fs->fs_match |= RN_FS_PROTO;
        if (strcmp(val, "tcp") == 0)
            fs->fs_proto = RN_IPPROTO_TCP;
        else if (strcmp(val, "udp") == 0)
            fs->fs_proto = RN_IPPROTO_UDP;
        else if (strcmp(val, "icmp") == 0)
            fs->fs_proto = RN_IPPROTO_ICMP;
        else if (strcmp(val, "icmpv6") == 0 || strcmp(val, "icmp6") == 0)
            fs->fs_proto = RN_IPPROTO_ICMPV6;
        else
            return spec_error(err, errlen, "unknown protocol '%s' in 'proto=%s' (tcp, udp, "
                              "icmp, icmpv6 or any)", val, val);
        return 0;
    case K_LADDR:
        fs->fs_match |= RN_FS_LADDR;
        return parse_prefix("laddr", val, &fs->fs_laddr, &fs->fs_lplen, err, errlen);
    case K_RADDR:
        fs->fs_match |= RN_FS_RADDR;
        return parse_prefix("raddr", val, &fs->fs_raddr, &fs->fs_rplen, err, errlen);
    case K_LPORT:
    case K_RPORT:
        fs->fs_match |= k == K_LPORT ? RN_FS_LPORT : RN_FS_RPORT;
        if (!parse_ports(val, k == K_LPORT ? &fs->fs_lport_lo : &fs->fs_rport_lo,
                         k == K_LPORT ? &fs->fs_lport_hi : &fs->fs_rport_hi))
            return spec_error(err, errlen, "bad port '%s' in '%s=%s': expected P or P-Q in "
                              "1..65535", val, key_names[k], val);
        return 0;
    case K_ACTION:
        if (strcmp(val, "permit") == 0) {
            fs->fs_action = RN_FA_PERMIT;
        } else if (strcmp(val, "block") == 0) {
            fs->fs_action = RN_FA_BLOCK;
        } else if (strncmp(val, "callout:", 8) == 0) {
            if (!callout_name_ok(val + 8))
                return spec_error(err, errlen, "bad callout name '%s' in 'action=%s': 1..%d "
                                  "characters of a-z, 0-9, '-', '_'", val + 8, val,
                                  RN_CALLOUT_NAME_MAX);
            fs->fs_action = RN_FA_CALLOUT;
            snprintf(fs->fs_callout, sizeof(fs->fs_callout), "%s", val + 8);
        } else {
            return spec_error(err, errlen, "unknown action '%s' in 'action=%s' (permit, "
                              "block or callout:NAME)", val, val);
        }
        return 0;
    case K_WEIGHT:
        if (!parse_num(val, 0, 65535, &v))
            return spec_error(err, errlen, "bad weight '%s' in 'weight=%s': expected 0..65535",
                              val, val);
        fs->fs_weight = (uint16_t)v;
        return 0;
    case K_ARG:
        if (strlen(val) > RN_FILTER_ARG_MAX)
            return spec_error(err, errlen, "'arg=' is longer than %d characters",
                              RN_FILTER_ARG_MAX);
        snprintf(fs->fs_arg, sizeof(fs->fs_arg), "%s", val);
        return 0;
    default:
        return RN_EINVAL;
    }
}

/* Checks the fields against each other once all are in. */
static int check_spec(const struct rn_filter_spec *fs, const bool *seen, char *err,
                      size_t errlen)
{
    const char *layer = layer_names[fs->fs_layer];
    bool ports = (fs->fs_match & (RN_FS_LPORT | RN_FS_RPORT)) != 0;

    if (!seen[K_LAYER])
        return spec_error(err, errlen, "missing 'layer=' (e.g. layer=inbound-transport)");
    if (!seen[K_ACTION])
        return spec_error(err, errlen, "missing 'action=' (permit, block or callout:NAME)");
    if (layer_tcp_only(fs->fs_layer) && (fs->fs_match & RN_FS_PROTO) &&
        fs->fs_proto != RN_IPPROTO_TCP)
        return spec_error(err, errlen, "layer %s is TCP only: proto must be tcp or any", layer);
    if (ports && (fs->fs_match & RN_FS_PROTO) &&
        (fs->fs_proto == RN_IPPROTO_ICMP || fs->fs_proto == RN_IPPROTO_ICMPV6))
        return spec_error(err, errlen, "proto=%s has no ports: drop '%s='",
                          fs->fs_proto == RN_IPPROTO_ICMP ? "icmp" : "icmpv6",
                          (fs->fs_match & RN_FS_LPORT) ? "lport" : "rport");
    if ((fs->fs_match & RN_FS_LADDR) && (fs->fs_match & RN_FS_RADDR) &&
        rn_inaddr_is_v4(&fs->fs_laddr) != rn_inaddr_is_v4(&fs->fs_raddr))
        return spec_error(err, errlen, "laddr is %s and raddr %s: a filter matches one "
                          "family", rn_inaddr_is_v4(&fs->fs_laddr) ? "IPv4" : "IPv6",
                          rn_inaddr_is_v4(&fs->fs_raddr) ? "IPv4" : "IPv6");
    if ((fs->fs_match & RN_FS_PROTO) &&
        (fs->fs_proto == RN_IPPROTO_ICMP || fs->fs_proto == RN_IPPROTO_ICMPV6) &&
        (fs->fs_match & (RN_FS_LADDR | RN_FS_RADDR))) {
        const struct rn_inaddr *a = (fs->fs_match & RN_FS_LADDR) ? &fs->fs_laddr
                                                                  : &fs->fs_raddr;

        if (rn_inaddr_is_v4(a) != (fs->fs_proto == RN_IPPROTO_ICMP))
            return spec_error(err, errlen, "proto=%s is %s's, but the address is %s: use "
                              "proto=%s", fs->fs_proto == RN_IPPROTO_ICMP ? "icmp" : "icmpv6",
                              fs->fs_proto == RN_IPPROTO_ICMP ? "IPv4" : "IPv6",
                              rn_inaddr_is_v4(a) ? "IPv4" : "IPv6",
                              rn_inaddr_is_v4(a) ? "icmp" : "icmpv6");
    }
    if (fs->fs_layer == RN_FL_LISTEN && (fs->fs_match & (RN_FS_RADDR | RN_FS_RPORT)))
        return spec_error(err, errlen, "layer listen has no remote side: drop '%s='",
                          (fs->fs_match & RN_FS_RADDR) ? "raddr" : "rport");
    if (seen[K_ARG] && fs->fs_action != RN_FA_CALLOUT)
        return spec_error(err, errlen, "'arg=%s' is for callouts: the action is not "
                          "callout:NAME", fs->fs_arg);
    return 0;
}

int rn_filter_parse(const char *text, struct rn_filter_spec *out, char *err, size_t errlen)
{
    struct rn_filter_spec fs;
    bool seen[K_COUNT_] = {false};
    const char *p = text;
    char field[RN_FILTER_ARG_MAX + 64];

    memset(&fs, 0, sizeof(fs));
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (text == NULL || text[strspn(text, " \t")] == '\0')
        return spec_error(err, errlen, "empty filter spec (e.g. "
                          "layer=inbound-transport,proto=udp,lport=7,action=block)");
    /* Printable ASCII only (tabs pass as spaces), so that every message
     * that quotes the spec stays one line of plain text. */
    for (p = text; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;

        if ((c < 0x20 && c != '\t') || c >= 0x7f)
            return spec_error(err, errlen, "byte 0x%02x at offset %zu: a filter spec is "
                              "printable ASCII", c, (size_t)(p - text));
    }
    p = text;
    for (;;) {
        const char *end = strchr(p, ','), *eq, *val;
        size_t n = end ? (size_t)(end - p) : strlen(p);
        int k, e;

        /* One field, trimmed. */
        while (n > 0 && (*p == ' ' || *p == '\t')) {
            p++;
            n--;
        }
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (n == 0)
            return spec_error(err, errlen, "empty field in '%s' (fields are separated by one "
                              "comma)", text);
        if (n >= sizeof(field))
            return spec_error(err, errlen, "field '%.24s...' is too long", p);
        memcpy(field, p, n);
        field[n] = '\0';
        eq = strchr(field, '=');
        if (eq == NULL)
            return spec_error(err, errlen, "'%s' is not key=value", field);
        val = eq + 1;
        for (k = 0; k < K_COUNT_; k++) {
            if (strlen(key_names[k]) == (size_t)(eq - field) &&
                strncmp(field, key_names[k], (size_t)(eq - field)) == 0)
                break;
        }
        if (k == K_COUNT_)
            return spec_error(err, errlen, "unknown key '%.*s' in '%s' (keys: layer, proto, "
                              "laddr, raddr, lport, rport, action, weight, arg)",
                              (int)(eq - field), field, field);
        if (seen[k])
            return spec_error(err, errlen, "'%s=' given twice", key_names[k]);
        seen[k] = true;
        if (val[0] == '\0')
            return spec_error(err, errlen, "'%s=' has no value", key_names[k]);
        e = parse_field(&fs, (enum spec_key)k, val, err, errlen);
        if (e != 0)
            return e;
        if (end == NULL)
            break;
        p = end + 1;
    }
    if (check_spec(&fs, seen, err, errlen) != 0)
        return RN_EINVAL;
    *out = fs;
    return 0;
}

/* ---- Canonical form ------------------------------------------------------- */

static void put_prefix(char *buf, size_t len, size_t *at, const char *key,
                       const struct rn_inaddr *addr, uint8_t plen)
{
    char a[RN_IP6_STRLEN];

    /* An IPv4 address as a dotted quad, an IPv6 one in RFC 5952 form. */
    rn_inaddr_fmt(addr, a);
    if (*at < len) {
        if (plen == (rn_inaddr_is_v4(addr) ? 32 : 128))
            *at += (size_t)snprintf(buf + *at, len - *at, ",%s=%s", key, a);
        else
            *at += (size_t)snprintf(buf + *at, len - *at, ",%s=%s/%u", key, a, plen);
    }
}

static void put_ports(char *buf, size_t len, size_t *at, const char *key, uint16_t lo,
                      uint16_t hi)
{
    if (*at >= len)
        return;
    if (lo == hi)
        *at += (size_t)snprintf(buf + *at, len - *at, ",%s=%u", key, lo);
    else
        *at += (size_t)snprintf(buf + *at, len - *at, ",%s=%u-%u", key, lo, hi);
}

void rn_filter_spec_format(const struct rn_filter_spec *fs, char *buf, size_t len)
{
    size_t at;

    if (len == 0)
        return;
    at = (size_t)snprintf(buf, len, "layer=%s", rn_filter_layer_name(fs->fs_layer));
    if ((fs->fs_match & RN_FS_PROTO) && at < len)
        at += (size_t)snprintf(buf + at, len - at, ",proto=%s",
                               fs->fs_proto == RN_IPPROTO_TCP    ? "tcp"
                               : fs->fs_proto == RN_IPPROTO_UDP  ? "udp"
                               : fs->fs_proto == RN_IPPROTO_ICMP ? "icmp"
                                                                 : "icmpv6");
    if (fs->fs_match & RN_FS_LADDR)
        put_prefix(buf, len, &at, "laddr", &fs->fs_laddr, fs->fs_lplen);
    if (fs->fs_match & RN_FS_RADDR)
        put_prefix(buf, len, &at, "raddr", &fs->fs_raddr, fs->fs_rplen);
    if (fs->fs_match & RN_FS_LPORT)
        put_ports(buf, len, &at, "lport", fs->fs_lport_lo, fs->fs_lport_hi);
    if (fs->fs_match & RN_FS_RPORT)
        put_ports(buf, len, &at, "rport", fs->fs_rport_lo, fs->fs_rport_hi);
    if (at < len)
        at += (size_t)snprintf(buf + at, len - at, ",action=%s%s",
                               fs->fs_action == RN_FA_PERMIT  ? "permit"
                               : fs->fs_action == RN_FA_BLOCK ? "block"
                                                              : "callout:",
                               fs->fs_action == RN_FA_CALLOUT ? fs->fs_callout : "");
    if (fs->fs_weight != 0 && at < len)
        at += (size_t)snprintf(buf + at, len - at, ",weight=%u", fs->fs_weight);
    if (fs->fs_arg[0] != '\0' && at < len)
        at += (size_t)snprintf(buf + at, len - at, ",arg=%s", fs->fs_arg);
    (void)at;
}
