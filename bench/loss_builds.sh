#!/usr/bin/env bash
# TCP loss recovery against the Linux kernel: `refnet send` of a bulk
# transfer to Linux's `nc -l` through refnet's fault filter, which drops a
# share of the frames both ways (--fault drop=P%,seed=S), with two refnet
# builds in interleaved pairs: this one and a reference build (another
# version of refnet, e.g. before a change to its recovery).
#
# refnet runs as `refnet daemon --tap bn0 --addr 198.18.0.2/15 --fault
# SPEC --offload off` in a namespace of its own, Linux on the TAP's side
# (bench/netlib.sh).  Each pair uses one seed for both builds, so both meet
# the same fault decisions as long as they send alike; the builds take turns
# going first.  A pair's ratio is the reference's time over this build's
# (above 1: this build is faster); the table shows the least, median and
# greatest ratio, each pair's times go to stderr, and one JSON line ends it.
#
# Usage: bench/loss_builds.sh [BUILD] REFERENCE_BUILD   (default build); each is a
# build directory with bin/refnet.  Environment: BENCH_MIB (default 20),
# BENCH_LOSS (percent, default 2), BENCH_RUNS (pairs, default 5),
# BENCH_STATS (set: each run's recovery counters to stderr).  Needs
# root; without it, says why and exits 0.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/netlib.sh"

bench_two_builds loss_builds "$@"
mib=${BENCH_MIB:-20}
loss=${BENCH_LOSS:-2}
runs=${BENCH_RUNS:-5}
bench_need_root loss_builds
command -v nc >/dev/null || { echo "loss_builds.sh: skipped: needs nc"; exit 0; }
bench_setup loss

# one BIN SEED: seconds (ms resolution) for BIN to send $mib MiB through
# the faults with SEED; empty if the transfer failed.
one() {
    local bin=$1 seed=$2 t0 rc ncpid i
    refnet=$bin
    bench_tap_daemon "$nsr" "$sock" "$dir/daemon.log" \
        --fault "drop=$loss%,seed=$seed" --offload off
    ip netns exec "$nsr" timeout 600 nc -l 198.18.0.1 5000 >/dev/null </dev/null &
    ncpid=$!
    echo "$ncpid" >>"$dir/pids"
    for i in $(seq 50); do
        ip netns exec "$nsr" ss -Hltn "sport = :5000" | grep -q 5000 && break
        sleep 0.1
    done
    t0=$(date +%s%N)
    head -c $((mib << 20)) /dev/zero |
        timeout 600 "$bin" send 198.18.0.1 5000 --ctl "$sock" --timeout 590 >/dev/null 2>"$dir/send.err"
    rc=$?
    wait "$ncpid"
    local ms=$((($(date +%s%N) - t0) / 1000000))
    if [ -n "${BENCH_STATS:-}" ]; then
        "$bin" stat --ctl "$sock" 2>/dev/null |
            grep -E "^(tcp\.(retransmits|fast_retransmits|timeouts|tlp_probes|undos|sack_recoveries|rack_losses|rescue_retransmits)|fault\.(rx|tx)_dropped) " |
            tr -s ' ' | paste -sd ' ' | sed "s|^|$bin: |" >&2
    fi
    bench_stop "$dpid"
    dpid=
    ip netns del "$nsr"
    if [ "$rc" != 0 ]; then
        echo "loss_builds.sh: $bin send exited $rc: $(cat "$dir/send.err")" >&2
        return
    fi
    echo "$ms"
}

ratios=()
for r in $(seq "$runs"); do
    seed=$((1000 + r))
    if [ $((r % 2)) = 1 ]; then
        a=$(one "$build/bin/refnet" "$seed")
        b=$(one "$refbuild/bin/refnet" "$seed")
    else
        b=$(one "$refbuild/bin/refnet" "$seed")
        a=$(one "$build/bin/refnet" "$seed")
    fi
    [ -n "$a" ] && [ -n "$b" ] || die "pair $r failed"
    echo "pair $r (seed $seed): this $a ms, reference $b ms" >&2
    ratios+=("$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", b / a }')")
done
sorted=$(printf '%s\n' "${ratios[@]}" | sort -n)
min=$(echo "$sorted" | head -1)
max=$(echo "$sorted" | tail -1)
med=$(echo "$sorted" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
printf '%-28s %8s %8s %8s\n' "reference/this (time)" min median max
printf '%-28s %8s %8s %8s\n' "send $mib MiB, drop=$loss%" "$min" "$med" "$max"
echo "{\"bench\":\"loss\",\"mib\":$mib,\"loss_pct\":$loss,\"pairs\":$runs,\"reference_over_this\":{\"min\":$min,\"median\":$med,\"max\":$max}}"
