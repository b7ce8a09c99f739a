#!/usr/bin/env bash
# TCP and UDP over IPv6 against Linux over the TAP (2001:2::/64, lib.sh's
# net_v6), with the daemon's built-in services on both families:
#   - the services listen once, dual-stack on :: (`refnet netstat -a`
#     shows tcp6 [::]:80, [::]:7, [::]:9 and udp6 [::]:7);
#   - `curl -6` fetches a 1 MiB file from refnet's httpd, the same bytes;
#     `curl -4` fetches it from the same listener (an IPv4 client of a
#     dual-stack listener); `nc -6` gets its line back from the echo
#     service and discard takes 1 MiB; a closed TCP port refuses curl
#     (RST);
#   - UDP both ways: Linux's datagram to the echo service comes back over
#     IPv6 and over IPv4 (the same dual-stack endpoint); a datagram to a
#     closed port is answered with an ICMPv6 port unreachable (Linux's
#     connected socket reads ECONNREFUSED) and counted as udp.no_port;
#   - refnet's clients reach Linux over IPv6: `refnet get` of
#     http://[2001:2::1]:8000/ from python3's http.server on ::, `refnet
#     send` to `nc -6 -l`, the bytes identical; refnet, which closed
#     first, holds the connection in TIME_WAIT with IPv6 endpoints;
#   - 200 MiB each way over IPv6, exact: `refnet send` to `nc -6 -l` and
#     `nc -6` to `refnet recv --addr 2001:2::2`, each within 90 s; the
#     send leaves the TAP in large TSO frames (the device cuts them);
#   - a dual-stack listener (`refnet recv --addr ::`) takes an IPv4 client
#     and reports its peer as the mapped [::ffff:198.18.0.1]; with
#     --v6only the same client is refused and an IPv6 one accepted;
#   - afterwards refnet has no TCP connection left, its objects are back
#     to the baseline (TIME_WAIT and neighbour entries aside), nothing was
#     dropped but what Linux resent or its MLD reports, and the daemon
#     shuts down cleanly with no leak (lib.sh).
# Needs root, /dev/net/tun, curl, nc (OpenBSD), ss; otherwise skipped or
# failed with a message (lib.sh).  Takes about 10-20 s, most of it the
# 400 MiB.
. "$(dirname "$0")/lib.sh"
net_v6=1
net_setup v6tcp
net_need curl nc ss sha256sum

sha() { sha256sum <"$1" | cut -d' ' -f1; }
mkdir -p "$dir/www"
head -c $((1 << 20)) /dev/urandom >"$dir/www/one.bin"
net_start --service "httpd=80:$dir/www" --service echo --service discard
net_wait_dad
# Both sides resolve each other first, so that the baseline holds the
# neighbour entry the traffic below needs.
nsx ping -6 -n -q -c 1 -W 2 2001:2::2 >/dev/null || bad "ping -6 2001:2::2 failed"
nsx ping -n -q -c 1 -W 2 198.18.0.2 >/dev/null || bad "ping 198.18.0.2 failed"
net_objects "$dir/o0.json"
net_stat "$dir/s0.json"

# ---- The services listen on both families ----
out=$(rn netstat -a)
for want in "tcp6  \[::\]:80 " "tcp6  \[::\]:7 " "tcp6  \[::\]:9 " "udp6  \[::\]:7 "; do
    grep -q "^$want" <<<"$out" || bad "netstat -a has no '$want' row: $out"
done
rn netstat -a --json >"$dir/ns.json"
rn status --json >"$dir/status.json"
loops=$(jq_py "$dir/status.json" 'j["rss_queues"]')  # a listener per loop
n=$(jq_py "$dir/ns.json" 'sum(1 for r in j if r["local"] == "[::]:80" and r["state"] == "LISTEN")')
[ "$n" = "$loops" ] || bad "netstat --json: $n LISTEN rows on [::]:80, want $loops"

# ---- Linux to refnet's services ----
nsx curl -6 -s -S -m 10 -o "$dir/got6.bin" "http://[2001:2::2]/one.bin" ||
    bad "curl -6 http://[2001:2::2]/one.bin failed"
[ "$(sha "$dir/got6.bin")" = "$(sha "$dir/www/one.bin")" ] || bad "curl -6: the bytes differ"
nsx curl -4 -s -S -m 10 -o "$dir/got4.bin" "http://198.18.0.2/one.bin" ||
    bad "curl -4 to the dual-stack listener failed"
[ "$(sha "$dir/got4.bin")" = "$(sha "$dir/www/one.bin")" ] || bad "curl -4: the bytes differ"
nsx curl -6 -s -m 5 -o /dev/null "http://[2001:2::2]:81/"
rc=$?
[ "$rc" = 7 ] || bad "curl -6 to closed port 81 exited $rc, want 7 (connection refused)"
out=$(printf 'hello over ipv6\n' | nsx timeout 5 nc -6 -q 1 2001:2::2 7)
[ "$out" = "hello over ipv6" ] || bad "nc -6 to echo got '$out'"
head -c $((1 << 20)) /dev/zero | nsx timeout 10 nc -6 -N 2001:2::2 9 ||
    bad "nc -6 could not hand discard 1 MiB"

# ---- UDP both ways, and a closed port ----
nsx "$py" - <<'EOF' || bad "UDP over IPv6"
import errno, socket, sys
ok = True
for fam, addr in ((socket.AF_INET6, "2001:2::2"), (socket.AF_INET, "198.18.0.2")):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.settimeout(3)
    msg = b"udp echo over " + addr.encode()
    s.sendto(msg, (addr, 7))
    try:
        got, frm = s.recvfrom(2048)
    except socket.timeout:
        got, frm = None, None
    if got != msg or frm[0] != addr or frm[1] != 7:
        print("FAIL: UDP echo at %s answered %r from %r" % (addr, got, frm))
        ok = False
    s.close()
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.settimeout(3)
s.connect(("2001:2::2", 9999))
s.send(b"nobody listens")
try:
    s.recv(100)
    print("FAIL: a datagram to closed port 9999 was answered")
    ok = False
except ConnectionRefusedError:
    pass
except socket.timeout:
    print("FAIL: no ICMPv6 port unreachable for closed port 9999")
    ok = False
sys.exit(0 if ok else 1)
EOF

# ---- refnet's clients to Linux over IPv6 ----
cp "$dir/www/one.bin" "$dir/www-linux.bin"
net_bg "$py" -m http.server --bind :: --directory "$dir" 8000
net_wait_for 5 eval 'nsx ss -Hltn "sport = :8000" | grep -q 8000' || die "http.server did not listen"
timeout 30 "$refnet" get "http://[2001:2::1]:8000/www-linux.bin" -o "$dir/get.bin" --ctl "$sock" \
    2>"$dir/get.err" || bad "refnet get over IPv6 failed: $(cat "$dir/get.err")"
[ "$(sha "$dir/get.bin")" = "$(sha "$dir/www/one.bin")" ] || bad "refnet get: the bytes differ"

net_bg nc -6 -l 2001:2::1 5001 >"$dir/small-got" </dev/null
ncpid=$bgpid
net_wait_for 5 eval 'nsx ss -Hltn "sport = :5001" | grep -q 5001' || die "nc -6 -l did not listen"
timeout 30 "$refnet" send 2001:2::1 5001 -v --ctl "$sock" <"$dir/www/one.bin" \
    >/dev/null 2>"$dir/send-small.err" || bad "refnet send over IPv6 failed: $(cat "$dir/send-small.err")"
grep -q "connected \[2001:2::2\]:[0-9]* -> \[2001:2::1\]:5001" "$dir/send-small.err" ||
    bad "refnet send -v did not show the IPv6 endpoints: $(cat "$dir/send-small.err")"
net_wait_bg "$ncpid" 10 || bad "nc -6 -l did not end"
[ "$(sha "$dir/small-got")" = "$(sha "$dir/www/one.bin")" ] || bad "refnet send: nc got other bytes"
rn netstat -a --json >"$dir/ns-tw.json"
n=$(jq_py "$dir/ns-tw.json" 'sum(1 for r in j if r["state"] == "TIME_WAIT" and r["remote"] == "[2001:2::1]:5001" and r["local"].startswith("[2001:2::2]:"))')
[ "$n" = 1 ] || bad "no TIME_WAIT row [2001:2::2]:* [2001:2::1]:5001: $(rn netstat -a)"

# ---- 200 MiB each way ----
size=$((200 << 20))
head -c "$size" /dev/urandom >"$dir/big"
net_bg nc -6 -l 2001:2::1 5000 >"$dir/big-got" </dev/null
ncpid=$bgpid
net_wait_for 5 eval 'nsx ss -Hltn "sport = :5000" | grep -q 5000' || die "nc -6 -l did not listen"
tx_frames() {
    rn ifconfig --json | "$py" -c 'import json,sys; print(json.load(sys.stdin)[0]["tx_frames"])'
}
frames0=$(tx_frames)
t0=$(date +%s%N)
timeout 90 "$refnet" send 2001:2::1 5000 --ctl "$sock" <"$dir/big" >/dev/null 2>"$dir/send.err"
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$rc" = 0 ] || bad "refnet send of 200 MiB exited $rc after $ms ms: $(cat "$dir/send.err")"
net_wait_bg "$ncpid" 10 || bad "nc -6 -l did not end after the 200 MiB"
[ "$(stat -c %s "$dir/big-got")" = "$size" ] || bad "nc received $(stat -c %s "$dir/big-got") bytes, want $size"
[ "$(sha "$dir/big")" = "$(sha "$dir/big-got")" ] || bad "200 MiB refnet -> Linux: the bytes differ"
# The TAP cuts refnet's large segments (TSO over IPv6): far fewer frames
# than the 146,000 segments of 1,440 bytes the 200 MiB make.
frames=$(($(tx_frames) - frames0))
[ "$frames" -lt 40000 ] || bad "refnet sent the 200 MiB in $frames frames: no TSO over IPv6?"
echo "refnet send over IPv6: 200 MiB in $ms ms, $frames frames"
rm -f "$dir/big-got"

timeout 90 "$refnet" recv 5002 --addr 2001:2::2 --ctl "$sock" >"$dir/big-recv" 2>"$dir/recv.err" &
rpid=$!
net_track "$rpid"
net_wait_for 5 eval 'rn netstat -a | grep -q "\[2001:2::2\]:5002 .*LISTEN"' || bad "refnet recv did not listen"
t0=$(date +%s%N)
nsx timeout 90 nc -6 -N 2001:2::2 5002 <"$dir/big" || bad "nc -6 could not send 200 MiB to refnet"
wait "$rpid"
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$rc" = 0 ] || bad "refnet recv of 200 MiB exited $rc: $(cat "$dir/recv.err")"
[ "$(stat -c %s "$dir/big-recv")" = "$size" ] || bad "refnet recv got $(stat -c %s "$dir/big-recv") bytes, want $size"
[ "$(sha "$dir/big")" = "$(sha "$dir/big-recv")" ] || bad "200 MiB Linux -> refnet: the bytes differ"
echo "refnet recv over IPv6: 200 MiB in $ms ms"
rm -f "$dir/big" "$dir/big-recv"

# ---- A dual-stack listener, and IPV6_V6ONLY ----
timeout 20 "$refnet" recv 5003 --addr :: -v --ctl "$sock" >"$dir/d.out" 2>"$dir/d.err" &
rpid=$!
net_track "$rpid"
net_wait_for 5 eval 'rn netstat -a | grep -q "\[::\]:5003 .*LISTEN"' || bad "refnet recv --addr :: did not listen"
printf 'from ipv4\n' | nsx timeout 5 nc -4 -N 198.18.0.2 5003 || bad "nc -4 to the dual-stack listener failed"
wait "$rpid" || bad "refnet recv --addr :: exited $?: $(cat "$dir/d.err")"
[ "$(cat "$dir/d.out")" = "from ipv4" ] || bad "the dual-stack listener got '$(cat "$dir/d.out")'"
grep -q "^\[::ffff:198.18.0.1\]:[0-9]*: sent 0 bytes, received 10 bytes" "$dir/d.err" ||
    bad "the IPv4 peer is not shown as a mapped address: $(cat "$dir/d.err")"

timeout 20 "$refnet" recv 5004 --addr :: --v6only -v --ctl "$sock" >"$dir/v.out" 2>"$dir/v.err" &
rpid=$!
net_track "$rpid"
net_wait_for 5 eval 'rn netstat -a | grep -q "\[::\]:5004 .*LISTEN"' || bad "refnet recv --v6only did not listen"
out=$(nsx "$py" -c '
import socket
try:
    socket.create_connection(("198.18.0.2", 5004), timeout=3).close()
    print("connected")
except ConnectionRefusedError:
    print("refused")
except OSError as e:
    print(e)' 2>&1)
[ "$out" = refused ] || bad "an IPv4 client of a V6ONLY listener: '$out', want refused"
printf 'from ipv6\n' | nsx timeout 5 nc -6 -N 2001:2::2 5004 || bad "nc -6 to the V6ONLY listener failed"
wait "$rpid" || bad "refnet recv --v6only exited $?: $(cat "$dir/v.err")"
[ "$(cat "$dir/v.out")" = "from ipv6" ] || bad "the V6ONLY listener got '$(cat "$dir/v.out")'"
grep -q "^\[2001:2::1\]:[0-9]*: sent 0 bytes, received 10 bytes" "$dir/v.err" ||
    bad "the IPv6 peer's summary: $(cat "$dir/v.err")"

# ---- Afterwards ----
net_kill_bg
net_tcp_idle 5 || bad "refnet still has TCP connections: $(rn objects --type 'tcp connection')"
net_stat "$dir/s1.json"
net_objects "$dir/o1.json"
ds() { echo $(($(jq_py "$dir/s1.json" "$1") - $(jq_py "$dir/s0.json" "$1"))); }
[ "$(ds 'proto(j,"udp.no_port")')" -ge 1 ] || bad "udp.no_port did not grow"
drops=$(jq_py "$dir/s1.json" '{k: v for k, v in drops(j).items() if k not in ("tcp_duplicate", "tcp_rst_no_conn", "not_for_us", "tcp_no_port", "udp_no_port")}')
[ "$drops" = "{}" ] || bad "frames were dropped: $drops"
net_objects_settled "$dir/o0.json" "$dir/o1.json" || fail=1

net_done "TCP and UDP over IPv6: curl -6, nc -6, refnet's clients, 200 MiB each way, dual-stack and V6ONLY"
