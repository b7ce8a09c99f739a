/*
 * Rendering of the rows of `refnet netstat` (netstat.h): one format for
 * every transport, used by rn_tcp_render_netstat(), rn_udp_render_netstat()
 * and the daemon's netstat command.
 */
#include <inttypes.h>
#include <stdio.h>

#include "refnet/object.h"
#include "refnet/strbuf.h"
#include "transport/netstat.h"
#include "wire/ipv4.h"

void rn_netstat_render_header(struct rn_strbuf *sb, bool with_id)
{
    rn_strbuf_printf(sb, "%-5s %-22s %-22s %-12s %7s %7s %5s%s\n", "Proto", "Local Address",
                     "Foreign Address", "State", "Send-Q", "Recv-Q", "Refs",
                     with_id ? "  Id" : "");
}

void rn_netstat_render_row(struct rn_strbuf *sb, const struct rn_netstat_row *row, bool json,
                           bool with_id, bool *first)
{
    char l[RN_IP4_STRLEN], f[RN_IP4_STRLEN], ls[32], fs[32];
    uint64_t id = rn_ob_id(row->nr_ob);
    unsigned refs = rn_ob_refcount(row->nr_ob) - row->nr_own_refs;

    rn_ip4_addr_fmt(row->nr_laddr, l);
    rn_ip4_addr_fmt(row->nr_faddr, f);
    snprintf(ls, sizeof(ls), "%s:%u", l, row->nr_lport);
    if (row->nr_faddr == 0 && row->nr_fport == 0)
        snprintf(fs, sizeof(fs), "*:*");
    else
        snprintf(fs, sizeof(fs), "%s:%u", f, row->nr_fport);
    if (json) {
        rn_strbuf_printf(sb,
                         "%s{\"proto\":\"%s\",\"local\":\"%s\",\"remote\":\"%s\","
                         "\"state\":\"%s\",\"sendq\":%" PRIu32 ",\"recvq\":%" PRIu32
                         ",\"id\":%" PRIu64 ",\"refs\":%u}",
                         *first ? "" : ",", row->nr_proto, ls, fs, row->nr_state,
                         row->nr_sendq, row->nr_recvq, id, refs);
    } else {
        rn_strbuf_printf(sb, "%-5s %-22s %-22s %-12s %7" PRIu32 " %7" PRIu32 " %5u", row->nr_proto,
                         ls, fs, row->nr_state, row->nr_sendq, row->nr_recvq, refs);
        if (with_id)
            rn_strbuf_printf(sb, "  #%" PRIu64, id);
        rn_strbuf_puts(sb, "\n");
    }
    *first = false;
}
