#!/usr/bin/env bash
# Fragments with receive-side scaling: a datagram reassembled on loop 0
# reaches the loop of its flow.  The device steers every fragment to queue
# 0 (only a whole datagram carries its ports); loop 0's stack reassembles
# it and hands it, whole, to the loop that owns the flow.
#
# A server namespace reaches refnet (`--rss 2`, echo, MTU 1500) through
# the test's namespace, a Linux router whose rn0 has an MTU of 1280:
#   - IPv4: the server's TCP sends without don't-fragment
#     (net.ipv4.ip_no_pmtu_disc=1) and takes refnet's MSS of 1460, so the
#     router fragments every full segment.  8 connections to echo, from
#     source ports the Toeplitz hash (computed here, apart from refnet)
#     puts 4 on each loop, each send 64 KiB and read it back whole: a
#     segment of loop 1's connection served by loop 0 would get a RST;
#   - IPv6: the server sends 3000-byte UDP datagrams to echo over a route
#     of MTU 1280, so it fragments them itself; 8 source ports, 4 a loop,
#     each gets its datagram back;
#   - loop 0 counted the reassembled datagrams and handed loop 1's over
#     (rss.handed), nothing was dropped that should not have been, and the
#     daemon shuts down cleanly, nothing leaked (lib.sh).
. "$(dirname "$0")/lib.sh"
net_v6=1
net_setup rssfrag
net_plen=24
net_ns_add srv
srv=$net_ns_last

ip -n "$ns" link add vr type veth peer name vs netns "$srv" || die "cannot create the veth pair"
for side in "$ns vr" "$srv vs"; do
    set -- $side
    ip netns exec "$1" sysctl -qw "net.ipv6.conf.$2.accept_dad=0" "net.ipv6.conf.$2.accept_ra=0" ||
        die "cannot set $2's IPv6 options"
done
nsx sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 || die "cannot enable forwarding"
nsx ip addr add 198.18.1.1/24 dev vr || die "cannot address vr"
nsx ip addr add 2001:2:1::1/64 dev vr nodad || die "cannot address vr (IPv6)"
nsx ip link set vr up || die "cannot bring vr up"
ip -n "$srv" addr add 198.18.1.2/24 dev vs || die "cannot address vs"
ip -n "$srv" addr add 2001:2:1::2/64 dev vs nodad || die "cannot address vs (IPv6)"
ip -n "$srv" link set vs up || die "cannot bring vs up"
ip -n "$srv" route add default via 198.18.1.1 || die "cannot route the server's namespace"
ip -n "$srv" -6 route add default via 2001:2:1::1 mtu 1280 ||
    die "cannot route the server's namespace (IPv6)"
ip netns exec "$srv" sysctl -qw net.ipv4.ip_no_pmtu_disc=1 || die "cannot turn off the server's PMTU discovery"

net_start --rss 2 --mtu 1500 --gw 198.18.0.1 --service echo
net_wait_dad
nsx ip link set rn0 mtu 1280 || die "cannot lower rn0's MTU"

# Linux's rn0 becomes refnet's IPv6 default router.
ll=$(nsx ip -6 -o addr show dev rn0 scope link | awk '{ sub("/.*", "", $4); print $4; exit }')
[ -n "$ll" ] || die "rn0 has no link-local address"
mac=$(nsx cat /sys/class/net/rn0/address)
nsx "$py" - "$ll" "$mac" 2>"$dir/ra.err" <<'PY' || die "cannot send the advertisement: $(cat "$dir/ra.err")"
import sys
from scapy.all import Ether, IPv6, ICMPv6ND_RA, ICMPv6NDOptSrcLLAddr, sendp, conf
conf.verb = 0
ll, mac = sys.argv[1], sys.argv[2]
sendp(Ether(src=mac, dst="33:33:00:00:00:01") / IPv6(src=ll, dst="ff02::1", hlim=255) /
      ICMPv6ND_RA(routerlifetime=600) / ICMPv6NDOptSrcLLAddr(lladdr=mac), iface="rn0")
PY
net_wait_for 5 eval 'rn route | grep -qi "$ll"' || die "refnet took no default router: $(rn route)"

net_stat "$dir/s0.json"
ip netns exec "$srv" timeout 60 "$py" - >"$dir/client.out" 2>&1 <<'PY'
import ipaddress, os, socket, sys
KEY = bytes.fromhex("6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c"
                    "6a42b73bbeac01fa")
def toeplitz(data):
    k = int.from_bytes(KEY, "big"); kbits = len(KEY) * 8; h = 0
    for i in range(len(data) * 8):
        if data[i // 8] >> (7 - i % 8) & 1:
            h ^= (k >> (kbits - 32 - i)) & 0xffffffff
    return h
def ports(src, dst, first):
    per = {0: [], 1: []}
    port = first
    while len(per[0]) < 4 or len(per[1]) < 4:
        data = (ipaddress.ip_address(src).packed + ipaddress.ip_address(dst).packed +
                port.to_bytes(2, "big") + (7).to_bytes(2, "big"))
        q = toeplitz(data) % 128 % 2
        if len(per[q]) < 4:
            per[q].append((port, q))
        port += 1
    return per[0] + per[1]
bad = 0
for port, q in ports("198.18.1.2", "198.18.0.2", 44000):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(10)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("198.18.1.2", port))
    data = os.urandom(65536)
    try:
        s.connect(("198.18.0.2", 7))
        s.sendall(data)
        got = b""
        while len(got) < len(data):
            b = s.recv(65536)
            if not b:
                break
            got += b
        if got != data:
            print("FAIL: TCP from port %d (loop %d): %d of %d bytes echoed, %s" %
                  (port, q, len(got), len(data), "differing" if data.startswith(got) is False else "cut short"))
            bad += 1
    except OSError as e:
        print("FAIL: TCP from port %d (loop %d): %s" % (port, q, e)); bad += 1
    s.close()
for port, q in ports("2001:2:1::2", "2001:2::2", 45000):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.bind(("2001:2:1::2", port))
    s.settimeout(1)
    data = os.urandom(3000)
    for attempt in range(3):
        s.sendto(data, ("2001:2::2", 7))
        try:
            got, _ = s.recvfrom(65536)
            break
        except socket.timeout:
            got = b""
    if got != data:
        print("FAIL: UDP from port %d (loop %d): %d bytes back, want the 3000 sent" % (port, q, len(got)))
        bad += 1
    s.close()
print("client: %d failures" % bad)
sys.exit(1 if bad else 0)
PY
rc=$?
cat "$dir/client.out"
[ "$rc" = 0 ] || bad "the client failed (rc $rc)"

net_stat "$dir/s1.json"
d() { echo $(($(jq_py "$dir/s1.json" "$1") - $(jq_py "$dir/s0.json" "$1"))); }
r4=$(d 'proto(j,"ip.reassembled")')
r6=$(d 'proto(j,"ip6.reassembled")')
handed=$(d 'proto(j,"rss.handed")')
echo "refnet: $r4 IPv4 and $r6 IPv6 datagrams reassembled, $handed handed to loop 1"
[ "$r4" -ge 8 ] || bad "refnet reassembled $r4 IPv4 datagrams: the router fragmented too little for the test to say anything"
[ "$r6" -ge 8 ] || bad "refnet reassembled $r6 IPv6 datagrams, want the 8 sent at least"
[ "$handed" -ge 8 ] || bad "loop 0 handed $handed datagrams to loop 1, want 4 TCP connections' segments and 4 UDP datagrams at least"
# A connection's small segments (ACKs, the handshake) reach loop 1
# straight, its fragmented ones through loop 0: one may overtake another,
# as a router may reorder them, and an overtaken segment may fail PAWS or
# fall out of the window by then.
drops=$(jq_py "$dir/s1.json" '{k: v for k, v in drops(j).items() if k not in ("tcp_duplicate", "tcp_rst_no_conn", "not_for_us", "tcp_paws", "tcp_out_of_window")}')
[ "$drops" = "{}" ] || bad "refnet dropped: $drops"

net_done "rss fragments: TCP and UDP reassembled on loop 0 and served by the loop of their flow"
