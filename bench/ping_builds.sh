#!/usr/bin/env bash
# Ping round trips of two refnet builds against each other: this build and
# a reference build (another version of refnet, e.g. before a change to its
# threads or its loop) in interleaved pairs.  BENCH_KIND=tcp measures the
# TCP 1-byte ping-pong of bench/latency.sh (refnet's echo service on port
# 7, TCP_NODELAY, 10 ms apart) instead of ICMP echoes.
#
# Each build runs as `refnet daemon --tap bn0 --addr 198.18.0.2/15 --rss
# off` in a namespace of its own, Linux on the TAP's side (bench/netlib.sh);
# ping sends COUNT echoes 10 ms apart (a gap long enough for a loop to fall
# asleep between two), as bench/latency.sh does.  Only one daemon runs at a
# time, started afresh for each run: a second one's threads would wake the
# machine's CPUs for both.  Which is measured first alternates.  A pair gives the ratio
# this build / reference of the median and of the 99th percentile (below
# 1: this build answers sooner); the table shows the least, median and
# greatest of each, each pair's figures go to stderr, and one JSON line
# ends it.
#
# Usage: bench/ping_builds.sh [BUILD] REFERENCE_BUILD   (default build);
# each is a build directory with bin/refnet.  Environment: BENCH_COUNT
# (echoes per run, default 300), BENCH_RUNS (pairs, default 6), BENCH_KIND
# (icmp, the default, or tcp).  Needs
# root; without it, says why and exits 0.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
py=/usr/bin/python3
. "$here/netlib.sh"

bench_two_builds ping_builds "$@"
bench_numbers ping_builds BENCH_COUNT BENCH_RUNS
count=${BENCH_COUNT:-300}
runs=${BENCH_RUNS:-6}
kind=${BENCH_KIND:-icmp}
case $kind in
icmp | tcp) ;;
*) echo "ping_builds.sh: BENCH_KIND must be icmp or tcp, not '$kind'" >&2; exit 2 ;;
esac
bench_need_root ping_builds
command -v ping >/dev/null || { echo "ping_builds.sh: ping is missing (scripts/deps.sh)" >&2; exit 1; }
bench_setup ping_builds

# rtt NS: "MEDIAN P99" in microseconds of COUNT round trips from NS.
rtt() {
    if [ "$kind" = tcp ]; then
        bench_tcp_pp_us "$1" "$count"
    else
        bench_ping_us "$1" "$count"
    fi | bench_quantiles || die "$kind round trips from $1 got no answer"
}

# run BUILD NS: "MEDIAN P99" of a daemon of BUILD started in NS for it.
run() {
    local out
    refnet=$1/bin/refnet
    bench_tap_daemon "$2" "$dir/ctl.sock" "$dir/daemon.log" $([ "$kind" = tcp ] && echo --service echo)
    ip netns exec "$2" ping -c 1 -W 2 198.18.0.2 >/dev/null || die "no answer to ping from $1"
    out=$(rtt "$2")
    bench_stop "$dpid"
    dpid=
    ip netns del "$2"
    echo "$out"
}

meds=()
p99s=()
for r in $(seq 1 "$runs"); do
    if [ $((r % 2)) = 1 ]; then
        read -r am ap < <(run "$build" "$nsr"); read -r bm bp < <(run "$refbuild" "$nsa")
    else
        read -r bm bp < <(run "$refbuild" "$nsa"); read -r am ap < <(run "$build" "$nsr")
    fi
    echo "pair $r: this median $am us p99 $ap us, reference median $bm us p99 $bp us" >&2
    meds+=("$(bench_ratio "$am" "$bm")")
    p99s+=("$(bench_ratio "$ap" "$bp")")
done
json=
printf '%-24s %8s %8s %8s\n' "this/reference (rtt)" min median max
for row in median p99; do
    if [ "$row" = median ]; then set -- "${meds[@]}"; else set -- "${p99s[@]}"; fi
    set -- $(bench_spread "$@")
    printf '%-24s %8s %8s %8s\n' "$row" "$1" "$2" "$3"
    json="$json${json:+,}\"$row\":{\"min\":$1,\"median\":$2,\"max\":$3}"
done
echo "{\"bench\":\"ping_builds\",\"kind\":\"$kind\",\"count\":$count,\"pairs\":$runs,$json,\"load\":\"$(uptime | sed 's/.*load average: //')\"}"
