#!/usr/bin/env bash
# TCP bulk over IPv6, in interleaved runs of three: refnet over IPv6,
# refnet over IPv4 (the same daemon, the same TAP) and the Linux kernel
# over IPv6 on a veth pair.  Each run gives two ratios, refnet's IPv6
# goodput over its own IPv4 goodput (what IPv6 costs refnet: its target is
# 0.95 or more) and over the kernel's IPv6 goodput.
#
# The set-up is bench/tcp.sh's (bench/netlib.sh) with IPv6 on: the TAP's
# Linux side 198.18.0.1/15 and 2001:2::1/64, refnet `--addr 198.18.0.2/15
# --addr6 2001:2::2/64 --service discard`; the veth ends 198.18.0.1/15,
# 2001:2::1/64 and 198.18.0.2/15, 2001:2::2/64; MTU 1500 everywhere,
# offloads as each side has them by default.  rx is one stream from
# Linux into refnet's discard service (into a bulk.py sink on the veth), tx
# one stream from `refnet send` (bulk.py send on the veth) into a bulk.py
# sink on Linux (bench/netlib.sh says exactly what is timed).  Which of the
# three goes first rotates from run to run.  The table gives the least,
# median and greatest of each ratio; each run's goodputs go to stderr, and
# one JSON line ends it.
#
# Usage: bench/ipv6.sh [BUILD]   (default build); environment: BENCH_SECS
# (per measurement, default 4), BENCH_RUNS (runs, default 5).  Needs root;
# without it, says why and exits 0.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=${1:-build}
refnet="$build/bin/refnet"
secs=${BENCH_SECS:-4}
runs=${BENCH_RUNS:-5}
maxbytes=$((4 << 30))
py=/usr/bin/python3

. "$here/netlib.sh"
bench_need_root ipv6.sh
[ -x "$refnet" ] || { echo "ipv6.sh: $refnet is not built" >&2; exit 1; }
bench_setup ipv6
bench_v6=1

bench_tap_daemon "$nsr" "$sock" "$dir/daemon.log" --service discard
bench_veth "$nsa" "$nsb"
# refnet's address is usable once its duplicate address detection is over.
for i in $(seq 50); do
    ip netns exec "$nsr" ping -6 -c 1 -W 1 2001:2::2 >/dev/null 2>&1 && break
    sleep 0.1
done
ip netns exec "$nsr" ping -6 -c 1 -W 2 2001:2::2 >/dev/null || die "refnet does not answer ping -6"
ip netns exec "$nsr" ping -c 1 -W 2 198.18.0.2 >/dev/null || die "refnet does not answer ping"
ip netns exec "$nsa" ping -6 -c 1 -W 2 2001:2::2 >/dev/null || die "the veth does not answer ping -6"

# One measurement: DIR (rx or tx) on SIDE (r6: refnet over IPv6, r4:
# refnet over IPv4, l6: the kernel over IPv6); prints Gbit/s.
measure() {
    case $1-$2 in
    rx-r6) bench_rx_bulk "$nsr" "$nsr" 2001:2::2 ;;
    rx-r4) bench_rx_bulk "$nsr" "$nsr" 198.18.0.2 ;;
    rx-l6) bench_rx_bulk "$nsa" "$nsa" 2001:2::2 ;;
    tx-r6) bench_tx_bulk "$nsr" "$nsr" 2001:2::1 ;;
    tx-r4) bench_tx_bulk "$nsr" "$nsr" 198.18.0.1 ;;
    tx-l6) bench_tx_bulk "$nsa" "$nsa" 2001:2::1 ;;
    esac
}

declare -A ratios
order=(r6 r4 l6)
json="{\"bench\":\"ipv6\",\"secs\":$secs,\"runs\":$runs"
for dirn in rx tx; do
    ratios[$dirn-v4]=
    ratios[$dirn-linux]=
    for r in $(seq "$runs"); do
        declare -A g=()
        for k in 0 1 2; do
            side=${order[$(((r + k) % 3))]}
            g[$side]=$(measure "$dirn" "$side") || exit 1
        done
        kill -0 "$dpid" 2>/dev/null || { cat "$dir/daemon.log"; die "the daemon died"; }
        a=$(bench_ratio "${g[r6]}" "${g[r4]}")
        b=$(bench_ratio "${g[r6]}" "${g[l6]}")
        echo "$dirn run $r: refnet IPv6 ${g[r6]}, refnet IPv4 ${g[r4]}, Linux IPv6 ${g[l6]} Gbit/s" >&2
        ratios[$dirn-v4]+=" $a"
        ratios[$dirn-linux]+=" $b"
    done
done

printf '\n%-28s %8s %8s %8s %6s\n' measure min median max runs
for dirn in rx tx; do
    for ref in v4 linux; do
        read -r q0 q1 q2 < <(bench_spread ${ratios[$dirn-$ref]})
        case $ref in
        v4) label="$dirn refnet IPv6 / its IPv4" ;;
        linux) label="$dirn refnet IPv6 / Linux IPv6" ;;
        esac
        printf '%-28s %8s %8s %8s %6s\n' "$label" "$q0" "$q1" "$q2" "$runs"
        json+=",\"${dirn}_${ref}_ratio_min\":$q0,\"${dirn}_${ref}_ratio_median\":$q1,\"${dirn}_${ref}_ratio_max\":$q2"
    done
done
echo "$json}"
