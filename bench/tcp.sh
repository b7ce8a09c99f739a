#!/usr/bin/env bash
# TCP benchmarks of refnet against the Linux kernel, side by side in one run.
#
# refnet runs as `refnet daemon --tap bn0 --addr 198.18.0.2/15` in a
# namespace of its own, its TAP at MTU 1500 with Linux's side 198.18.0.1/15.
# The reference is the Linux kernel on both ends of a veth pair at MTU 1500
# between two more namespaces (198.18.0.1/15 and 198.18.0.2/15 again: each
# namespace is its own world).  The same client program drives both:
#
#   rx_bulk     one stream Linux -> server: bench/bulk.py send for SECS
#               seconds into refnet's discard service (TCP 9) / into
#               bench/bulk.py sink on the other veth end; bytes over the
#               time from connect to the receiver's close
#   tx_bulk     one stream server -> Linux into bench/bulk.py sink: bench/
#               bulk.py gen | refnet send (the data crosses a pipe, which
#               the daemon reads itself, before refnet's TCP) / bench/bulk.py
#               send on the other veth end (straight from its socket: the
#               kernel at its best); bytes over the time from the first
#               byte to EOF at the sink
#   tx_pipe     tx_bulk with a pipe on both sides: bench/bulk.py gen |
#               refnet send / bench/bulk.py gen | bench/bulk.py relay on the
#               other veth end (1 MiB reads of the pipe, sent): what
#               sending a program's output costs each stack
#   tx_svc      one stream server -> Linux, the server sending on its own:
#               refnet's chargen service (TCP 19) / bench/bulk.py serve on
#               the other veth end, each read by bench/bulk.py recv on
#               Linux for SECS seconds; bytes over the time from the first
#               byte to the last read
#   http_ka     wrk keep-alive requests/s on a 1 KiB file: refnet's httpd
#               (--service httpd=80:DIR) / nginx (one worker, or BENCH_RSS) on the other
#               veth end, serving the same directory
#   http_close  the same with `Connection: close` on every request
#
# Each measurement runs RUNS times as pairs, refnet and the reference back
# to back (which goes first alternates); each pair gives one ratio refnet /
# reference, and the table shows the least, median and greatest of them
# (each pair's rates go to stderr).  For the bulk rows a second table gives
# the CPU seconds per GB moved: the whole machine's on each path (both
# ends and the kernel between them: Linux's side of the TAP counts for
# refnet's path) and the daemon's own, with the ratio of the two paths
# within each pair.  Other load on the machine counts too: run it quiet.
# Prints the tables and one JSON line.
#
# Usage: bench/tcp.sh [BUILD]   (default build); environment: BENCH_SECS
# (per measurement, default 4), BENCH_RUNS (pairs, default 5), BENCH_MAXBYTES
# (bulk cap, default 4 GiB), BENCH_ONLY (the measurements to run, by name,
# e.g. "http_ka"; default all), BENCH_RSS (refnet's loops, nginx's
# workers and wrk's threads; default off: one), BENCH_MTU (the TAP's and refnet's MTU,
# default 1500) and BENCH_VETH_MTU (the reference's, default BENCH_MTU):
# `BENCH_MTU=65521 BENCH_VETH_MTU=65520 BENCH_ONLY="rx_bulk tx_bulk"` is
# bulk at the largest MTUs.  Needs root; without it, says why and exits 0.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=${1:-build}
refnet="$build/bin/refnet"
secs=${BENCH_SECS:-4}
runs=${BENCH_RUNS:-5}
maxbytes=${BENCH_MAXBYTES:-$((4 << 30))}
bench_mtu=${BENCH_MTU:-1500}
bench_veth_mtu=${BENCH_VETH_MTU:-$bench_mtu}
py=/usr/bin/python3

. "$here/netlib.sh"
bench_need_root tcp.sh
[ -x "$refnet" ] || { echo "tcp.sh: $refnet is not built" >&2; exit 1; }
for t in wrk nginx nc "$py"; do
    command -v "$t" >/dev/null || { echo "tcp.sh: $t is missing (scripts/deps.sh)" >&2; exit 1; }
done

bench_setup tcp

jget() { "$py" -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

# ---- the namespaces ----
www="$dir/www"
mkdir -p "$www" "$dir/nginx"
head -c 1024 /dev/urandom >"$www/small.bin"

bench_tap_daemon "$nsr" "$sock" "$dir/daemon.log" --service discard --service chargen \
    --service httpd=80:"$www"
bench_veth "$nsa" "$nsb"

# nginx runs as many workers as refnet runs loops (BENCH_RSS), wrk as
# many threads.
workers=${BENCH_RSS:-off}
[ "$workers" = off ] && workers=1
cat >"$dir/nginx/nginx.conf" <<EOF
worker_processes $workers;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/error.log;
daemon off;
events { worker_connections 1024; }
http {
    access_log off;
    types { application/octet-stream bin; }
    client_body_temp_path $dir/nginx/body;
    proxy_temp_path $dir/nginx/proxy;
    fastcgi_temp_path $dir/nginx/fastcgi;
    uwsgi_temp_path $dir/nginx/uwsgi;
    scgi_temp_path $dir/nginx/scgi;
    keepalive_requests 10000000;
    server { listen 198.18.0.2:80; root $www; }
}
EOF
bench_bg "$nsb" nginx -p "$dir/nginx" -e "$dir/nginx/error.log" -c "$dir/nginx/nginx.conf" </dev/null
bench_listening "$nsb" 80 || die "nginx did not listen: $(cat "$dir/nginx/error.log")"
# Both servers answer before anything is timed (ARP, first connection).
ip netns exec "$nsr" ping -c 1 -W 2 198.18.0.2 >/dev/null || die "refnet does not answer ping"
ip netns exec "$nsa" ping -c 1 -W 2 198.18.0.2 >/dev/null || die "the veth does not answer ping"
for n in "$nsr" "$nsa"; do
    ip netns exec "$n" curl -sS --noproxy '*' --max-time 5 -o /dev/null http://198.18.0.2/small.bin ||
        die "no HTTP answer in $n"
done

# ---- the measurements; each prints one number ----
# rx_bulk, tx_bulk NS: Gbit/s, refnet's side when NS is $nsr, the
# kernel's when $nsa (netlib.sh).
rx_bulk() { bench_rx_bulk "$1"; }
tx_bulk() { bench_tx_bulk "$1"; }
tx_pipe() { bench_tx_bulk "$1" "$1" 198.18.0.1 pipe; }
tx_svc() { bench_tx_svc "$1"; }

# http NS [HEADER]: wrk's requests/s from NS against 198.18.0.2.
http() {
    local n=$1
    shift
    ip netns exec "$n" timeout $((secs + 30)) wrk -t "$workers" -c 32 -d "${secs}s" --timeout 5s "$@" \
        http://198.18.0.2/small.bin >"$dir/wrk.out" 2>&1 || die "wrk in $n failed: $(cat "$dir/wrk.out")"
    awk '/^Requests\/sec:/ { print $2 }' "$dir/wrk.out"
}
http_ka() { http "$1"; }
http_close() { http "$1" -H "Connection: close"; }

names=(${BENCH_ONLY:-rx_bulk tx_bulk tx_pipe tx_svc http_ka http_close})
for m in "${names[@]}"; do
    case $m in
    rx_bulk | tx_bulk | tx_pipe | tx_svc | http_ka | http_close) ;;
    *) die "BENCH_ONLY: '$m' is not a measurement (rx_bulk tx_bulk tx_pipe tx_svc http_ka http_close)" ;;
    esac
done
declare -A ratios cpu_ratios cpu_r cpu_l cpu_d
for m in "${names[@]}"; do ratios[$m]=; cpu_ratios[$m]=; cpu_r[$m]=; cpu_l[$m]=; cpu_d[$m]=; done
for r in $(seq "$runs"); do
    for m in "${names[@]}"; do
        # Each pair's two sides back to back, the first side alternating
        # from run to run, so neither always meets a warmer machine.
        # The bulk measurements leave their CPU figures in cpu.last.
        if [ $((r % 2)) = 1 ]; then
            vr=$($m "$nsr") || exit 1
            [ -f "$dir/cpu.last" ] && read -r mr dr <"$dir/cpu.last"
            vv=$($m "$nsa") || exit 1
            [ -f "$dir/cpu.last" ] && read -r ml _ <"$dir/cpu.last"
        else
            vv=$($m "$nsa") || exit 1
            [ -f "$dir/cpu.last" ] && read -r ml _ <"$dir/cpu.last"
            vr=$($m "$nsr") || exit 1
            [ -f "$dir/cpu.last" ] && read -r mr dr <"$dir/cpu.last"
        fi
        rm -f "$dir/cpu.last"
        case $m in
        *_bulk | tx_pipe | tx_svc)
            cpu_ratios[$m]+=" $(bench_ratio "$mr" "$ml")"
            cpu_r[$m]+=" $mr"
            cpu_l[$m]+=" $ml"
            cpu_d[$m]+=" $dr"
            echo "pair $r $m: CPU s/GB, whole machine: refnet's path $mr (daemon $dr), the kernel's $ml" >&2
            ;;
        esac
        kill -0 "$dpid" 2>/dev/null || { cat "$dir/daemon.log"; die "the daemon died"; }
        ratio=$(bench_ratio "$vr" "$vv")
        echo "pair $r $m: ratio $ratio (refnet $vr, linux $vv)" >&2
        ratios[$m]+=" $ratio"
    done
done

# The ratio of each pair, never one side's best over the other's: the
# table gives their least, median and greatest.
printf '\n%-11s %8s %8s %8s %6s\n' measure min median max pairs
json="{\"bench\":\"tcp\",\"secs\":$secs,\"runs\":$runs,\"mtu\":$bench_mtu,\"veth_mtu\":$bench_veth_mtu"
for m in "${names[@]}"; do
    read -r q0 q1 q2 < <(bench_spread ${ratios[$m]})
    printf '%-11s %8s %8s %8s %6s\n' "$m" "$q0" "$q1" "$q2" "$runs"
    json+=",\"${m}_ratio_min\":$q0,\"${m}_ratio_median\":$q1,\"${m}_ratio_max\":$q2"
done
# CPU seconds per GB moved, the whole machine's (both ends and the kernel
# between them) on each path, and the daemon's own; the ratio is refnet's
# path over the kernel's, within each pair (above 1: refnet's costs more).
bulk=()
for m in "${names[@]}"; do case $m in *_bulk | tx_pipe | tx_svc) bulk+=("$m") ;; esac; done
if [ ${#bulk[@]} -gt 0 ]; then
    printf '\n%-11s %8s %8s %8s %12s %12s %12s\n' "CPU s/GB" min median max \
        "refnet path" "kernel path" "daemon"
    for m in "${bulk[@]}"; do
        read -r q0 q1 q2 < <(bench_spread ${cpu_ratios[$m]})
        read -r _ mr _ < <(bench_spread ${cpu_r[$m]})
        read -r _ ml _ < <(bench_spread ${cpu_l[$m]})
        read -r _ md _ < <(bench_spread ${cpu_d[$m]})
        printf '%-11s %8s %8s %8s %12s %12s %12s\n' "$m" "$q0" "$q1" "$q2" "$mr" "$ml" "$md"
        json+=",\"${m}_cpu_ratio_min\":$q0,\"${m}_cpu_ratio_median\":$q1,\"${m}_cpu_ratio_max\":$q2"
        json+=",\"${m}_cpu_s_per_gb_refnet\":$mr,\"${m}_cpu_s_per_gb_kernel\":$ml,\"${m}_cpu_s_per_gb_daemon\":$md"
    done
fi
echo "$json}"
