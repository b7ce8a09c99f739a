#!/usr/bin/env bash
# Path MTU discovery with receive-side scaling: ICMP errors reach the loop
# of the connection they speak of.  The device steers every ICMP and
# ICMPv6 frame to queue 0; queue 0's fan-out filter moves an error about
# another loop's flow to that loop.
#
# The test's namespace routes between rn0 and a veth to a server
# namespace whose router end has an MTU of 1280 (198.18.1.1/24,
# 2001:2:1::1/64), the server's end 1500, so that only the router knows
# the path is narrower.  refnet runs `--rss 2` with httpd; the server
# downloads a 1 MiB file 8 times over IPv4 and 8 times over IPv6 at once,
# from source ports chosen so that both loops serve some of each (the
# Toeplitz hash computed here, apart from refnet):
#   - every download completes within 20 s with the file's SHA-256: every
#     connection, on either loop, took the router's "fragmentation
#     needed" or "packet too big" and sent smaller segments (a loop that
#     never heard of it would resend full-sized segments until it gave
#     up);
#   - the server reassembled nothing: refnet sent no fragments;
#   - queue 0's fan-out filter handed errors over to loop 1 (its "handed"
#     counter), and nothing was dropped that should not have been;
#   - the daemon shuts down cleanly, nothing leaked (lib.sh).
. "$(dirname "$0")/lib.sh"
net_v6=1
net_setup rsspmtu
net_plen=24
net_need curl sha256sum
net_ns_add srv
srv=$net_ns_last

snmp() {
    ip netns exec "$1" cat /proc/net/snmp |
        awk -v g="$2:" -v f="$3" '$1 == g { if (!h) { for (i = 2; i <= NF; i++) c[$i] = i; h = 1 }
                                            else print $(c[f]) }'
}
snmp6() {
    ip netns exec "$1" awk -v f="$2" '$1 == f { print $2 }' /proc/net/snmp6
}

ip -n "$ns" link add vr type veth peer name vs netns "$srv" || die "cannot create the veth pair"
for side in "$ns vr" "$srv vs"; do
    set -- $side
    ip netns exec "$1" sysctl -qw "net.ipv6.conf.$2.accept_dad=0" "net.ipv6.conf.$2.accept_ra=0" ||
        die "cannot set $2's IPv6 options"
done
nsx sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 || die "cannot enable forwarding"
nsx sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0 ||
    die "cannot lift the router's ICMP rate limits"
nsx ip addr add 198.18.1.1/24 dev vr || die "cannot address vr"
nsx ip addr add 2001:2:1::1/64 dev vr nodad || die "cannot address vr (IPv6)"
nsx ip link set vr mtu 1280 up || die "cannot bring vr up"
ip -n "$srv" addr add 198.18.1.2/24 dev vs || die "cannot address vs"
ip -n "$srv" addr add 2001:2:1::2/64 dev vs nodad || die "cannot address vs (IPv6)"
ip -n "$srv" link set vs up || die "cannot bring vs up"
ip -n "$srv" route add default via 198.18.1.1 || die "cannot route the server's namespace"
ip -n "$srv" -6 route add default via 2001:2:1::1 || die "cannot route the server's namespace (IPv6)"

www="$dir/www"
mkdir -p "$www"
head -c $((1 << 20)) /dev/urandom >"$www/big.bin"
want=$(sha256sum <"$www/big.bin")
net_start --rss 2 --gw 198.18.0.1 --service httpd=80:"$www"
net_wait_dad

# Linux's rn0 becomes refnet's IPv6 default router (every loop learns it
# from queue 0's copy of the advertisement).
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

# Source ports, 8 per family, that the hash of Microsoft's key spreads
# over both loops (the server's packets arrive at refnet with the
# server's address and port as the source).
"$py" - >"$dir/ports" <<'PY'
import ipaddress
KEY = bytes.fromhex("6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c"
                    "6a42b73bbeac01fa")
def toeplitz(data):
    k = int.from_bytes(KEY, "big"); kbits = len(KEY) * 8; h = 0
    for i in range(len(data) * 8):
        if data[i // 8] >> (7 - i % 8) & 1:
            h ^= (k >> (kbits - 32 - i)) & 0xffffffff
    return h
for src, dst, port in (("198.18.1.2", "198.18.0.2", 42000), ("2001:2:1::2", "2001:2::2", 43000)):
    per = {0: [], 1: []}
    while len(per[0]) < 4 or len(per[1]) < 4:
        data = (ipaddress.ip_address(src).packed + ipaddress.ip_address(dst).packed +
                port.to_bytes(2, "big") + (80).to_bytes(2, "big"))
        q = toeplitz(data) % 128 % 2
        if len(per[q]) < 4:
            per[q].append(port)
        port += 1
    print(" ".join(str(p) for p in per[0] + per[1]))
PY
read -r ports4 <"$dir/ports"
ports6=$(sed -n 2p "$dir/ports")
[ -n "$ports4" ] && [ -n "$ports6" ] || die "no source ports: $(cat "$dir/ports")"

net_stat "$dir/s0.json"
unreach0=$(snmp "$ns" Icmp OutDestUnreachs)
ptb0=$(snmp6 "$ns" Icmp6OutPktTooBigs)
reasm0=$(snmp "$srv" Ip ReasmReqds)
reasm60=$(snmp6 "$srv" Ip6ReasmReqds)

pids=()
for p in $ports4; do
    ip netns exec "$srv" curl -sS --max-time 20 --local-port "$p" -o "$dir/got4.$p" \
        http://198.18.0.2/big.bin 2>"$dir/curl4.$p.err" &
    pids+=($!)
done
for p in $ports6; do
    ip netns exec "$srv" curl -sS --max-time 20 --local-port "$p" -o "$dir/got6.$p" \
        "http://[2001:2::2]/big.bin" 2>"$dir/curl6.$p.err" &
    pids+=($!)
done
fails=0
for pid in "${pids[@]}"; do
    wait "$pid" || fails=$((fails + 1))
done
for f in "$dir"/got4.* "$dir"/got6.*; do
    [ -f "$f" ] && [ "$(sha256sum <"$f")" = "$want" ] ||
        { echo "FAIL: $(basename "$f"): $(stat -c %s "$f" 2>/dev/null) bytes, not the file"; fails=$((fails + 1)); }
done
[ "$fails" = 0 ] || bad "$fails of 16 downloads failed: $(cat "$dir"/curl*.err)"

unreach=$(($(snmp "$ns" Icmp OutDestUnreachs) - unreach0))
ptb=$(($(snmp6 "$ns" Icmp6OutPktTooBigs) - ptb0))
reasm=$(($(snmp "$srv" Ip ReasmReqds) - reasm0 + $(snmp6 "$srv" Ip6ReasmReqds) - reasm60))
rn ifconfig --json >"$dir/if.json"
handed=$(jq_py "$dir/if.json" '[l["values"]["handed"] for l in j[0]["links"] if l["kind"] == "fanout"][0]')
echo "router: $unreach fragmentation needed, $ptb packets too big; server: $reasm fragments;" \
    "queue 0 handed $handed errors to loop 1"
[ "$unreach" -ge 2 ] || bad "the router sent $unreach fragmentation needed: want one per loop at least"
[ "$ptb" -ge 2 ] || bad "the router sent $ptb packets too big: want one per loop at least"
[ "$reasm" = 0 ] || bad "the server reassembled $reasm fragments: refnet sent fragments"
[ "$handed" -ge 2 ] || bad "queue 0 handed $handed ICMP errors to loop 1, want one per family at least"

net_stat "$dir/s1.json"
drops=$(jq_py "$dir/s1.json" '{k: v for k, v in drops(j).items() if k not in ("tcp_duplicate", "tcp_rst_no_conn", "tcp_paws", "not_for_us")}')
[ "$drops" = "{}" ] || bad "refnet dropped: $drops"

net_done "rss pmtu: 16 downloads through a 1280-byte next hop on both loops, every ICMP error on its connection's loop"
