#!/usr/bin/env bash
# A burst of 10,000 bad frames from the Linux side of the TAP, in a
# namespace of its own (lib.sh).  bad_frames.py builds them (seeded) and
# sends them through a raw AF_PACKET socket on rn0, to refnet's MAC and to
# broadcast: random bytes; multicast source MACs; VLAN tags; other hosts'
# MACs and IPs; truncated ARP, IPv4, UDP and ICMP; bad ARP; bad IP
# version, header length, total length, checksum and options; bad
# fragments (not a multiple of 8, past 64 KiB); broadcast and multicast
# sources; bad UDP length and checksum; bad ICMP checksum and quotes;
# unknown protocols; overlapping and duplicate fragments; and fragments of
# datagrams that never complete, one of them far beyond the reassembly
# memory limit.  Then:
#   - the daemon is alive and answers `refnet status`;
#   - its resident memory grew by less than 20 MB;
#   - its drop counters account for the burst: for every reason but
#     frag_no_memory, the count grew by exactly the frames built to be
#     dropped for it; the never-completing fragments are each either held
#     for reassembly (buffers of owner ip.reass) or dropped as
#     frag_no_memory; drops + held == 10,000, nothing more;
#   - reassembly stays bounded: at most 1 MiB of buffers held (the stack's
#     limit: 481 buffers of 2176 bytes), and frag_no_memory did happen;
#   - the pool holds nothing else: outstanding buffers are back to the
#     baseline plus what reassembly holds;
#   - 10 pings are still answered, none lost;
#   - at the reassembly timeout (8 s here, --reass-timeout) the datagrams
#     that never completed are given up: every buffer reassembly held comes
#     back, each fragment counted as frag_timeout.
. "$(dirname "$0")/lib.sh"
net_setup bad_frames
net_start --reass-timeout 8

# Resolve both ways first, so the burst is all there is.
out=$(nsx ping -n -q -c 3 -i 0.05 -W 2 198.18.0.2 2>&1) || bad "pings before the burst: $out"
mac=$(net_mac)

# reass_held: buffers held by reassembly, from the text form of stat.
reass_held() {
    rn stat | awk '$1 == "ip.reass" { n = $2 } END { print n + 0 }'
}

net_stat "$dir/s0.json"
rss0=$(net_rss_kb)
held0=$(reass_held)
nsx timeout 120 "$py" "$here/bad_frames.py" rn0 "$mac" "$refnet" "$sock" "$dir/burst.json" ||
    die "the burst was not delivered"
net_alive
rn status >/dev/null || bad "the daemon does not answer status after the burst"
net_stat "$dir/s1.json"
rss1=$(net_rss_kb)
held1=$(reass_held)
echo "burst: $(cat "$dir/burst.json")"
echo "rss ${rss0} KiB -> ${rss1} KiB; ip.reass buffers $held0 -> $held1"

[ $((rss1 - rss0)) -lt 20480 ] || bad "resident memory grew by $((rss1 - rss0)) KiB"

"$py" - "$dir/s0.json" "$dir/s1.json" "$dir/burst.json" "$held0" "$held1" <<'EOF' || fail=1
import json, sys
from rnjson import drops
s0, s1, burst = (json.load(open(p)) for p in sys.argv[1:4])
held0, held1 = int(sys.argv[4]), int(sys.argv[5])
d0, d1 = drops(s0), drops(s1)
delta = {k: d1.get(k, 0) - d0.get(k, 0) for k in set(d0) | set(d1)}
delta = {k: v for k, v in delta.items() if v}
expect = burst["expect"]
errs = []
for k in sorted(set(expect) | set(delta)):
    if k == "frag_no_memory":
        continue
    if delta.get(k, 0) != expect.get(k, 0):
        errs.append("drop %s grew by %d, want %d" % (k, delta.get(k, 0), expect.get(k, 0)))
held = held1 - held0
nomem = delta.get("frag_no_memory", 0)
if nomem + held != burst["held_or_evicted"]:
    errs.append("never-completing fragments: %d dropped as frag_no_memory + %d held = %d, want %d"
                % (nomem, held, nomem + held, burst["held_or_evicted"]))
if nomem == 0:
    errs.append("no frag_no_memory drop: the reassembly limits never engaged")
# 1 MiB of 2176-byte buffers.
if held > (1 << 20) // 2176:
    errs.append("reassembly holds %d buffers, beyond its 1 MiB limit" % held)
total = sum(delta.values())
if total + held != burst["frames"]:
    errs.append("drops grew by %d and reassembly holds %d: %d, want the %d frames sent"
                % (total, held, total + held, burst["frames"]))
rx = sum(i["rx_frames"] for i in s1["interfaces"]) - sum(i["rx_frames"] for i in s0["interfaces"])
if rx < burst["frames"]:
    errs.append("the interface received %d frames, want %d" % (rx, burst["frames"]))
# Buffers: the baseline (the TAP's spare receive buffers) plus reassembly.
p0, p1 = s0["pool"]["outstanding"], s1["pool"]["outstanding"]
if p1 - held1 > p0 - held0 + 8:
    errs.append("pool: %d buffers outstanding, %d of them in reassembly; before the burst %d, %d"
                % (p1, held1, p0, held0))
if s1["pool"]["exhausted"] != s0["pool"]["exhausted"]:
    errs.append("the pool ran out of buffers")
for e in errs:
    print("FAIL: " + e)
print("drops by reason: %s" % json.dumps(delta, sort_keys=True))
sys.exit(1 if errs else 0)
EOF

out=$(nsx ping -n -q -c 10 -i 0.05 -W 2 198.18.0.2 2>&1)
grep -q "10 packets transmitted, 10 received, 0% packet loss" <<<"$out" ||
    bad "10 pings after the burst: $out"

# The reassembly timeout gives the rest up.
for _ in $(seq 1 80); do
    [ "$(reass_held)" -le "$held0" ] && break
    sleep 0.25
done
held2=$(reass_held)
[ "$held2" -le "$held0" ] ||
    bad "reassembly still holds $held2 buffers 20 s after the burst (before it: $held0)"
net_stat "$dir/s2.json"
"$py" - "$dir/s1.json" "$dir/s2.json" "$((held1 - held0))" <<'EOF' || fail=1
import json, sys
from rnjson import drops
s1, s2 = (json.load(open(p)) for p in sys.argv[1:3])
held = int(sys.argv[3])
def timeouts(j):
    return drops(j).get("frag_timeout", 0)
n = timeouts(s2) - timeouts(s1)
print("reassembly timeout: %d fragments given up, %d buffers were held" % (n, held))
if n != held:
    print("FAIL: %d fragments dropped as frag_timeout, want the %d held" % (n, held))
    sys.exit(1)
EOF

net_done "bad_frames: 10,000 bad frames dropped under their reasons, memory bounded, pings answered, reassembly given up at its timeout"
