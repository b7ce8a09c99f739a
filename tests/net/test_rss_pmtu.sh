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
#   - a program under `refnet run` (loop 0, its ports pinned there) hears
#     the port unreachable of each of 16 UDP sockets, whichever loop the
#     hash of its flow names;
#   - the daemon shuts down cleanly, nothing leaked (lib.sh).
. "$(dirname "$0")/lib.sh"
net_v6=1
net_setup rsspmtu
net_plen=24
net_need curl sha256sum

net_routed_srv
for x in "$ns" "$srv"; do
    ip netns exec "$x" sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0 ||
        die "cannot lift the ICMP rate limits"
done
nsx ip link set vr mtu 1280 || die "cannot lower vr's MTU"

www="$dir/www"
mkdir -p "$www"
head -c $((1 << 20)) /dev/urandom >"$www/big.bin"
want=$(sha256sum <"$www/big.bin")
net_start --rss 2 --gw 198.18.0.1 --service httpd=80:"$www"
net_wait_dad

# Linux's rn0 becomes refnet's IPv6 default router (every loop learns it
# from queue 0's copy of the advertisement).
net_ra_router

# Source ports, 8 per family, that the hash puts 4 on each loop (the
# server's packets arrive at refnet with the server's address and port as
# the source): tests/net/rsshash.py.
"$py" "$here/rsshash.py" ports 198.18.1.2 198.18.0.2 80 42000 8 >"$dir/ports4" &&
    "$py" "$here/rsshash.py" ports 2001:2:1::2 2001:2::2 80 43000 8 >"$dir/ports6" ||
    die "no source ports"
ports4=$(cut -d' ' -f1 "$dir/ports4" | tr '\n' ' ')
ports6=$(cut -d' ' -f1 "$dir/ports6" | tr '\n' ' ')

net_stat "$dir/s0.json"
unreach0=$(net_snmp "$ns" Icmp OutDestUnreachs)
ptb0=$(net_snmp6 "$ns" Icmp6OutPktTooBigs)
reasm0=$(net_snmp "$srv" Ip ReasmReqds)
reasm60=$(net_snmp6 "$srv" Ip6ReasmReqds)

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

unreach=$(($(net_snmp "$ns" Icmp OutDestUnreachs) - unreach0))
ptb=$(($(net_snmp6 "$ns" Icmp6OutPktTooBigs) - ptb0))
reasm=$(($(net_snmp "$srv" Ip ReasmReqds) - reasm0 + $(net_snmp6 "$srv" Ip6ReasmReqds) - reasm60))
rn ifconfig --json >"$dir/if.json"
handed=$(jq_py "$dir/if.json" '[l["values"]["handed"] for l in j[0]["links"] if l["kind"] == "fanout"][0]')
echo "router: $unreach fragmentation needed, $ptb packets too big; server: $reasm fragments;" \
    "queue 0 handed $handed errors to loop 1"
[ "$unreach" -ge 2 ] || bad "the router sent $unreach fragmentation needed: want one per loop at least"
[ "$ptb" -ge 2 ] || bad "the router sent $ptb packets too big: want one per loop at least"
[ "$reasm" = 0 ] || bad "the server reassembled $reasm fragments: refnet sent fragments"
[ "$handed" -ge 2 ] || bad "queue 0 handed $handed ICMP errors to loop 1, want one per family at least"

# Programs under `refnet run` live on loop 0, their ports pinned there: a
# port unreachable about one stays on loop 0 whatever the hash of its
# flow says, and reaches the program (16 sockets, new ports each).
out=$(timeout 60 "$refnet" run --ctl "$sock" -- "$py" -c '
import socket
refused = 0
for i in range(16):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    s.connect(("198.18.1.2", 9))
    s.send(b"x")
    try:
        s.recv(10)
    except ConnectionRefusedError:
        refused += 1
    except socket.timeout:
        pass
    s.close()
print(refused)
' 2>&1)
[ "$out" = 16 ] || bad "UDP to a closed port from refnet run: $out of 16 sockets heard the port unreachable"

net_stat "$dir/s1.json"
drops=$(jq_py "$dir/s1.json" '{k: v for k, v in drops(j).items() if k not in ("tcp_duplicate", "tcp_rst_no_conn", "tcp_paws", "not_for_us")}')
[ "$drops" = "{}" ] || bad "refnet dropped: $drops"

net_done "rss pmtu: 16 downloads through a 1280-byte next hop on both loops, every ICMP error on its connection's loop"
