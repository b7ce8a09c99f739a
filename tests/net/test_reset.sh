#!/usr/bin/env bash
# Resets from Linux abort refnet's connections cleanly, in a namespace of
# its own (lib.sh), with the echo and chargen services.  Linux resets by
# closing with SO_LINGER {1, 0} once refnet has acknowledged everything it
# sent (TIOCOUTQ is 0), so the RST carries the exact next sequence number.
#   - `refnet recv 6000` accepts Linux's connection, receives 256 KiB, and
#     the reset fails its pending receive: recv exits 1 with "connection
#     reset by peer" (RN_ECONNRESET, the completion's result, printed by
#     the client); what it wrote is a prefix of what Linux sent;
#   - echo: Linux sends 64 KiB, reads them back, sends 1000 bytes more and
#     resets: the echo service counts one reset (a completion that failed),
#     its connection is gone within 2 s;
#   - chargen: Linux reads 1 MiB while refnet is sending as fast as it can,
#     then resets: counted, gone;
#   - 50 connections to echo at once, each with data in flight both ways,
#     all reset together: all gone;
#   - refnet counted exactly one RST in per reset (tcp.rst_in grew by 53)
#     and sent none (no RST answers a RST); Linux's resets to segments
#     still in flight reach the listener, which drops them (tcp_rst_no_conn,
#     the only drop allowed); refnet holds no connection after,
#     its objects are back to the baseline (TIME_WAIT and Linux's ARP
#     entry aside: a reset leaves no TIME_WAIT either), and the daemon
#     shuts down cleanly (lib.sh).
. "$(dirname "$0")/lib.sh"
net_setup reset
net_start --service echo --service chargen

out=$(nsx ping -n -q -c 1 -W 2 198.18.0.2 2>&1) || bad "ping: $out"
net_objects "$dir/o0.json"
net_svc "$dir/v0.json"
net_stat "$dir/s0.json"

# The Linux side: python with a reset helper.  Each case is a function.
cat >"$dir/rst.py" <<'EOF'
import fcntl, os, socket, struct, sys, termios, time

def drained(s, limit=5.0):
    # Until everything sent has been acknowledged (TIOCOUTQ == 0).
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if struct.unpack("i", fcntl.ioctl(s, termios.TIOCOUTQ, b"\0" * 4))[0] == 0:
            return True
        time.sleep(0.005)
    return False

def reset(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()

def recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        d = s.recv(min(65536, n - len(buf)))
        if not d:
            raise RuntimeError("EOF after %d of %d bytes" % (len(buf), n))
        buf += d
    return bytes(buf)

def case_recv(path):
    data = os.urandom(256 << 10)
    open(path, "wb").write(data)
    s = socket.create_connection(("198.18.0.2", 6000), timeout=5)
    s.sendall(data)
    if not drained(s):
        raise RuntimeError("refnet did not acknowledge the 256 KiB")
    reset(s)

def case_echo():
    s = socket.create_connection(("198.18.0.2", 7), timeout=5)
    data = os.urandom(64 << 10)
    s.sendall(data)
    if recv_exact(s, len(data)) != data:
        raise RuntimeError("echo returned other bytes")
    s.sendall(os.urandom(1000))
    drained(s)
    reset(s)

def case_chargen():
    s = socket.create_connection(("198.18.0.2", 19), timeout=5)
    recv_exact(s, 1 << 20)
    reset(s)

def case_many(n=50):
    socks = [socket.create_connection(("198.18.0.2", 7), timeout=5) for _ in range(n)]
    for s in socks:
        s.sendall(os.urandom(8192))
    for s in socks:
        recv_exact(s, 4096)       # the echo flows; the rest stays in flight
    for s in socks:
        reset(s)

globals()["case_" + sys.argv[1]](*sys.argv[2:])
EOF

# gone_from SVC: waits up to 2 s until refnet has no connection and SVC
# none active.
svc_idle() {
    rn svc --json >"$dir/.v.json" 2>/dev/null &&
        [ "$(jq_py "$dir/.v.json" "svc(j,'$1')['active']")" = 0 ] && _net_tcp_none
}

# ---- refnet recv: the reset reaches the client as ECONNRESET ----
net_bg "$refnet" recv 6000 --ctl "$sock" --timeout 20 >"$dir/recv.out" 2>"$dir/recv.err"
rpid=$bgpid
net_wait_for 5 eval 'rn netstat -a | grep -Eq "0\.0\.0\.0:6000 .*LISTEN"' || die "refnet recv did not listen on 6000"
nsx "$py" "$dir/rst.py" recv "$dir/sent" || bad "Linux's side of the recv case failed"
net_wait_bg "$rpid" 5
rc=$?
[ "$rc" = 1 ] || bad "refnet recv exited $rc after the reset, want 1"
grep -Eqx "refnet recv: (198\.18\.0\.1:[0-9]+: )?connection reset by peer" "$dir/recv.err" ||
    bad "refnet recv said '$(cat "$dir/recv.err")', want 'refnet recv: 198.18.0.1:PORT: connection reset by peer'"
n=$(stat -c %s "$dir/recv.out")
cmp -s -n "$n" "$dir/recv.out" "$dir/sent" || bad "refnet recv wrote $n bytes that are not what Linux sent"
echo "recv: '$(cat "$dir/recv.err")', exit $rc, $n of $(stat -c %s "$dir/sent") bytes delivered before the reset"
net_wait_for 2 _net_tcp_none || bad "the reset connection stays: $(rn netstat)"

# ---- echo, chargen, 50 at once ----
for c in echo:echo:1 chargen:chargen:1 many:echo:50; do
    IFS=: read -r case svc n <<<"$c"
    net_svc "$dir/va.json"
    nsx timeout 20 "$py" "$dir/rst.py" "$case" || bad "Linux's side of the $case case failed"
    net_wait_for 2 svc_idle "$svc" ||
        bad "$case: connections remain 2 s after the reset: $(rn netstat)"
    net_svc "$dir/vb.json"
    resets=$(( $(jq_py "$dir/vb.json" "svc(j,'$svc')['resets']") - $(jq_py "$dir/va.json" "svc(j,'$svc')['resets']") ))
    [ "$resets" = "$n" ] || bad "$case: $svc counted $resets resets, want $n"
done

net_stat "$dir/s1.json"
net_objects "$dir/o1.json"
ds() { echo $(( $(jq_py "$dir/s1.json" "$1") - $(jq_py "$dir/s0.json" "$1") )); }
[ "$(ds 'proto(j,"tcp.rst_in")')" = 53 ] || bad "tcp.rst_in grew by $(ds 'proto(j,"tcp.rst_in")'), want 53"
[ "$(ds 'proto(j,"tcp.rst_out")')" = 0 ] || bad "tcp.rst_out grew by $(ds 'proto(j,"tcp.rst_out")'), want 0"
[ "$(jq_py "$dir/s1.json" 'proto(j,"tcp.timewait")')" = 0 ] || bad "resets left TIME_WAIT entries"
# Linux answers refnet's segments still in flight after its reset (chargen's
# stream, echo's replies) with resets of its own (RFC 9293 3.10.7.1: no
# connection).  They reach refnet's listener, which ignores them (3.10.7.2)
# and counts each as a tcp_rst_no_conn drop: how many depends on timing; so
# does a retransmission by Linux of data refnet already has (a tail loss
# probe racing refnet's ACK), dropped as tcp_duplicate and ACKed again.
drops=$(jq_py "$dir/s1.json" 'drops(j)')
other=$(jq_py "$dir/s1.json" '{k: v for k, v in drops(j).items() if k not in ("tcp_rst_no_conn", "tcp_duplicate")}')
[ "$other" = "{}" ] || bad "frames were dropped: $drops"
[ "$(jq_py "$dir/s1.json" 'drops(j).get("tcp_rst_no_conn", 0)')" -le 200 ] ||
    bad "more late resets than segments could have been in flight: $drops"
echo "drops: $drops"
net_objects_settled "$dir/o0.json" "$dir/o1.json" || fail=1

net_done "reset: ECONNRESET reaches refnet recv; echo, chargen and 50 at once aborted cleanly"
