#!/usr/bin/env bash
# Receive-side scaling against Linux: `refnet daemon --rss 2` runs two
# loops, each with its stack on its own queue of the multi-queue TAP and
# its own httpd, discard and echo.
#   - status says so;
#   - 24 slow downloads at once (16 over IPv4, 8 over IPv6): netstat, taken
#     three times while they run, shows each connection on the loop the
#     Toeplitz hash of its 4-tuple names (computed here, apart from
#     refnet), always the same one, and both loops busy; every download
#     completes with the file's SHA-256: no flow ever moved;
#   - UDP echo from 64 source ports over both families: every datagram is
#     answered, from either loop (the second one learnt Linux's address
#     from the first one's copies of ARP and neighbour discovery);
#   - 4 x 50 MB into discard at once complete;
#   - `refnet why` of a connection on loop 1 reads as one on loop 0 does;
#   - `svc status` (text and JSON) and the live view's overview sum both
#     loops' instances of a service; ifconfig lists both loops' rn0 in
#     text, and one rn0 with both loops' parts in JSON;
#   - the daemon stops cleanly, nothing leaked.
. "$(dirname "$0")/lib.sh"
net_setup rss
net_need curl
net_v6=1

www="$dir/www"
mkdir -p "$www"
head -c $((4 << 20)) /dev/urandom >"$www/big.bin"
nsx ip link set lo up || die "cannot bring lo up (the live view listens on it)"
net_start --rss 2 --service httpd=80:"$www" --service discard --service echo --ui 127.0.0.1:8080
net_wait_dad

rn status --json >"$dir/status.json"
[ "$(jq_py "$dir/status.json" 'j["rss_queues"]')" = 2 ] || bad "status: $(rn status)"
rn status | grep -q "^  rss       2 queues" || bad "status text: $(rn status)"

# The hash, written again from the specification: tests/net/rsshash.py.

# why_pair NETSTAT_JSON: `refnet why` of an established connection on
# each loop; the two must read alike but for ids, addresses (one may be
# IPv4, the other IPv6), ports, ages and counts (and a timer that one has
# armed at that moment).
why_pair() {
    local id0 id1
    "$py" - "$1" >"$dir/ids" <<'EOF'
import json, sys
rows = [r for r in json.load(open(sys.argv[1])) if r["state"] == "ESTABLISHED"]
print(" ".join(str(next((r["id"] for r in rows if r["loop"] == l), "")) for l in (0, 1)))
EOF
    read -r id0 id1 <"$dir/ids"
    if [ -z "$id0" ] || [ -z "$id1" ]; then
        bad "no connection on each loop to ask why about: '$id0' '$id1'"
        return
    fi
    rn why "$id0" >"$dir/why0.txt" 2>&1
    rn why "$id1" >"$dir/why1.txt" 2>&1
    if ! diff <(why_shape <"$dir/why0.txt") <(why_shape <"$dir/why1.txt") >"$dir/why.diff"; then
        bad "why of a loop-1 connection reads unlike a loop-0 one:"
        cat "$dir/why.diff"
    fi
    grep -q "tcp connection" "$dir/why1.txt" || bad "why $id1: $(cat "$dir/why1.txt")"
}
# The object's line without its counts, then its holders' tags, sorted,
# but for timers (armed or not from one moment to the next).
why_shape() {
    sed -E -e 's/\[[0-9a-f:]+\]/ADDR/g; s/[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+/ADDR/g' \
        -e 's/#[0-9]+/#ID/g; s/:[0-9]+/:PORT/g; s/ (sndq|rcvq|refs) [0-9]+/ \1 N/g; s/ +/ /g' |
        awk 'NR == 1 { sub(/ #ID.*/, ""); print; next } $1 != "tcp.timer" { print $1 }' |
        { read -r first; echo "$first"; sort; }
}

# ---- Slow downloads: each on its hash's loop, never moving --------------------
echo '{}' >"$dir/seen.json"
pids=()
for i in $(seq 24); do
    if [ "$i" -le 16 ]; then url=http://198.18.0.2/big.bin; else url='http://[2001:2::2]/big.bin'; fi
    ip netns exec "$ns" curl -sS --noproxy '*' --max-time 60 --limit-rate 300k \
        -o "$dir/got.$i" "$url" 2>"$dir/curl.$i" &
    pids+=($!)
    net_track $!
done
sleep 1
both=0
for round in 1 2 3; do
    rn netstat --json >"$dir/ns.$round.json" || bad "netstat --json failed"
    per=$("$py" "$here/rsshash.py" check "$dir/ns.$round.json" "$dir/seen.json") ||
        bad "netstat round $round: $per"
    echo "round $round: connections per loop: $(tail -1 <<<"$per")"
    read -r n0 n1 <<<"$(tail -1 <<<"$per")"
    [ "${n0:-0}" -gt 0 ] && [ "${n1:-0}" -gt 0 ] && both=1
    [ "$round" = 1 ] && why_pair "$dir/ns.1.json"
    sleep 1
done
[ "$both" = 1 ] || bad "the connections did not spread over both loops"
want=$(sha256sum <"$www/big.bin")
for i in $(seq 24); do
    wait "${pids[$((i - 1))]}" || bad "download $i: curl failed: $(cat "$dir/curl.$i")"
    [ "$(sha256sum <"$dir/got.$i")" = "$want" ] || bad "download $i: SHA-256 differs"
    rm -f "$dir/got.$i"
done

# ---- UDP echo from 64 source ports, both families ------------------------------
nsx "$py" - <<'EOF' || bad "UDP echo over both loops"
import socket, sys
lost = 0
for fam, dst in ((socket.AF_INET, "198.18.0.2"), (socket.AF_INET6, "2001:2::2")):
    for i in range(32):
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.settimeout(2)
        msg = b"echo %d" % i
        s.sendto(msg, (dst, 7))
        try:
            got, _ = s.recvfrom(100)
            lost += got != msg
        except socket.timeout:
            lost += 1
        s.close()
print("UDP echo: %d of 64 unanswered" % lost)
sys.exit(1 if lost else 0)
EOF

# ---- Bulk into discard on both loops ---------------------------------------------
nsx "$py" - <<'EOF' || bad "discard: 4 x 50 MB"
import socket, threading, sys
errs = []
def send():
    try:
        s = socket.create_connection(("198.18.0.2", 9), timeout=30)
        buf = b"x" * 65536
        for _ in range(800):
            s.sendall(buf)
        s.shutdown(socket.SHUT_WR)
        s.settimeout(30)
        s.recv(1)
        s.close()
    except Exception as e:
        errs.append(repr(e))
ts = [threading.Thread(target=send) for _ in range(4)]
[t.start() for t in ts]; [t.join() for t in ts]
print("discard: 4 x 50 MB%s" % (": " + "; ".join(errs) if errs else " done"))
sys.exit(1 if errs else 0)
EOF

# ---- Every loop's services and interfaces, counted as one ---------------------------
# The counters of both loops' instances are summed in text as in JSON and
# on the live view's overview; the interfaces and stat list both loops.
rn svc status discard >"$dir/discard.txt"
rn svc status discard --json >"$dir/discard.json"
"$py" - "$dir/discard.txt" "$dir/discard.json" <<'EOF' || bad "svc status discard: $(cat "$dir/discard.txt")"
import json, re, sys
text, j = open(sys.argv[1]).read(), json.load(open(sys.argv[2]))
got = int(re.search(r"^  bytes_in +(\d+)$", text, re.M).group(1))
assert got == j["counters"]["bytes_in"] == 4 * 800 * 65536, (got, j["counters"])
assert j["loops"] == 2 and j["loop_states"] == ["RUNNING", "RUNNING"], j
assert ", on 2 loops\n" in text, text
EOF
rn svc status echo --json >"$dir/echo.json"
[ "$(jq_py "$dir/echo.json" 'j["counters"]["udp_echoed"]')" = 64 ] ||
    bad "echo's udp_echoed is not every loop's 64: $(rn svc status echo)"
[ "$(rn ifconfig | grep -c "^rn0: index")" = 2 ] || bad "ifconfig does not list each loop's rn0: $(rn ifconfig)"
rn ifconfig --json >"$dir/if.json"
"$py" - "$dir/if.json" <<'EOF' || bad "ifconfig --json is not one rn0 with both loops' parts: $(cat "$dir/if.json")"
import json, sys
rows = json.load(open(sys.argv[1]))
assert [r["name"] for r in rows] == ["rn0"], rows
parts = rows[0]["loops"]
assert [p["loop"] for p in parts] == [0, 1] and parts[0]["id"] != parts[1]["id"], parts
for k in ("rx_frames", "tx_frames", "rx_bytes", "tx_bytes"):
    assert rows[0][k] == sum(p[k] for p in parts) and all(p[k] > 0 for p in parts), (k, rows[0])
EOF
nsx curl -s -m 5 -o "$dir/overview.json" http://127.0.0.1:8080/api/overview || bad "GET /api/overview"
"$py" - "$dir/overview.json" <<'EOF' || bad "the live view's overview is not every loop's"
import json, sys
d = json.load(open(sys.argv[1]))
svc = {s["name"]: s for s in d["services"]}
assert svc["discard"]["counters"]["bytes_in"] == 4 * 800 * 65536, svc["discard"]["counters"]
assert svc["discard"]["loops"] == 2, svc["discard"]
assert svc["echo"]["counters"]["udp_echoed"] == 64, svc["echo"]["counters"]
assert [i["name"] for i in d["ifaces"]] == ["rn0"] and len(d["ifaces"][0]["loops"]) == 2, d["ifaces"]
EOF

net_stop
net_done "rss: 24 downloads each on its hash's loop and never moved, UDP echo and discard on both loops, why alike, counters of both loops summed"
