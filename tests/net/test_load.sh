#!/usr/bin/env bash
# refnet's httpd under load from Linux, in a namespace of its own (lib.sh):
#   - `wrk -t 2 -c 50 -d 5s` with keep-alive on a 1 KiB file: no socket
#     errors (connect, read, write, timeout) and no non-2xx answer; httpd
#     answered as many 2xx as wrk counted requests (at most 50 more: those
#     answered as wrk stopped), accepted 51 connections (wrk's check of the
#     address, then its 50, each kept for the whole run), and aborted only
#     those Linux reset when wrk closed them with an answer unread;
#   - then 2,000 connections one after another, each one request with
#     Connection: close, read until httpd's FIN (so httpd closes first and
#     each leaves a TIME_WAIT entry on refnet's side): every one answered
#     200 with the exact file, within 60 s;
#   - afterwards, through the control socket: no TCP connection is left
#     (tcp.connections 0 in stat, no "tcp connection" object, nothing but
#     LISTEN and TIME_WAIT in netstat), and the live objects are exactly
#     the fixed furniture: the interface, its route, the ARP entry for
#     Linux, the filtering platform's two built-in callout registrations,
#     httpd's process, its listening socket, its listener and its pending
#     accept -- plus the TIME_WAIT entries and the listing's own control
#     request.  Exactly one TIME_WAIT entry per connection httpd closed
#     first, or one let go early: recycled (tcp.timewait_recycled, the
#     table full) or reopened (tcp.timewait_reopened: Linux reused a port
#     whose 4-tuple was still in TIME_WAIT here, with a new SYN);
#   - the daemon shuts down cleanly (lib.sh), TIME_WAIT entries included.
. "$(dirname "$0")/lib.sh"
net_setup load
net_need wrk
www="$dir/www"
mkdir -p "$www"
head -c 1024 /dev/urandom >"$www/small.bin"
net_start --service httpd=80:"$www"

out=$(nsx ping -n -q -c 1 -W 2 198.18.0.2 2>&1) || bad "ping: $out"
net_svc "$dir/v0.json"

# ---- wrk with keep-alive ----
nsx timeout 30 wrk -t 2 -c 50 -d 5s --timeout 5s http://198.18.0.2/small.bin >"$dir/wrk.out" 2>&1
rc=$?
cat "$dir/wrk.out"
[ "$rc" = 0 ] || bad "wrk exited $rc"
grep -q "Socket errors" "$dir/wrk.out" && bad "wrk had socket errors: $(grep 'Socket errors' "$dir/wrk.out")"
grep -q "Non-2xx" "$dir/wrk.out" && bad "wrk got non-2xx answers: $(grep 'Non-2xx' "$dir/wrk.out")"
reqs=$(awk '/requests in/ { print $1 }' "$dir/wrk.out")
[ -n "$reqs" ] && [ "$reqs" -gt 1000 ] || bad "wrk made '$reqs' requests in 5 s, want more than 1000"
net_tcp_idle 5 || bad "connections remain after wrk: $(rn netstat)"
net_svc "$dir/v1.json"
dv() { echo $(( $(jq_py "$3" "svc(j,'httpd')['$1']") - $(jq_py "$2" "svc(j,'httpd')['$1']") )); }
ok=$(dv status_2xx "$dir/v0.json" "$dir/v1.json")
[ "$ok" -ge "$reqs" ] && [ "$ok" -le $((reqs + 50)) ] ||
    bad "httpd answered $ok 2xx, wrk counted $reqs requests"
for c in status_4xx status_5xx; do
    [ "$(dv $c "$dir/v0.json" "$dir/v1.json")" = 0 ] || bad "httpd's $c grew by $(dv $c "$dir/v0.json" "$dir/v1.json") under wrk"
done
# wrk first connects once to check the address (its resolve step), then
# opens its 50; all kept alive to the end.
[ "$(dv accepted "$dir/v0.json" "$dir/v1.json")" = 51 ] ||
    bad "httpd accepted $(dv accepted "$dir/v0.json" "$dir/v1.json") connections for wrk -c 50 (keep-alive), want 51"
# wrk stops with a request in flight on each connection and closes it
# unread: Linux resets those, and httpd aborts them.
r=$(dv resets "$dir/v0.json" "$dir/v1.json")
[ "$r" -le 50 ] && [ "$(dv aborted "$dir/v0.json" "$dir/v1.json")" = "$r" ] ||
    bad "httpd counted $r resets and $(dv aborted "$dir/v0.json" "$dir/v1.json") aborts under wrk, want as many and at most 50"

# ---- 2,000 connections, one request each ----
net_stat "$dir/s1.json"
nsx timeout 90 "$py" - "$www/small.bin" <<'EOF' || bad "2,000 sequential connections"
import socket, sys, time
want = open(sys.argv[1], "rb").read()
req = b"GET /small.bin HTTP/1.1\r\nHost: 198.18.0.2\r\nConnection: close\r\n\r\n"
N, errs, t0 = 2000, [], time.monotonic()
for i in range(N):
    if time.monotonic() - t0 > 60:
        errs.append("only %d connections in 60 s" % i)
        break
    try:
        s = socket.create_connection(("198.18.0.2", 80), timeout=5)
        s.sendall(req)
        data = b""
        while len(data) < 65536:
            d = s.recv(65536)
            if not d:
                break          # httpd's FIN: it closed first
            data += d
        s.close()
        head, _, body = data.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200 ") or body != want:
            errs.append("connection %d: %r, %d bytes of body" % (i, head[:40], len(body)))
    except Exception as e:
        errs.append("connection %d: %r" % (i, e))
    if len(errs) >= 10:
        break
for e in errs:
    print("FAIL: " + e)
print("%d connections in %.1f s" % (N, time.monotonic() - t0))
sys.exit(1 if errs else 0)
EOF
net_tcp_idle 5 || bad "connections remain after the 2,000: $(rn netstat)"
net_stat "$dir/s2.json"
net_svc "$dir/v2.json"
net_objects "$dir/o2.json"
rn netstat -a --json >"$dir/ns.json" || bad "netstat -a --json failed"
ds() { echo $(( $(jq_py "$dir/s2.json" "$1") - $(jq_py "$dir/s1.json" "$1") )); }
[ "$(dv accepted "$dir/v1.json" "$dir/v2.json")" = 2000 ] ||
    bad "httpd accepted $(dv accepted "$dir/v1.json" "$dir/v2.json") of the 2,000 connections"
[ "$(dv status_2xx "$dir/v1.json" "$dir/v2.json")" = 2000 ] ||
    bad "httpd answered $(dv status_2xx "$dir/v1.json" "$dir/v2.json") of the 2,000 requests with 2xx"
tw=$(jq_py "$dir/s2.json" 'proto(j,"tcp.timewait")')
recycled=$(ds 'proto(j,"tcp.timewait_recycled")')
reopened=$(ds 'proto(j,"tcp.timewait_reopened")')
echo "TIME_WAIT entries: $tw, recycled: $recycled, reopened by a new SYN: $reopened"
[ $((tw + recycled + reopened)) = 2000 ] ||
    bad "$tw TIME_WAIT entries (+ $recycled recycled, $reopened reopened) for 2,000 connections httpd closed first"

# With receive-side scaling every loop has its stack and its httpd.
rn status --json >"$dir/status.json"
loops=$(jq_py "$dir/status.json" 'j["rss_queues"]')
"$py" - "$dir/o2.json" "$dir/ns.json" "$tw" "$loops" <<'EOF' || fail=1
import json, sys
import rnjson
objs, rows, tw = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), int(sys.argv[3])
n = int(sys.argv[4])
errs = []
types = rnjson.types(objs)
# The request records httpd keeps idle for its next requests, a bounded
# number.
spares = types.pop("request spare", 0)
if spares > rnjson.SPARES_MAX * n:
    errs.append("%d spare request records, want at most %d" % (spares, rnjson.SPARES_MAX * n))
want = {"interface": n, "route": n, "arp entry": n, "callout registration": 2 * n,
        "process": n, "service": n, "socket": n, "tcp listener": n, "request": 2 * n,
        "readiness set": n, "tcp timewait": tw, "ctl request": 1}
if types != want:
    errs.append("objects by type %r, want %r" % (dict(sorted(types.items())), dict(sorted(want.items()))))
desc = {}
for o in objs:
    if o["type"] in ("process", "tcp listener", "request", "socket", "readiness set"):
        desc.setdefault(o["type"], []).append(o["desc"])
# httpd's own: its listener's accept, and the wait of the readiness set
# its idle connections wait in (none now).
for t, d in (("process", "process httpd"), ("tcp listener", "tcp listener 0.0.0.0:80 LISTEN"),
             ("request", "request accept"), ("request", "request wait readiness set"),
             ("socket", "tcp 0.0.0.0:80"), ("readiness set", "0 sockets")):
    if not any(d in x for x in desc.get(t, [])):
        errs.append("no %s is %r, want httpd's (%s)" % (t, desc.get(t), d))
states = {}
for r in rows:
    if r["proto"] == "tcp":
        states[r["state"]] = states.get(r["state"], 0) + 1
if states != {"LISTEN": n, "TIME_WAIT": tw}:
    errs.append("netstat -a: TCP rows by state %r, want LISTEN %d, TIME_WAIT %d" % (states, n, tw))
for e in errs:
    print("FAIL: " + e)
sys.exit(1 if errs else 0)
EOF

net_done "load: wrk -c 50 ($reqs requests) without errors, 2,000 closing connections, back to the furniture"
