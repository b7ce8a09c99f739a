#!/bin/sh
# Runs every libFuzzer target in BUILD/bin for SECONDS each, starting from its
# checked-in seed corpus in fuzz/corpus/<name>/.  New inputs go to a scratch
# directory, never into the tree.  Fails if any target finds a crash.
set -eu
build=$1
seconds=$2
top=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
found=0
for f in "$build"/bin/fuzz-*; do
    [ -x "$f" ] || continue
    name=${f##*/fuzz-}
    mkdir -p "$scratch/$name"
    echo "fuzz-$name: ${seconds}s"
    "$f" -max_total_time="$seconds" -print_final_stats=0 -artifact_prefix="$scratch/" \
        "$scratch/$name" "$top/fuzz/corpus/$name" 2>"$scratch/$name.log" || {
        echo "fuzz-$name failed; last lines of its log:" >&2
        tail -n 40 "$scratch/$name.log" >&2
        exit 1
    }
    grep -E '^(#[0-9]+ *DONE|Done)' "$scratch/$name.log" | tail -n 1 || true
    found=$((found + 1))
done
[ "$found" -gt 0 ] || { echo "no fuzz targets were built in $build" >&2; exit 1; }
