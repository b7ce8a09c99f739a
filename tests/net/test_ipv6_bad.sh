#!/usr/bin/env bash
# Hostile IPv6 from the Linux side of the TAP (ipv6_bad.py), in a namespace
# of its own (lib.sh, net_v6):
#   - malformed fixed headers and extension chains, each dropped under its
#     named reason and counted exactly: payload length past the frame,
#     truncation, the wrong version, a multicast source, routing type 0
#     with segments left (RFC 5095) and another routing type, unknown
#     options by their action bits, hop-by-hop after another header, an
#     extension header past the datagram, overlapping fragments (RFC 5722:
#     both dropped) and a bad one, an unknown next header, no next header,
#     a neighbour solicitation with a hop limit below 255, a bad ICMPv6
#     checksum, another host's address;
#   - where RFC 8200 says to answer, Linux receives exactly that many
#     ICMPv6 parameter problems; the chains refnet must walk past (routing
#     header with no segments left, an option to skip, an atomic fragment)
#     are answered with echo replies;
#   - ICMPv6 errors are rate limited: 300 datagrams of an unknown next
#     header at once get at most the bucket's worth of answers, and Linux
#     receives exactly the ones refnet says it sent;
#   - a flood of 3000 neighbour solicitations from unknown sources: the
#     neighbour cache stays within its bound (1024 entries), the entry of
#     Linux's address refnet resolved and used stays, and Linux's pings
#     are still answered.
# The daemon then shuts down cleanly with no leak (lib.sh).
. "$(dirname "$0")/lib.sh"
net_v6=1
net_setup ipv6_bad
net_start
net_wait_dad
mac=$(net_mac)

out=$(nsx ping -6 -n -q -c 3 -i 0.05 -W 2 2001:2::2 2>&1) || bad "pings before: $out"
snmp6() { nsx awk -v k="$1" '$1 == k { print $2 }' /proc/net/snmp6; }

net_stat "$dir/s0.json"
pp0=$(snmp6 Icmp6InParmProblems)
er0=$(snmp6 Icmp6InEchoReplies)
nsx timeout 60 "$py" "$here/ipv6_bad.py" rn0 "$mac" cases "$dir/cases.json" ||
    die "the frames were not sent"
sleep 0.5
net_stat "$dir/s1.json"
pp1=$(snmp6 Icmp6InParmProblems)
er1=$(snmp6 Icmp6InEchoReplies)
"$py" - "$dir/s0.json" "$dir/s1.json" "$dir/cases.json" <<'PY' || fail=1
import json, sys
from rnjson import drops
s0, s1, c = (json.load(open(p)) for p in sys.argv[1:4])
d0, d1 = drops(s0), drops(s1)
ok = True
for reason in sorted(set(d1) | set(c["expect"])):
    got = d1.get(reason, 0) - d0.get(reason, 0)
    want = c["expect"].get(reason, 0)
    # Linux's MLD reports may add not_for_us drops of their own.
    if got != want and not (reason == "not_for_us" and got >= want):
        print("FAIL: %s grew by %d, want %d" % (reason, got, want))
        ok = False
sys.exit(0 if ok else 1)
PY
want_pp=$(jq_py "$dir/cases.json" 'j["param_problems"]')
want_er=$(jq_py "$dir/cases.json" 'j["echo_replies"]')
[ $((pp1 - pp0)) = "$want_pp" ] || bad "Linux received $((pp1 - pp0)) parameter problems, want $want_pp"
[ $((er1 - er0)) = "$want_er" ] || bad "Linux received $((er1 - er0)) echo replies, want $want_er"

# Rate limit.
sleep 0.2
net_stat "$dir/s2.json"
pp2=$(snmp6 Icmp6InParmProblems)
nsx timeout 60 "$py" "$here/ipv6_bad.py" rn0 "$mac" ratelimit "$dir/rl.json" || die "ratelimit frames"
sleep 0.5
net_stat "$dir/s3.json"
pp3=$(snmp6 Icmp6InParmProblems)
d() { echo $(( $(jq_py "$dir/$2.json" "$1") - $(jq_py "$dir/$3.json" "$1") )); }
limited=$(d 'proto(j,"icmp6.ratelimited")' s3 s2)
sent=$(d 'proto(j,"icmp6.out")' s3 s2)
got=$((pp3 - pp2))
[ "$limited" -gt 0 ] || bad "300 errors at once: none rate limited"
[ $((sent + limited)) = 300 ] || bad "icmp6.out grew by $sent and icmp6.ratelimited by $limited: not 300"
[ "$got" = "$sent" ] || bad "Linux received $got parameter problems, refnet sent $sent"
echo "rate limit: 300 errors due, $sent sent, $limited held back"

# Neighbour solicitation flood.
nsx timeout 60 "$py" "$here/ipv6_bad.py" rn0 "$mac" ndflood "$dir/flood.json" || die "flood"
sleep 0.5
net_alive
rn neigh --json >"$dir/neigh.json"
n6=$(jq_py "$dir/neigh.json" 'len([e for e in j if e["family"] == "ipv6"])')
keep=$(jq_py "$dir/neigh.json" '[e["state"] for e in j if e["address"] == "2001:2::1"]')
echo "after the flood: $n6 IPv6 neighbour entries; 2001:2::1: $keep"
[ "$n6" -le 1024 ] || bad "$n6 IPv6 neighbour entries, over the bound of 1024"
[ "$n6" -ge 1000 ] || bad "only $n6 IPv6 neighbour entries: the flood's senders were not learned"
case "$keep" in
"['REACHABLE']" | "['STALE']" | "['DELAY']" | "['PROBE']") ;;
*) bad "the entry of 2001:2::1 did not stay: $keep" ;;
esac
out=$(nsx ping -6 -n -q -c 5 -i 0.05 -W 2 2001:2::2 2>&1)
grep -q "5 packets transmitted, 5 received, 0% packet loss" <<<"$out" ||
    bad "pings after the flood: $out"

net_done "IPv6 hostile input: every bad frame dropped under its reason, errors answered and rate limited, the neighbour cache held"
