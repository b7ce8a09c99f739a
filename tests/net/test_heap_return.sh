#!/usr/bin/env bash
# Memory goes back to the system after a burst, in a namespace of its own
# (lib.sh):
#   - Linux opens 3,000 connections to refnet's httpd at once, each makes
#     one keep-alive GET of a 1 KiB file, and all stay open, idle;
#   - the burst took a work block and a send ring for each request; once
#     they were freed and the freeing paused, the daemon gave the free
#     memory back (`refnet stat`: heap.returns went up): its resident set
#     grew by less than 7 KiB a connection (about 20 KiB when nothing went
#     back, 8.5 KiB when only malloc's heap did, 4.5-5.5 KiB with the
#     buffers in page blocks);
#   - every connection still works: a second GET on each is answered in
#     full;
#   - the daemon shuts down cleanly (lib.sh).
. "$(dirname "$0")/lib.sh"
net_setup heap-return

n=3000
www="$dir/www"
mkdir -p "$www"
head -c 1024 /dev/urandom >"$www/small.bin"
net_start --service httpd=80:"$www" --set svc.httpd.max_conns=$((n + 100)) \
    --set sock.max_handles=$((n + 1000)) --set svc.httpd.idle_timeout=300
nsx curl -sS --noproxy '*' --max-time 5 -o /dev/null http://198.18.0.2/small.bin ||
    die "the first fetch failed"
net_stat "$dir/s0.json"
returns0=$(jq_py "$dir/s0.json" 'proto(j, "heap.returns")')
sleep 1
rss0=$(net_rss_kb)

# The clients: n connections, a GET on each, all answers read, then
# "ready" in $dir/ready; a second round once $dir/again exists; they close
# once $dir/done exists (or after 120 s).
ulimit -n $((n + 1000))
net_bg "$py" - "$n" "$www/small.bin" "$dir" <<'PYEOF'
import os, select, socket, sys, time
n, body, d = int(sys.argv[1]), open(sys.argv[2], "rb").read(), sys.argv[3]
req = b"GET /small.bin HTTP/1.1\r\nHost: t\r\n\r\n"

def answers(conns):
    """Reads one whole answer on each connection; returns the failures."""
    bad, got = [], {s.fileno(): b"" for s in conns}
    byfd = {s.fileno(): s for s in conns}
    left, end = set(byfd), time.monotonic() + 60
    p = select.poll()
    for f in left:
        p.register(f, select.POLLIN)
    while left and time.monotonic() < end:
        for s, _ in p.poll(1000):
            b = byfd[s].recv(65536)
            got[s] += b
            head, _, rest = got[s].partition(b"\r\n\r\n")
            if not b:
                bad.append("closed after %d bytes" % len(got[s]))
                left.discard(s)
            elif _ and len(rest) >= len(body):
                if not head.startswith(b"HTTP/1.1 200") or rest[:len(body)] != body:
                    bad.append("a wrong answer: %r" % head[:40])
                left.discard(s)
            if s not in left:
                p.unregister(s)
    return bad + ["no whole answer"] * len(left)

conns = []
for i in range(n):
    s = socket.create_connection(("198.18.0.2", 80), timeout=10)
    s.sendall(req)
    conns.append(s)
bad = answers(conns)
open(os.path.join(d, "ready"), "w").write("%d %s\n" % (len(bad), bad[:3]))
end = time.monotonic() + 120
while not os.path.exists(os.path.join(d, "again")) and time.monotonic() < end:
    time.sleep(0.1)
for s in conns:
    s.sendall(req)
bad = answers(conns)
open(os.path.join(d, "again.out"), "w").write("%d %s\n" % (len(bad), bad[:3]))
while not os.path.exists(os.path.join(d, "done")) and time.monotonic() < end:
    time.sleep(0.1)
PYEOF
clients=$bgpid

for i in $(seq 600); do [ -s "$dir/ready" ] && break; sleep 0.1; done
[ -s "$dir/ready" ] || die "the clients did not finish their first round"
read -r nbad rest <"$dir/ready"
[ "$nbad" = 0 ] || bad "first round: $nbad connections failed: $rest"
rss_burst=$(net_rss_kb)

# The work blocks go back 2 s after their request, and memory goes back
# once the freeing paused for 1 s: within 15 s in all.
returned=
for i in $(seq 150); do
    net_stat "$dir/s1.json"
    if [ "$(jq_py "$dir/s1.json" 'proto(j, "heap.returns")')" -gt "$returns0" ]; then
        returned=1
        break
    fi
    sleep 0.1
done
[ -n "$returned" ] || bad "no memory went back to the system within 15 s (heap.returns stayed $returns0)"
sleep 1
rss1=$(net_rss_kb)
per=$(( (rss1 - rss0) * 1024 / n ))
echo "RSS ${rss0} KiB before, ${rss_burst} KiB after the burst, ${rss1} KiB once given back: $per B a connection"
echo "heap: $(jq_py "$dir/s1.json" 'proto(j, "heap.freed_bytes")') B freed by pools and objects, $(jq_py "$dir/s1.json" 'proto(j, "heap.returns")') returns"
[ "$per" -lt 7168 ] || bad "an idle connection that made one request costs $per B of resident memory, want < 7168"

# Nothing was lost: a second request on every connection.
touch "$dir/again"
for i in $(seq 600); do [ -s "$dir/again.out" ] && break; sleep 0.1; done
[ -s "$dir/again.out" ] || die "the clients did not finish their second round"
read -r nbad rest <"$dir/again.out"
[ "$nbad" = 0 ] || bad "second round: $nbad connections failed: $rest"
touch "$dir/done"
net_wait_bg "$clients" 30 || bad "the clients did not exit"
net_tcp_idle 10 || bad "refnet still has TCP connections: $(rn netstat | head -5)"

net_done "heap return: after a burst of $n requests the daemon gave freed memory back ($per B a connection left), and every connection still answered"
