#!/usr/bin/env bash
# IPv6 router discovery against a Linux router (lib.sh's net_v6): the
# namespace of rn0 forwards IPv6 and runs radvd on rn0, advertising
# 2001:2:0:1::/64 (on-link, autonomous) and a link MTU of 1280; a second
# namespace, "far", holds 2001:2:0:5::9 behind it on a veth pair.
#   - the daemon solicits, forms a SLAAC address in 2001:2:0:1::/64 from
#     its MAC (preferred after DAD), takes the advertised MTU (mtu6 1280 in
#     `refnet ifconfig --json`) and installs the router as its default: `refnet route` shows ::/0 via the router's link-local
#     address and the prefix, both objects (id, holder "route-table");
#   - `refnet ping 2001:2:0:5::9` goes through the router and is answered;
#     far pings the SLAAC address with 1400 bytes and every reply comes
#     back in fragments of the advertised 1280 (ip6.frag_out counts 2 per
#     reply, where the TAP's 1500 would need none);
#   - an RA flood: 300 advertisements from made-up routers (scapy), each
#     with 4 new autonomous prefixes: the router list stays at 8, the
#     prefix list at 16, the SLAAC addresses at 4, the excess counted under
#     ra_router_limit, ra_prefix_limit and slaac_addr_limit; the daemon
#     still pings through the real router, which keeps the traffic.
# The daemon then shuts down cleanly with no leak (lib.sh).  About 15 s.
. "$(dirname "$0")/lib.sh"
net_v6=1
net_setup ipv6_router
command -v radvd >/dev/null || die "radvd is missing (scripts/deps.sh installs it)"
net_tap_up
nsx sysctl -qw net.ipv6.conf.all.forwarding=1 || die "cannot turn forwarding on"
# The router's own address in the prefix it advertises: its route there.
nsx ip addr add 2001:2:0:1::1/64 dev rn0 nodad || die "cannot give rn0 2001:2:0:1::1"
net_ns_add far
far=$net_ns_last
ip link add rtr0 netns "$ns" type veth peer name far0 netns "$far" || die "cannot make the veth pair"
nsx sysctl -qw net.ipv6.conf.rtr0.accept_dad=0
ip netns exec "$far" sysctl -qw net.ipv6.conf.far0.accept_dad=0
nsx ip addr add 2001:2:0:5::1/64 dev rtr0 nodad || die "cannot address rtr0"
nsx ip link set rtr0 up || die "cannot bring rtr0 up"
ip -n "$far" addr add 2001:2:0:5::9/64 dev far0 nodad || die "cannot address far0"
ip -n "$far" link set far0 up || die "cannot bring far0 up"
ip -n "$far" -6 route add default via 2001:2:0:5::1 dev far0 || die "cannot route far"
cat >"$dir/radvd.conf" <<'EOF'
interface rn0 {
    AdvSendAdvert on;
    MinRtrAdvInterval 3;
    MaxRtrAdvInterval 10;
    AdvDefaultLifetime 600;
    AdvLinkMTU 1280;
    AdvCurHopLimit 64;
    prefix 2001:2:0:1::/64 {
        AdvOnLink on;
        AdvAutonomous on;
        AdvValidLifetime 3600;
        AdvPreferredLifetime 1800;
    };
};
EOF
net_bg radvd -n -C "$dir/radvd.conf" -p "$dir/radvd.pid" -m stderr 2>"$dir/radvd.log"
net_launch

# The SLAAC address: the prefix and the modified EUI-64 of the MAC.
rn ifconfig --json >"$dir/if.json"
mac=$(jq_py "$dir/if.json" 'j[0]["mac"]')
slaac=$("$py" -c '
import sys, ipaddress
m = [int(x, 16) for x in sys.argv[1].split(":")]
m[0] ^= 2
b = bytes([0x20, 0x01, 0, 2, 0, 0, 0, 1] + m[:3] + [0xff, 0xfe] + m[3:])
print(ipaddress.IPv6Address(b))' "$mac")
state=
for i in $(seq 100); do
    state=$(rn ifconfig --json | "$py" -c '
import json, sys
print(" ".join(a["state"] for i in json.load(sys.stdin) for a in i.get("addr6", []) if a["addr"] == sys.argv[1]))' "$slaac")
    [ "$state" = preferred ] && break
    sleep 0.1
done
[ "$state" = preferred ] || die "no preferred SLAAC address $slaac within 10 s (state '$state'): $(rn ifconfig)"

mtu6=$(rn ifconfig --json | "$py" -c 'import json, sys; print(json.load(sys.stdin)[0].get("mtu6"))')
[ "$mtu6" = 1280 ] || bad "refnet ifconfig --json: mtu6 $mtu6, want the advertised 1280"

router_ll=$(nsx ip -6 -o addr show dev rn0 scope link | awk '{ sub("/.*", "", $4); print $4 }')
rn route --json >"$dir/route.json"
dflt=$(jq_py "$dir/route.json" '" ".join(r["gateway"] + "=" + str(r["id"] > 0) for r in j if r["destination"] == "::/0")')
[ "$dflt" = "$router_ll=True" ] || bad "refnet route: default '$dflt', want '$router_ll=True': $(rn route)"
pfx=$(jq_py "$dir/route.json" '" ".join(str(r["id"] > 0) for r in j if r["destination"] == "2001:2:0:1::/64")')
[ "$pfx" = True ] || bad "refnet route: prefix 2001:2:0:1::/64 '$pfx': $(rn route)"
out=$(rn objects 2>&1 | grep "route6" || true)
id=$(sed -nE 's/.*route6 ::\/0 via .* #([0-9]+) .*/\1/p' <<<"$out" | head -1)
[ -n "$id" ] || bad "no route6 object for the default router: $out"
[ -z "$id" ] || rn refs "$id" 2>&1 | grep -q "^  route-table  *1 " ||
    bad "refnet refs $id: $(rn refs "$id" 2>&1)"

# Through the router, both ways; replies to 1400-byte pings in fragments
# of 1280.
out=$(rn ping 2001:2:0:5::9 3 2>&1) || bad "refnet ping 2001:2:0:5::9 failed: $out"
grep -q "^3 packets transmitted, 3 received" <<<"$out" || bad "refnet ping 2001:2:0:5::9: $out"
grep -q "hlim=63 " <<<"$out" || bad "refnet ping 2001:2:0:5::9: not one hop away: $out"
# radvd gives the router's own rn0 the MTU it advertises, so far's first
# 1400-byte request may meet a packet too big from the router: one ping
# first, uncounted, lets far learn its path MTU.
ip netns exec "$far" ping -6 -n -c 1 -W 2 -s 1400 "$slaac" >/dev/null 2>&1
net_stat "$dir/s0.json"
out=$(ip netns exec "$far" ping -6 -n -c 3 -i 0.1 -W 2 -s 1400 "$slaac" 2>&1)
n=$(grep -c "^1408 bytes from $slaac" <<<"$out")
[ "$n" = 3 ] || bad "$n of 3 pings of 1400 bytes from far answered in full: $out; refnet neigh: $(rn neigh); stat: $(rn stat)"
net_stat "$dir/s1.json"
d() { echo $(( $(jq_py "$dir/s1.json" "$1") - $(jq_py "$dir/s0.json" "$1") )); }
[ "$(d 'proto(j,"ip6.frag_out")')" = 6 ] ||
    bad "ip6.frag_out grew by $(d 'proto(j,"ip6.frag_out")'), want 6 (3 replies over a 1280 MTU)"

# The flood: 300 advertisements from made-up routers with 4 prefixes each.
nsx "$py" - 2>"$dir/flood.err" <<'EOF' || bad "the flood could not be sent: $(cat "$dir/flood.err")"
from scapy.all import Ether, IPv6, ICMPv6ND_RA, ICMPv6NDOptPrefixInfo, ICMPv6NDOptSrcLLAddr, sendp, conf
conf.verb = 0
frames = []
for i in range(300):
    mac = "02:99:00:00:%02x:%02x" % (i >> 8, i & 0xff)
    p = (Ether(src=mac, dst="33:33:00:00:00:01") /
         IPv6(src="fe80::99:%x" % (i + 1), dst="ff02::1", hlim=255) /
         ICMPv6ND_RA(routerlifetime=600) / ICMPv6NDOptSrcLLAddr(lladdr=mac))
    for k in range(4):
        p = p / ICMPv6NDOptPrefixInfo(prefixlen=64, L=1, A=1, validlifetime=600,
                                      preferredlifetime=600,
                                      prefix="2001:2:%x::" % (0x100 + i * 4 + k))
    frames.append(p)
sendp(frames, iface="rn0")
EOF
sleep 1
net_alive
net_stat "$dir/s2.json"
routers=$(jq_py "$dir/s2.json" 'proto(j,"nd.routers")')
prefixes=$(jq_py "$dir/s2.json" 'proto(j,"nd.prefixes")')
slaacs=$(jq_py "$dir/s2.json" 'proto(j,"nd.slaac_addrs")')
[ "$routers" = 8 ] || bad "nd.routers $routers after the flood, want 8 (the bound)"
[ "$prefixes" = 16 ] || bad "nd.prefixes $prefixes after the flood, want 16 (the bound)"
[ "$slaacs" = 4 ] || bad "nd.slaac_addrs $slaacs after the flood, want 4 (the bound)"
dr=$(jq_py "$dir/s2.json" '" ".join(str(drops(j).get(k, 0) > 0) for k in ("ra_router_limit", "ra_prefix_limit", "slaac_addr_limit"))')
[ "$dr" = "True True True" ] || bad "flood drops (router, prefix, address limits): $dr"
n=$(rn ifconfig --json | "$py" -c '
import json, sys
print(sum(len(i.get("addr6", [])) for i in json.load(sys.stdin)))')
[ "$n" -le 8 ] || bad "$n IPv6 addresses after the flood"
out=$(rn ping 2001:2:0:5::9 3 2>&1) || bad "refnet ping 2001:2:0:5::9 after the flood failed: $out"
grep -q "^3 packets transmitted, 3 received" <<<"$out" || bad "refnet ping after the flood: $out"

net_done "IPv6 router: SLAAC address, default router, pings through it with a 1280 MTU, RA flood bounded"
