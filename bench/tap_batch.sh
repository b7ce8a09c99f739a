#!/usr/bin/env bash
# The TAP driver's batched reads and writes against a system call per
# frame, one build, in interleaved pairs: `refnet daemon --tap-batch on`
# (up to 32 reads or 64 writes in one io_uring submission, the default)
# and `--tap-batch off` (a readv or writev per frame, the reference).
#
# Each row is one bulk stream between Linux and refnet over the TAP
# (bench/netlib.sh: bn0, 198.18.0.1/15 on Linux's side, MTU 1500):
#
#   rx_off   Linux -> refnet's discard service, offloads off: refnet reads
#            1500-byte frames and sends an ACK for every second one
#   tx_off   refnet send -> a bulk.py sink on Linux, offloads off: refnet
#            sends 1500-byte frames
#   rx_on, tx_on   the same with offloads on (the default): 64 KiB frames
#            from refnet's TCP, fewer of them
#
# A pair runs the daemon once each way (which goes first alternates), each
# time in a fresh namespace; its ratio is batched over frame-at-a-time
# goodput (above 1: batching is faster).  The table gives the least,
# median and greatest ratio of each row; each pair's goodputs go to
# stderr, and one JSON line ends it.
#
# Usage: bench/tap_batch.sh [BUILD]   (default build); environment:
# BENCH_SECS (per measurement, default 4), BENCH_RUNS (pairs, default 5),
# BENCH_ONLY (rows to run, e.g. "rx_off tx_off").  Needs root; without it,
# says why and exits 0.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=${1:-build}
refnet="$build/bin/refnet"
secs=${BENCH_SECS:-4}
runs=${BENCH_RUNS:-5}
maxbytes=$((4 << 30))
rows=${BENCH_ONLY:-rx_off tx_off rx_on tx_on}
py=/usr/bin/python3

. "$here/netlib.sh"
bench_need_root tap_batch.sh
[ -x "$refnet" ] || { echo "tap_batch.sh: $refnet is not built" >&2; exit 1; }
bench_setup tap_batch

# run ROW BATCH: one measurement of ROW with --tap-batch BATCH; prints Gbit/s.
run() {
    local row=$1 batch=$2 offload=${1#*_} g
    bench_tap_daemon "$nsr" "$sock" "$dir/daemon.log" --service discard \
        --offload "$offload" --tap-batch "$batch"
    ip netns exec "$nsr" ping -c 1 -W 2 198.18.0.2 >/dev/null || die "refnet does not answer ping"
    case $row in
    rx_*) g=$(bench_rx_bulk "$nsr") ;;
    tx_*) g=$(bench_tx_bulk "$nsr") ;;
    esac
    bench_stop "$dpid"
    dpid=
    ip netns del "$nsr"
    echo "$g"
}

json='{"bench":"tap_batch","secs":'$secs',"runs":'$runs
printf '%-8s %7s %7s %7s %6s %9s %9s\n' row min median max pairs "on Gb/s" "off Gb/s"
for row in $rows; do
    ratios=() ons=() offs=()
    for i in $(seq "$runs"); do
        if [ $((i % 2)) = 1 ]; then
            on=$(run "$row" on) || exit 1
            off=$(run "$row" off) || exit 1
        else
            off=$(run "$row" off) || exit 1
            on=$(run "$row" on) || exit 1
        fi
        echo "$row pair $i: batched $on Gbit/s, frame at a time $off Gbit/s" >&2
        ratios+=("$(bench_ratio "$on" "$off")")
        ons+=("$on")
        offs+=("$off")
    done
    read -r lo med hi <<<"$(bench_spread "${ratios[@]}")"
    read -r _ onm _ <<<"$(bench_spread "${ons[@]}")"
    read -r _ offm _ <<<"$(bench_spread "${offs[@]}")"
    printf '%-8s %7s %7s %7s %6s %9s %9s\n' "$row" "$lo" "$med" "$hi" "$runs" "$onm" "$offm"
    json+=',"'$row'_ratio_min":'$lo',"'$row'_ratio_median":'$med',"'$row'_ratio_max":'$hi
done
echo "$json}"
