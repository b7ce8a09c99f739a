#!/usr/bin/env bash
# Path MTU discovery (RFC 1191) through a Linux router, in namespaces of the
# test's own (lib.sh).  The test's namespace routes between rn0
# (198.18.0.1/24) and a veth to a server namespace: 198.18.1.1/24 on the
# router's end, whose MTU is 1280, and 198.18.1.2/24 on the server's, whose
# MTU stays 1500, so that the server offers an MSS of 1460 and nothing but
# the router knows the path is narrower.  refnet (198.18.0.2/24, --gw
# 198.18.0.1) sends 4 MiB to the server's `nc -l`:
#   - refnet's TCP segments carry don't-fragment, so the router answers the
#     first full-sized ones with ICMP "fragmentation needed" (next-hop MTU
#     1280) instead of cutting them up: the router counts
#     IcmpOutDestUnreachs, and the server reassembles nothing
#     (IpReasmReqds stays 0);
#   - refnet takes the smaller segment size and resends: `refnet send`
#     exits 0 within 30 s and what nc received has the file's SHA-256;
#   - refnet counted the ICMP errors in (icmp.in), dropped nothing it
#     should not have (old ACKs the router reordered fail PAWS, as on
#     Linux), and shuts down cleanly (lib.sh).
. "$(dirname "$0")/lib.sh"
net_setup pmtu
net_plen=24
net_ns_add srv
srv=$net_ns_last

ip -n "$ns" link add vr type veth peer name vs netns "$srv" || die "cannot create the veth pair"
nsx sysctl -qw net.ipv6.conf.vr.disable_ipv6=1 || die "cannot disable IPv6 on vr"
ip netns exec "$srv" sysctl -qw net.ipv6.conf.vs.disable_ipv6=1 || die "cannot disable IPv6 on vs"
nsx sysctl -qw net.ipv4.ip_forward=1 || die "cannot enable forwarding"
nsx ip addr add 198.18.1.1/24 dev vr || die "cannot address vr"
nsx ip link set vr mtu 1280 up || die "cannot bring vr up"
ip -n "$srv" addr add 198.18.1.2/24 dev vs || die "cannot address vs"
ip -n "$srv" link set vs up || die "cannot bring vs up"
ip -n "$srv" route add default via 198.18.1.1 || die "cannot route the server's namespace"
net_start --gw 198.18.0.1

net_stat "$dir/s0.json"
unreach0=$(net_snmp "$ns" Icmp OutDestUnreachs)
reasm0=$(net_snmp "$srv" Ip ReasmReqds)

size=$((4 << 20))
head -c "$size" /dev/urandom >"$dir/file"
net_bg_in "$srv" nc -l 198.18.1.2 5001 >"$dir/got" </dev/null
ncpid=$bgpid
net_wait_for 5 eval 'ip netns exec "$srv" ss -Hltn "sport = :5001" | grep -q 5001' ||
    die "nc -l did not listen"
timeout 30 "$refnet" send 198.18.1.2 5001 --ctl "$sock" <"$dir/file" >"$dir/send.out" 2>"$dir/send.err"
rc=$?
[ "$rc" = 0 ] || bad "refnet send exited $rc: $(cat "$dir/send.err")"
net_wait_bg "$ncpid" 10
rc=$?
[ "$rc" = 0 ] || bad "nc -l exited $rc (124: still running 10 s after refnet send ended)"
got=$(stat -c %s "$dir/got")
[ "$got" = "$size" ] || bad "nc received $got bytes, want $size"
[ "$(sha256sum <"$dir/got")" = "$(sha256sum <"$dir/file")" ] ||
    bad "what nc received differs from the file"

unreach=$(($(net_snmp "$ns" Icmp OutDestUnreachs) - unreach0))
reasm=$(($(net_snmp "$srv" Ip ReasmReqds) - reasm0))
echo "router: $unreach ICMP destination unreachable sent; server: $reasm fragments to reassemble"
[ "$unreach" -ge 1 ] || bad "the router sent no ICMP fragmentation needed: refnet's segments were not don't-fragment, or fit"
[ "$reasm" = 0 ] || bad "the server reassembled $reasm fragments: the router fragmented refnet's segments"

net_stat "$dir/s1.json"
icmp_in=$(($(jq_py "$dir/s1.json" 'proto(j,"icmp.in")') - $(jq_py "$dir/s0.json" 'proto(j,"icmp.in")')))
[ "$icmp_in" -ge "$unreach" ] || bad "refnet counted $icmp_in ICMP messages in, the router sent $unreach"
# The router's veth may hand the server's ACKs on out of order; an ACK
# older than one already taken fails PAWS and is dropped (tcp_paws), as
# Linux drops it too.  Anything else would be refnet's doing.
drops=$(jq_py "$dir/s1.json" '{k: v for k, v in drops(j).items() if k not in ("tcp_duplicate", "tcp_rst_no_conn", "tcp_paws")}')
[ "$drops" = "{}" ] || bad "refnet dropped: $drops"

net_done "pmtu: 4 MiB through a router with a 1280-byte next hop, ICMP fragmentation needed taken, no fragments"
