#!/usr/bin/env bash
# UDP against Linux's sockets, in a namespace of its own (lib.sh), with the
# echo service (--service echo, port 7):
#   - 1,000 datagrams of seeded random sizes from 0 to 8192 bytes (most
#     of them fragmented both ways), up to 8 in flight: every one echoed
#     once, byte for byte and size for size, from 198.18.0.2:7; none lost
#     (a TAP loses nothing; the window stays well inside both sides'
#     receive buffers);
#   - first, one datagram of the largest size (65507 bytes) while refnet
#     does not know Linux's MAC yet (Linux knows refnet's from its
#     gratuitous ARP, so it sends at once): the reply's 45 fragments wait
#     for ARP resolution and must all be sent when it completes;
#   - refnet's counters agree: udp.in and udp.out grew by 1,001,
#     ip.reassembled by the datagrams that needed fragments, no drops;
#   - a datagram to a closed port (9) is answered with ICMP port
#     unreachable: Linux's connected socket gets ECONNREFUSED, and refnet
#     counts udp.no_port and the udp_no_port drop once.
. "$(dirname "$0")/lib.sh"
net_setup udp_echo
net_start --service echo

[ "$(rn arp --json)" = "[]" ] || bad "premise: refnet's ARP cache is not empty: $(rn arp)"
net_stat "$dir/s0.json"
nsx "$py" - <<'EOF' || bad "the largest datagram, sent before refnet resolved Linux, was not echoed"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3.0)
msg = bytes(range(256)) * 255 + bytes(227)
assert len(msg) == 65507
s.sendto(msg, ("198.18.0.2", 7))
try:
    data, src = s.recvfrom(65536)
except socket.timeout:
    print("FAIL: no echo of the 65507-byte datagram within 3 s")
    sys.exit(1)
if data != msg or src != ("198.18.0.2", 7):
    print("FAIL: the 65507-byte datagram came back as %d bytes from %r" % (len(data), src))
    sys.exit(1)
EOF
nsx "$py" - "$dir/sizes" <<'EOF' || bad "UDP echo of 1,000 datagrams"
import random, socket, sys, time

COUNT, WINDOW, MAXLEN = 1000, 8, 8192
rng = random.Random(20240607)
sizes = [0, 1, 1472, 1473, 1480, 2952, 2953, MAXLEN]
sizes += [rng.randint(0, MAXLEN) for _ in range(COUNT - len(sizes))]
rng.shuffle(sizes)
msgs = []
for i, n in enumerate(sizes):
    # The sequence number leads when it fits, so replies are recognised.
    body = i.to_bytes(4, "big") + rng.randbytes(max(n - 4, 0))
    msgs.append(body[:n])
with open(sys.argv[1], "w") as f:
    f.write(" ".join(map(str, sizes)) + "\n")

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
s.bind(("198.18.0.1", 0))
s.settimeout(2.0)
peer = ("198.18.0.2", 7)
sent = 0
outstanding = []          # indexes in flight, in send order
got = [0] * COUNT
reordered = 0
errors = []
deadline = time.monotonic() + 30
while (sent < COUNT or outstanding) and time.monotonic() < deadline and len(errors) < 10:
    while sent < COUNT and len(outstanding) < WINDOW:
        s.sendto(msgs[sent], peer)
        outstanding.append(sent)
        sent += 1
    try:
        data, src = s.recvfrom(65536)
    except socket.timeout:
        errors.append("no reply within 2 s; in flight: %s (sizes %s)" %
                      (outstanding, [sizes[i] for i in outstanding]))
        break
    if src != peer:
        errors.append("reply from %r" % (src,))
        continue
    match = [i for i in outstanding if msgs[i] == data]
    if not match:
        errors.append("reply of %d bytes matches nothing in flight %s (sizes %s)" %
                      (len(data), outstanding, [sizes[i] for i in outstanding]))
        continue
    i = match[0]
    if i != outstanding[0]:
        reordered += 1
    outstanding.remove(i)
    got[i] += 1
# Anything arriving late is a duplicate or a stray.
s.settimeout(0.2)
try:
    data, src = s.recvfrom(65536)
    errors.append("extra datagram of %d bytes from %r" % (len(data), src))
except socket.timeout:
    pass
lost = [i for i in range(COUNT) if got[i] == 0]
if lost:
    errors.append("%d lost, first: %s (sizes %s)" % (len(lost), lost[:10], [sizes[i] for i in lost[:10]]))
if sent != COUNT:
    errors.append("only %d of %d sent" % (sent, COUNT))
for e in errors:
    print("FAIL: " + e)
print("udp echo: %d sent, %d echoed exactly, %d out of order" %
      (sent, sum(1 for g in got if g == 1), reordered))
sys.exit(1 if errors else 0)
EOF
net_alive

# Fragmented both ways: more than 1472 bytes of payload (MTU 1500).
frag=$("$py" -c 'import sys; print(sum(1 for n in open(sys.argv[1]).read().split() if int(n) > 1472))' "$dir/sizes")
net_stat "$dir/s1.json"
d() { echo $(( $(jq_py "$dir/s1.json" "$1") - $(jq_py "$dir/s0.json" "$1") )); }
[ "$(d 'proto(j,"udp.in")')" = 1001 ] || bad "udp.in grew by $(d 'proto(j,"udp.in")'), want 1001"
[ "$(d 'proto(j,"udp.out")')" = 1001 ] || bad "udp.out grew by $(d 'proto(j,"udp.out")'), want 1001"
[ "$(d 'proto(j,"ip.reassembled")')" = $((frag + 1)) ] ||
    bad "ip.reassembled grew by $(d 'proto(j,"ip.reassembled")'), want $((frag + 1))"
drops=$(jq_py "$dir/s1.json" 'drops(j)')
[ "$drops" = "{}" ] || bad "frames were dropped: $drops"

# A closed port: ICMP port unreachable, which Linux reports to a connected
# socket as ECONNREFUSED.
nsx "$py" - <<'EOF' || bad "a datagram to closed port 9 did not get ECONNREFUSED"
import errno, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(("198.18.0.2", 9))
s.settimeout(2.0)
s.send(b"anyone on port 9?")
try:
    data = s.recv(100)
    print("FAIL: port 9 answered %r" % data)
    sys.exit(1)
except ConnectionRefusedError:
    sys.exit(0)
except socket.timeout:
    print("FAIL: no ICMP port unreachable within 2 s")
    sys.exit(1)
EOF
net_stat "$dir/s2.json"
[ "$(jq_py "$dir/s2.json" 'proto(j,"udp.no_port")')" = 1 ] ||
    bad "udp.no_port is $(jq_py "$dir/s2.json" 'proto(j,"udp.no_port")'), want 1"
[ "$(jq_py "$dir/s2.json" 'drops(j)')" = "{'udp_no_port': 1}" ] ||
    bad "drops after the closed port: $(jq_py "$dir/s2.json" 'drops(j)'), want udp_no_port 1"

net_done "udp_echo: 1000 datagrams ($frag fragmented) echoed exactly, closed port refused"
