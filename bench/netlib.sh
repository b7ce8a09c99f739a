# Shared by bench/tcp.sh and bench/rx.sh (sourced): the namespaces of a
# benchmark, only 198.18.0.0/15 in them.  The caller sets $refnet and calls
# bench_setup, which names the namespaces and removes them on exit.

# bench_need_root NAME: exits 0 with a one-line reason unless this runs as
# root with /dev/net/tun (namespaces and TAP devices need both).
bench_need_root() {
    if [ "$(id -u)" != 0 ]; then
        echo "$1: skipped: needs root (network namespaces, TAP devices)"
        exit 0
    fi
    [ -c /dev/net/tun ] || { echo "$1: skipped: /dev/net/tun is missing"; exit 0; }
}

# bench_two_builds NAME [BUILD] REFERENCE_BUILD: sets build and refbuild
# for a benchmark that compares two refnet builds (BUILD defaults to
# build), or prints NAME's usage and exits 2; either must have bin/refnet.
bench_two_builds() {
    local name=$1
    shift
    case $# in
    1) build=build; refbuild=$1 ;;
    2) build=$1; refbuild=$2 ;;
    *) echo "usage: bench/$name.sh [BUILD] REFERENCE_BUILD" >&2; exit 2 ;;
    esac
    for b in "$build" "$refbuild"; do
        [ -x "$b/bin/refnet" ] || { echo "$name.sh: no $b/bin/refnet" >&2; exit 2; }
    done
}

# bench_numbers NAME VAR...: exits 2 with a one-line error unless each
# environment variable VAR is unset or a whole number.
bench_numbers() {
    local name=$1 v
    shift
    for v in "$@"; do
        case ${!v:-0} in
        *[!0-9]*) echo "$name.sh: $v must be a number, not '${!v}'" >&2; exit 2 ;;
        esac
    done
}

# bench_setup NAME: the namespaces ($nsr: refnet's TAP and the Linux side
# that drives it; $nsa and $nsb: the two ends of the reference veth), a
# temporary directory $dir with the control socket $sock, and die().  On
# exit, the programs whose PIDs are listed in $dir/pids and the daemon
# ($dpid) are stopped, then the namespaces and $dir go.
bench_setup() {
    bench_name=$1
    nsr="bn-$1-r-$$"
    nsa="bn-$1-a-$$"
    nsb="bn-$1-b-$$"
    nsf="bn-$1-f-$$"  # a floor's, where a benchmark has one (latency.sh)
    dir=$(mktemp -d "/tmp/refnet-bench-$1.XXXXXX") || exit 1
    sock="$dir/ctl.sock"
    dpid=
    trap bench_cleanup EXIT
    trap 'exit 1' INT TERM HUP
}

bench_cleanup() {
    local p n
    # Background programs first (a measurement in a subshell may have left
    # one behind), then the daemon.
    for p in $(cat "$dir/pids" 2>/dev/null) $dpid; do
        bench_stop "$p"
    done
    for n in "$nsr" "$nsa" "$nsb" "$nsf"; do ip netns del "$n" 2>/dev/null; done
    rm -rf "$dir"
}

die() { echo "$bench_name.sh: $*" >&2; exit 1; }

# bench_stop PID: SIGTERM, up to 5 s to go, then SIGKILL; reaps it.
bench_stop() {
    local p=$1 i
    kill -0 "$p" 2>/dev/null || return 0
    kill -TERM "$p" 2>/dev/null
    for i in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
}

# bench_tap_daemon NS SOCK LOG [DAEMON ARGS...]: a namespace NS holding a
# TAP "bn0" (Linux 198.18.0.1/15) and refnet's daemon on it as
# 198.18.0.2/15, both at MTU $bench_mtu (default 1500), with its control
# socket SOCK and its stderr in LOG; waits until it answers.  Sets dpid.
# With bench_v6=1 both speak IPv6 too: Linux 2001:2::1/64, refnet
# 2001:2::2/64.  BENCH_RSS (a number of queues, default off) runs the
# daemon with receive-side scaling.
bench_tap_daemon() {
    local ns=$1 sock=$2 log=$3 i
    shift 3
    ip netns add "$ns" || die "cannot create namespace $ns"
    ip netns exec "$ns" ip link set lo up
    local mq=
    [ "${BENCH_RSS:-off}" != off ] && mq=multi_queue  # a queue per loop
    ip netns exec "$ns" ip tuntap add dev bn0 mode tap $mq || die "cannot create the TAP"
    local v6=()
    if [ "${bench_v6:-0}" = 1 ]; then
        # Linux's side answers at once (no DAD of its own) and stays quiet.
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.bn0.accept_dad=0 \
            net.ipv6.conf.bn0.router_solicitations=0 net.ipv6.conf.bn0.accept_ra=0
        ip netns exec "$ns" ip addr add 2001:2::1/64 dev bn0 nodad
        v6=(--addr6 2001:2::2/64)
    else
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.bn0.disable_ipv6=1
    fi
    ip netns exec "$ns" ip link set bn0 mtu "${bench_mtu:-1500}" ||
        die "the TAP takes no MTU ${bench_mtu:-1500}"
    ip netns exec "$ns" ip addr add 198.18.0.1/15 dev bn0
    ip netns exec "$ns" ip link set bn0 up
    # One loop unless BENCH_RSS says otherwise: the figures of docs/benchmarks.md
    # before receive-side scaling are one loop's.
    ip netns exec "$ns" "$refnet" daemon --tap bn0 --addr 198.18.0.2/15 --mtu "${bench_mtu:-1500}" \
        --rss "${BENCH_RSS:-off}" \
        --ctl "$sock" --watchdog 0 "${v6[@]}" "$@" 2>"$log" &
    dpid=$!
    for i in $(seq 50); do
        "$refnet" status --ctl "$sock" --timeout 2 >/dev/null 2>&1 && return 0
        kill -0 "$dpid" 2>/dev/null || break
        sleep 0.1
    done
    cat "$log"
    die "the daemon did not come up"
}

# bench_veth NSA NSB: two namespaces joined by a veth pair "bnv0" at MTU
# $bench_veth_mtu (default $bench_mtu, else 1500), 198.18.0.1/15 in NSA and
# 198.18.0.2/15 in NSB: the kernel's own path, the reference.
bench_veth() {
    local a=$1 b=$2
    ip netns add "$a" || die "cannot create namespace $a"
    ip netns add "$b" || die "cannot create namespace $b"
    ip link add "bnv-a-$$" netns "$a" type veth peer name "bnv-b-$$" netns "$b" ||
        die "cannot create the veth pair"
    ip netns exec "$a" ip link set lo up
    ip netns exec "$b" ip link set lo up
    local mtu=${bench_veth_mtu:-${bench_mtu:-1500}}
    ip netns exec "$a" ip link set "bnv-a-$$" mtu "$mtu" name bnv0 || die "the veth takes no MTU $mtu"
    ip netns exec "$b" ip link set "bnv-b-$$" mtu "$mtu" name bnv0 || die "the veth takes no MTU $mtu"
    ip netns exec "$a" ip addr add 198.18.0.1/15 dev bnv0
    ip netns exec "$b" ip addr add 198.18.0.2/15 dev bnv0
    if [ "${bench_v6:-0}" = 1 ]; then
        ip netns exec "$a" ip addr add 2001:2::1/64 dev bnv0 nodad
        ip netns exec "$b" ip addr add 2001:2::2/64 dev bnv0 nodad
    fi
    ip netns exec "$a" ip link set bnv0 up
    ip netns exec "$b" ip link set bnv0 up
}

# ---- Helpers of the bulk measurements (bench/tcp.sh, bench/loss.sh) ----
# They use the caller's $dir, $nsr, $nsa, $nsb, $sock, $refnet, $py, $here,
# $secs and $maxbytes.

# bench_bg NS CMD...: CMD in the background in NS; its PID in $bgpid (ip
# netns exec execs CMD, so $! is CMD's own), listed for the cleanup.
bench_bg() {
    local n=$1
    shift
    ip netns exec "$n" "$@" <&0 &
    bgpid=$!
    echo "$bgpid" >>"$dir/pids"
}

# bench_waitpid PID SECS: waits at most SECS for PID and returns its
# status; kills it after that and returns 124.
bench_waitpid() {
    local p=$1 end=$((SECONDS + $2))
    while kill -0 "$p" 2>/dev/null && [ "$SECONDS" -lt "$end" ]; do sleep 0.05; done
    if kill -0 "$p" 2>/dev/null; then
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
        return 124
    fi
    wait "$p"
}

# bench_listening NS PORT: true once something listens on TCP PORT in NS
# (5 s at most).
bench_listening() {
    local i
    for i in $(seq 50); do
        ip netns exec "$1" ss -Hltn "sport = :$2" | grep -q ":$2" && return 0
        sleep 0.1
    done
    return 1
}

# bench_cpu_mark: the machine's busy CPU time so far (every state but idle
# and iowait, all cores) and the daemon's ($dpid; 0 if none), in clock
# ticks, as two words.
bench_cpu_mark() {
    local d=0
    [ -n "${dpid:-}" ] && [ -r "/proc/$dpid/stat" ] && d=$(awk '{ print $14 + $15 }' "/proc/$dpid/stat")
    awk -v d="$d" '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, d; exit }' /proc/stat
}

# bench_cpu_per_gb MARK0 MARK1 JSON: writes "$dir/cpu.last": CPU seconds per
# GB moved (bulk.py's bytes) of the whole machine and of the daemon, between
# two bench_cpu_mark's.
bench_cpu_per_gb() {
    "$py" -c '
import json, os, sys
m0, d0 = (int(x) for x in sys.argv[1].split())
m1, d1 = (int(x) for x in sys.argv[2].split())
gb = json.loads(sys.argv[3])["bytes"] / 1e9
tck = os.sysconf("SC_CLK_TCK")
print("%.3f %.3f" % ((m1 - m0) / tck / gb, (d1 - d0) / tck / gb) if gb > 0 else "0 0")' \
        "$1" "$2" "$3" >"$dir/cpu.last"
}

# bench_gbits JSON: the Gbit/s of bulk.py's line {"bytes":..,"secs":..}.
bench_gbits() {
    "$py" -c 'import json,sys; j=json.loads(sys.argv[1]); print("%.3f" % (j["bytes"]*8/j["secs"]/1e9))' "$1"
}

# bench_rx_bulk NS [CLIENT [ADDR]]: Gbit/s of one stream from bulk.py send
# in CLIENT (default NS) to port 9 of ADDR (default 198.18.0.2) for $secs
# seconds: refnet's discard service when NS is $nsr, a bulk.py sink
# started in $nsb when NS is $nsa.
bench_rx_bulk() {
    local out sink= client=${2:-$1} addr=${3:-198.18.0.2} c0 c1
    if [ "$1" = "$nsa" ]; then
        bench_bg "$nsb" "$py" "$here/bulk.py" sink "$addr" 9 $((secs + 60)) >/dev/null </dev/null
        sink=$bgpid
        bench_listening "$nsb" 9 || die "the sink did not listen"
    fi
    c0=$(bench_cpu_mark)
    out=$(ip netns exec "$client" timeout $((secs + 60)) "$py" "$here/bulk.py" send "$addr" 9 "$secs" "$maxbytes") ||
        die "rx_bulk in $client failed"
    c1=$(bench_cpu_mark)
    [ -z "$sink" ] || bench_waitpid "$sink" 10 >/dev/null
    bench_cpu_per_gb "$c0" "$c1" "$out"
    bench_gbits "$out"
}

# bench_tx_bulk NS [CLIENT ADDR [pipe]]: Gbit/s of one stream for $secs
# seconds from the server side into a bulk.py sink on ADDR (default
# 198.18.0.1) in CLIENT (default NS): bulk.py gen | refnet send when NS is
# $nsr (the daemon reads the pipe, from the descriptor refnet send passes
# it), bulk.py send in $nsb when NS is $nsa, or with "pipe" bulk.py gen |
# bulk.py relay there (the same pipe before the kernel's TCP).
# bench_tx_svc NS: Gbit/s of one stream for $secs seconds from a server
# to a client on Linux: refnet's chargen (TCP 19, the daemon started with
# --service chargen) read by bulk.py recv from the TAP's Linux side when
# NS is $nsr, bulk.py serve on the veth's far end read from $nsa when
# $nsa: refnet's TCP output with no pipe or control socket before it.
bench_tx_svc() {
    local out srv= c0 c1
    if [ "$1" = "$nsa" ]; then
        bench_bg "$nsb" "$py" "$here/bulk.py" serve 198.18.0.2 19 $((secs + 60)) >/dev/null </dev/null
        srv=$bgpid
        bench_listening "$nsb" 19 || die "bulk.py serve did not listen"
    fi
    c0=$(bench_cpu_mark)
    out=$(ip netns exec "$1" timeout $((secs + 60)) "$py" "$here/bulk.py" recv 198.18.0.2 19 "$secs" "$maxbytes") ||
        die "tx_svc in $1 failed"
    c1=$(bench_cpu_mark)
    [ -z "$srv" ] || bench_waitpid "$srv" 10 >/dev/null
    bench_cpu_per_gb "$c0" "$c1" "$out"
    bench_gbits "$out"
}

bench_tx_bulk() {
    local out rc client=${2:-$1} addr=${3:-198.18.0.1} c0 c1
    bench_bg "$client" "$py" "$here/bulk.py" sink "$addr" 5001 $((secs + 60)) >"$dir/sink.out" </dev/null
    local sink=$bgpid
    bench_listening "$client" 5001 || die "the sink did not listen"
    c0=$(bench_cpu_mark)
    if [ "$1" = "$nsr" ]; then
        "$py" "$here/bulk.py" gen "$secs" "$maxbytes" |
            timeout $((secs + 60)) "$refnet" send "$addr" 5001 --ctl "$sock" --timeout $((secs + 50)) >/dev/null
        rc=$?
    elif [ "${4:-}" = pipe ]; then
        "$py" "$here/bulk.py" gen "$secs" "$maxbytes" |
            ip netns exec "$nsb" timeout $((secs + 60)) "$py" "$here/bulk.py" relay "$addr" 5001
        rc=$?
    else
        ip netns exec "$nsb" timeout $((secs + 60)) "$py" "$here/bulk.py" send "$addr" 5001 \
            "$secs" "$maxbytes" >/dev/null
        rc=$?
    fi
    [ "$rc" = 0 ] || die "tx_bulk towards $client: the sender exited $rc"
    bench_waitpid "$sink" 30 || die "tx_bulk towards $client: the sink failed"
    c1=$(bench_cpu_mark)
    out=$(cat "$dir/sink.out")
    bench_cpu_per_gb "$c0" "$c1" "$out"
    bench_gbits "$out"
}

# The round-trip pieces below use the caller's $py.
# bench_ping_us NS COUNT: round trips of COUNT pings from NS to
# 198.18.0.2, 10 ms apart, in microseconds, one a line.
bench_ping_us() {
    ip netns exec "$1" timeout $(($2 / 50 + 30)) ping -n -c "$2" -i 0.01 -W 1 198.18.0.2 |
        sed -n 's/.* time=\([0-9.]*\) ms.*/\1/p' | awk '{ print $1 * 1000 }'
}

# bench_tcp_pp_us NS COUNT: COUNT 1-byte round trips, 10 ms apart, on one
# TCP_NODELAY connection from NS to an echo server on 198.18.0.2 port 7
# (ten more first, not counted), in microseconds, one a line.
bench_tcp_pp_us() {
    ip netns exec "$1" timeout $(($2 / 50 + 30)) "$py" -c '
import socket, sys, time
n = int(sys.argv[1])
s = socket.create_connection(("198.18.0.2", 7), timeout=5)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
for i in range(n + 10):
    t0 = time.perf_counter_ns()
    s.sendall(b"x")
    if s.recv(1) != b"x":
        sys.exit("echo went wrong")
    t1 = time.perf_counter_ns()
    if i >= 10:
        print((t1 - t0) / 1000.0)
    time.sleep(0.01)
s.close()' "$2"
}

# bench_quantiles: "MEDIAN P99" of the numbers on stdin, one a line, to a
# tenth; fails on none.
bench_quantiles() {
    "$py" -c '
import statistics, sys
v = sorted(float(x) for x in sys.stdin.read().split())
if not v:
    sys.exit(1)
print("%.1f %.1f" % (statistics.median(v), v[min(len(v) - 1, int(len(v) * 0.99))]))'
}

# bench_ratio A B: A / B to three places.
bench_ratio() {
    "$py" -c 'import sys; print("%.3f" % (float(sys.argv[1]) / float(sys.argv[2])))' "$1" "$2"
}

# bench_spread V...: the least, median and greatest of the values.
bench_spread() {
    "$py" -c '
import statistics, sys
q = sorted(float(x) for x in sys.argv[1:])
print("%.3f %.3f %.3f" % (q[0], statistics.median(q), q[-1]))' "$@"
}
