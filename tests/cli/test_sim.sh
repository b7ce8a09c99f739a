#!/usr/bin/env bash
# `refnet sim`: a run replays exactly from its seed.  The same ping through
# a 20%-loss cable twice prints the same lines and writes the same trace
# and capture; another seed loses other frames; bad arguments get a
# one-line error and exit status 2.
set -euo pipefail

build=${REFNET_BUILD:?REFNET_BUILD must name the build directory}
refnet="$build/bin/refnet"
[ -x "$refnet" ] || { echo "FAIL: $refnet not built"; exit 1; }

dir=$(mktemp -d /tmp/refnet-cli-sim.XXXXXX)
trap 'rm -rf "$dir"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# Two runs of one seed.
for i in 1 2; do
    "$refnet" sim ping --count 20 --loss 20 --seed 5 --trace "$dir/trace$i" \
        --pcap "$dir/cap$i.pcap" >"$dir/out$i" 2>"$dir/err$i" ||
        { cat "$dir/out$i" "$dir/err$i"; bad "run $i exited with $?"; }
done
cmp -s "$dir/out1" "$dir/out2" || { diff "$dir/out1" "$dir/out2" || true; bad "two runs of seed 5 printed different output"; }
cmp -s "$dir/trace1" "$dir/trace2" || bad "two runs of seed 5 wrote different traces"
cmp -s "$dir/cap1.pcap" "$dir/cap2.pcap" || bad "two runs of seed 5 wrote different captures"
[ -s "$dir/err1" ] && { cat "$dir/err1"; bad "a clean run wrote to stderr"; }

# What a user reads: replies like ping's, and a summary with some loss.
grep -qE '^64 bytes from 198\.18\.0\.3: icmp_seq=[0-9]+ ttl=64 time=[0-9]+\.[0-9]{3} ms$' "$dir/out1" ||
    bad "no ping-like reply line"
summary=$(grep -E '^20 sent, [0-9]+ received, [0-9]+% loss, virtual time [0-9]+\.[0-9]s$' "$dir/out1") ||
    bad "no summary line"
received=$(sed -E 's/^20 sent, ([0-9]+) received.*/\1/' <<<"$summary")
replies=$(grep -c '^64 bytes from' "$dir/out1")
[ "$received" = "$replies" ] || bad "summary says $received received but $replies replies were printed"
{ [ "$received" -gt 0 ] && [ "$received" -lt 20 ]; } || bad "20% loss each way should lose some of 20 pings, not $((20 - received))"

# The trace has one line per frame, as the summary line counts them.
lines=$(sed -nE 's/^trace: ([0-9]+) lines, digest [0-9a-f]{16}$/\1/p' "$dir/out1")
[ -n "$lines" ] || bad "no trace summary line"
[ "$(wc -l <"$dir/trace1")" = "$lines" ] || bad "trace file has $(wc -l <"$dir/trace1") lines, not $lines"
grep -qE '^1\.000000000 c1\.a > 42 ARP announce 198\.18\.0\.2 \[[0-9a-f]{8}\]$' "$dir/trace1" ||
    bad "trace does not start with a's announcement"

# The capture carries the frames of end a, readable by libpcap's readers.
if command -v tshark >/dev/null 2>&1; then
    n=$(tshark -r "$dir/cap1.pcap" 2>/dev/null | wc -l)
    a_lines=$(grep -c ' c1\.a ' "$dir/trace1")
    [ "$n" = "$a_lines" ] || bad "capture has $n frames, the trace $a_lines at end a"
fi

# Another seed, another run.
"$refnet" sim ping --count 20 --loss 20 --seed 6 >"$dir/out3" 2>&1 || true
cmp -s "$dir/out1" "$dir/out3" && bad "seeds 5 and 6 printed the same output"

# No loss: every ping answered, exit 0; all lost: exit 1.
"$refnet" sim ping --count 3 --seed 1 >"$dir/out4" || bad "a clean ping exited $?"
grep -q '^3 sent, 3 received, 0% loss' "$dir/out4" || bad "a clean ping lost something"
if "$refnet" sim ping --count 3 --loss 100 >"$dir/out5" 2>&1; then
    bad "a ping with every frame lost exited 0"
fi
grep -q '^3 sent, 0 received, 100% loss' "$dir/out5" || bad "100% loss not reported"

# UDP echo through loss: two runs of a seed agree; datagrams that come
# back are intact, lost ones are counted, and that is success.
for i in 1 2; do
    "$refnet" sim udp-echo --count 50 --max-size 3000 --loss 20 --seed 9 >"$dir/udp$i" 2>&1 ||
        { cat "$dir/udp$i"; bad "udp-echo run $i exited with $?"; }
done
cmp -s "$dir/udp1" "$dir/udp2" || bad "two udp-echo runs of seed 9 printed different output"
line=$(grep -E '^50 sent, [0-9]+ echoed intact, 0 mismatched, [0-9]+ lost \([0-9]+%\)' "$dir/udp1") ||
    { cat "$dir/udp1"; bad "no udp-echo summary with 0 mismatched"; }
echoed=$(sed -E 's/^50 sent, ([0-9]+) echoed.*/\1/' <<<"$line")
{ [ "$echoed" -gt 0 ] && [ "$echoed" -lt 50 ]; } || bad "20% loss each way should lose some of 50 datagrams"
# Corruption is caught by the checksums, never echoed wrong.
"$refnet" sim udp-echo --count 100 --corrupt 10 --seed 2 >"$dir/udp3" 2>&1 ||
    { cat "$dir/udp3"; bad "udp-echo with corruption exited with $?"; }
grep -qE '^100 sent, [0-9]+ echoed intact, 0 mismatched' "$dir/udp3" || bad "corruption reached the client"

# Bad arguments: exit 2 and one line naming the problem.
check_usage() {
    local want=$1; shift
    local rc=0
    "$refnet" "$@" >"$dir/uout" 2>"$dir/uerr" || rc=$?
    [ "$rc" = 2 ] || bad "'refnet $*' exited $rc, not 2"
    [ "$(wc -l <"$dir/uerr")" = 1 ] || bad "'refnet $*' wrote $(wc -l <"$dir/uerr") lines of error"
    grep -q -- "$want" "$dir/uerr" || bad "'refnet $*' error does not mention '$want': $(cat "$dir/uerr")"
    [ -s "$dir/uout" ] && bad "'refnet $*' wrote to stdout"
    return 0
}
check_usage "'x'" sim ping --count x
check_usage "--count" sim ping --count 0
check_usage "'101'" sim ping --loss 101
check_usage "'--bogus'" sim ping --bogus 1
check_usage "needs a value" sim ping --seed
check_usage "'pong'" sim pong
check_usage "scenario" sim
check_usage "'extra'" sim ping extra
check_usage "at least 4" sim udp-echo --max-size 3
check_usage "'65508'" sim udp-echo --max-size 65508
check_usage "'--size'" sim udp-echo --size 10

[ "$fail" = 0 ] && echo "PASS: refnet sim"
exit "$fail"
