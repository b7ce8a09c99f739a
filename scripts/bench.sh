#!/usr/bin/env bash
# Runs every benchmark: each C benchmark in BUILD/bin, then the scripted
# ones in bench/ (against the Linux kernel in network namespaces: root
# only; without root each says so in one line and is skipped).  Each
# measures refnet and its reference side by side and reports ratios;
# docs/benchmarks.md keeps the latest figures.  bench/faults.sh (20 runs
# of 200 MB under faults, about half an hour) is left to be run alone.
set -u
build=${1:-build}
src=$(cd "$(dirname "$0")/.." && pwd)
status=0
for b in "$build"/bin/bench-*; do
    [ -x "$b" ] || continue
    printf '%s: ' "${b##*/}"
    "$b" || status=1
done
for s in rx tcp tap_batch ui run loss; do
    echo "bench/$s.sh:"
    bash "$src/bench/$s.sh" "$build" || status=1
done
exit $status
