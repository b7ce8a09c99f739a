#!/usr/bin/env bash
# TCP between refnet and Linux through refnet's fault filter, in a
# namespace of its own (lib.sh): --fault drop=2%,reorder=1%,dup=0.5%,seed=N
# faults every frame in both directions (N fixed below, REFNET_FAULT_SEED
# overrides it; a failure replays its fault decisions from the seed, though
# not the timing).
#   - 50 MiB each way at once: Linux's `nc -N` into `refnet recv 6000`, and
#     `refnet send 198.18.0.1 5000` into Linux's `nc -l`; every program
#     exits 0 within 60 s and both copies have the SHA-256 of their file;
#   - then 2 MiB through the echo service (Linux writes and reads at once):
#     the same bytes come back;
#   - the faults did happen and TCP repaired them: the fault filter's
#     counters in `refnet stat` (fault.rx_* and fault.tx_*) show drops,
#     duplicates and reordering both ways, refnet retransmitted, and some of
#     its retransmissions were fast ones (duplicate ACKs / SACK, not only
#     timeouts); the only drops are those duplicated and held-back frames
#     cause (tcp_duplicate, tcp_out_of_window, tcp_paws, and tcp_no_port
#     for a copy that arrives after its connection ended);
#   - the same 50 MiB pair once more with checksum and segmentation
#     offloads on (the daemon restarted; the first one's clean shutdown is
#     checked): refnet then hands Linux segments of up to 64 KiB, which the
#     fault filter drops whole, so fewer bytes (10 MiB each way) keep the
#     time down, with duplication and reordering four times as likely so
#     that so few frames surely meet each fault;
#   - afterwards refnet has no connection left, its objects are back to the
#     baseline, and each daemon shuts down cleanly (lib.sh).
# The first phase runs with offloads off: the filter then faults frames of
# one MTU, the loss model the rates describe.
. "$(dirname "$0")/lib.sh"
net_setup faults
seed=${REFNET_FAULT_SEED:-20240607}
spec="drop=2%,reorder=1%,dup=0.5%,seed=$seed"
echo "fault spec: $spec"
net_start --fault "$spec" --offload off --service echo

allowed='{"tcp_duplicate", "tcp_out_of_window", "tcp_paws", "tcp_no_port"}'

# pair MIB: MIB MiB each way at once; prints the time.
pair() {
    local mib=$1 rpid npid rc t0 ms
    head -c $((mib << 20)) /dev/urandom >"$dir/in.bin"
    head -c $((mib << 20)) /dev/urandom >"$dir/out.bin"
    rm -f "$dir/recv.bin" "$dir/nc.bin"
    net_bg "$refnet" recv 6000 --ctl "$sock" --timeout 60 >"$dir/recv.bin" 2>"$dir/recv.err" </dev/null
    rpid=$bgpid
    net_bg nc -l 198.18.0.1 5000 >"$dir/nc.bin" 2>"$dir/ncl.err" </dev/null
    npid=$bgpid
    net_wait_for 5 eval 'rn netstat -a | grep -Eq "0\.0\.0\.0:6000 .*LISTEN"' || die "refnet recv did not listen"
    net_wait_for 5 eval 'nsx ss -Hltn "sport = :5000" | grep -q 5000' || die "nc -l did not listen"
    t0=$(date +%s%N)
    net_bg timeout 60 nc -N 198.18.0.2 6000 <"$dir/in.bin" >/dev/null 2>"$dir/nc.err"
    local cpid=$bgpid
    timeout 60 "$refnet" send 198.18.0.1 5000 --ctl "$sock" <"$dir/out.bin" >/dev/null 2>"$dir/send.err"
    rc=$?
    [ "$rc" = 0 ] || bad "$mib MiB: refnet send exited $rc: $(cat "$dir/send.err")"
    wait "$cpid"
    rc=$?
    [ "$rc" = 0 ] || bad "$mib MiB: nc -N into refnet recv exited $rc: $(cat "$dir/nc.err")"
    net_wait_bg "$rpid" 30
    rc=$?
    [ "$rc" = 0 ] || bad "$mib MiB: refnet recv exited $rc: $(cat "$dir/recv.err")"
    net_wait_bg "$npid" 30
    rc=$?
    [ "$rc" = 0 ] || bad "$mib MiB: nc -l exited $rc: $(cat "$dir/ncl.err")"
    ms=$((($(date +%s%N) - t0) / 1000000))
    [ "$(sha256sum <"$dir/in.bin")" = "$(sha256sum <"$dir/recv.bin")" ] ||
        bad "$mib MiB Linux -> refnet: refnet recv wrote $(stat -c %s "$dir/recv.bin") bytes that differ from the file"
    [ "$(sha256sum <"$dir/out.bin")" = "$(sha256sum <"$dir/nc.bin")" ] ||
        bad "$mib MiB refnet -> Linux: nc -l got $(stat -c %s "$dir/nc.bin") bytes that differ from the file"
    echo "$mib MiB each way at once, through the faults: $ms ms"
    rm -f "$dir/in.bin" "$dir/out.bin" "$dir/recv.bin" "$dir/nc.bin"
}

# check WHAT S0 S1: the faults happened, TCP repaired them, no other drop.
check() {
    "$py" - "$2" "$3" "$allowed" "$1" <<'EOF' || fail=1
import json, sys
from rnjson import drops
s0, s1 = (json.load(open(p)) for p in sys.argv[1:3])
allowed, what = eval(sys.argv[3]), sys.argv[4]
d0, d1 = drops(s0), drops(s1)
d = {k: d1.get(k, 0) - d0.get(k, 0) for k in d1 if d1.get(k, 0) != d0.get(k, 0)}
p = {k: s1["protocols"][k] - s0["protocols"].get(k, 0) for k in s1["protocols"]}
errs = []
for k in ("fault.rx_dropped", "fault.tx_dropped", "fault.rx_duplicated", "fault.tx_duplicated",
          "fault.rx_reordered", "fault.tx_reordered"):
    if p[k] == 0:
        errs.append("%s is 0: the faults did not happen" % k)
if p["tcp.retransmits"] == 0:
    errs.append("refnet retransmitted nothing")
if p["tcp.fast_retransmits"] == 0:
    errs.append("no fast retransmit: every loss waited for a timeout")
# A handshake segment the faults duplicated may come in after the
# connection is established: a SYN in the window gets a challenge ACK and
# counts as tcp_bad_state (RFC 5961 4.2).  A connection has two.
other = {k: v for k, v in d.items()
         if k not in allowed and not (k == "tcp_bad_state" and v <= 2)}
if other:
    errs.append("unexpected drops: %r" % other)
for e in errs:
    print("FAIL: %s: %s" % (what, e))
print("%s: faults %s; drops %s; tcp retransmits %d (fast %d), timeouts %d" % (
    what, json.dumps({k: v for k, v in p.items() if k.startswith("fault.")}),
    json.dumps(d, sort_keys=True), p["tcp.retransmits"], p["tcp.fast_retransmits"],
    p["tcp.timeouts"]))
sys.exit(1 if errs else 0)
EOF
}

net_objects "$dir/o0.json"
net_stat "$dir/s0.json"
pair 50

nsx timeout 30 "$py" - <<'EOF' || bad "2 MiB through echo came back altered"
import os, socket, sys, threading
data = os.urandom(2 << 20)
s = socket.create_connection(("198.18.0.2", 7), timeout=20)
def writer():
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
t = threading.Thread(target=writer)
t.start()
got = bytearray()
while True:
    d = s.recv(65536)
    if not d:
        break
    got += d
t.join()
if bytes(got) != data:
    print("FAIL: echo returned %d bytes, not the %d sent" % (len(got), len(data)))
    sys.exit(1)
EOF

net_tcp_idle 10 || bad "refnet still has TCP connections: $(rn netstat)"
net_stat "$dir/s1.json"
net_objects "$dir/o1.json"
check "offloads off" "$dir/s0.json" "$dir/s1.json"
net_objects_settled "$dir/o0.json" "$dir/o1.json" || fail=1

# A segment of up to 64 KiB is one frame here: 10 MiB is some 500 frames a
# way, too few for 0.5% to duplicate one surely (7% of runs would see
# none), so duplication and reordering are four times as likely.
spec_on="drop=2%,reorder=4%,dup=2%,seed=$seed"
net_restart --fault "$spec_on" --offload on
net_stat "$dir/s2.json"
pair 10
net_tcp_idle 10 || bad "refnet still has TCP connections: $(rn netstat)"
net_stat "$dir/s3.json"
check "offloads on" "$dir/s2.json" "$dir/s3.json"

net_done "faults: 50 MiB each way at once (and 10 MiB with offloads through $spec_on), and echo, exact through $spec"
