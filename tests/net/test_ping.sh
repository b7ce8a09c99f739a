#!/usr/bin/env bash
# ICMP echo against Linux's ping, in a namespace of its own (lib.sh):
#   - 100 pings 10 ms apart, every one answered;
#   - 8000-byte pings (the request arrives in 6 fragments that refnet must
#     reassemble; the reply leaves in 6 fragments that Linux reassembles),
#     every one answered with the full size;
#   - refnet's counters agree: ip.reassembled and ip.frag_out grew by what
#     those pings take, icmp.echo_replies by the number of pings, and no
#     frame was dropped.
# The daemon then shuts down cleanly with no leak (lib.sh).
. "$(dirname "$0")/lib.sh"
net_setup ping
net_start

net_stat "$dir/s0.json"

# ping exits 0 only if replies came back; its summary tells how many.
out=$(nsx ping -n -q -c 100 -i 0.01 -W 2 198.18.0.2 2>&1)
grep -q "100 packets transmitted, 100 received, 0% packet loss" <<<"$out" ||
    bad "100 small pings: $out"

# -s 8000: 8008 bytes of ICMP, 8028 of IP: 6 fragments each way at MTU 1500.
big=5
out=$(nsx ping -n -c $big -i 0.05 -W 2 -s 8000 198.18.0.2 2>&1)
grep -q "$big packets transmitted, $big received, 0% packet loss" <<<"$out" ||
    bad "$big pings of 8000 bytes: $out"
n=$(grep -c "^8008 bytes from 198.18.0.2" <<<"$out")
[ "$n" = $big ] || bad "$n of $big replies were 8008 bytes long: $out"

net_stat "$dir/s1.json"
d() { echo $(( $(jq_py "$dir/s1.json" "$1") - $(jq_py "$dir/s0.json" "$1") )); }
[ "$(d 'proto(j,"ip.reassembled")')" = $big ] ||
    bad "ip.reassembled grew by $(d 'proto(j,"ip.reassembled")'), want $big"
[ "$(d 'proto(j,"ip.frag_out")')" = $((big * 6)) ] ||
    bad "ip.frag_out grew by $(d 'proto(j,"ip.frag_out")'), want $((big * 6))"
[ "$(d 'proto(j,"icmp.echo_replies")')" = $((100 + big)) ] ||
    bad "icmp.echo_replies grew by $(d 'proto(j,"icmp.echo_replies")'), want $((100 + big))"
drops=$(jq_py "$dir/s1.json" 'drops(j)')
[ "$drops" = "{}" ] || bad "frames were dropped: $drops"
out=$(nsx ip -s -s link show rn0)
nsx ip -j -s link show rn0 | "$py" -c '
import json, sys
s = json.load(sys.stdin)[0]["stats64"]
sys.exit(0 if s["rx"]["dropped"] == 0 and s["tx"]["dropped"] == 0 and s["rx"]["errors"] == 0 else 1)' ||
    bad "Linux's rn0 counted drops or errors: $out"

net_done "ping: 100 small and $big fragmented pings answered, counters agree"
