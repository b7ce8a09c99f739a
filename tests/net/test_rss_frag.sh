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

net_routed_srv
# IPv6: the server fragments its own datagrams over a route of MTU 1280.
ip -n "$srv" -6 route change default via 2001:2:1::1 mtu 1280 ||
    die "cannot lower the server's IPv6 route MTU"
ip netns exec "$srv" sysctl -qw net.ipv4.ip_no_pmtu_disc=1 || die "cannot turn off the server's PMTU discovery"

net_start --rss 2 --mtu 1500 --gw 198.18.0.1 --service echo
net_wait_dad
nsx ip link set rn0 mtu 1280 || die "cannot lower rn0's MTU"

# Linux's rn0 becomes refnet's IPv6 default router.
net_ra_router

net_stat "$dir/s0.json"
ip netns exec "$srv" timeout 60 "$py" - >"$dir/client.out" 2>&1 <<'PY'
import os, socket, sys
from rsshash import balanced_ports
bad = 0
for port, q in balanced_ports("198.18.1.2", "198.18.0.2", 7, 44000, 8):
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
for port, q in balanced_ports("2001:2:1::2", "2001:2::2", 7, 45000, 8):
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
