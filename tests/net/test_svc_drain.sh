#!/usr/bin/env bash
# A stop that drains: httpd with a drain grace (`refnet svc drain httpd
# 60`) is stopped while Linux's curl downloads 50 MB from it, rate-limited
# so that the download is still going when the stop begins.
#   - the stop refuses new connections at once, shuts an idle keep-alive
#     connection (its peer reads the end), and lets the download finish:
#     curl exits 0 and the file is intact (SHA-256);
#   - while it drains, `refnet why httpd` shows the service as "draining
#     1 connection, N left, R/s" with the verdict "in progress"; the
#     watchdog (threshold 1 s) reports the same chain; a dump taken then,
#     read by `refnet analyze`, agrees; no output ever says "leaked";
#   - the stop answers STOPPED once the download is over, well before the
#     grace; the daemon shuts down cleanly, nothing leaked.
# A stop without a grace (`svc drain httpd 0`) still cuts a download.
# A stalled drain is named so, and its grace ends it.
# The simple services drain too: chargen ends its stream with a close (its
# reader sees the end, not a reset) and its stop completes at once; echo
# goes on echoing on an open connection until its peer closes, then its
# stop completes, long before the grace.
# Takes about 25 s.
. "$(dirname "$0")/lib.sh"
net_setup svc_drain
net_need curl

mkdir -p "$dir/www" "$dir/dumps"
head -c 50000000 /dev/urandom >"$dir/www/big.bin"
want=$(sha256sum <"$dir/www/big.bin" | cut -d' ' -f1)

net_start --watchdog 1 --dump-dir "$dir/dumps" --service "httpd=80:$dir/www" \
    --service chargen --service echo
rn svc drain httpd >"$dir/d0.txt" && grep -q "a stop aborts its connections at once" "$dir/d0.txt" ||
    bad "svc drain httpd (default): $(cat "$dir/d0.txt")"
rn svc drain httpd 60 >"$dir/d1.txt" && grep -q "drains its connections for up to 1m" "$dir/d1.txt" ||
    bad "svc drain httpd 60: $(cat "$dir/d1.txt")"
rn svc drain httpd -1 >/dev/null 2>"$dir/e1"; [ $? = 2 ] || bad "svc drain httpd -1: $(cat "$dir/e1")"
rn svc drain nosuch 5 >/dev/null 2>"$dir/e2"; [ $? = 1 ] || bad "svc drain nosuch 5: $(cat "$dir/e2")"

# An idle keep-alive connection: one answered request, then nothing.
net_bg "$py" - >"$dir/idle.out" 2>&1 <<'EOF'
import socket, time
s = socket.create_connection(("198.18.0.2", 80), timeout=30)
s.sendall(b"GET /nosuch HTTP/1.1\r\nHost: refnet\r\n\r\n")
got = b""
while b"\r\n\r\n" not in got:
    got += s.recv(4096)
print("answered", got.split(b"\r\n")[0].decode())
t0 = time.time()
rest = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    rest += b
print("end after %.1f s" % (time.time() - t0))
EOF
idle=$bgpid

# The download, 12 MB/s: about 4 s.
net_bg curl -sS --max-time 40 --limit-rate 12M -o "$dir/got.bin" http://198.18.0.2/big.bin
curl_pid=$bgpid
for i in $(seq 100); do
    [ -f "$dir/got.bin" ] && [ "$(stat -c %s "$dir/got.bin")" -ge 5000000 ] && break
    sleep 0.05
done
[ "$(stat -c %s "$dir/got.bin" 2>/dev/null || echo 0)" -ge 5000000 ] || die "the download did not start"

"$refnet" svc stop httpd --timeout 40 --ctl "$sock" >"$dir/stop.out" 2>&1 &
stop_pid=$!
net_track "$stop_pid"
dumped=0
for i in $(seq 200); do
    kill -0 "$stop_pid" 2>/dev/null || break
    rn why httpd >>"$dir/why.log" 2>&1
    echo "----" >>"$dir/why.log"
    if [ "$dumped" = 0 ] && grep -q "draining" "$dir/why.log"; then
        rn dump "$dir/drain.dump" >/dev/null 2>&1 && dumped=1
    fi
    sleep 0.25
done
wait "$stop_pid"
stop_rc=$?
echo "---- svc stop httpd (exit $stop_rc): $(cat "$dir/stop.out")"
[ "$stop_rc" = 0 ] && grep -q "^service httpd STOPPED" "$dir/stop.out" || bad "the stop did not complete"
net_wait_bg "$curl_pid" 10 || bad "curl failed"
got=$(sha256sum <"$dir/got.bin" | cut -d' ' -f1)
[ "$got" = "$want" ] && echo "download intact: $(stat -c %s "$dir/got.bin") bytes" ||
    bad "the download is not intact ($(stat -c %s "$dir/got.bin") bytes)"
net_wait_bg "$idle" 10 || bad "the idle keep-alive connection was not ended: $(cat "$dir/idle.out")"
echo "idle connection: $(tr '\n' ' ' <"$dir/idle.out")"
grep -q "^end after" "$dir/idle.out" || bad "the idle connection: $(cat "$dir/idle.out")"

# What the diagnosis said while it drained.
echo "---- one why httpd while draining:"
awk 'BEGIN{RS="----\n"} /draining 1 connection.*[1-9][0-9.]*[kM]B\/s/ {print; exit}' "$dir/why.log"
grep -Eq "service httpd STOP_PENDING draining 1 connection, [0-9.]+[kMG]?B left, [0-9.]+[kMG]?B/s" "$dir/why.log" ||
    bad "why httpd never showed the drain's progress"
grep -q "verdict: in progress: #[0-9]* drains its connections" "$dir/why.log" ||
    bad "why httpd never said 'in progress'"
grep -qi "leaked" "$dir/why.log" && bad "why httpd said 'leaked' during a drain: $(grep -i leaked "$dir/why.log" | head -3)"
grep -Eq "drain pending" "$dlog" && grep -q "verdict: in progress" "$dlog" ||
    bad "the watchdog did not report the drain in progress"
grep -qi "leaked" "$dlog" && bad "the watchdog said 'leaked': $(grep -i leaked "$dlog" | head -3)"
if [ "$dumped" = 1 ]; then
    "$refnet" analyze --threshold 0 "$dir/drain.dump" >"$dir/analyze.txt" 2>&1
    grep -Eq "draining [0-9]+ connections?, " "$dir/analyze.txt" && grep -q "verdict: in progress" "$dir/analyze.txt" ||
        bad "analyze of a dump taken while draining: $(cat "$dir/analyze.txt")"
    grep -qi "leaked" "$dir/analyze.txt" && bad "analyze said 'leaked'"
else
    bad "no dump could be taken while draining"
fi
for d in "$dir"/dumps/*; do
    [ -f "$d" ] || continue
    "$refnet" analyze "$d" 2>&1 | grep -qi "leaked" && bad "analyze $d said 'leaked'"
done

# A transfer that stops moving (its reader went to sleep) is named stalled
# once nothing was sent for 5 s, and the grace (8 s) ends the drain: the
# stop aborts it and completes.
rn svc drain httpd 8 >/dev/null || bad "svc drain httpd 8"
rn svc start httpd >/dev/null || bad "svc start httpd"
net_bg "$py" - >"$dir/sleepy.out" 2>&1 <<'EOF2'
import socket, time
s = socket.create_connection(("198.18.0.2", 80), timeout=30)
s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: refnet\r\n\r\n")
n = 0
while n < 1000000:
    n += len(s.recv(65536))
print("read", n, "then sleeps")
time.sleep(15)
EOF2
sleepy=$bgpid
net_wait_for 5 grep -q "then sleeps" "$dir/sleepy.out" || bad "the sleepy reader did not start: $(cat "$dir/sleepy.out")"
t0=$SECONDS
"$refnet" svc stop httpd --timeout 20 --ctl "$sock" >"$dir/stop3.out" 2>&1 &
stop_pid=$!
net_track "$stop_pid"
: >"$dir/why3.log"
for i in $(seq 80); do
    kill -0 "$stop_pid" 2>/dev/null || break
    rn why httpd >>"$dir/why3.log" 2>&1
    sleep 0.25
done
wait "$stop_pid" || bad "the stop of a stalled drain failed: $(cat "$dir/stop3.out")"
echo "stalled drain: $(cat "$dir/stop3.out") after $((SECONDS - t0)) s"
grep -Eq "draining 1 connection, .*, stalled [5-9]" "$dir/why3.log" ||
    bad "why httpd never said the drain was stalled"
grep -q "verdict: in progress but stalled" "$dir/why3.log" || bad "no 'in progress but stalled' verdict"
grep -qi "leaked" "$dir/why3.log" && bad "why httpd said 'leaked' during a stalled drain"
net_kill_bg

# Without a grace a stop cuts the download, as before.
rn svc drain httpd 0 >/dev/null || bad "svc drain httpd 0"
rn svc start httpd >/dev/null || bad "svc start httpd"
rm -f "$dir/got2.bin"
net_bg curl -sS --max-time 40 --limit-rate 12M -o "$dir/got2.bin" http://198.18.0.2/big.bin
curl2=$bgpid
for i in $(seq 100); do
    [ -f "$dir/got2.bin" ] && [ "$(stat -c %s "$dir/got2.bin")" -ge 2000000 ] && break
    sleep 0.05
done
"$refnet" svc stop httpd --timeout 10 --ctl "$sock" >"$dir/stop2.out" 2>&1 || bad "svc stop without a grace: $(cat "$dir/stop2.out")"
net_wait_bg "$curl2" 10 && bad "curl finished a download its server's stop cut"
[ "$(stat -c %s "$dir/got2.bin")" -lt 50000000 ] || bad "the cut download is whole"

# chargen: a reader well into the stream; the drain ends it with a close.
net_bg "$py" - >"$dir/chargen.out" 2>&1 <<'EOF3'
import socket, sys
s = socket.create_connection(("198.18.0.2", 19), timeout=20)
n = 0
try:
    while True:
        b = s.recv(65536)
        if not b:
            print("end after", n)
            break
        n += len(b)
        if n >= 200000 and n - len(b) < 200000:
            print("reading", n, flush=True)
except ConnectionResetError:
    print("reset after", n)
EOF3
cg=$bgpid
net_wait_for 5 grep -q "^reading" "$dir/chargen.out" || bad "chargen did not stream: $(cat "$dir/chargen.out")"
rn svc drain chargen 30 >/dev/null || bad "svc drain chargen 30"
t0=$SECONDS
rn svc stop chargen >"$dir/stop4.out" 2>&1 || bad "svc stop chargen: $(cat "$dir/stop4.out")"
[ $((SECONDS - t0)) -le 5 ] || bad "chargen's draining stop took $((SECONDS - t0)) s"
net_wait_bg "$cg" 10 || bad "the chargen reader did not end"
grep -q "^end after" "$dir/chargen.out" || bad "chargen's drain did not close its stream: $(cat "$dir/chargen.out")"
echo "chargen drain: $(tr '\n' ' ' <"$dir/chargen.out")"

# echo: a connection that echoed once and waits for a go; the stop drains
# it (the diagnosis says so), it echoes again, closes, and the stop ends.
net_bg "$py" - "$dir/go" >"$dir/echo.out" 2>&1 <<'EOF4'
import os, socket, sys, time
s = socket.create_connection(("198.18.0.2", 7), timeout=20)
s.sendall(b"one\n")
print("echoed", s.recv(64).decode().strip(), flush=True)
t0 = time.time()
while not os.path.exists(sys.argv[1]) and time.time() - t0 < 20:
    time.sleep(0.05)
s.sendall(b"two\n")
print("echoed", s.recv(64).decode().strip(), flush=True)
s.close()
EOF4
ec=$bgpid
net_wait_for 5 grep -q "^echoed one" "$dir/echo.out" || bad "echo did not answer: $(cat "$dir/echo.out")"
rn svc drain echo 30 >/dev/null || bad "svc drain echo 30"
t0=$SECONDS
"$refnet" svc stop echo --timeout 20 --ctl "$sock" >"$dir/stop5.out" 2>&1 &
stop_pid=$!
net_track "$stop_pid"
net_wait_for 5 sh -c "'$refnet' why echo --ctl '$sock' 2>&1 | grep -q 'draining 1 connection'" ||
    bad "why echo never said it was draining: $(rn why echo 2>&1)"
touch "$dir/go"
wait "$stop_pid" || bad "svc stop echo: $(cat "$dir/stop5.out")"
[ $((SECONDS - t0)) -le 8 ] || bad "echo's draining stop took $((SECONDS - t0)) s"
net_wait_bg "$ec" 5 || bad "the echo client did not end"
grep -q "^echoed two" "$dir/echo.out" || bad "echo stopped serving while it drained: $(cat "$dir/echo.out")"
echo "echo drain: $(tr '\n' ' ' <"$dir/echo.out") stop: $(cat "$dir/stop5.out")"

net_done "a draining stop finishes a 50 MB download intact and says 'in progress', never 'leaked'"
