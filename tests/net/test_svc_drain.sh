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
# Takes about 20 s.
. "$(dirname "$0")/lib.sh"
net_setup svc_drain
net_need curl

mkdir -p "$dir/www" "$dir/dumps"
head -c 50000000 /dev/urandom >"$dir/www/big.bin"
want=$(sha256sum <"$dir/www/big.bin" | cut -d' ' -f1)

net_start --watchdog 1 --dump-dir "$dir/dumps" --service "httpd=80:$dir/www"
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

net_done "a draining stop finishes a 50 MB download intact and says 'in progress', never 'leaked'"
