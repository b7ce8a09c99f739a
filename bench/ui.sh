#!/usr/bin/env bash
# The live view's cost to the data path: wrk's keep-alive requests/s
# against refnet's httpd with a viewer polling the view, over the same
# without one, in interleaved pairs.
#
# refnet runs as `refnet daemon --tap bn0 --addr 198.18.0.2/15 --service
# httpd=80:DIR --ui 127.0.0.1:8080` in a namespace of its own (bench/
# netlib.sh), its TAP at MTU 1500.  The load is `wrk -t 1 -c 32` on a
# 1 KiB file, as bench/tcp.sh's http_ka.  The viewer is a client on the
# namespace's loopback that asks, once a second, for every page's data at
# once (/api/overview, /api/connections, /api/waits, /api/objects): four
# times what a browser showing one page asks, so the daemon renders its
# overview, walks its connections and takes its snapshots each second.
#
# Each pair is one measurement without the viewer and one with it, the
# order alternating from pair to pair so that a drift of the machine's
# load falls on both sides; the figure is the ratio with / without within
# each pair, reported as min / median / max, with the requests the viewer
# made, and the loop thread's CPU time the view's sampler took per second
# of the measurement (rendering, walks) and as a share of all the loop
# thread's CPU time meanwhile (its schedstat): what the view takes from the
# packets' thread, whatever other programs take from the machine.  Prints
# a table and one JSON line.
#
# Usage: bench/ui.sh [BUILD]   (default build); environment: BENCH_SECS
# (per measurement, default 3), BENCH_PAIRS (default 10).  Needs root;
# without it, says why and exits 0.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=${1:-build}
refnet="$build/bin/refnet"
secs=${BENCH_SECS:-3}
pairs=${BENCH_PAIRS:-10}
py=/usr/bin/python3

. "$here/netlib.sh"
bench_need_root ui.sh
[ -x "$refnet" ] || { echo "ui.sh: $refnet is not built" >&2; exit 1; }
for t in wrk "$py"; do
    command -v "$t" >/dev/null || { echo "ui.sh: $t is missing (scripts/deps.sh)" >&2; exit 1; }
done

bench_setup ui
mkdir -p "$dir/www"
head -c 1024 /dev/zero | tr '\0' 'x' >"$dir/www/small.bin"
bench_tap_daemon "$nsr" "$sock" "$dir/daemon.log" --service "httpd=80:$dir/www" \
    --ui 127.0.0.1:8080
grep -q "live view at http://127.0.0.1:8080/" "$dir/daemon.log" || die "no live view: $(cat "$dir/daemon.log")"

# The viewer: polls every page's data once a second until killed; counts
# its answers into its file.
cat >"$dir/viewer.py" <<'EOF'
import http.client, sys, time
out = sys.argv[1]
n = bad = 0
c = http.client.HTTPConnection("127.0.0.1", 8080, timeout=5)
while True:
    t0 = time.monotonic()
    for p in ("/api/overview", "/api/connections", "/api/waits", "/api/objects?q="):
        try:
            c.request("GET", p)
            r = c.getresponse()
            r.read()
            n += 1
            bad += r.status != 200
        except OSError:
            bad += 1
            c.close()
            c = http.client.HTTPConnection("127.0.0.1", 8080, timeout=5)
    with open(out, "w") as f:
        f.write("%d %d\n" % (n, bad))
    time.sleep(max(0, 1 - (time.monotonic() - t0)))
EOF

# wrk_ka: keep-alive requests/s for $secs seconds.
wrk_ka() {
    ip netns exec "$nsr" timeout $((secs + 30)) wrk -t 1 -c 32 -d "${secs}s" --timeout 5s \
        http://198.18.0.2/small.bin >"$dir/wrk.out" 2>&1 || die "wrk failed: $(cat "$dir/wrk.out")"
    awk '/^Requests\/sec:/ { print $2 }' "$dir/wrk.out"
}

# loop_ns: the loop thread's CPU time the view's sampler has taken so far,
# and now, in ns ("sampler_loop_ns" of /api/overview).
loop_ns() {
    ip netns exec "$nsr" curl -s -m 5 http://127.0.0.1:8080/api/overview |
        "$py" -c 'import json, sys, time; print(json.load(sys.stdin)["sampler_loop_ns"], time.monotonic_ns())'
}

# loop_cpu: the loop thread's (the daemon's main thread's) CPU time so
# far, ns.
loop_cpu() {
    awk '{ print $1 }' "/proc/$dpid/task/$dpid/schedstat"
}

# with_viewer: wrk_ka with the viewer polling from a second before; the
# sampler's loop time per second during the measurement goes to
# $dir/loop_us, and its share of the loop thread's CPU time to
# $dir/loop_share (percent), one line per run.
with_viewer() {
    ip netns exec "$nsr" "$py" "$dir/viewer.py" "$dir/viewer.out" &
    local vpid=$! l0 t0 l1 t1
    echo "$vpid" >>"$dir/pids"
    sleep 1.2
    local c0 c1
    c0=$(loop_cpu)
    read -r l0 t0 < <(loop_ns)
    wrk_ka
    read -r l1 t1 < <(loop_ns)
    c1=$(loop_cpu)
    bench_stop "$vpid"
    awk -v a="$l0" -v b="$l1" -v s="$t0" -v e="$t1" 'BEGIN { printf "%.1f\n", (b - a) / ((e - s) / 1e9) / 1e3 }' >>"$dir/loop_us"
    awk -v a="$l0" -v b="$l1" -v s="$c0" -v e="$c1" 'BEGIN { printf "%.3f\n", (e > s ? 100 * (b - a) / (e - s) : 0) }' >>"$dir/loop_share"
}

wrk_ka >/dev/null   # warm up: ARP, the file in the cache
ratios=()
withs=()
withouts=()
for i in $(seq "$pairs"); do
    if [ $((i % 2)) = 1 ]; then
        a=$(wrk_ka)
        sleep 1.2   # the same pause as the viewer's start
        b=$(with_viewer)
    else
        b=$(with_viewer)
        sleep 1.2
        a=$(wrk_ka)
    fi
    r=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", (a > 0 ? b / a : 0) }')
    printf 'pair %2d: without %10s  with %10s  ratio %s\n' "$i" "$a" "$b" "$r"
    ratios+=("$r")
    withs+=("$b")
    withouts+=("$a")
done
read -r asked failed <"$dir/viewer.out"
stats=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{ v[NR] = $1 } END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%.3f %.3f %.3f", v[1], m, v[NR] }')
read -r rmin rmed rmax <<<"$stats"
med() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END {
    printf "%.1f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo
echo "| measurement | without the viewer | with it | ratio min / median / max |"
echo "|---|---|---|---|"
echo "| HTTP keep-alive, requests/s (median) | $(med "${withouts[@]}") | $(med "${withs[@]}") | $rmin / **$rmed** / $rmax |"
loop_us=$(med $(cat "$dir/loop_us"))
loop_us_max=$(sort -n "$dir/loop_us" | tail -1)
echo "| the loop thread's CPU time the view took, microseconds per second (median, max) | 0 | $loop_us, $loop_us_max | |"
loop_share=$(sort -n "$dir/loop_share" | awk '{ v[NR] = $1 } END {
    printf "%.2f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
loop_share_max=$(sort -n "$dir/loop_share" | tail -1 | awk '{ printf "%.2f", $1 }')
echo "| the view's share of the loop thread's CPU time, percent (median, max) | 0 | $loop_share, $loop_share_max | |"
echo "(the viewer's last run: $asked answers, $failed failed)"
echo "{\"bench\":\"ui\",\"secs\":$secs,\"pairs\":$pairs,\"ka_without\":$(med "${withouts[@]}"),\"ka_with\":$(med "${withs[@]}"),\"ratio_min\":$rmin,\"ratio_median\":$rmed,\"ratio_max\":$rmax,\"viewer_answers\":$asked,\"viewer_failed\":$failed,\"loop_us_per_s\":$loop_us,\"loop_us_per_s_max\":$loop_us_max,\"loop_share_pct\":$loop_share,\"loop_share_pct_max\":$loop_share_max}"
