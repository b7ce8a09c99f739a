#!/usr/bin/env bash
# The request path of two refnet builds against each other: httpd's
# requests/s under wrk, keep-alive and Connection: close, this build and a
# reference build (another version of refnet, e.g. before a change to the
# connection's memory or its close) in interleaved pairs.
#
# Each build runs as `refnet daemon --tap bn0 --addr 198.18.0.2/15
# --service httpd=80:DIR` in a namespace of its own, Linux on the TAP's
# side (bench/netlib.sh); wrk (one thread) asks for a 1 KiB file: 100
# connections kept alive, or 50 connections each closed after one request.
# Both daemons run throughout; which is measured first alternates.  A
# pair's ratio is this build's requests/s over the reference's (above 1:
# this build is faster); the table shows the least, median and greatest
# ratio, each pair's rates go to stderr, and one JSON line ends it.
#
# Usage: bench/http_builds.sh [BUILD] REFERENCE_BUILD   (default build);
# each is a build directory with bin/refnet.  Environment: BENCH_SECS (per
# wrk run, default 4), BENCH_RUNS (pairs per mode, default 6).  Needs root;
# without it, says why and exits 0.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
py=/usr/bin/python3
. "$here/netlib.sh"

bench_two_builds http_builds "$@"
bench_numbers http_builds BENCH_SECS BENCH_RUNS
secs=${BENCH_SECS:-4}
runs=${BENCH_RUNS:-6}
bench_need_root http_builds
command -v wrk >/dev/null || { echo "http_builds.sh: wrk is missing (scripts/deps.sh)" >&2; exit 1; }
bench_setup http_builds
www="$dir/www"
mkdir -p "$www"
head -c 1024 /dev/urandom >"$www/small.bin"

# This build in $nsr, the reference in $nsa.
refnet=$build/bin/refnet
bench_tap_daemon "$nsr" "$dir/this.sock" "$dir/this.log" --service httpd=80:"$www"
echo "$dpid" >>"$dir/pids"
refnet=$refbuild/bin/refnet
bench_tap_daemon "$nsa" "$dir/ref.sock" "$dir/ref.log" --service httpd=80:"$www"

# rate NS MODE: requests/s of wrk against the httpd in NS.
rate() {
    local args=(-t 1 -c 100 -d "${secs}s" --timeout 5s)
    [ "$2" = close ] && args=(-t 1 -c 50 -d "${secs}s" --timeout 5s -H "Connection: close")
    ip netns exec "$1" timeout $((secs + 30)) wrk "${args[@]}" http://198.18.0.2/small.bin \
        >"$dir/wrk.out" 2>&1 || die "wrk in $1 failed: $(cat "$dir/wrk.out")"
    awk '/^Requests\/sec:/ { print $2 }' "$dir/wrk.out"
}

json=
printf '%-24s %8s %8s %8s\n' "this/reference (req/s)" min median max
for mode in keepalive close; do
    rate "$nsr" "$mode" >/dev/null  # warm both up alike
    rate "$nsa" "$mode" >/dev/null
    ratios=()
    for r in $(seq 1 "$runs"); do
        if [ $((r % 2)) = 1 ]; then
            a=$(rate "$nsr" "$mode"); b=$(rate "$nsa" "$mode")
        else
            b=$(rate "$nsa" "$mode"); a=$(rate "$nsr" "$mode")
        fi
        echo "$mode pair $r: this $a req/s, reference $b req/s" >&2
        ratios+=("$(bench_ratio "$a" "$b")")
    done
    line=$(printf '%s\n' "${ratios[@]}" | sort -n | python3 -c '
import sys
r = [float(x) for x in sys.stdin]
print("%.3f %.3f %.3f" % (r[0], r[len(r) // 2], r[-1]))')
    set -- $line
    printf '%-24s %8s %8s %8s\n' "$mode" "$1" "$2" "$3"
    json="$json${json:+,}\"$mode\":{\"min\":$1,\"median\":$2,\"max\":$3}"
done
echo "{\"bench\":\"http_builds\",\"secs\":$secs,\"pairs\":$runs,$json,\"load\":\"$(uptime | sed 's/.*load average: //')\"}"
