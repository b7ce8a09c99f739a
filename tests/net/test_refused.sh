#!/usr/bin/env bash
# Connections refused both ways, in a namespace of its own (lib.sh), with
# the echo service only (TCP port 7 open, every other port closed):
#   - refnet to Linux: `refnet send 198.18.0.1 1 < /dev/null` (nothing
#     listens on Linux's port 1, so the kernel answers the SYN with a RST):
#     prints "connection refused" and exits 1 within 5 s; refnet counted
#     one active open and one reset in, and holds no connection after;
#   - Linux to refnet: 20 connects to closed ports of refnet each fail with
#     ECONNREFUSED within 1 s (refnet answers the SYN with a RST; a lost
#     SYN would take Linux's 1 s retransmission); refnet counts one
#     tcp_no_port drop and one reset out for each;
#   - the resets are the ones RFC 9293 (3.10.7.1) prescribes, checked field
#     by field with scapy: to a SYN, <SEQ=0><ACK=SEG.SEQ+1><CTL=RST,ACK>;
#     to a bare ACK, <SEQ=SEG.ACK><CTL=RST>; to a SYN with 100 bytes of
#     data, ACK=SEG.SEQ+101; a RST to a closed port gets no answer; the port
#     and addresses are the segment's, swapped;
#   - port 7 still accepts afterwards, no other drop happened, and the
#     daemon shuts down cleanly (lib.sh).
. "$(dirname "$0")/lib.sh"
net_setup refused
net_start --service echo

# Resolve both ways first: the counters then show TCP alone.
out=$(nsx ping -n -q -c 1 -W 2 198.18.0.2 2>&1) || bad "ping: $out"
net_stat "$dir/s0.json"
ds() { echo $(( $(jq_py "$dir/s1.json" "$1") - $(jq_py "$dir/s0.json" "$1") )); }

# ---- refnet -> a closed Linux port ----
t0=$(date +%s%N)
timeout 10 "$refnet" send 198.18.0.1 1 --ctl "$sock" </dev/null >"$dir/send.out" 2>"$dir/send.err"
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$rc" = 1 ] || bad "refnet send to a closed port exited $rc, want 1"
grep -q "connection refused" "$dir/send.err" ||
    bad "refnet send to a closed port said '$(cat "$dir/send.err")', want 'connection refused'"
[ "$ms" -lt 5000 ] || bad "refnet send took $ms ms to be refused"
echo "refnet send 198.18.0.1 1: '$(cat "$dir/send.err")', exit $rc, in $ms ms"
net_tcp_idle 5 || bad "refnet still has TCP connections: $(rn netstat)"
net_stat "$dir/s1.json"
[ "$(ds 'proto(j,"tcp.active_opens")')" = 1 ] || bad "tcp.active_opens grew by $(ds 'proto(j,"tcp.active_opens")'), want 1"
[ "$(ds 'proto(j,"tcp.rst_in")')" = 1 ] || bad "tcp.rst_in grew by $(ds 'proto(j,"tcp.rst_in")'), want 1"

# ---- Linux -> closed refnet ports ----
cp "$dir/s1.json" "$dir/s0.json"
nsx "$py" - <<'EOF' || bad "connects to closed ports"
import socket, sys, time
errs = []
for port in range(1000, 1020):
    t = time.monotonic()
    s = socket.socket()
    s.settimeout(5)
    try:
        s.connect(("198.18.0.2", port))
        errs.append("port %d: connected" % port)
    except ConnectionRefusedError:
        took = time.monotonic() - t
        if took > 0.9:
            errs.append("port %d: refused after %.2f s (the SYN was not answered at once)" % (port, took))
    except Exception as e:
        errs.append("port %d: %r" % (port, e))
    s.close()
for e in errs:
    print("FAIL: " + e)
sys.exit(1 if errs else 0)
EOF
net_stat "$dir/s1.json"
[ "$(ds 'drops(j).get("tcp_no_port", 0)')" = 20 ] ||
    bad "tcp_no_port drops grew by $(ds 'drops(j).get("tcp_no_port", 0)'), want 20"
[ "$(ds 'proto(j,"tcp.rst_out")')" = 20 ] || bad "tcp.rst_out grew by $(ds 'proto(j,"tcp.rst_out")'), want 20"

# ---- The resets, field by field ----
cp "$dir/s1.json" "$dir/s0.json"
nsx "$py" - <<'EOF' || bad "the resets to closed ports are not RFC 9293's"
import sys, logging
logging.getLogger("scapy").setLevel(logging.ERROR)
from scapy.all import IP, TCP, Raw, sr1, conf
conf.verb = 0
errs = []
def probe(name, seg, want):
    ans = sr1(IP(src="198.18.0.1", dst="198.18.0.2") / seg, iface="rn0", timeout=2)
    if want is None:
        if ans is not None and TCP in ans:
            errs.append("%s: answered %s" % (name, ans[TCP].summary()))
        return
    if ans is None or TCP not in ans:
        errs.append("%s: no answer" % name)
        return
    t = ans[TCP]
    got = {"sport": t.sport, "dport": t.dport, "flags": str(t.flags), "seq": t.seq,
           "ack": t.ack if "A" in str(t.flags) else None, "len": len(t.payload),
           "src": ans[IP].src, "dst": ans[IP].dst}
    want = dict(want, sport=seg.dport, dport=seg.sport, len=0, src="198.18.0.2", dst="198.18.0.1")
    if got != want:
        errs.append("%s: got %r, want %r" % (name, got, want))
probe("SYN", TCP(sport=40001, dport=2001, flags="S", seq=1000),
      {"flags": "RA", "seq": 0, "ack": 1001})
probe("SYN with data", TCP(sport=40002, dport=2002, flags="S", seq=5000) / Raw(b"x" * 100),
      {"flags": "RA", "seq": 0, "ack": 5101})
probe("ACK", TCP(sport=40003, dport=2003, flags="A", seq=7000, ack=123456789),
      {"flags": "R", "seq": 123456789, "ack": None})
probe("RST", TCP(sport=40004, dport=2004, flags="R", seq=9000), None)
for e in errs:
    print("FAIL: " + e)
sys.exit(1 if errs else 0)
EOF
net_stat "$dir/s1.json"
[ "$(ds 'drops(j).get("tcp_no_port", 0)')" = 4 ] ||
    bad "tcp_no_port drops grew by $(ds 'drops(j).get("tcp_no_port", 0)') for the 4 probes, want 4"
[ "$(ds 'proto(j,"tcp.rst_out")')" = 3 ] || bad "tcp.rst_out grew by $(ds 'proto(j,"tcp.rst_out")') for the probes, want 3"

# Port 7 still works.
out=$(echo hello | nsx timeout 5 nc -N 198.18.0.2 7 2>&1)
[ "$out" = hello ] || bad "echo on port 7 after the refusals: '$out'"
net_tcp_idle 5 || bad "refnet still has TCP connections: $(rn netstat)"
net_stat "$dir/s1.json"
drops=$(jq_py "$dir/s1.json" 'drops(j)')
[ "$drops" = "{'tcp_no_port': 24}" ] || bad "drops: $drops, want tcp_no_port 24 alone"

net_done "refused: refnet send refused by Linux, 20 connects refused by refnet, resets as RFC 9293 says"
