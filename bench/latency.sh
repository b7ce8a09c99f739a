#!/usr/bin/env bash
# Latency of refnet against the Linux kernel, side by side in one run.
#
# refnet runs as `refnet daemon --tap bn0 --addr 198.18.0.2/15` in a
# namespace of its own (TAP at MTU 1500, Linux's side 198.18.0.1/15); the
# reference is the Linux kernel at the far end of a veth pair at MTU 1500
# (bench/netlib.sh).  The same client drives both:
#
#   icmp      ping 198.18.0.2, COUNT echoes 10 ms apart (a gap long enough
#             for a loop to fall asleep between two); the median and the
#             99th percentile of the round trips
#   tcp_pp    one TCP connection, 1-byte ping-pong, COUNT round trips with
#             10 ms between them, against refnet's echo service (TCP 7) /
#             a Python echo server on the veth's far end; median and p99
#
# Each measurement runs RUNS times as pairs, refnet and the reference back
# to back (which goes first alternates); each pair gives one ratio refnet /
# reference of the median and one of the p99, and the table shows their
# least, median and greatest.  A second table sets refnet's ICMP against
# the floor of its kind of path, measured in the same pairs: bin/tap-echo
# (bench/tap_echo.c), a program that answers ARP and pings on a TAP of its
# own by rewriting each frame, with no stack at all -- the wake-ups and
# system calls that any stack in user space on a TAP pays per round trip,
# and Linux's veth does not (it answers inside the sender's system call).  All of it twice: the daemon as it starts by
# default, then restarted with `--busy-poll US` (default 200).  Beside the
# ratios, the table gives refnet's own p99 in microseconds (the median of
# its runs), the figure a latency target is stated in.  Prints a table and
# one JSON line.
#
# Usage: bench/latency.sh [BUILD]   (default build); environment:
# BENCH_COUNT (round trips per run, default 300), BENCH_RUNS (pairs,
# default 5), BENCH_BUSY_US (default 200).  Needs root; without it, says
# why and exits 0.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=${1:-build}
refnet="$build/bin/refnet"
count=${BENCH_COUNT:-300}
runs=${BENCH_RUNS:-5}
busy=${BENCH_BUSY_US:-200}
py=/usr/bin/python3

. "$here/netlib.sh"
bench_need_root latency.sh
[ -x "$refnet" ] || { echo "latency.sh: $refnet is not built" >&2; exit 1; }
[ -x "$build/bin/tap-echo" ] || { echo "latency.sh: $build/bin/tap-echo is not built" >&2; exit 1; }
command -v ping >/dev/null || { echo "latency.sh: ping is missing (scripts/deps.sh)" >&2; exit 1; }

bench_setup latency

bench_tap_daemon "$nsr" "$sock" "$dir/daemon.log" --service echo
bench_veth "$nsa" "$nsb"

# The floor: tap-echo on a TAP like refnet's, in a namespace of its own.
ip netns add "$nsf" || die "cannot create namespace $nsf"
ip netns exec "$nsf" ip link set lo up
ip netns exec "$nsf" ip tuntap add dev bn0 mode tap || die "cannot create the floor's TAP"
ip netns exec "$nsf" sysctl -qw net.ipv6.conf.bn0.disable_ipv6=1
ip netns exec "$nsf" ip link set bn0 mtu 1500
ip netns exec "$nsf" ip addr add 198.18.0.1/15 dev bn0
ip netns exec "$nsf" ip link set bn0 up
ip netns exec "$nsf" "$build/bin/tap-echo" bn0 198.18.0.2 </dev/null &
echo $! >>"$dir/pids"

# The reference's echo server, on the veth's far end.
ip netns exec "$nsb" "$py" -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("198.18.0.2", 7)); s.listen(8)
while True:
    c, _ = s.accept()
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while True:
        b = c.recv(64)
        if not b:
            break
        c.sendall(b)
    c.close()
' </dev/null &
echo $! >>"$dir/pids"

ip netns exec "$nsr" ping -c 1 -W 2 198.18.0.2 >/dev/null || die "refnet does not answer ping"
ip netns exec "$nsa" ping -c 1 -W 2 198.18.0.2 >/dev/null || die "the veth does not answer ping"
ip netns exec "$nsf" ping -c 1 -W 2 198.18.0.2 >/dev/null || die "tap-echo does not answer ping"

# icmp NS: median and p99 of COUNT pings.
icmp() {
    bench_ping_us "$1" "$count" | bench_quantiles || die "ping in $1 got no answer"
}

# tcp_pp NS: median and p99 of COUNT 1-byte round trips on one connection.
tcp_pp() {
    bench_tcp_pp_us "$1" "$count" | bench_quantiles || die "tcp_pp in $1 failed"
}

# spread RATIOS1 RATIOS2 VALUES: the least, median and greatest of each
# list of ratios, then the median of the values, on one line.
spread() {
    "$py" -c '
import statistics, sys
a = sorted(float(x) for x in sys.argv[1].split())
b = sorted(float(x) for x in sys.argv[2].split())
o = statistics.median(float(x) for x in sys.argv[3].split())
print("%.2f %.2f %.2f %.2f %.2f %.2f %.0f" % (a[0], statistics.median(a), a[-1],
                                             b[0], statistics.median(b), b[-1], o))' "$@"
}

names=(icmp tcp_pp)
declare -A med p99 own
floor_rows=
json="{\"bench\":\"latency\",\"count\":$count,\"runs\":$runs,\"busy_poll_us\":$busy"
printf '\n%-16s %23s %23s %10s\n' "" "median ratio" "p99 ratio" "refnet"
printf '%-16s %7s %7s %7s %7s %7s %7s %10s\n' measure min median max min median max "p99 us"
for mode in default busy; do
    if [ "$mode" = busy ]; then
        bench_stop "$dpid"
        ip netns exec "$nsr" "$refnet" daemon --tap bn0 --addr 198.18.0.2/15 --mtu 1500 \
            --ctl "$sock" --watchdog 0 --service echo --busy-poll "$busy" 2>"$dir/daemon2.log" &
        dpid=$!
        for i in $(seq 50); do
            "$refnet" status --ctl "$sock" --timeout 2 >/dev/null 2>&1 && break
            sleep 0.1
        done
        ip netns exec "$nsr" ping -c 1 -W 2 198.18.0.2 >/dev/null ||
            die "refnet --busy-poll $busy does not answer ping: $(cat "$dir/daemon2.log")"
    fi
    for m in "${names[@]}"; do med[$m]=; p99[$m]=; own[$m]=; done
    fmed=; fp99=; fown=
    for r in $(seq "$runs"); do
        for m in "${names[@]}"; do
            if [ $((r % 2)) = 1 ]; then
                read -r rm rp < <($m "$nsr") || exit 1
                read -r vm vp < <($m "$nsa") || exit 1
            else
                read -r vm vp < <($m "$nsa") || exit 1
                read -r rm rp < <($m "$nsr") || exit 1
            fi
            kill -0 "$dpid" 2>/dev/null || die "the daemon died"
            echo "$mode pair $r $m: median refnet $rm us linux $vm us, p99 refnet $rp us linux $vp us" >&2
            med[$m]+=" $(bench_ratio "$rm" "$vm")"
            p99[$m]+=" $(bench_ratio "$rp" "$vp")"
            own[$m]+=" $rp"
            if [ "$m" = icmp ]; then
                # The floor right after the pair, refnet's run beside it.
                read -r fm fp < <(icmp "$nsf") || exit 1
                echo "$mode pair $r icmp floor (tap-echo): median $fm us, p99 $fp us" >&2
                fmed+=" $(bench_ratio "$rm" "$fm")"
                fp99+=" $(bench_ratio "$rp" "$fp")"
                fown+=" $fp"
            fi
        done
    done
    for m in "${names[@]}"; do
        read -r a0 a1 a2 b0 b1 b2 o < <(spread "${med[$m]}" "${p99[$m]}" "${own[$m]}")
        printf '%-16s %7s %7s %7s %7s %7s %7s %10s\n' "$m/$mode" "$a0" "$a1" "$a2" "$b0" "$b1" "$b2" "$o"
        json+=",\"${m}_${mode}_median_ratio\":[$a0,$a1,$a2],\"${m}_${mode}_p99_ratio\":[$b0,$b1,$b2]"
        json+=",\"${m}_${mode}_refnet_p99_us\":$o"
    done
    read -r a0 a1 a2 b0 b1 b2 o < <(spread "$fmed" "$fp99" "$fown")
    floor_rows+=$(printf '%-16s %7s %7s %7s %7s %7s %7s %10s' "icmp/$mode" "$a0" "$a1" "$a2" "$b0" "$b1" "$b2" "$o")$'\n'
    json+=",\"icmp_${mode}_floor_median_ratio\":[$a0,$a1,$a2],\"icmp_${mode}_floor_p99_ratio\":[$b0,$b1,$b2]"
    json+=",\"icmp_${mode}_floor_p99_us\":$o"
done
printf '\nrefnet over the floor of a TAP (bin/tap-echo, in the same pairs)\n'
printf '%-16s %23s %23s %10s\n' "" "median ratio" "p99 ratio" "floor"
printf '%-16s %7s %7s %7s %7s %7s %7s %10s\n' measure min median max min median max "p99 us"
printf '%s' "$floor_rows"
echo "$json}"
