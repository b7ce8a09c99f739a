#!/usr/bin/env bash
# 200 MB through refnet's echo service under its fault filter, seed after
# seed: every run must be exact and never stall.
#
# Two refnet daemons, each `refnet daemon --tap bn0 --addr 198.18.0.2/15
# --service echo` in a namespace of its own (netlib.sh), offloads on (the
# default): one without faults, kept for the whole run, and one restarted
# for each seed with --fault FAULTS,seed=SEED, which faults every frame in
# both directions.  For each seed, a pair: Linux's bench/bulk.py echo
# sends BYTES to each daemon's echo service while reading them back and
# checks every byte returned; which daemon goes first alternates.  A run
# fails if a byte differs, if nothing comes back for STALL seconds (a
# stall), or if it outlasts LIMIT seconds.  Prints, per seed, pass or fail,
# the time through the faults and its ratio to the run without them in the
# same pair, and refnet's retransmissions and timeouts; then the least,
# median and greatest ratio and one JSON line.  Exits 1 if any seed failed.
#
# Usage: bench/faults.sh [BUILD]   (default build); environment:
# BENCH_SEEDS (default "1 2 ... 20"), BENCH_BYTES (default 200000000),
# BENCH_FAULTS (default drop=2%,dup=1%,reorder=1%,corrupt=1%), BENCH_STALL
# (s, default 30), BENCH_LIMIT (s per run, default 600).  Needs root;
# without it, says why and exits 0.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=${1:-build}
refnet="$build/bin/refnet"
seeds=${BENCH_SEEDS:-$(seq -s ' ' 20)}
bytes=${BENCH_BYTES:-200000000}
faults=${BENCH_FAULTS:-drop=2%,dup=1%,reorder=1%,corrupt=1%}
stall=${BENCH_STALL:-30}
limit=${BENCH_LIMIT:-600}
py=/usr/bin/python3

. "$here/netlib.sh"
bench_need_root faults.sh
[ -x "$refnet" ] || { echo "faults.sh: $refnet is not built" >&2; exit 1; }

bench_setup faults

# The daemon without faults, in $nsr for the whole run.
bench_tap_daemon "$nsr" "$sock" "$dir/daemon.log" --service echo
clean_pid=$dpid
echo "$clean_pid" >>"$dir/pids"
ip netns exec "$nsr" ping -c 1 -W 2 198.18.0.2 >/dev/null || die "refnet does not answer ping"

fsock="$dir/faults.sock"
# faulty SEED: the daemon with faults in $nsa, started afresh.
faulty() {
    [ -z "${fault_pid:-}" ] || bench_stop "$fault_pid"
    ip netns del "$nsa" 2>/dev/null
    bench_tap_daemon "$nsa" "$fsock" "$dir/faults-$1.log" --service echo --fault "$faults,seed=$1"
    fault_pid=$dpid
    dpid=$clean_pid
    echo "$fault_pid" >>"$dir/pids"
    # ARP and ping may be faulted too: a few tries.
    local i
    for i in 1 2 3 4 5; do
        ip netns exec "$nsa" ping -c 1 -W 1 198.18.0.2 >/dev/null && return 0
    done
    die "the daemon with faults (seed $1) does not answer ping"
}

# run NS FILE: bulk.py echo from NS, its JSON line in FILE; returns its
# status.
run() {
    local rc
    ip netns exec "$1" timeout $((limit + 30)) "$py" "$here/bulk.py" echo 198.18.0.2 7 \
        "$bytes" "$stall" "$limit" >"$2"
    rc=$?
    [ -s "$2" ] || echo "{\"bytes\":0,\"secs\":$limit,\"exact\":false,\"stalled\":true}" >"$2"
    return $rc
}

jf() { "$py" -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

stat_tcp() {
    "$refnet" stat --json --ctl "$fsock" --timeout 5 | "$py" -c '
import json, sys
j = json.load(sys.stdin)["protocols"]
print(" ".join(str(j.get(k, 0)) for k in sys.argv[1:]))' tcp.retransmits tcp.timeouts
}

echo "faults: $faults; $bytes bytes through echo per run; stall after ${stall}s, limit ${limit}s"
printf '%-6s %-5s %10s %10s %8s %8s %8s\n' seed  result "faults s" "clean s" ratio retrans timeouts
ratios=
failed=
json="{\"bench\":\"faults\",\"faults\":\"$faults\",\"bytes\":$bytes,\"seeds\":["
first=1
n=0
for s in $seeds; do
    n=$((n + 1))
    faulty "$s"
    if [ $((n % 2)) = 1 ]; then
        run "$nsr" "$dir/clean.json"; rcc=$?
        run "$nsa" "$dir/faults.json"; rcf=$?
    else
        run "$nsa" "$dir/faults.json"; rcf=$?
        run "$nsr" "$dir/clean.json"; rcc=$?
    fi
    oc=$(cat "$dir/clean.json")
    of=$(cat "$dir/faults.json")
    [ "$rcc" = 0 ] || die "seed $s: the run without faults failed: $oc"
    kill -0 "$fault_pid" 2>/dev/null || { cat "$dir/faults-$s.log"; die "seed $s: the daemon with faults died"; }
    read -r rt to < <(stat_tcp)
    tf=$(jf "$of" secs)
    tc=$(jf "$oc" secs)
    ratio=$(bench_ratio "$tf" "$tc")
    if [ "$rcf" = 0 ]; then
        res=pass
        ratios+=" $ratio"
    else
        res=FAIL
        failed+=" $s"
        echo "seed $s: $of" >&2
    fi
    printf '%-6s %-5s %10s %10s %8s %8s %8s\n' "$s" "$res" "$tf" "$tc" "$ratio" "$rt" "$to"
    [ "$first" = 1 ] || json+=","
    first=0
    json+="{\"seed\":$s,\"pass\":$([ "$res" = pass ] && echo true || echo false),\"secs\":$tf,\"clean_secs\":$tc,\"ratio\":$ratio,\"exact\":$(jf "$of" exact | tr A-Z a-z),\"stalled\":$(jf "$of" stalled | tr A-Z a-z),\"retransmits\":$rt,\"timeouts\":$to}"
done
json+="]"
if [ -n "$ratios" ]; then
    read -r q0 q1 q2 < <(bench_spread $ratios)
    echo "time ratio faults / clean over the seeds that passed: min $q0 median $q1 max $q2"
    json+=",\"ratio_min\":$q0,\"ratio_median\":$q1,\"ratio_max\":$q2"
fi
echo "$json,\"failed\":[$(echo $failed | tr ' ' ',')]}"
if [ -n "$failed" ]; then
    echo "faults.sh: failed seeds:$failed" >&2
    exit 1
fi
