#!/usr/bin/env bash
# MLDv2 reports against a Linux bridge that snoops MLD and is the link's
# querier (lib.sh's net_v6, with rn0 a port of br0 in the namespace):
#   - the bridge learns from refnet's reports the solicited-node groups of
#     both its addresses (its link-local one and 2001:2::2), on port rn0
#     (`bridge mdb show`);
#   - refnet answers the bridge's general queries (mld.queries_in counts
#     them, and mld.reports_out grows past the two reports of its joins).
# The daemon then shuts down cleanly with no leak (lib.sh).  About 5 s.
. "$(dirname "$0")/lib.sh"
net_v6=1
net_setup ipv6_mld
net_tap_up
# Queries every second at startup, answers wanted within one.
nsx ip link add br0 type bridge mcast_snooping 1 mcast_querier 1 mcast_query_interval 300 \
    mcast_startup_query_interval 100 mcast_query_response_interval 100 ||
    die "cannot make the bridge br0"
nsx sysctl -qw net.ipv6.conf.br0.accept_dad=0
nsx ip link set rn0 master br0 || die "cannot make rn0 a port of br0"
nsx ip link set br0 up || die "cannot bring br0 up"
net_launch
net_wait_dad

rn ifconfig --json >"$dir/if.json"
groups=$(jq_py "$dir/if.json" '" ".join(sorted(set("ff02::1:ff%02x:%02x%02x" % tuple(__import__("ipaddress").IPv6Address(a["addr"]).packed[13:]) for a in j[0]["addr6"])))')
groups=$("$py" -c 'import ipaddress, sys; print(" ".join(str(ipaddress.IPv6Address(g)) for g in sys.argv[1:]))' $groups)
mdb=
for i in $(seq 50); do
    mdb=$(nsx bridge mdb show dev br0)
    ok=1
    for g in $groups; do
        grep -q "port rn0 grp $g " <<<"$mdb " || ok=0
    done
    [ "$ok" = 1 ] && break
    sleep 0.1
done
[ "$ok" = 1 ] || bad "the bridge did not learn $groups on rn0: $mdb"
q=0
for i in $(seq 50); do
    net_stat "$dir/s.json"
    q=$(jq_py "$dir/s.json" 'proto(j,"mld.queries_in")')
    r=$(jq_py "$dir/s.json" 'proto(j,"mld.reports_out")')
    [ "$q" -ge 2 ] && [ "$r" -ge 3 ] && break
    sleep 0.1
done
[ "$q" -ge 2 ] || bad "mld.queries_in $q: the bridge's queries not taken"
[ "$r" -ge 3 ] || bad "mld.reports_out $r: queries not answered"
[ "$(jq_py "$dir/s.json" 'drops(j).get("bad_mld", 0)')" = 0 ] || bad "queries dropped as bad_mld"

net_done "MLDv2: the snooping bridge learnt refnet's groups ($groups), queries answered"
