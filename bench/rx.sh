#!/usr/bin/env bash
# Receive-path benchmark through the TAP, against the Linux kernel in the
# same run.  build/bin/udp-blast (bench/udp_blast.c) sends 64-byte UDP
# frames (18 bytes of payload) from one thread, 64 per sendmmsg, for SECS
# seconds to a port nobody holds:
#
#   refnet  in a namespace, `refnet daemon --tap bn0 --addr 198.18.0.2/15`
#           (MTU 1500); the figure is the growth of the interface's
#           rx_frames in `refnet stat --json` over the blast, per second:
#           frames that went through refnet's receive path (those the TAP
#           queue dropped while refnet was busy never reached it)
#   linux   the kernel on the far end of a veth pair between two more
#           namespaces; the figure is the growth of Ip InReceives in that
#           namespace's /proc/net/snmp over the blast, per second
#
# Both receivers answer with ICMP port unreachable, rate limited.  The
# offered rate (what udp-blast sent per second) is printed too: when the
# receiver keeps up with it, the figure is the sender's limit, not the
# receiver's.  RUNS runs, refnet and Linux interleaved; best of each, and
# the spread of the per-run ratios.  Prints a table and one JSON line.
#
# Usage: bench/rx.sh [BUILD]   (default build); environment: BENCH_SECS
# (per measurement, default 3), BENCH_RUNS (default 3).  Needs root;
# without it, says why and exits 0.
set -uo pipefail

build=${1:-build}
refnet="$build/bin/refnet"
blast="$build/bin/udp-blast"
secs=${BENCH_SECS:-3}
runs=${BENCH_RUNS:-3}
py=/usr/bin/python3

. "$(dirname "${BASH_SOURCE[0]}")/netlib.sh"
bench_need_root rx.sh
[ -x "$refnet" ] && [ -x "$blast" ] || { echo "rx.sh: $refnet or $blast is not built" >&2; exit 1; }

bench_setup rx

bench_tap_daemon "$nsr" "$sock" "$dir/daemon.log"
bench_veth "$nsa" "$nsb"
ip netns exec "$nsr" ping -c 1 -W 2 198.18.0.2 >/dev/null || die "refnet does not answer ping"
ip netns exec "$nsa" ping -c 1 -W 2 198.18.0.2 >/dev/null || die "the veth does not answer ping"

refnet_rx() {
    "$refnet" stat --json --ctl "$sock" --timeout 5 |
        "$py" -c 'import json,sys; print(sum(i["rx_frames"] for i in json.load(sys.stdin)["interfaces"]))'
}
linux_rx() {
    ip netns exec "$nsb" awk '/^Ip:/ { if (h) print $4; h = 1 }' /proc/net/snmp
}

# The daemon's CPU time so far (user + system), in clock ticks.
daemon_ticks() {
    awk '{ print $14 + $15 }' "/proc/$dpid/stat"
}

# measure NS COUNTER: prints "received/s offered/s received/daemon-CPU-s"
# for a blast from NS (the last is 0 for Linux).
measure() {
    local a b out c0 c1
    a=$($2) || die "cannot read the counter"
    c0=$(daemon_ticks)
    out=$(ip netns exec "$1" timeout $((secs + 10)) "$blast" 198.18.0.2 9 "$secs") || die "udp-blast in $1 failed"
    c1=$(daemon_ticks)
    b=$($2) || die "cannot read the counter"
    "$py" -c '
import json, os, sys
j = json.loads(sys.argv[1])
n = int(sys.argv[3]) - int(sys.argv[2])
cpu = (int(sys.argv[5]) - int(sys.argv[4])) / os.sysconf("SC_CLK_TCK")
print("%.0f %.0f %.0f" % (n / j["secs"], j["sent"] / j["secs"],
      n / cpu if sys.argv[6] == "refnet_rx" and cpu > 0 else 0))' "$out" "$a" "$b" "$c0" "$c1" "$2"
}

best_r=0 best_l=0 off_r=0 off_l=0 lo= hi= best_cpu=0
for r in $(seq "$runs"); do
    read -r vr or cr < <(measure "$nsr" refnet_rx) || exit 1
    read -r vl ol _ < <(measure "$nsa" linux_rx) || exit 1
    [ -n "${vr:-}" ] && [ -n "${vl:-}" ] || die "a measurement failed"
    kill -0 "$dpid" 2>/dev/null || { cat "$dir/daemon.log"; die "the daemon died"; }
    echo "run $r: refnet $vr frames/s (offered $or; $cr per daemon CPU-second)," \
        "linux $vl frames/s (offered $ol)" >&2
    [ "$cr" -le "$best_cpu" ] || best_cpu=$cr
    read -r best_r best_l off_r off_l lo hi < <("$py" -c '
import sys
br, bl, vr, vl, orr, ol, obr, obl = (float(x) for x in sys.argv[1:9])
q = vr / vl
lo = q if sys.argv[9] == "" else min(float(sys.argv[9]), q)
hi = q if sys.argv[10] == "" else max(float(sys.argv[10]), q)
# The offered rate printed is the one of the best run.
print("%.0f %.0f %.0f %.0f %.3f %.3f" % (max(br, vr), max(bl, vl), orr if vr > br else obr,
      ol if vl > bl else obl, lo, hi))' "$best_r" "$best_l" "$vr" "$vl" "$or" "$ol" "$off_r" "$off_l" "$lo" "$hi")
done
ratio=$("$py" -c 'import sys; print("%.3f" % (float(sys.argv[1]) / float(sys.argv[2])))' "$best_r" "$best_l")
printf '\n%-8s %16s %16s\n' receiver "received/s" "offered/s"
printf '%-8s %16s %16s\n' refnet "$best_r" "$off_r" linux "$best_l" "$off_l"
printf 'ratio refnet/linux: %s (runs: %s-%s)\n' "$ratio" "$lo" "$hi"
printf 'refnet: %s frames per CPU-second of the daemon\n' "$best_cpu"
echo "{\"bench\":\"rx-tap\",\"refnet_fps_per_cpu\":$best_cpu,\"secs\":$secs,\"runs\":$runs,\"payload\":18,\"refnet_fps\":$best_r,\"refnet_offered_fps\":$off_r,\"linux_fps\":$best_l,\"linux_offered_fps\":$off_l,\"ratio\":$ratio,\"ratio_min\":$lo,\"ratio_max\":$hi}"
