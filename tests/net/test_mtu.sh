#!/usr/bin/env bash
# TCP at every MTU boundary the daemon accepts (--mtu 68..65521), offloads
# on and off, against Linux with the same MTU on its side of rn0:
#   - 68, the least IPv4 allows: refnet's segments fit it (16 KiB from
#     `refnet send` reach Linux's nc whole), and a 400-byte ping from Linux is
#     answered, in fragments both ways.  Linux cannot send TCP at this MTU itself (its
#     smallest segment is 48 bytes, 88 with headers, and it sets
#     don't-fragment), so only refnet sends;
#   - 1500, Ethernet's;
#   - 65467, the largest MTU whose segments TSO still takes in bunches
#     (TCP_GSO_MAX / MSS >= 1), and 65468, the first whose single segment
#     is already as large as TSO takes: refnet once sent no data at all
#     from there up;
#   - 65521, the largest (a 65535-byte frame);
# for each of the last four, 1 MiB through the echo service, written and
# read at once by Linux, comes back exact, and no frame was dropped as too
# big for its route (too_big_df).  Every daemon shuts down cleanly
# (lib.sh).
. "$(dirname "$0")/lib.sh"
net_setup mtu
net_tap_up
started=0

# daemon MTU OFFLOAD: Linux's side of rn0 to MTU, and a daemon with it.
daemon() {
    nsx ip link set rn0 mtu "$1" || die "Linux refuses MTU $1 on rn0"
    if [ "$started" = 0 ]; then
        _net_launch --mtu "$1" --offload "$2" --service echo
        started=1
    else
        net_restart --mtu "$1" --offload "$2" --service echo
    fi
}

too_big() {
    rn stat --json | "$py" -c '
import json, sys
from rnjson import drops
print(drops(json.load(sys.stdin)).get("too_big_df", 0))'
}

for off in off on; do
    daemon 68 "$off"
    head -c 16384 /dev/urandom >"$dir/small.bin"
    net_bg nc -l 198.18.0.1 5000 >"$dir/got.bin" 2>"$dir/nc.err" </dev/null
    npid=$bgpid
    net_wait_for 5 eval 'nsx ss -Hltn "sport = :5000" | grep -q 5000' || die "nc -l did not listen"
    timeout 30 "$refnet" send 198.18.0.1 5000 --ctl "$sock" <"$dir/small.bin" >/dev/null \
        2>"$dir/send.err" || bad "MTU 68, offloads $off: refnet send failed: $(cat "$dir/send.err")"
    net_wait_bg "$npid" 10 || bad "MTU 68, offloads $off: nc -l did not end"
    cmp -s "$dir/small.bin" "$dir/got.bin" ||
        bad "MTU 68, offloads $off: Linux got $(stat -c %s "$dir/got.bin") bytes that differ from the 16384 sent"
    nsx ping -c 1 -W 2 -s 400 198.18.0.2 >/dev/null ||
        bad "MTU 68, offloads $off: no answer to a 400-byte ping"
    [ "$(too_big)" = 0 ] || bad "MTU 68, offloads $off: $(too_big) frames dropped as too_big_df"
    echo "MTU 68, offloads $off: 16 KiB refnet -> Linux, a fragmented ping answered"
done

for mtu in 1500 65467 65468 65521; do
    for off in off on; do
        daemon "$mtu" "$off"
        nsx timeout 30 "$py" - <<'EOF' || bad "MTU $mtu, offloads $off: 1 MiB through echo did not come back exact"
import os, socket, sys, threading
data = os.urandom(1 << 20)
s = socket.create_connection(("198.18.0.2", 7), timeout=20)
def writer():
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
t = threading.Thread(target=writer, daemon=True)
t.start()
got = bytearray()
while True:
    d = s.recv(1 << 16)
    if not d:
        break
    got += d
t.join(20)
if bytes(got) != data:
    print("FAIL: echo returned %d bytes, not the %d sent" % (len(got), len(data)))
    sys.exit(1)
EOF
        [ "$(too_big)" = 0 ] || bad "MTU $mtu, offloads $off: $(too_big) frames dropped as too_big_df"
        echo "MTU $mtu, offloads $off: 1 MiB through echo, exact"
    done
done

net_done "mtu: TCP at MTU 68, 1500, 65467, 65468 and 65521, offloads on and off"
