#!/usr/bin/env bash
# The live view (`refnet daemon --ui`) in a real browser, and its HTTP
# server against hostile requests.
#
# Headless Chromium (Debian's chromium) runs in the test's namespace and is
# driven through its DevTools protocol by ui_browser.py (cdp.py), phase by
# phase, this script doing the network's part in between (files in $dir
# say when):
#   1. the overview loads and lists httpd RUNNING;
#   2. the connections table gains a row when Linux connects and loses it
#      when Linux closes;
#   3. with the lab's fault (--inject enum-leak) and load as in
#      test_svc_stop.sh, `svc stop httpd` hangs, and the waits page shows the
#      chain with the `enum` holder highlighted and the verdict within the
#      watchdog's threshold + 1 s;
#   4. `refnet analyze --html` of a dump taken during the hang opens from
#      the file with the network off and shows the same chain and verdict;
#   5. the overview's button gives back the leak only with the token the
#      daemon printed (a wrong one is refused), and the stop completes;
#   6. the daemon restarts: the page says so and comes back by itself.
# Screenshots of each page are kept in $REFNET_BUILD/artifacts/ui/.
#
# Then hostile HTTP: a head over the limit, path escapes, a foreign Host,
# a wrong token, a bad method, a request sent too slowly and a flood of
# connections, each refused and counted by reason (`refnet stat`,
# ui.refused.*), while httpd keeps serving Linux; the daemon shuts down
# cleanly.  Last, the view on a UNIX socket (--ui unix:PATH).
. "$(dirname "$0")/lib.sh"
net_setup ui

chromium=$(command -v chromium || command -v chromium-browser || true)
[ -n "$chromium" ] || die "no chromium: scripts/deps.sh installs Debian's chromium"
art=$REFNET_BUILD/artifacts/ui
rm -rf "$art"
mkdir -p "$art" "$dir/www"
printf 'hello from refnet\n' >"$dir/www/index.html"
nsx ip link set lo up || die "cannot bring lo up in $ns"
threshold=3
port=8080
url=http://127.0.0.1:$port/

# wait_file NAME: waits (at most 120 s) until the browser's side writes it.
wait_file() {
    local i
    for i in $(seq 2400); do
        [ -e "$dir/$1" ] && return 0
        kill -0 "$bpid" 2>/dev/null || { bad "the browser's side ended before $1"; return 1; }
        sleep 0.05
    done
    bad "the browser's side never wrote $1"
    return 1
}

# The load that makes the leak, as test_svc_stop.sh does: Linux clients,
# one request per connection, and `refnet netstat -a --refs` in a loop.
load() {
    net_bg "$py" - 3 >"$dir/hammer.out" 2>&1 <<'EOF'
import socket, sys, threading, time
stop = time.time() + float(sys.argv[1])
done = [0]
def worker():
    while time.time() < stop:
        try:
            s = socket.create_connection(("198.18.0.2", 80), timeout=2)
            s.sendall(b"GET / HTTP/1.1\r\nHost: refnet\r\nConnection: close\r\n\r\n")
            while s.recv(4096):
                pass
            s.close()
            done[0] += 1
        except OSError:
            time.sleep(0.01)
ts = [threading.Thread(target=worker) for _ in range(8)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print("requests", done[0])
EOF
    local hpid=$bgpid end=$((SECONDS + 3)) n=0
    while [ $SECONDS -lt $end ]; do
        rn netstat -a --refs >/dev/null 2>&1 && n=$((n + 1))
    done
    wait "$hpid"
    echo "load: $(cat "$dir/hammer.out"), $n netstat listings"
}

listener_enum() {
    rn netstat -a --refs --json | "$py" -c '
import json, sys
rows = [r for r in json.load(sys.stdin) if r["local"] == "0.0.0.0:80" and r["state"] == "LISTEN"]
print(rows[0]["holders"].get("enum", 0) if rows else "none")'
}

net_start --inject enum-leak --watchdog $threshold --service "httpd=80:$dir/www" --service echo \
    --ui 127.0.0.1:$port
net_leak_re="objects? leaked at shutdown|still held"
grep -q "^refnet daemon: live view at $url (read-only; actions need the token [0-9a-f]\{32\})$" "$dlog" ||
    bad "no start-up line with the view's address and token: $(cat "$dlog")"
token=$(sed -n 's/.*actions need the token \([0-9a-f]*\)).*/\1/p' "$dlog")

# The first look at a page's data (no one has looked before) gets a fresh
# sample, not an empty one: the overview with its services and the
# connections with the listener.
for p in overview connections; do
    t0=$(date +%s%N)
    nsx curl -s -m 5 -o "$dir/first-$p.json" "${url}api/$p" || bad "GET /api/$p failed"
    ms=$((($(date +%s%N) - t0) / 1000000))
    "$py" - "$dir/first-$p.json" "$p" <<'EOF' || bad "the first answer of /api/$p has no data (${ms} ms): $(head -c 300 "$dir/first-$p.json")"
import json, sys
d = json.load(open(sys.argv[1]))
if sys.argv[2] == "overview":
    assert d["sampled_ns"] > 0, "not sampled"
    assert any(s["name"] == "httpd" for s in d["services"] or []), d["services"]
    assert d["ifaces"], d["ifaces"]
else:
    assert d["walks"] >= 1, "no walk"
    assert any(r["local"] == "0.0.0.0:80" for r in d["rows"] or []), d["rows"]
EOF
    echo "first look at /api/$p: a fresh sample in ${ms} ms"
done

"$py" "$here/ui_browser.py" --url "$url" --ns "$ns" --refnet "$refnet" --ctl "$sock" \
    --dir "$dir" --art "$art" --threshold $threshold --token "$token" &
bpid=$!
net_track "$bpid"

# 3. The leak, then the browser stops httpd and watches.
if wait_file ready-stop; then
    rn trace on "tcp listener" >/dev/null || bad "trace on failed"
    load
    leaked=$(listener_enum)
    echo "the listener's leaked 'enum' holds: $leaked"
    [ "$leaked" != none ] && [ "$leaked" -ge 1 ] 2>/dev/null || bad "the fault did not fire ($leaked)"
    touch "$dir/leaked"
fi
if wait_file hang-seen; then
    rn dump "$dir/hang.dump" >/dev/null || bad "refnet dump failed"
    # The live view's "save report" is the same report, of now.
    nsx curl -s -o "$dir/saved.html" -w '%{http_code}' "${url}report.html" >"$dir/code" || true
    [ "$(cat "$dir/code")" = 200 ] && grep -q 'id="rn-report"' "$dir/saved.html" &&
        grep -q "holds past its bound" "$dir/saved.html" || bad "the view's saved report: $(cat "$dir/code")"
    touch "$dir/dumped"
fi

# 5. The page gave the leak back (its button, with the token), so the stop
# completed; 6. the daemon stops and a new one starts on the same address.
if wait_file ready-restart; then
    [ "$(rn stat | awk '$1 == "ui.refused.bad-token" { print $2 }')" = 1 ] ||
        bad "the page's action with a wrong token was not counted once: $(rn stat | grep bad-token)"
    for i in $(seq 60); do
        rn svc status httpd | grep -q ": STOPPED" && break
        sleep 0.05
    done
    rn svc status httpd | grep -q ": STOPPED" || bad "httpd did not stop after clear-leak"
    # The page's stop is `svc stop`'s: with receive-side scaling, every
    # loop's instance stopped.
    rn svc status httpd --json >"$dir/httpd.json"
    [ "$(jq_py "$dir/httpd.json" '",".join(j.get("loop_states", [j["state"]]))' | tr , '\n' |
        sort -u)" = STOPPED ] || bad "the page's stop left a loop's httpd running: $(rn svc status httpd)"
    net_stop
    touch "$dir/stopped"
fi
if wait_file seen-down; then
    _net_launch --service echo --ui 127.0.0.1:$port
    touch "$dir/restarted"
fi
wait "$bpid"
[ $? = 0 ] || bad "the browser tests failed (see above)"
ls "$art"/*.png >/dev/null 2>&1 || bad "no screenshots in $art"

# ---- Hostile HTTP ----------------------------------------------------------------
token=$(sed -n 's/.*actions need the token \([0-9a-f]*\)).*/\1/p' "$dlog")
nsx "$py" - "$port" "$token" >"$dir/hostile.out" 2>&1 <<'EOF'
import re, socket, sys, time
port, token = int(sys.argv[1]), sys.argv[2]
def ask(raw, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(raw)
    except OSError:
        pass
    data = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
            if b"\r\n\r\n" in data and b"Connection: close" not in data:
                break
    except OSError:
        pass
    s.close()
    return data.split(b"\r\n", 1)[0].decode(errors="replace")
H = b"Host: 127.0.0.1:%d\r\n" % port
cases = [
    ("huge header", b"GET / HTTP/1.1\r\n" + H + b"X-Big: " + b"a" * 20000 + b"\r\n\r\n", "431"),
    ("many headers", b"GET / HTTP/1.1\r\n" + H + b"".join(b"X-%d: 1\r\n" % i for i in range(40)) + b"\r\n", "431"),
    ("path escape", b"GET /../../etc/passwd HTTP/1.1\r\n" + H + b"\r\n", "400"),
    ("encoded escape", b"GET /%2e%2e/etc/passwd HTTP/1.1\r\n" + H + b"\r\n", "400"),
    ("no such page", b"GET /etc/passwd HTTP/1.1\r\n" + H + b"\r\n", "404"),
    ("foreign host", b"GET / HTTP/1.1\r\nHost: evil.example:80\r\n\r\n", "421"),
    ("no token", b"POST /api/action HTTP/1.1\r\n" + H + b"Content-Length: 10\r\n\r\nclear-leak", "403"),
    ("wrong token", b"POST /api/action HTTP/1.1\r\n" + H + b"Authorization: Bearer " + b"0" * 32 +
     b"\r\nContent-Length: 10\r\n\r\nclear-leak", "403"),
    ("bad method", b"DELETE / HTTP/1.1\r\n" + H + b"\r\n", "405"),
    ("chunked body", b"POST /api/action HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n", "400"),
    ("huge body", b"POST /api/action HTTP/1.1\r\n" + H + b"Content-Length: 999999\r\n\r\n", "413"),
    ("bare LF", b"GET / HTTP/1.1\n" + H + b"\n", "400"),
    ("not HTTP", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40 + b"\r\n\r\n", "400"),
    ("unknown action", b"POST /api/action HTTP/1.1\r\n" + H + b"Authorization: Bearer " + token.encode() +
     b"\r\nContent-Length: 7\r\n\r\nrm -rf ", "400"),
    # Looked up on the loop, answered with the outcome.
    ("no such service", b"POST /api/action HTTP/1.1\r\n" + H + b"Authorization: Bearer " + token.encode() +
     b"\r\nContent-Length: 15\r\n\r\nsvc-stop nosuch", "404"),
    ("start running", b"POST /api/action HTTP/1.1\r\n" + H + b"Authorization: Bearer " + token.encode() +
     b"\r\nContent-Length: 14\r\n\r\nsvc-start echo", "202"),
]
bad = 0
for name, raw, want in cases:
    got = ask(raw)
    print("%-15s -> %s" % (name, got))
    if want not in got:
        print("FAIL: %s: got %r, want %s" % (name, got, want)); bad = 1
# Pipelined: three requests in one write get three answers, in order.
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(b"GET /app.css HTTP/1.1\r\n" + H + b"\r\n" + b"HEAD /app.js HTTP/1.1\r\n" + H + b"\r\n" +
          b"GET /nope HTTP/1.1\r\n" + H + b"\r\n")
data, t0 = b"", time.time()
while data.count(b"HTTP/1.1 ") < 3 and time.time() - t0 < 5:
    b = s.recv(65536)
    if not b:
        break
    data += b
s.close()
codes = [m.decode() for m in re.findall(rb"HTTP/1\.1 (\d{3}) ", data)]
print("pipelined       -> %s" % codes)
if codes != ["200", "200", "404"]:
    print("FAIL: pipelined requests: %r" % codes); bad = 1
# Slow: half a request, then nothing (the server gives up after 10 s).
s = socket.create_connection(("127.0.0.1", port), timeout=15)
s.sendall(b"GET / HTTP/1.1\r\n")
t0 = time.time()
got = s.recv(4096).split(b"\r\n", 1)[0].decode()
print("slow request    -> %s after %.1fs" % (got, time.time() - t0))
if "408" not in got:
    print("FAIL: slow request: %r" % got); bad = 1
s.close()
# A flood: 200 connections at once, each asking; the table holds 32.
socks, codes = [], {}
for i in range(200):
    try:
        c = socket.create_connection(("127.0.0.1", port), timeout=5)
        socks.append(c)
    except OSError:
        pass
for c in socks:
    try:
        c.sendall(b"GET /api/overview HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n")
    except OSError:
        pass
for c in socks:
    try:
        line = c.recv(64).split(b"\r\n", 1)[0].decode()
        code = line.split(" ")[1] if " " in line else "none"
    except OSError:
        code = "reset"
    codes[code] = codes.get(code, 0) + 1
    c.close()
print("flood of 200    -> %s" % codes)
if codes.get("503", 0) < 1 or codes.get("200", 0) < 1:
    print("FAIL: the flood: %r" % codes); bad = 1
# Still serving.
if "200" not in ask(b"GET /api/overview HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n"):
    print("FAIL: the view does not answer after the flood"); bad = 1
sys.exit(bad)
EOF
rc=$?
cat "$dir/hostile.out"
[ $rc = 0 ] || bad "hostile requests: see above"
rn stat >"$dir/stat.txt" || bad "refnet stat failed"
for r in head-too-large bad-path not-found bad-host bad-token bad-method bad-request body-too-large \
    bad-action too-many-connections idle-timeout; do
    grep -Eq "^ui\.refused\.$r +[1-9]" "$dir/stat.txt" || bad "refnet stat does not count ui.refused.$r: $(grep "ui.refused.$r" "$dir/stat.txt")"
done
# The data path was not disturbed: Linux still gets answers from refnet.
nsx "$py" -c '
import socket
s = socket.create_connection(("198.18.0.2", 7), timeout=3)
s.sendall(b"still there\n")
assert s.recv(100) == b"still there\n"
' || bad "the echo service does not answer after the hostile requests"

# ---- On a UNIX socket --------------------------------------------------------
# --ui unix:PATH: the socket made mode 0600, the pages and data served on
# it (the first look with a fresh sample), actions still needing the
# token, and the file removed when the daemon stops.
net_restart --service echo --ui "unix:$dir/ui.sock"
grep -q "^refnet daemon: live view at unix:$dir/ui.sock (read-only; actions need the token [0-9a-f]\{32\})$" "$dlog" ||
    bad "no start-up line with the UNIX socket's path: $(cat "$dlog")"
[ "$(stat -c '%a %F' "$dir/ui.sock" 2>&1)" = "600 socket" ] ||
    bad "the view's UNIX socket: $(stat -c '%a %F' "$dir/ui.sock" 2>&1), want mode 600"
code=$(curl -s -m 5 --unix-socket "$dir/ui.sock" -o "$dir/unix.json" -w '%{http_code}' http://x/api/overview)
[ "$code" = 200 ] && "$py" -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert any(s["name"] == "echo" for s in d["services"] or []), d
' "$dir/unix.json" || bad "GET /api/overview on the UNIX socket: $code $(head -c 300 "$dir/unix.json")"
code=$(curl -s -m 5 --unix-socket "$dir/ui.sock" -o /dev/null -w '%{http_code}' http://x/)
[ "$code" = 200 ] || bad "GET / on the UNIX socket: $code"
code=$(curl -s -m 5 --unix-socket "$dir/ui.sock" -o /dev/null -w '%{http_code}' --data-binary clear-leak \
    http://x/api/action)
[ "$code" = 403 ] || bad "an action without the token on the UNIX socket: $code, want 403"
net_stop
[ ! -e "$dir/ui.sock" ] || bad "the view's UNIX socket was left behind"
echo "unix socket: mode 600, overview served, an action without the token refused, the file removed at exit"

net_done "ui: overview, connections come and go, the stuck stop's chain with enum highlighted in time, the report offline, reconnect after a restart; hostile requests refused and counted; on a UNIX socket"
