#!/usr/bin/env bash
# Runs every benchmark in BUILD/bin and prints its JSON line.  Each
# benchmark measures refnet and its reference side by side and reports
# ratios; docs/benchmarks.md keeps the latest figures.
set -u
build=${1:-build}
status=0
for b in "$build"/bin/bench-*; do
    [ -x "$b" ] || continue
    printf '%s: ' "${b##*/}"
    "$b" || status=1
done
exit $status
