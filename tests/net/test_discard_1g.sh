#!/usr/bin/env bash
# 1 GiB from Linux's nc into refnet's discard service (--service discard,
# TCP port 9), in a namespace of its own (lib.sh):
#   - `nc -N` (shut down its sending side at the end of its input, then
#     wait for refnet's FIN) sends 1 GiB of zeros and exits 0 within 60 s;
#     the time is printed (seconds on an idle machine);
#   - refnet's discard service counted exactly 1 GiB received on one
#     connection, which ended gracefully: `refnet svc --json` shows
#     bytes_in = 2^30, accepted 1, closed 1, no reset or abort;
#   - TCP saw no reset either way and no frame was dropped (but copies of
#     what refnet already had, which Linux may resend: lib.sh); refnet has
#     no connection left, its objects are back to the baseline, and the
#     daemon shuts down cleanly (lib.sh).
. "$(dirname "$0")/lib.sh"
net_setup discard_1g
net_start --service discard

size=$((1 << 30))
net_objects "$dir/o0.json"
net_svc "$dir/v0.json"
net_stat "$dir/s0.json"

t0=$(date +%s%N)
head -c "$size" /dev/zero | nsx timeout 60 nc -N 198.18.0.2 9 >"$dir/nc.out" 2>"$dir/nc.err"
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$rc" = 0 ] || bad "nc exited $rc after $ms ms: $(cat "$dir/nc.err")"
[ ! -s "$dir/nc.out" ] || bad "discard sent something back: $(head -c 100 "$dir/nc.out" | od -c | head -3)"
echo "1 GiB into discard in $ms ms ($((size / 1048576 * 1000 / (ms + 1))) MiB/s)"

net_tcp_idle 5 || bad "refnet still has TCP connections: $(rn objects --type 'tcp connection')"
net_svc "$dir/v1.json"
net_stat "$dir/s1.json"
net_objects "$dir/o1.json"
d() { echo $(( $(jq_py "$dir/v1.json" "svc(j,'discard')['$1']") - $(jq_py "$dir/v0.json" "svc(j,'discard')['$1']") )); }
[ "$(d bytes_in)" = "$size" ] || bad "discard counted $(d bytes_in) bytes in, want $size"
for c in accepted:1 closed:1 aborted:0 resets:0 refused:0 bytes_out:0; do
    [ "$(d "${c%%:*}")" = "${c#*:}" ] || bad "discard's ${c%%:*} grew by $(d "${c%%:*}"), want ${c#*:}"
done
[ "$(jq_py "$dir/v1.json" "svc(j,'discard')['active']")" = 0 ] || bad "discard still has active connections"
ds() { echo $(( $(jq_py "$dir/s1.json" "$1") - $(jq_py "$dir/s0.json" "$1") )); }
[ "$(ds 'proto(j,"tcp.rst_in") + proto(j,"tcp.rst_out")')" = 0 ] || bad "resets were exchanged"
echo "tcp: $(ds 'proto(j,"tcp.segs_in")') segments in, $(ds 'proto(j,"tcp.segs_out")') out," \
    "$(ds 'proto(j,"tcp.retransmits")') retransmitted"
drops=$(net_unexpected_drops "$dir/s1.json")
[ "$drops" = "{}" ] || bad "frames were dropped: $drops"
net_objects_settled "$dir/o0.json" "$dir/o1.json" || fail=1

net_done "discard_1g: 1 GiB in $ms ms, counted exactly, closed gracefully"
