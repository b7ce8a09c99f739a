#!/usr/bin/env bash
# What idle connections cost refnet: memory per idle connection, and the
# keep-alive request rate of busy connections beside a crowd of idle ones.
#
# Two daemons, A and B, each `refnet daemon --tap bn0 --addr 198.18.0.2/15
# --service httpd=80:DIR` in a namespace of its own (Linux's side
# 198.18.0.1/15, as bench/tcp.sh).  Linux opens N idle connections to A's
# httpd (bench/idle_conns.py, as many processes as the descriptor limit
# needs, each with a source address of its own: 198.18.1.1, 198.18.1.2,
# ..., all in 198.18.0.0/15), at most 1,024 connects outstanding in all,
# for at most IDLE_SECS seconds, and holds them open without a byte
# (IDLE_ASK=once: after one exchange each); B gets none.  Then wrk keeps 100 connections busy with
# keep-alive requests for a 1 KiB file, RUNS times as pairs: A (beside the
# idle connections), B (alone), which goes first alternating; each pair
# gives the ratio A / B, and the result is their min/median/max.
# Memory: A's resident set (VmRSS) before and after the idle connections
# opened, over the connections opened; with IDLE_ASK=once, read once A
# gave back what the burst of exchanges freed (heap.returns in `refnet
# stat`), at most 22 s after they opened.
#
# Usage: bench/idle.sh [BUILD]   (default build); environment: IDLE_N (idle
# connections; default as many as fit half the memory available at 8 KiB
# each for both ends, at most 1,000,000), IDLE_SECS (bound on opening them,
# default 240), IDLE_SERVICE (httpd, the default, or echo: which of A's
# services the idle connections go to; both daemons run both when echo),
# IDLE_ASK (none, the default: the idle connections never send a byte;
# once: each makes one exchange first, an echoed line or a keep-alive GET,
# and then goes idle, as a client between requests),
# BENCH_SECS (per wrk run, default 4), BENCH_RUNS (pairs, default 5).  Prints a summary and one JSON line.  Needs root; without it,
# says why and exits 0.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=${1:-build}
refnet="$build/bin/refnet"
secs=${BENCH_SECS:-4}
runs=${BENCH_RUNS:-5}
idle_secs=${IDLE_SECS:-240}
py=/usr/bin/python3
per_src=50000

. "$here/netlib.sh"
bench_need_root idle.sh
[ -x "$refnet" ] || { echo "idle.sh: $refnet is not built" >&2; exit 1; }
for t in wrk "$py"; do
    command -v "$t" >/dev/null || { echo "idle.sh: $t is missing (scripts/deps.sh)" >&2; exit 1; }
done

if [ -n "${IDLE_N:-}" ]; then
    n=$IDLE_N
else
    avail=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
    n=$((avail / 2 / 8))
    [ "$n" -gt 1000000 ] && n=1000000
fi
case "$n" in
''|*[!0-9]*) echo "idle.sh: IDLE_N must be a number, not '$n'" >&2; exit 2 ;;
esac
[ "$n" -ge 1 ] && [ "$n" -le 5000000 ] || { echo "idle.sh: IDLE_N must be 1..5000000" >&2; exit 2; }
idle_svc=${IDLE_SERVICE:-httpd}
case "$idle_svc" in
httpd) idle_port=80; extra_svc=(); ask=http ;;
echo) idle_port=7; extra_svc=(--service echo); ask=echo ;;
*) echo "idle.sh: IDLE_SERVICE must be httpd or echo, not '$idle_svc'" >&2; exit 2 ;;
esac
case "${IDLE_ASK:-none}" in
none) ask=none ;;
once) ;;
*) echo "idle.sh: IDLE_ASK must be none or once, not '$IDLE_ASK'" >&2; exit 2 ;;
esac

bench_setup idle
nsa_="$nsr"   # A: the idle connections
nsb_="$nsa"   # B: none
www="$dir/www"
mkdir -p "$www"
head -c 1024 /dev/urandom >"$www/small.bin"

# The daemons' limits: room for the idle connections, and no idle timeout
# that would end them during the run.
limits=(--set "svc.httpd.max_conns=$((n + 1000))" --set "svc.max_conns=$((n + 1000 < 4000000 ? n + 1000 : 4000000))" --set "sock.max_handles=$((n + 4096 < 4194304 ? n + 4096 : 4194304))"
        --set svc.backlog=4096 --set svc.httpd.idle_timeout=86400)
bench_tap_daemon "$nsa_" "$dir/a.sock" "$dir/a.log" --service httpd=80:"$www" "${extra_svc[@]}" "${limits[@]}"
dpid_a=$dpid
echo "$dpid_a" >>"$dir/pids"
bench_tap_daemon "$nsb_" "$dir/b.sock" "$dir/b.log" --service httpd=80:"$www" "${extra_svc[@]}" "${limits[@]}"
dpid_b=$dpid

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
# heap_returns: how often A gave freed memory back (refnet stat).
heap_returns() {
    "$refnet" stat -j --ctl "$dir/a.sock" 2>/dev/null |
        "$py" -c 'import json, sys; print(json.load(sys.stdin)["protocols"].get("heap.returns", 0))'
}

# Linux's side of A: a full port range for each source address.
ip netns exec "$nsa_" sysctl -qw net.ipv4.ip_local_port_range="1024 65535"

# Warm both up alike (the file cache, the first connections).
for ns_ in "$nsa_" "$nsb_"; do
    ip netns exec "$ns_" timeout 30 wrk -t 1 -c 100 -d 1s http://198.18.0.2/small.bin >/dev/null 2>&1
done
sleep 1
rss0=$(rss_kb "$dpid_a")
returns0=$(heap_returns)

# The idle connections: idle_conns.py holds them until its stdin closes.
# A process may hold only as many sockets as its descriptor limit allows
# (and a process may not raise its hard limit here), so there are several,
# each with a source address of its own and a share of the connects
# outstanding.
fdmax=$(ulimit -Hn)
[ "$fdmax" = unlimited ] && fdmax=1048576
per_proc=$((fdmax - 1000 < per_src ? fdmax - 1000 : per_src))
[ "$per_proc" -ge 100 ] || die "the descriptor limit ($fdmax) is too low"
nproc_=$(( (n + per_proc - 1) / per_proc ))
[ "$nproc_" -le 250 ] || die "too many opener processes ($nproc_): raise the descriptor limit"
for i in $(seq 1 "$nproc_"); do
    ip netns exec "$nsa_" ip addr add "198.18.1.$i/15" dev bn0 2>/dev/null
done
window=$((1024 / nproc_ > 8 ? 1024 / nproc_ : 8))
mkfifo "$dir/hold"
t_open=$SECONDS
left=$n
for i in $(seq 1 "$nproc_"); do
    k=$((left < per_proc ? left : per_proc))
    left=$((left - k))
    ip netns exec "$nsa_" "$py" "$here/idle_conns.py" 198.18.0.2 "$idle_port" "$k" "$idle_secs" 198.18 $((256 + i)) 1 \
        "$window" "$ask" <"$dir/hold" >"$dir/idle.$i.json" 2>"$dir/idle.$i.err" &
    echo "$!" >>"$dir/pids"
done
exec 9>"$dir/hold"
for i in $(seq $(( (idle_secs + 60) * 10 ))); do
    done_=0
    for j in $(seq 1 "$nproc_"); do [ -s "$dir/idle.$j.json" ] && done_=$((done_ + 1)); done
    [ "$done_" = "$nproc_" ] && break
    sleep 0.1
done
open_secs=$((SECONDS - t_open))
opened=$("$py" -c '
import json, sys
print(sum(json.load(open(f))["opened"] for f in sys.argv[1:]))' "$dir"/idle.*.json 2>/dev/null) ||
    die "the idle connections did not open: $(cat "$dir"/idle.*.err)"
[ "${opened:-0}" -gt 0 ] || die "no idle connection opened: $(cat "$dir"/idle.*.err)"
sleep 2
# After one exchange each, the memory of the burst goes back once it is
# over (docs/design.md): the resident set is read after that return, up
# to 20 s more.
if [ "$ask" != none ]; then
    for i in $(seq 200); do
        [ "$(heap_returns)" -gt "$returns0" ] && break
        sleep 0.1
    done
fi
rss1=$(rss_kb "$dpid_a")
per_conn=$(( (rss1 - rss0) * 1024 / opened ))
echo "idle: $opened of $n connections open in ${open_secs}s; A's RSS $rss0 -> $rss1 KiB:" \
     "$per_conn bytes per idle connection" >&2

# wrk NS: keep-alive requests/s of 100 busy connections.
wrk_rate() {
    ip netns exec "$1" timeout $((secs + 30)) wrk -t 1 -c 100 -d "${secs}s" --timeout 5s \
        http://198.18.0.2/small.bin >"$dir/wrk.out" 2>&1 || die "wrk in $1 failed: $(cat "$dir/wrk.out")"
    awk '/^Requests\/sec:/ { print $2 }' "$dir/wrk.out"
}

ratios=()
for r in $(seq 1 "$runs"); do
    if [ $((r % 2)) = 1 ]; then
        a=$(wrk_rate "$nsa_"); b=$(wrk_rate "$nsb_")
    else
        b=$(wrk_rate "$nsb_"); a=$(wrk_rate "$nsa_")
    fi
    ratio=$("$py" -c 'import sys; print("%.3f" % (float(sys.argv[1]) / float(sys.argv[2])))' "$a" "$b")
    echo "pair $r: with idle $a req/s, without $b req/s: $ratio" >&2
    ratios+=("$ratio")
done
# The idle connections were still all there (none was reset meanwhile).
still=$("$refnet" stat --ctl "$dir/a.sock" --json |
    "$py" -c 'import json,sys,os; sys.path.insert(0, os.path.join(sys.argv[1], "../tests/net")); from rnjson import proto; print(proto(json.load(sys.stdin), "tcp.connections"))' "$here")
exec 9>&-

"$py" - "$opened" "$n" "$open_secs" "$per_conn" "$rss0" "$rss1" "$still" "$(uptime | sed 's/.*load average: //')" "$idle_svc" "$ask" "${ratios[@]}" <<'PYEOF'
import json, sys
opened, n, open_secs, per_conn, rss0, rss1, still, load, service, ask = sys.argv[1:11]
r = sorted(float(x) for x in sys.argv[11:])
summary = {"bench": "idle", "service": service, "ask": ask, "idle_wanted": int(n), "idle_opened": int(opened),
           "open_secs": float(open_secs), "idle_at_end": int(still),
           "rss_kib_before": int(rss0), "rss_kib_after": int(rss1),
           "bytes_per_idle_conn": int(per_conn),
           "keepalive_with_idle_over_without": {"min": r[0], "median": r[len(r) // 2], "max": r[-1]},
           "load": load}
print("idle connections: %d (of %d), %d bytes each in the daemon's RSS" % (int(opened), int(n), int(per_conn)))
print("keep-alive req/s, 100 busy, with / without them: min %.3f median %.3f max %.3f" %
      (r[0], r[len(r) // 2], r[-1]))
print(json.dumps(summary))
PYEOF
