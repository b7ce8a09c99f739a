#!/usr/bin/env bash
# Receive-side scaling on against off, in interleaved pairs: the same
# daemon flags, the same multi-queue TAP, once with `--rss off` (one loop)
# and once with `--rss N` (N loops, default the CPUs), each pair's order
# alternating.  Each pair gives refnet-with-RSS / refnet-without for:
#   http_ka     wrk -t N -c 64 keep-alive against refnet's httpd, 1 KiB
#   http_close  the same with "Connection: close"
#   rx_bulk2    two bulk.py streams at once into refnet's discard service
#               (the sum of their goodputs)
# and, with RSS, the per-loop spread: each loop's share of the TCP
# connections it opened (tcp.passive_opens of each loop's `refnet stat`).
# The table gives the least, median and greatest ratio; each pair's
# figures go to stderr; one JSON line ends it.
#
# Set-up as bench/tcp.sh's refnet side (bench/netlib.sh): the TAP bn0 in a
# namespace, Linux 198.18.0.1/15, refnet 198.18.0.2/15, MTU 1500, offloads
# on; wrk and bulk.py run in that namespace.
#
# Usage: bench/rss.sh [BUILD]   (default build); environment: BENCH_SECS
# (per measurement, default 4), BENCH_RUNS (pairs, default 5), BENCH_RSS
# (queues with RSS, default the CPUs, at least 2).  Needs root; without it,
# says why and exits 0.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=${1:-build}
refnet="$build/bin/refnet"
secs=${BENCH_SECS:-4}
runs=${BENCH_RUNS:-5}
queues=${BENCH_RSS:-$(nproc)}
[ "$queues" -ge 2 ] 2>/dev/null || queues=2
maxbytes=$((4 << 30))
py=/usr/bin/python3

. "$here/netlib.sh"
bench_need_root rss.sh
[ -x "$refnet" ] || { echo "rss.sh: $refnet is not built" >&2; exit 1; }
for t in wrk "$py"; do
    command -v "$t" >/dev/null || { echo "rss.sh: $t is missing (scripts/deps.sh)" >&2; exit 1; }
done
bench_setup rss

www="$dir/www"
mkdir -p "$www"
head -c 1024 /dev/urandom >"$www/small.bin"
ip netns add "$nsr" || die "cannot create namespace $nsr"
ip netns exec "$nsr" ip link set lo up
ip netns exec "$nsr" ip tuntap add dev bn0 mode tap multi_queue || die "cannot create the TAP"
ip netns exec "$nsr" sysctl -qw net.ipv6.conf.bn0.disable_ipv6=1
ip netns exec "$nsr" ip addr add 198.18.0.1/15 dev bn0
ip netns exec "$nsr" ip link set bn0 up

# daemon RSS: starts refnet's daemon with --rss RSS and waits until it
# serves a page.  Sets dpid.
daemon() {
    local i
    ip netns exec "$nsr" "$refnet" daemon --tap bn0 --addr 198.18.0.2/15 --ctl "$sock" \
        --watchdog 0 --rss "$1" --service discard --service httpd=80:"$www" 2>"$dir/daemon.log" &
    dpid=$!
    echo "$dpid" >>"$dir/pids"  # the exit's clean-up stops it, from a subshell too
    for i in $(seq 50); do
        ip netns exec "$nsr" curl -sS --noproxy '*' --max-time 1 -o /dev/null \
            http://198.18.0.2/small.bin 2>/dev/null && return 0
        kill -0 "$dpid" 2>/dev/null || break
        sleep 0.1
    done
    cat "$dir/daemon.log"
    die "the daemon (--rss $1) did not serve"
}

http() {
    ip netns exec "$nsr" timeout $((secs + 30)) wrk -t "$queues" -c 64 -d "${secs}s" --timeout 5s \
        "$@" http://198.18.0.2/small.bin >"$dir/wrk.out" 2>&1 || die "wrk failed: $(cat "$dir/wrk.out")"
    awk '/^Requests\/sec:/ { print $2 }' "$dir/wrk.out"
}

rx_bulk2() {
    local a b
    ip netns exec "$nsr" timeout $((secs + 60)) "$py" "$here/bulk.py" send 198.18.0.2 9 "$secs" \
        "$maxbytes" >"$dir/b1.out" &
    a=$!
    ip netns exec "$nsr" timeout $((secs + 60)) "$py" "$here/bulk.py" send 198.18.0.2 9 "$secs" \
        "$maxbytes" >"$dir/b2.out" &
    b=$!
    wait "$a" && wait "$b" || die "rx_bulk2: a sender failed"
    "$py" -c '
import json, sys
t = sum(json.load(open(p))["bytes"] * 8 / json.load(open(p))["secs"] for p in sys.argv[1:])
print("%.3f" % (t / 1e9))' "$dir/b1.out" "$dir/b2.out"
}

# Each loop's share of the connections opened, from `refnet stat`.
spread() {
    "$refnet" stat --ctl "$sock" --timeout 5 | "$py" -c '
import re, sys
per = [int(m.group(1)) for m in re.finditer(r"^tcp\.passive_opens +(\d+)", sys.stdin.read(), re.M)]
t = sum(per) or 1
print("/".join("%.2f" % (p / t) for p in per))'
}

# One side of a pair: RSS (off or a number) -> "http_ka http_close rx_bulk2 spread".
measure() {
    local ka cl bulk sp=-
    daemon "$1"
    ka=$(http)
    cl=$(http -H "Connection: close")
    bulk=$(rx_bulk2)
    [ "$1" != off ] && sp=$(spread)
    bench_stop "$dpid"
    dpid=
    echo "$ka $cl $bulk $sp"
}

declare -a r_ka r_cl r_bulk spreads
for r in $(seq "$runs"); do
    if [ $((r % 2)) = 1 ]; then
        on=$(measure "$queues")
        off=$(measure off)
    else
        off=$(measure off)
        on=$(measure "$queues")
    fi
    read -r ka1 cl1 bu1 sp <<<"$on"
    read -r ka0 cl0 bu0 _ <<<"$off"
    r_ka+=("$(bench_ratio "$ka1" "$ka0")")
    r_cl+=("$(bench_ratio "$cl1" "$cl0")")
    r_bulk+=("$(bench_ratio "$bu1" "$bu0")")
    spreads+=("$sp")
    echo "pair $r: http_ka $ka1 / $ka0 req/s, http_close $cl1 / $cl0 req/s," \
        "rx_bulk2 $bu1 / $bu0 Gbit/s (RSS $queues / off); connections per loop $sp" >&2
done

printf '%-11s %s\n' "RSS $queues / off" "min / median / max over $runs pairs"
for m in ka cl bulk; do
    case $m in
    ka) name=http_ka; set -- "${r_ka[@]}" ;;
    cl) name=http_close; set -- "${r_cl[@]}" ;;
    bulk) name=rx_bulk2; set -- "${r_bulk[@]}" ;;
    esac
    read -r lo med hi <<<"$(bench_spread "$@")"
    printf '%-11s %s / %s / %s\n' "$name" "$lo" "$med" "$hi"
    json+="${json:+,}\"$name\":[$lo,$med,$hi]"
done
echo "connections per loop (each pair): ${spreads[*]}"
echo "{\"queues\":$queues,\"runs\":$runs,$json,\"spread\":\"${spreads[*]}\"}"
