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
#   - 100 connections to echo send 256 KiB each without reading: echo's
#     receive queues fill and the packet pool grows; once they have read
#     back every byte (checked) and closed, the pool gives back what it
#     grew by within 20 s, with HTTP fetches going on (slabs not needed
#     for a 5 s period go);
#   - the daemon shuts down cleanly (lib.sh).
. "$(dirname "$0")/lib.sh"
net_setup heap-return

n=3000
www="$dir/www"
mkdir -p "$www"
head -c 1024 /dev/urandom >"$www/small.bin"
net_start --service httpd=80:"$www" --service echo --set svc.httpd.max_conns=$((n + 100)) \
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

# The packet pool: echo's receive queues hold what 100 clients sent and
# did not read back yet.
pool0=$(jq_py "$dir/s1.json" 'j["pool"]["allocated"]')
net_bg "$py" - "$dir" <<'PYEOF'
import os, select, socket, sys, time
d, n, size = sys.argv[1], 100, 256 * 1024
conns = []
for i in range(n):
    s = socket.create_connection(("198.18.0.2", 7), timeout=10)
    s.setblocking(False)
    conns.append([s, bytes((i + k) % 251 for k in range(size)), 0, bytearray()])

def step(write):
    """Moves what can move; returns whether anything did."""
    moved = False
    for c in conns:
        s, data, sent, got = c
        if write and sent < len(data):
            try:
                k = s.send(data[sent:sent + 65536])
                c[2] += k
                moved = moved or k > 0
            except BlockingIOError:
                pass
        if not write:
            try:
                b = s.recv(65536)
                got += b
                moved = moved or len(b) > 0
            except BlockingIOError:
                pass
    return moved

# Send without reading until nothing moves for a second.
end, still = time.monotonic() + 30, time.monotonic()
while time.monotonic() < end and time.monotonic() - still < 1:
    if step(True):
        still = time.monotonic()
    time.sleep(0.01)
open(os.path.join(d, "full"), "w").write("%d\n" % sum(c[2] for c in conns))
while not os.path.exists(os.path.join(d, "drain")) and time.monotonic() < end + 30:
    time.sleep(0.1)
# Read everything back, sending the rest meanwhile.
end = time.monotonic() + 60
while time.monotonic() < end and any(len(c[3]) < len(c[1]) for c in conns):
    step(True)
    if not step(False):
        time.sleep(0.005)
bad = [i for i, c in enumerate(conns) if bytes(c[3]) != c[1]]
for c in conns:
    c[0].close()
open(os.path.join(d, "echoed"), "w").write("%d %s\n" % (len(bad), bad[:5]))
PYEOF
echoers=$bgpid
for i in $(seq 600); do [ -s "$dir/full" ] && break; sleep 0.1; done
[ -s "$dir/full" ] || die "the echo clients did not fill their connections"
net_stat "$dir/s2.json"
pool_full=$(jq_py "$dir/s2.json" 'j["pool"]["allocated"]')
touch "$dir/drain"
net_wait_bg "$echoers" 90 || bad "the echo clients failed"
read -r nbad rest <"$dir/echoed"
[ "$nbad" = 0 ] || bad "echo: $nbad connections got back other bytes than they sent: $rest"
net_tcp_idle 10 || bad "refnet still has TCP connections: $(rn netstat | head -5)"
# Light traffic meanwhile, as a server has: the buffers the TAP keeps
# ready for frames (link.tap.rx) are taken and given back, and move to
# the pool's first slab (a daemon that receives nothing at all keeps
# the slabs those few buffers sit in).
pool2=
for i in $(seq 40); do
    nsx curl -sS --noproxy "*" --max-time 5 -o /dev/null -o /dev/null http://198.18.0.2/small.bin \
        http://198.18.0.2/small.bin || bad "a fetch after the echo burst failed"
    net_stat "$dir/s3.json"
    pool2=$(jq_py "$dir/s3.json" 'j["pool"]["allocated"]')
    [ "$pool2" -le "$pool0" ] && break
    sleep 0.5
done
echo "packet pool: $pool0 buffers, $pool_full with echo's queues full ($(cat "$dir/full" | tr -d '\n') bytes sent), $pool2 once they were read and closed"
[ "$pool_full" -ge $((pool0 + 1000)) ] || bad "echo's full queues grew the packet pool only from $pool0 to $pool_full buffers"
[ "$pool2" -le "$pool0" ] || bad "the packet pool kept $pool2 buffers 20 s after the burst, want <= $pool0"

net_done "heap return: after a burst of $n requests the daemon gave freed memory back ($per B a connection left), and every connection still answered"
