#!/usr/bin/env bash
# A built-in service's connection cap, set with --set svc.max_conns, in a
# namespace of its own (lib.sh):
#   - echo capped at 5: five connections from Linux echo; the sixth
#     connect fails with ECONNREFUSED at once (refnet answers its SYN with
#     a RST: no handshake completes, nothing is accepted and reset), and
#     refnet counts one tcp_listen_refused drop; the service accepted 5
#     and reset none;
#   - one of the five closes: the next connect gets in and echoes;
#   - restarted with the cap raised to 8: eight connections echo at once,
#     the ninth is refused;
#   - the daemon shuts down cleanly (lib.sh).
. "$(dirname "$0")/lib.sh"
net_setup req-svc-cap

# cap_round CAP: CAP connections echo, the next is refused, one closes and
# a new one gets in.
cap_round() {
    nsx "$py" - "$1" <<'PYEOF'
import socket, sys, time
cap = int(sys.argv[1])
errs = []
def conn():
    s = socket.create_connection(("198.18.0.2", 7), timeout=5)
    s.sendall(b"hi")
    got = b""
    while len(got) < 2:
        b = s.recv(2 - len(got))
        if not b:
            raise RuntimeError("closed before the echo")
        got += b
    if got != b"hi":
        raise RuntimeError("echoed %r" % got)
    return s
held = []
for i in range(cap):
    try:
        held.append(conn())
    except Exception as e:
        errs.append("connection %d of %d: %r" % (i + 1, cap, e))
time.sleep(0.2)
t = time.monotonic()
try:
    s = socket.create_connection(("198.18.0.2", 7), timeout=5)
    errs.append("connection %d over the cap of %d: connected" % (cap + 1, cap))
    s.close()
except ConnectionRefusedError:
    took = time.monotonic() - t
    if took > 0.9:
        errs.append("over the cap: refused only after %.2f s" % took)
except Exception as e:
    errs.append("over the cap: %r, want ECONNREFUSED" % e)
if held:
    held.pop().close()
time.sleep(0.3)
try:
    held.append(conn())
except Exception as e:
    errs.append("after one closed, under the cap: %r" % e)
for s in held:
    s.close()
for e in errs:
    print("FAIL: " + e)
sys.exit(1 if errs else 0)
PYEOF
}

net_start --service echo --set svc.max_conns=5
out=$(nsx ping -n -q -c 1 -W 2 198.18.0.2 2>&1) || bad "ping: $out"
cap_round 5 || bad "echo capped at 5"
net_tcp_idle 5 || bad "refnet still has TCP connections: $(rn netstat)"
net_stat "$dir/s1.json"
net_svc "$dir/v1.json"
[ "$(jq_py "$dir/s1.json" 'drops(j).get("tcp_listen_refused", 0)')" = 1 ] ||
    bad "tcp_listen_refused drops: $(jq_py "$dir/s1.json" 'drops(j).get("tcp_listen_refused", 0)'), want 1"
[ "$(jq_py "$dir/v1.json" 'svc(j, "echo")["accepted"]')" = 6 ] ||
    bad "echo accepted $(jq_py "$dir/v1.json" 'svc(j, "echo")["accepted"]'), want 6 (5, then 1 after a close)"
[ "$(jq_py "$dir/v1.json" 'svc(j, "echo")["refused"]')" = 0 ] ||
    bad "echo reset $(jq_py "$dir/v1.json" 'svc(j, "echo")["refused"]') accepted connections over its cap, want 0"

net_restart --service echo --set svc.max_conns=8
cap_round 8 || bad "echo with its cap raised to 8"
net_tcp_idle 5 || bad "refnet still has TCP connections: $(rn netstat)"
net_stat "$dir/s2.json"
[ "$(jq_py "$dir/s2.json" 'drops(j).get("tcp_listen_refused", 0)')" = 1 ] ||
    bad "after the restart, tcp_listen_refused drops: $(jq_py "$dir/s2.json" 'drops(j).get("tcp_listen_refused", 0)'), want 1"

net_done "svc cap: over the cap the SYN is refused; under it, and with the cap raised, connections get in"
