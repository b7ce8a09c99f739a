#!/usr/bin/env bash
# Bulk TCP under random loss: refnet against the Linux kernel, side by side
# in one run (the set-up of bench/tcp.sh, netlib.sh).
#
# refnet runs as `refnet daemon --tap bn0 --addr 198.18.0.2/15 --offload
# off` in a namespace of its own; the reference is the kernel on both ends
# of a veth pair between two more namespaces (netlib.sh).  On both paths
# the Linux client sits one hop further, in a namespace of its own
# (198.18.2.1/24), behind the namespace of the TAP or of the veth's near
# end, which forwards (and answers ARP for the client on the server's
# side).  The loss is made the same way on both paths, by the kernel in
# that middle namespace: an nftables rule in its forward chain drops
# `numgen random mod 100 < LOSS` of the TCP packets, each direction.  A
# forwarded packet dropped is lost on the wire for both ends (a drop in a
# sender's own output chain would only make its TCP try again).
# Segmentation and receive offloads are off on every Linux device and in
# refnet, so that every packet the rule judges is one segment of at most
# one MTU (a dropped 64 KiB offload packet would be 45 losses at once).
#
#   rx  one stream Linux -> server for SECS seconds: bench/bulk.py send into
#       refnet's discard service / into bench/bulk.py sink on the veth
#   tx  one stream server -> Linux: bench/bulk.py gen | refnet send / bench/
#       bulk.py send on the veth, into bench/bulk.py sink
#
# For each loss rate (LOSSES, percent) and direction, RUNS pairs: refnet and
# the reference back to back (which goes first alternates), one goodput
# ratio refnet / reference per pair; the table shows the least, median and
# greatest ratio, and on each path the sender's retransmitted segments and
# retransmission timeouts over the row's pairs (refnet's counters, or the
# sending kernel's).  The rules' own counters give the loss each path
# really saw.  The medians of both sides' goodput are shown too, and with
# the default rates a run without loss first: the ratio refnet keeps then
# is the ceiling of the others.  Prints a table and one JSON line.
#
# Usage: bench/loss.sh [BUILD]   (default build); environment: BENCH_SECS
# (per measurement, default 8), BENCH_RUNS (pairs, default 5), BENCH_LOSSES
# (percentages, default "0 1 3"), BENCH_MAXBYTES (bulk cap, default 4 GiB).  Needs root,
# nft and ethtool (scripts/deps.sh); without root, says why and exits 0.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=${1:-build}
refnet="$build/bin/refnet"
secs=${BENCH_SECS:-8}
runs=${BENCH_RUNS:-5}
losses=${BENCH_LOSSES:-"0 1 3"}
maxbytes=${BENCH_MAXBYTES:-$((4 << 30))}
py=/usr/bin/python3

. "$here/netlib.sh"
bench_need_root loss.sh
[ -x "$refnet" ] || { echo "loss.sh: $refnet is not built" >&2; exit 1; }
for t in nft ethtool "$py"; do
    command -v "$t" >/dev/null || { echo "loss.sh: $t is missing (scripts/deps.sh)" >&2; exit 1; }
done
for l in $losses; do
    case $l in
        [0-9] | [1-9][0-9]) ;;
        *) echo "loss.sh: BENCH_LOSSES: '$l' is not a whole percentage 0..99" >&2; exit 2 ;;
    esac
done

bench_setup loss

bench_tap_daemon "$nsr" "$sock" "$dir/daemon.log" --offload off --service discard
bench_veth "$nsa" "$nsb"
# The clients, one hop behind $nsr and $nsa.
ncr="bn-loss-cr-$$"
nca="bn-loss-ca-$$"
trap 'for n in "$ncr" "$nca"; do ip netns del "$n" 2>/dev/null; done; bench_cleanup' EXIT
# client ROUTER DEV NS: NS holds 198.18.2.1/24 behind ROUTER
# (198.18.2.254/24), which forwards and answers ARP on DEV for it.
client() {
    ip netns add "$3" || die "cannot create namespace $3"
    ip link add "bnc-a-$$" netns "$1" type veth peer name "bnc-b-$$" netns "$3" ||
        die "cannot create the client's veth pair"
    ip -n "$3" link set lo up
    ip -n "$1" link set "bnc-a-$$" mtu 1500 name bnc0
    ip -n "$3" link set "bnc-b-$$" mtu 1500 name bnc0
    ip -n "$1" addr add 198.18.2.254/24 dev bnc0
    ip -n "$3" addr add 198.18.2.1/24 dev bnc0
    ip -n "$1" link set bnc0 up
    ip -n "$3" link set bnc0 up
    ip -n "$3" route add default via 198.18.2.254
    ip netns exec "$1" sysctl -qw net.ipv4.ip_forward=1 "net.ipv4.conf.$2.proxy_arp=1" ||
        die "cannot make $1 forward"
}
client "$nsr" bn0 "$ncr"
client "$nsa" bnv0 "$nca"
for d in "$nsr bn0" "$nsr bnc0" "$ncr bnc0" "$nsa bnv0" "$nsa bnc0" "$nca bnc0" "$nsb bnv0"; do
    set -- $d
    ip netns exec "$1" ethtool -K "$2" tso off gso off gro off 2>/dev/null ||
        ip netns exec "$1" ethtool -K "$2" gso off gro off ||
        die "cannot turn offloads off on $2 in $1"
done
ip netns exec "$ncr" ping -c 1 -W 2 198.18.0.2 >/dev/null || die "refnet does not answer ping from the client"
ip netns exec "$nca" ping -c 1 -W 2 198.18.0.2 >/dev/null || die "the veth does not answer ping from the client"

# The round trip of each path, idle (ping's average, ms): under random
# loss a TCP sender's goodput goes as MSS / (RTT * sqrt(loss)) (Mathis et
# al., 1997), so the ratio of the two paths' round trips bounds the ratio
# of goodputs that the same recovery would reach.
rtt_of() {
    ip netns exec "$1" ping -q -c 50 -i 0.01 -W 1 198.18.0.2 |
        awk -F/ '/^rtt|^round-trip/ { print $5 }'
}
rtt_rn=$(rtt_of "$ncr")
rtt_lx=$(rtt_of "$nca")
echo "idle round trip from the client: refnet's path ${rtt_rn} ms, the kernel's ${rtt_lx} ms"

# lossy NS PCT: drops PCT% of the TCP packets NS forwards (the table is
# replaced, its counters start again at 0).
lossy() {
    ip netns exec "$1" nft delete table inet rnloss 2>/dev/null
    ip netns exec "$1" nft -f - <<EOF || die "nft failed in $1"
table inet rnloss {
    chain lossy {
        type filter hook forward priority 0; policy accept;
        meta l4proto tcp counter numgen random mod 100 < $2 counter drop
    }
}
EOF
}

# seen NS: "packets dropped" judged by the rules of NS so far.
seen() {
    ip netns exec "$1" nft list table inet rnloss |
        awk '/counter/ { n = 0; for (i = 1; i <= NF; i++) if ($i == "packets") c[++n] = $(i + 1);
                          all += c[1]; drop += c[2] } END { print all + 0, drop + 0 }'
}

# sender_stat PATH DIR: "retransmitted-segments timeouts" so far of the
# sender of direction DIR on PATH (refnet's or the kernel's): refnet's own
# counters when refnet sends (`refnet stat`), else the sending kernel's
# namespace (/proc/net/snmp RetransSegs, /proc/net/netstat TCPTimeouts).
sender_stat() {
    local ns
    case "$1 $2" in
        "refnet tx")
            "$refnet" stat --json --ctl "$sock" --timeout 5 | "$py" -c '
import json, sys
j = json.load(sys.stdin)["protocols"]
print(j.get("tcp.retransmits", 0), j.get("tcp.timeouts", 0))'
            return ;;
        "refnet rx") ns=$ncr ;;
        "linux rx") ns=$nca ;;
        "linux tx") ns=$nsb ;;
    esac
    ip netns exec "$ns" "$py" -c '
def table(path, prefix):
    rows = [l.split() for l in open(path) if l.startswith(prefix + ":")]
    return dict(zip(rows[0][1:], map(int, rows[1][1:])))
print(table("/proc/net/snmp", "Tcp")["RetransSegs"], table("/proc/net/netstat", "TcpExt")["TCPTimeouts"])'
}

# rx, tx PATH: Gbit/s on refnet's path ($nsr) or the kernel's ($nsa).
rx() { bench_rx_bulk "$1" "$([ "$1" = "$nsr" ] && echo "$ncr" || echo "$nca")"; }
tx() { bench_tx_bulk "$1" "$([ "$1" = "$nsr" ] && echo "$ncr" || echo "$nca")" 198.18.2.1; }

# The sender's retransmissions and timeouts over all the pairs of a row,
# on refnet's path and on the kernel's: where the time goes.
printf '\n%-9s %6s %6s %6s %5s %6s %6s %7s %7s %14s %14s\n' measure min median max pairs \
    "rn Gb" "lx Gb" "loss rn" "loss lx" "rexmit/RTO rn" "rexmit/RTO lx"
json="{\"bench\":\"loss\",\"secs\":$secs,\"runs\":$runs,\"rtt_ms_refnet\":${rtt_rn:-0},\"rtt_ms_linux\":${rtt_lx:-0}"
# refnet's recovery counters, to say at the end how it recovered.
recovery() {
    "$refnet" stat --json --ctl "$sock" --timeout 5 | "$py" -c '
import json, sys
j = json.load(sys.stdin)["protocols"]
print(" ".join("%s=%d" % (k, j.get(k, 0)) for k in sys.argv[1:]))' tcp.retransmits \
        tcp.fast_retransmits tcp.tlp_probes tcp.timeouts tcp.undos
}
rec0=$(recovery)
for l in $losses; do
    lossy "$nsr" "$l"
    lossy "$nsa" "$l"
    for m in rx tx; do
        ratios=
        grs=
        gls=
        read -r r_rt0 r_to0 < <(sender_stat refnet "$m")
        read -r l_rt0 l_to0 < <(sender_stat linux "$m")
        for r in $(seq "$runs"); do
            if [ $((r % 2)) = 1 ]; then
                vr=$($m "$nsr") || exit 1
                vv=$($m "$nsa") || exit 1
            else
                vv=$($m "$nsa") || exit 1
                vr=$($m "$nsr") || exit 1
            fi
            kill -0 "$dpid" 2>/dev/null || { cat "$dir/daemon.log"; die "the daemon died"; }
            ratio=$(bench_ratio "$vr" "$vv")
            echo "pair $r ${m}_loss$l: ratio $ratio (refnet $vr, linux $vv Gbit/s)" >&2
            ratios+=" $ratio"
            grs+=" $vr"
            gls+=" $vv"
        done
        read -r r_rt1 r_to1 < <(sender_stat refnet "$m")
        read -r l_rt1 l_to1 < <(sender_stat linux "$m")
        read -r q0 q1 q2 < <(bench_spread $ratios)
        read -r _ gr _ < <(bench_spread $grs)
        read -r _ gl _ < <(bench_spread $gls)
        read -r ra rd < <(seen "$nsr")
        read -r va vd < <(seen "$nsa")
        lr=$("$py" -c 'import sys; a, d = map(int, sys.argv[1:]); print("%.2f%%" % (100.0 * d / a if a else 0))' "$ra" "$rd")
        lv=$("$py" -c 'import sys; a, d = map(int, sys.argv[1:]); print("%.2f%%" % (100.0 * d / a if a else 0))' "$va" "$vd")
        printf '%-9s %6s %6s %6s %5s %6s %6s %7s %7s %14s %14s\n' "${m}_loss$l" "$q0" "$q1" "$q2" \
            "$runs" "$gr" "$gl" "$lr" "$lv" "$((r_rt1 - r_rt0))/$((r_to1 - r_to0))" "$((l_rt1 - l_rt0))/$((l_to1 - l_to0))"
        json+=",\"${m}_loss${l}_ratio_min\":$q0,\"${m}_loss${l}_ratio_median\":$q1,\"${m}_loss${l}_ratio_max\":$q2"
        json+=",\"${m}_loss${l}_refnet_gbits_median\":$gr,\"${m}_loss${l}_linux_gbits_median\":$gl"
        json+=",\"${m}_loss${l}_refnet_path_sender_retransmits\":$((r_rt1 - r_rt0)),\"${m}_loss${l}_refnet_path_sender_timeouts\":$((r_to1 - r_to0))"
        json+=",\"${m}_loss${l}_linux_path_sender_retransmits\":$((l_rt1 - l_rt0)),\"${m}_loss${l}_linux_path_sender_timeouts\":$((l_to1 - l_to0))"
        # The counters start again for the next direction.
        lossy "$nsr" "$l"
        lossy "$nsa" "$l"
    done
done
rec1=$(recovery)
"$py" -c '
import sys
a = dict(x.split("=") for x in sys.argv[1].split())
b = dict(x.split("=") for x in sys.argv[2].split())
print("refnet over the run: " + ", ".join("%s %d" % (k, int(b[k]) - int(a[k])) for k in a))' "$rec0" "$rec1"
echo "$json}"
