#!/usr/bin/env bash
# IPv6 against Linux over the TAP (2001:2::/64, lib.sh's net_v6):
#   - the daemon's addresses pass duplicate address detection: its global
#     address 2001:2::2/64 and its link-local one, made from its MAC as
#     Linux would make it, both "preferred" in `refnet ifconfig`;
#   - Linux's ping -6 to the global address, 50 pings 10 ms apart, every
#     one answered; 5 pings of 1400 bytes; 3 of 3000 and 3 of 65000
#     bytes, in fragments both ways; 3 pings to the link-local
#     address; refnet resolved Linux through neighbour discovery and Linux
#     resolved refnet (both neighbour tables hold the other's MAC);
#   - refnet pings Linux (`refnet ping`): its global and link-local IPv6
#     addresses and its IPv4 one answer every request; an address nobody
#     holds answers none; a bad address is a usage error;
#   - `refnet neigh` shows the IPv6 neighbour entry, an object with its
#     holder "nd-table" as ARP entries have theirs (`refnet refs`, and
#     `refnet analyze` of a dump), `refnet route` the on-link prefixes;
#   - the counters agree (icmp6.echo_replies) and nothing IPv6 was dropped
#     but Linux's MLD reports (not_for_us: refnet joins no MLD group).
# The daemon then shuts down cleanly with no leak (lib.sh).
. "$(dirname "$0")/lib.sh"
net_v6=1
net_setup ipv6_ping
net_start
net_wait_dad

rn ifconfig --json >"$dir/if.json"
mac=$(jq_py "$dir/if.json" 'j[0]["mac"]')
ll=$("$py" -c '
import sys, ipaddress
m = [int(x, 16) for x in sys.argv[1].split(":")]
m[0] ^= 2
b = bytes([0xfe, 0x80] + [0] * 6 + m[:3] + [0xff, 0xfe] + m[3:])
print(ipaddress.IPv6Address(b))' "$mac")
addrs=$(jq_py "$dir/if.json" '" ".join(a["addr"] + "/" + str(a["plen"]) + "=" + a["state"] for a in j[0]["addr6"])')
[ "$addrs" = "$ll/64=preferred 2001:2::2/64=preferred" ] ||
    bad "refnet's IPv6 addresses: '$addrs', want '$ll/64=preferred 2001:2::2/64=preferred'"

net_stat "$dir/s0.json"
out=$(nsx ping -6 -n -q -c 50 -i 0.01 -W 2 2001:2::2 2>&1)
grep -q "50 packets transmitted, 50 received, 0% packet loss" <<<"$out" ||
    bad "50 pings to 2001:2::2: $out"
out=$(nsx ping -6 -n -c 5 -i 0.05 -W 2 -s 1400 2001:2::2 2>&1)
n=$(grep -c "^1408 bytes from 2001:2::2" <<<"$out")
[ "$n" = 5 ] || bad "$n of 5 pings of 1400 bytes answered in full: $out"
# Fragments both ways: 3000 bytes (3 fragments each way at MTU 1500) and
# 65000 (45): refnet reassembles Linux's and fragments its replies.
for size in 3000 65000; do
    out=$(nsx ping -6 -n -c 3 -i 0.1 -W 2 -s $size 2001:2::2 2>&1)
    n=$(grep -c "^$((size + 8)) bytes from 2001:2::2" <<<"$out")
    [ "$n" = 3 ] || bad "$n of 3 pings of $size bytes answered in full: $out"
done
out=$(nsx ping -6 -n -q -c 3 -i 0.05 -W 2 "$ll%rn0" 2>&1)
grep -q "3 packets transmitted, 3 received, 0% packet loss" <<<"$out" ||
    bad "3 pings to $ll%rn0: $out"
net_stat "$dir/s1.json"

d() { echo $(( $(jq_py "$dir/s1.json" "$1") - $(jq_py "$dir/s0.json" "$1") )); }
[ "$(d 'proto(j,"icmp6.echo_replies")')" = 64 ] ||
    bad "icmp6.echo_replies grew by $(d 'proto(j,"icmp6.echo_replies")'), want 64"
[ "$(d 'proto(j,"ip6.reassembled")')" = 6 ] ||
    bad "ip6.reassembled grew by $(d 'proto(j,"ip6.reassembled")'), want 6"
[ "$(d 'proto(j,"ip6.frag_out")')" = $((3 * 3 + 3 * 45)) ] ||
    bad "ip6.frag_out grew by $(d 'proto(j,"ip6.frag_out")'), want $((3 * 3 + 3 * 45))"
drops=$(jq_py "$dir/s1.json" '{k: v for k, v in drops(j).items() if k != "not_for_us"}')
[ "$drops" = "{}" ] || bad "frames were dropped: $drops"

# Both sides know each other's link address.
rn neigh --json >"$dir/neigh.json"
ent=$(jq_py "$dir/neigh.json" '" ".join(e["address"] + "=" + e["state"] + "=" + e["family"] for e in j if e["family"] == "ipv6")')
linux_mac=$(nsx cat /sys/class/net/rn0/address)
grep -Eq "2001:2::1=(REACHABLE|STALE|DELAY|PROBE)=ipv6" <<<"$ent" || bad "refnet neigh: no resolved 2001:2::1: $ent"
hw=$(jq_py "$dir/neigh.json" '[e["hwaddr"] for e in j if e["address"] == "2001:2::1"][0]')
[ "$hw" = "$linux_mac" ] || bad "refnet has $hw for 2001:2::1, Linux's rn0 is $linux_mac"
out=$(nsx ip -6 neigh show dev rn0)
grep -q "^2001:2::2 lladdr $mac" <<<"$out" ||
    bad "Linux has no neighbour entry for 2001:2::2 at $mac: $out"
out=$(rn neigh)
grep -q "^2001:2::1 .*$linux_mac" <<<"$out" || bad "refnet neigh (text): $out"
out=$(rn objects 2>&1 | grep "nd entry" || true)
grep -q "nd entry 2001:2::1 $linux_mac rn0" <<<"$out" || bad "no nd entry object: $out"
# The entry's holders, live and from a dump.
id=$(sed -nE 's/.*nd entry 2001:2::1 .* #([0-9]+) .*/\1/p' <<<"$out" | head -1)
[ -n "$id" ] || bad "no id for the nd entry: $out"
out=$(rn refs "$id" 2>&1)
grep -q "^  nd-table     1 " <<<"$out" || bad "refnet refs $id: $out"
rn dump "$dir/nd.dump" >/dev/null || bad "dump failed"
out=$("$refnet" analyze "$dir/nd.dump" --object "$id" 2>&1)
grep -q "nd-table .*(expected: the IPv6 neighbour cache's, until the entry goes)" <<<"$out" ||
    bad "refnet analyze --object $id: $out"

# refnet pings Linux: its global and link-local addresses, and over IPv4.
out=$(rn ping 2001:2::1 5 2>&1) || bad "refnet ping 2001:2::1 failed: $out"
grep -q "^5 packets transmitted, 5 received" <<<"$out" || bad "refnet ping 2001:2::1: $out"
[ "$(grep -c "^64 bytes from 2001:2::1: seq=[1-5] hlim=64 " <<<"$out")" = 5 ] ||
    bad "refnet ping 2001:2::1, replies: $out"
linux_ll=$(nsx ip -6 -o addr show dev rn0 scope link | awk '{ sub("/.*", "", $4); print $4 }')
out=$(rn ping "$linux_ll" 2 2>&1) || bad "refnet ping $linux_ll failed: $out"
grep -q "^2 packets transmitted, 2 received" <<<"$out" || bad "refnet ping $linux_ll: $out"
out=$(rn ping 198.18.0.1 2 2>&1) || bad "refnet ping 198.18.0.1 failed: $out"
grep -q "^2 packets transmitted, 2 received" <<<"$out" || bad "refnet ping 198.18.0.1: $out"
out=$(rn ping 2001:2::9 1 2>&1) && bad "refnet ping 2001:2::9 (nobody) succeeded: $out"
grep -q "^1 packets transmitted, 0 received" <<<"$out" || bad "refnet ping 2001:2::9: $out"
out=$(rn ping 2001:2::zz 2>&1); st=$?
[ "$st" = 2 ] && grep -q "'2001:2::zz': a group has no hex digit" <<<"$out" ||
    bad "refnet ping 2001:2::zz: status $st: $out"

out=$(rn route)
grep -q "^2001:2::/64 " <<<"$out" || bad "refnet route has no 2001:2::/64: $out"
grep -q "^fe80::/64 " <<<"$out" || bad "refnet route has no fe80::/64: $out"
out=$(rn ifconfig)
grep -q "inet6 2001:2::2/64  preferred" <<<"$out" || bad "refnet ifconfig: $out"

net_done "IPv6: DAD passed, 64 pings answered over NDP (6 in fragments), neigh, route, ifconfig agree"
