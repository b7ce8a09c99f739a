#!/usr/bin/env bash
# Unmodified programs under `refnet run` against the same programs on the
# Linux kernel, side by side in one run.
#
# refnet: `refnet daemon --tap bn0 --addr 198.18.0.2/15` in a namespace of
# its own (its TAP at MTU 1500, Linux's side 198.18.0.1/15, where the
# clients run); the servers run under `refnet run` on that daemon.  The
# reference: the same servers on the Linux kernel at one end of a veth
# pair at MTU 1500 (198.18.0.2/15), the clients at the other end.  The
# same client programs drive both:
#
#   nginx_ka     wrk keep-alive requests/s on a 1 KiB file (32
#                connections), nginx with one worker, sendfile on
#   nginx_close  the same with `Connection: close` on every request
#   iperf3_rx    iperf3 single stream, client -> server (Gbit/s received)
#   iperf3_tx    the same with -R: server -> client
#   run_vs_httpd wrk keep-alive as nginx_ka, nginx under `refnet run`
#                against refnet's built-in httpd on the same daemon (the
#                cost of the socket pairs and the program against a
#                service inside the daemon)
#
# Each measurement runs RUNS times, refnet and the reference back to back
# (a pair; which goes first alternates); the figure is the ratio refnet / reference within each pair,
# min / median / max, beside the medians of both sides.  Prints a table
# and one JSON line.
#
# Usage: bench/run.sh [BUILD]   (default build); environment: BENCH_SECS
# (per measurement, default 3), BENCH_RUNS (default 5), BENCH_ONLY (the
# names of the measurements to run, default all).  Needs root;
# without it, says why and exits 0.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=${1:-build}
refnet="$build/bin/refnet"
secs=${BENCH_SECS:-3}
runs=${BENCH_RUNS:-5}
py=/usr/bin/python3

. "$here/netlib.sh"
bench_need_root run.sh
[ -x "$refnet" ] || { echo "run.sh: $refnet is not built" >&2; exit 1; }
for t in wrk nginx iperf3 "$py"; do
    command -v "$t" >/dev/null || { echo "run.sh: $t is missing (scripts/deps.sh)" >&2; exit 1; }
done

bench_setup run

# bg NS CMD...: CMD in the background in NS (or, with NS "-", here); its
# PID in $bgpid.
bg() {
    local n=$1
    shift
    if [ "$n" = - ]; then
        "$@" <&0 &
    else
        ip netns exec "$n" "$@" <&0 &
    fi
    bgpid=$!
    echo "$bgpid" >>"$dir/pids"
}

# waitfor SECS CMD...: until CMD succeeds, SECS at most.
waitfor() {
    local end=$((SECONDS + $1))
    shift
    until "$@"; do
        [ "$SECONDS" -lt "$end" ] || return 1
        sleep 0.1
    done
}

refnet_listens() {
    "$refnet" netstat -a --ctl "$sock" 2>/dev/null | grep -Eq "^tcp +[0-9.]+:$1 .* LISTEN "
}
linux_listens() {
    ip netns exec "$nsb" ss -Hltn "sport = :$1" | grep -q ":$1"
}

# ---- the servers ----
www="$dir/www"
mkdir -p "$www" "$dir/ng"
chmod 755 "$dir"
head -c 1024 /dev/urandom >"$www/small.bin"
chmod -R a+rX "$www"

bench_tap_daemon "$nsr" "$sock" "$dir/daemon.log" --service httpd=81:"$www"
bench_veth "$nsa" "$nsb"

# ng_conf NAME: one nginx configuration, one worker, port 8080.
ng_conf() {
    cat >"$dir/ng/$1.conf" <<EOF
worker_processes 1;
pid $dir/ng/$1.pid;
error_log $dir/ng/$1.log;
daemon off;
events { use epoll; worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    types { application/octet-stream bin; }
    client_body_temp_path $dir/ng/body-$1;
    proxy_temp_path $dir/ng/proxy-$1;
    fastcgi_temp_path $dir/ng/fastcgi-$1;
    uwsgi_temp_path $dir/ng/uwsgi-$1;
    scgi_temp_path $dir/ng/scgi-$1;
    keepalive_requests 10000000;
    server { listen 198.18.0.2:8080; root $www; }
}
EOF
}
ng_conf refnet
ng_conf linux
bg - "$refnet" run --ctl "$sock" --name nginx -- nginx -c "$dir/ng/refnet.conf" </dev/null
waitfor 10 refnet_listens 8080 || die "nginx under refnet run did not listen: $(cat "$dir/ng/refnet.log")"
bg "$nsb" nginx -c "$dir/ng/linux.conf" </dev/null
waitfor 10 linux_listens 8080 || die "nginx on Linux did not listen: $(cat "$dir/ng/linux.log")"
bg - "$refnet" run --ctl "$sock" --name iperf3 -- iperf3 -s -4 -B 198.18.0.2 -p 5201 >/dev/null </dev/null
waitfor 10 refnet_listens 5201 || die "iperf3 under refnet run did not listen"
bg "$nsb" iperf3 -s -4 -B 198.18.0.2 -p 5201 >/dev/null </dev/null
waitfor 10 linux_listens 5201 || die "iperf3 on Linux did not listen"

for n in "$nsr" "$nsa"; do
    ip netns exec "$n" curl -sS --noproxy '*' --max-time 5 -o /dev/null http://198.18.0.2:8080/small.bin ||
        die "no HTTP answer in $n"
done
ip netns exec "$nsr" curl -sS --noproxy '*' --max-time 5 -o /dev/null http://198.18.0.2:81/small.bin ||
    die "refnet's httpd does not answer"

# ---- the measurements; each prints one number ----
# http NS PORT [HEADER]: wrk's requests/s from NS against 198.18.0.2:PORT.
http() {
    local n=$1 port=$2
    shift 2
    ip netns exec "$n" timeout $((secs + 30)) wrk -t 1 -c 32 -d "${secs}s" --timeout 5s "$@" \
        "http://198.18.0.2:$port/small.bin" >"$dir/wrk.out" 2>&1 ||
        die "wrk in $n failed: $(cat "$dir/wrk.out")"
    grep -q "Socket errors\|Non-2xx" "$dir/wrk.out" && die "wrk in $n: $(cat "$dir/wrk.out")"
    awk '/^Requests\/sec:/ { print $2 }' "$dir/wrk.out"
}

# iperf NS [-R]: Gbit/s received in a single-stream iperf3 run from NS.
iperf() {
    local n=$1
    shift
    ip netns exec "$n" timeout $((secs + 30)) iperf3 -J -c 198.18.0.2 -p 5201 -t "$secs" "$@" \
        >"$dir/ip.json" 2>&1 || die "iperf3 in $n failed: $(head -c 400 "$dir/ip.json")"
    "$py" -c 'import json,sys; print("%.3f" % (json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 1e9))' \
        "$dir/ip.json"
}

# Each measurement: NAME UNIT, then the refnet side and the reference.
m_nginx_ka() { if [ "$1" = ref ]; then http "$nsa" 8080; else http "$nsr" 8080; fi; }
m_nginx_close() {
    if [ "$1" = ref ]; then http "$nsa" 8080 -H "Connection: close"; else http "$nsr" 8080 -H "Connection: close"; fi
}
m_iperf3_rx() { if [ "$1" = ref ]; then iperf "$nsa"; else iperf "$nsr"; fi; }
m_iperf3_tx() { if [ "$1" = ref ]; then iperf "$nsa" -R; else iperf "$nsr" -R; fi; }
m_run_vs_httpd() { if [ "$1" = ref ]; then http "$nsr" 81; else http "$nsr" 8080; fi; }

names=(nginx_ka nginx_close iperf3_rx iperf3_tx run_vs_httpd)
declare -A units=([nginx_ka]=req/s [nginx_close]=req/s [iperf3_rx]=Gbit/s [iperf3_tx]=Gbit/s
                  [run_vs_httpd]=req/s)
declare -A refs=([nginx_ka]="nginx on Linux" [nginx_close]="nginx on Linux"
                 [iperf3_rx]="iperf3 on Linux" [iperf3_tx]="iperf3 on Linux"
                 [run_vs_httpd]="refnet's httpd")
# BENCH_ONLY="NAME ..." runs those measurements alone.
if [ -n "${BENCH_ONLY:-}" ]; then
    read -r -a names <<<"$BENCH_ONLY"
    for m in "${names[@]}"; do
        [ -n "${units[$m]:-}" ] || die "BENCH_ONLY: no measurement '$m'"
    done
fi
declare -A vr vv q
load=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq "$runs"); do
    for m in "${names[@]}"; do
        # The two sides of a pair back to back, the first alternating
        # from run to run, so neither always meets a warmer machine.
        if [ $((r % 2)) = 1 ]; then
            a=$(m_$m refnet) || exit 1
            b=$(m_$m ref) || exit 1
        else
            b=$(m_$m ref) || exit 1
            a=$(m_$m refnet) || exit 1
        fi
        kill -0 "$dpid" 2>/dev/null || { cat "$dir/daemon.log"; die "the daemon died"; }
        ratio=$("$py" -c 'import sys; print("%.3f" % (float(sys.argv[1]) / float(sys.argv[2])))' "$a" "$b")
        echo "run $r $m: refnet $a, reference $b, ratio $ratio" >&2
        vr[$m]+="$a "
        vv[$m]+="$b "
        q[$m]+="$ratio "
    done
done

# stats "V V V": min median max
stats() { "$py" -c 'import statistics,sys; v=sorted(float(x) for x in sys.argv[1:]); print("%.3f %.3f %.3f" % (v[0], statistics.median(v), v[-1]))' $1; }

printf '\nload before: %s; %s runs of %s s\n' "$load" "$runs" "$secs"
printf '%-13s %-7s %12s %12s  %-16s %s\n' measure unit refnet reference "ratio min/med/max" "reference is"
json="{\"bench\":\"run\",\"secs\":$secs,\"runs\":$runs,\"load\":\"$load\""
for m in "${names[@]}"; do
    read -r _ mr _ < <(stats "${vr[$m]}")
    read -r _ mv _ < <(stats "${vv[$m]}")
    read -r lo md hi < <(stats "${q[$m]}")
    printf '%-13s %-7s %12s %12s  %s/%s/%s  %s\n' "$m" "${units[$m]}" "$mr" "$mv" "$lo" "$md" "$hi" "${refs[$m]}"
    json+=",\"${m}_refnet\":$mr,\"${m}_reference\":$mv,\"${m}_ratio_min\":$lo,\"${m}_ratio\":$md,\"${m}_ratio_max\":$hi"
done
echo "$json}"
