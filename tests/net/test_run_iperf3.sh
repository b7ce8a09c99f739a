#!/usr/bin/env bash
# Debian's iperf3, unmodified, on refnet through `refnet run`, against
# iperf3 on Linux in a network namespace, 2 s per run:
#   - iperf3 as a server on refnet: Linux's client sends (TCP), receives
#     (-R, TCP), and sends UDP at 50 Mbit/s;
#   - iperf3 as a client on refnet against Linux's server, both ways;
#   - each run moves data (its JSON report: bytes > 0, no error, for TCP
#     most of what was sent received), and iperf3 on refnet as the
#     sender reports its congestion window from TCP_INFO;
#   - once they ended, nothing of them is left in the daemon.
# Adds about 20 s.  Needs root and /dev/net/tun (lib.sh).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run_lib.sh"
net_setup run_iperf3
net_need iperf3

net_start
run_objects_base

# ip3_check FILE WHAT [tcpinfo]: FILE is an iperf3 JSON report of a run
# that moved data without error (for TCP, most of what was sent
# received); with "tcpinfo", the sender's congestion window and
# retransmissions are in it (TCP_INFO answered).
ip3_check() {
    "$py" - "$@" <<'PY' || bad "$2: $(head -c 300 "$1")"
import json, sys
r = json.load(open(sys.argv[1]))
if "error" in r:
    sys.exit("error: " + r["error"])
e = r["end"]
if "sum_received" in e:
    # The receiver's count stops at the test's end, with some bytes still
    # on the way.
    s, rcv = e["sum_sent"]["bytes"], e["sum_received"]["bytes"]
    if rcv <= 0 or rcv > s or rcv < s / 2:
        sys.exit("sent %d, received %d" % (s, rcv))
    if len(sys.argv) > 3:
        # The sender on refnet: TCP_INFO gave its congestion window.
        snd = e["streams"][0]["sender"]
        if snd.get("max_snd_cwnd", 0) <= 0 or "retransmits" not in e["sum_sent"]:
            sys.exit("no TCP_INFO figures: %s" % snd)
else:
    if e["sum"]["bytes"] <= 0 or e["sum"]["packets"] <= 0:
        sys.exit("no datagrams")
PY
}

# ---- iperf3 as a server on refnet ----------------------------------------------------
for args in "" "-R" "-u -b 50M"; do
    run_bg -- iperf3 -s -1 -4 -B 198.18.0.2 -p 5201
    wait_refnet_listen 5201
    nsx timeout 30 iperf3 -J -c 198.18.0.2 -p 5201 -t 2 $args >"$dir/s.json" 2>&1 ||
        bad "Linux's iperf3 $args against iperf3 on refnet failed"
    ip3_check "$dir/s.json" "server on refnet, client $args"
    net_wait_bg "$run_pid" 10 || bad "iperf3 -s -1 on refnet did not end"
done

# ---- iperf3 as a client on refnet ----------------------------------------------------
net_bg iperf3 -s -4 -B 198.18.0.1 -p 5202 >/dev/null 2>&1
wait_linux_listen 5202
for args in "" "-R"; do
    runx -- iperf3 -J -c 198.18.0.1 -p 5202 -t 2 $args >"$dir/c.json" 2>&1 ||
        bad "iperf3 $args on refnet against Linux failed"
    ip3_check "$dir/c.json" "client on refnet $args" $([ -z "$args" ] && echo tcpinfo)
done
! rn stat | grep -Eq "^run\.unsupported\.tcp\.(11|13) " || bad "TCP_INFO or TCP_CONGESTION was refused"
run_settled 10

net_done "iperf3 on refnet as server (TCP both ways, UDP) and as client (TCP both ways) against Linux; nothing left behind"
