#!/usr/bin/env bash
# Bulk data from refnet to Linux, in a namespace of its own (lib.sh),
# with the chargen service (--service chargen, TCP port 19):
#   - `refnet send 198.18.0.1 5000 < FILE`: 200 MiB of random bytes over a
#     connection refnet opens to Linux's `nc -l`; send exits 0 (every byte
#     sent and the connection closed gracefully) within 60 s, nc exits 0,
#     and what nc received has the file's SHA-256; the time is printed;
#   - chargen: Linux reads 16 MiB from refnet's port 19 and every byte is
#     the RFC 864 stream as BSD inetd sends it (apps.h: line i holds the 72
#     characters from ' ' + i mod 95 on, then CR LF; RFC 864's own example
#     starts one character later, at '!'); the first lines are printed.
#     Linux then closes; chargen answers a close with a reset (apps.h);
#   - afterwards refnet has no TCP connection left, its objects are back to
#     the baseline (TIME_WAIT and Linux's ARP entry aside), no frame was
#     dropped (but Linux's resent copies: lib.sh, net_unexpected_drops),
#     and the daemon shuts down cleanly (lib.sh).
. "$(dirname "$0")/lib.sh"
net_setup send_200m
net_start --service chargen

net_objects "$dir/o0.json"
net_stat "$dir/s0.json"

# ---- refnet send -> nc -l ----
size=$((200 << 20))
head -c "$size" /dev/urandom >"$dir/file"
net_bg nc -l 198.18.0.1 5000 >"$dir/got" </dev/null
ncpid=$bgpid
net_wait_for 5 eval 'nsx ss -Hltn "sport = :5000" | grep -q 5000' || die "nc -l did not listen"
t0=$(date +%s%N)
timeout 60 "$refnet" send 198.18.0.1 5000 --ctl "$sock" <"$dir/file" >"$dir/send.out" 2>"$dir/send.err"
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$rc" = 0 ] || bad "refnet send exited $rc after $ms ms: $(cat "$dir/send.err")"
[ ! -s "$dir/send.out" ] || bad "refnet send printed what nc sent back: $(head -c 100 "$dir/send.out" | od -c | head -3)"
net_wait_bg "$ncpid" 10
rc=$?
[ "$rc" = 0 ] || bad "nc -l exited $rc (124: still running 10 s after refnet send ended)"
got=$(stat -c %s "$dir/got")
[ "$got" = "$size" ] || bad "nc received $got bytes, want $size"
[ "$(sha256sum <"$dir/file")" = "$(sha256sum <"$dir/got")" ] || bad "what nc received differs from the file (SHA-256)"
echo "refnet send: 200 MiB in $ms ms ($((200 * 1000 / (ms + 1))) MiB/s)"
rm -f "$dir/file" "$dir/got"

# ---- chargen -> Linux ----
nsx "$py" - <<'EOF' || bad "chargen"
import socket, sys, time
N = 16 << 20
# BSD inetd's chargen (apps.h): 95 lines make the cycle.
cycle = b"".join(bytes(32 + (i + j) % 95 for j in range(72)) + b"\r\n" for i in range(95))
s = socket.create_connection(("198.18.0.2", 19), timeout=5)
buf = bytearray()
deadline = time.monotonic() + 20
while len(buf) < N and time.monotonic() < deadline:
    chunk = s.recv(min(1 << 20, N - len(buf)))
    if not chunk:
        break
    buf += chunk
if len(buf) < N:
    print("FAIL: chargen gave %d of %d bytes" % (len(buf), N))
    sys.exit(1)
want = (cycle * (N // len(cycle) + 1))[:N]
if buf != want:
    at = next(i for i in range(N) if buf[i] != want[i])
    print("FAIL: chargen byte %d (line %d, column %d) is %r, want %r" %
          (at, at // 74, at % 74, bytes(buf[at:at + 8]), want[at:at + 8]))
    sys.exit(1)
lines = bytes(buf[:74 * 3]).decode().split("\r\n")[:3]
for l in lines:
    print("chargen: " + l)
if lines[0] != "".join(chr(32 + j) for j in range(72)) or lines[1][0] != "!":
    print("FAIL: chargen's first lines")
    sys.exit(1)
s.close()
print("chargen: %d bytes, all of the pattern" % N)
EOF

net_tcp_idle 5 || bad "refnet still has TCP connections: $(rn objects --type 'tcp connection')"
net_stat "$dir/s1.json"
net_objects "$dir/o1.json"
ds() { echo $(( $(jq_py "$dir/s1.json" "$1") - $(jq_py "$dir/s0.json" "$1") )); }
[ "$(ds 'proto(j,"tcp.active_opens")')" = 1 ] || bad "tcp.active_opens grew by $(ds 'proto(j,"tcp.active_opens")'), want 1"
[ "$(ds 'proto(j,"tcp.passive_opens")')" = 1 ] || bad "tcp.passive_opens grew by $(ds 'proto(j,"tcp.passive_opens")'), want 1"
drops=$(net_unexpected_drops "$dir/s1.json")
[ "$drops" = "{}" ] || bad "frames were dropped: $drops"
net_objects_settled "$dir/o0.json" "$dir/o1.json" || fail=1

net_done "send_200m: 200 MiB by refnet send to nc -l identical, chargen's 16 MiB exact"
