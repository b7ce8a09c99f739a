#!/usr/bin/env bash
# Path MTU discovery over IPv6 (RFC 8201) through a Linux router, in
# namespaces of the test's own (lib.sh).  The test's namespace forwards
# between rn0 (2001:2::1/64) and a veth to a server namespace:
# 2001:2:1::1/64 on the router's end, whose MTU is 1280, and 2001:2:1::2/64
# on the server's, whose MTU stays 1500, so that the server offers an MSS
# of 1440 and nothing but the router knows the path is narrower.  One
# router advertisement (scapy, from rn0's link-local address) makes Linux
# refnet's default router.  refnet (the daemon, 2001:2::2/64) sends 4 MiB
# to the server's `nc -6 -l`:
#   - IPv6 routers never fragment: the router answers the first full-sized
#     segments with ICMPv6 packet too big (MTU 1280), counted as its
#     Icmp6OutPktTooBigs;
#   - refnet hands the error to the connection it quotes, which shrinks
#     its segments to 1280 - 40 - 20 - 12 and resends: `refnet send` exits
#     0 within 30 s, what nc received has the file's SHA-256, and neither
#     refnet fragmented a datagram (ip6.frag_out) nor the server
#     reassembled one (Ip6ReasmReqds): the segments fit, not fragments of
#     them;
#   - refnet counted the packets too big (icmp6.too_big_in) and the errors
#     that reached TCP (icmp6.errors_to_transport), dropped nothing it
#     should not have, and shuts down cleanly (lib.sh).
# Needs root, /dev/net/tun, nc (OpenBSD) and scapy; otherwise skipped or
# failed with a message (lib.sh).  Takes about 5 s.
. "$(dirname "$0")/lib.sh"
net_v6=1
net_setup ip6pmtu
net_need nc ss sha256sum
net_ns_add srv
srv=$net_ns_last

ip -n "$ns" link add vr type veth peer name vs netns "$srv" || die "cannot create the veth pair"
for x in "$ns vr" "$srv vs"; do
    set -- $x
    ip netns exec "$1" sysctl -qw "net.ipv6.conf.$2.accept_dad=0" "net.ipv6.conf.$2.accept_ra=0" ||
        die "cannot set IPv6 on $2"
done
nsx sysctl -qw net.ipv6.conf.all.forwarding=1 || die "cannot enable IPv6 forwarding"
# Every packet too big sent at once: no ICMPv6 rate limit on the router.
nsx sysctl -qw net.ipv6.icmp.ratelimit=0 || die "cannot lift the router's ICMPv6 rate limit"
nsx ip addr add 2001:2:1::1/64 dev vr nodad || die "cannot address vr"
nsx ip link set vr mtu 1280 up || die "cannot bring vr up"
ip -n "$srv" addr add 2001:2:1::2/64 dev vs nodad || die "cannot address vs"
ip -n "$srv" link set vs up || die "cannot bring vs up"
ip -n "$srv" -6 route add default via 2001:2:1::1 || die "cannot route the server's namespace"
net_start
net_wait_dad

# Linux's rn0 becomes refnet's default router.
net_ra_router

net_stat "$dir/s0.json"
ptb0=$(net_snmp6 "$ns" Icmp6OutPktTooBigs)
reasm0=$(net_snmp6 "$srv" Ip6ReasmReqds)

size=$((4 << 20))
head -c "$size" /dev/urandom >"$dir/file"
net_bg_in "$srv" nc -6 -l 2001:2:1::2 5001 >"$dir/got" </dev/null
ncpid=$bgpid
net_wait_for 5 eval 'ip netns exec "$srv" ss -Hltn "sport = :5001" | grep -q 5001' ||
    die "nc -6 -l did not listen"
timeout 30 "$refnet" send 2001:2:1::2 5001 --ctl "$sock" <"$dir/file" >"$dir/send.out" 2>"$dir/send.err"
rc=$?
[ "$rc" = 0 ] || bad "refnet send exited $rc: $(cat "$dir/send.err")"
net_wait_bg "$ncpid" 10
rc=$?
[ "$rc" = 0 ] || bad "nc -6 -l exited $rc (124: still running 10 s after refnet send ended)"
got=$(stat -c %s "$dir/got")
[ "$got" = "$size" ] || bad "nc received $got bytes, want $size"
[ "$(sha256sum <"$dir/got")" = "$(sha256sum <"$dir/file")" ] ||
    bad "what nc received differs from the file"

ptb=$(($(net_snmp6 "$ns" Icmp6OutPktTooBigs) - ptb0))
reasm=$(($(net_snmp6 "$srv" Ip6ReasmReqds) - reasm0))
net_stat "$dir/s1.json"
d() { echo $(($(jq_py "$dir/s1.json" "$1") - $(jq_py "$dir/s0.json" "$1"))); }
echo "router: $ptb packets too big sent; server: $reasm fragments to reassemble;" \
    "refnet: $(d 'proto(j,"icmp6.too_big_in")') too big in," \
    "$(d 'proto(j,"icmp6.errors_to_transport")') errors to TCP, $(d 'proto(j,"ip6.frag_out")') fragments out"
[ "$ptb" -ge 1 ] || bad "the router sent no packet too big: refnet's segments fit 1280 from the start"
[ "$reasm" = 0 ] || bad "the server reassembled $reasm fragments: refnet sent fragments, not smaller segments"
[ "$(d 'proto(j,"ip6.frag_out")')" = 0 ] || bad "refnet fragmented $(d 'proto(j,"ip6.frag_out")') datagrams"
[ "$(d 'proto(j,"icmp6.too_big_in")')" -ge 1 ] || bad "refnet took no packet too big"
[ "$(d 'proto(j,"icmp6.errors_to_transport")')" -ge 1 ] || bad "no packet too big reached TCP"
# The router's veth may hand the server's ACKs on out of order; an ACK
# older than one already taken fails PAWS (tcp_paws), as on Linux.
# Linux's MLD reports are not for refnet (not_for_us).
drops=$(jq_py "$dir/s1.json" '{k: v for k, v in drops(j).items() if k not in ("tcp_duplicate", "tcp_rst_no_conn", "tcp_paws", "not_for_us")}')
[ "$drops" = "{}" ] || bad "refnet dropped: $drops"

net_done "IPv6 pmtu: 4 MiB through a router with a 1280-byte next hop, packets too big taken by TCP, no fragments"
