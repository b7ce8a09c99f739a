#!/usr/bin/env bash
# A SYN flood against refnet's httpd while a real client keeps using it, in
# a namespace of its own (lib.sh).  synflood (tests/net/synflood.c, built
# as tests/synflood) writes 100,000 SYNs a
# second for 20 s into the Linux side of the TAP (2,000,000 at most),
# each from a source drawn at random in 198.18.0.0/15 (never the test's
# two hosts), to port 80.  Meanwhile Linux's curl fetches a page, again
# and again with 250 ms between (at least 15 fetches).  Then:
#   - every fetch succeeded, each within 1 s (the listener's SYN queue is
#     full of spoofed half-open connections: the real client gets through
#     by a SYN cookie, RFC 4987);
#   - the flood was real: the generator reached at least 90,000 SYNs a
#     second on average, refnet received at least half of what was sent,
#     answered with SYN cookies, and its neighbour cache held the client
#     resolved throughout (the flood's resolutions rate limited, none
#     evicting it);
#   - the daemon is alive, its resident memory grew by less than 64 MB,
#     (its CPU time and the machine's load are printed),
#     and it shuts down cleanly (lib.sh).
# The test takes about 30 s.
. "$(dirname "$0")/lib.sh"
net_setup synflood
net_need curl

www="$dir/www"
mkdir -p "$www"
printf '<html><body>refnet</body></html>\n' >"$www/index.html"
net_start --service httpd=80:"$www"
url=http://198.18.0.2/
mac=$(net_mac)
# The TAP's queue toward refnet holds 500 frames, 5 ms of the flood: a
# moment's delay in scheduling the daemon would drop the client's SYN with
# the flood's, and its connect would wait for Linux's resend at 1 s.  A
# host's network stack has its CPU and a NIC's receive ring: the daemon
# runs at nice -10 (the machine may be busy with other programs), and the
# queue holds 10,000 frames (100 ms of the flood).
renice -n -10 -p $(ls "/proc/$dpid/task") >/dev/null || die "cannot renice the daemon"
nsx ip link set rn0 txqueuelen 10000 || die "cannot set rn0's queue length"

# One fetch first: both sides resolved, the listener warm.
nsx curl -sS --noproxy '*' --max-time 5 -o /dev/null "$url" || die "the first fetch failed"
net_stat "$dir/s0.json"
rss0=$(net_rss_kb)
# The daemon's CPU time (user + system, clock ticks), to tell a daemon that
# could not keep up from one the machine's other programs starved.
cpu_ticks() {
    awk '{ print $14 + $15 }' "/proc/$dpid/stat"
}
cpu0=$(cpu_ticks)
t0=$SECONDS

gen="$REFNET_BUILD/tests/synflood"
[ -x "$gen" ] || die "$gen not built"
net_bg "$gen" rn0 "$mac" 198.18.0.2 80 100000 20 42 "$dir/flood.json"
flood=$bgpid
sleep 1  # the flood under way, the SYN queue full

n=0 nfail=0
: >"$dir/times"
end=$((SECONDS + 19))
while kill -0 "$flood" 2>/dev/null && [ "$SECONDS" -lt "$end" ]; do
    t=$(nsx curl -sS --noproxy '*' --max-time 1 -o /dev/null -w '%{time_total}' "$url" 2>"$dir/curl.err")
    rc=$?
    n=$((n + 1))
    echo "${t:-1}" >>"$dir/times"
    if [ $rc != 0 ]; then
        nfail=$((nfail + 1))
        echo "fetch $n failed (curl $rc): $(cat "$dir/curl.err")"
    fi
    sleep 0.25
done
slowest=$(sort -g "$dir/times" | tail -1)
net_wait_bg "$flood" 10
[ -s "$dir/flood.json" ] || die "the flood did not finish"
net_alive
net_stat "$dir/s1.json"
rss1=$(net_rss_kb)
echo "daemon CPU: $(( ($(cpu_ticks) - cpu0) * 100 / $(getconf CLK_TCK) / (SECONDS - t0 > 0 ? SECONDS - t0 : 1) ))% of a core over $((SECONDS - t0)) s; load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "flood: $(cat "$dir/flood.json")"
echo "Linux's side of rn0: $(nsx ip -s link show rn0 | awk '/TX:/ { getline; print "tx packets " $2 ", dropped " $4 }')"
echo "fetches during the flood: $n, failed: $nfail, slowest: ${slowest}s"
echo "rss ${rss0} KiB -> ${rss1} KiB"

[ "$n" -ge 15 ] || bad "only $n fetches during the flood"
[ "$nfail" = 0 ] || bad "$nfail of $n fetches failed or took over 1 s"
[ $((rss1 - rss0)) -lt 65536 ] || bad "resident memory grew by $((rss1 - rss0)) KiB"

"$py" - "$dir/s0.json" "$dir/s1.json" "$dir/flood.json" <<'PYEOF' || fail=1
import json, sys
from rnjson import iface
s0, s1, flood = (json.load(open(p)) for p in sys.argv[1:4])
c0, c1 = s0["protocols"], s1["protocols"]
d = {k: c1.get(k, 0) - c0.get(k, 0) for k in c1}
rx = iface(s1, "rx_frames") - iface(s0, "rx_frames")
errs = []
if flood["rate"] < 90000:
    errs.append("the generator sent %d SYNs a second, under 90,000" % flood["rate"])
if rx < flood["sent"] // 2:
    errs.append("refnet received %d frames of the %d sent" % (rx, flood["sent"]))
if d.get("tcp.syncookies_sent", 0) == 0:
    errs.append("no SYN cookie was sent")
if d.get("tcp.syncookies_ok", 0) == 0:
    errs.append("no connection came through a SYN cookie")
if d.get("arp.ratelimited", 0) == 0:
    errs.append("the flood's resolutions were not rate limited")
for k in ("tcp.syncookies_sent", "tcp.syncookies_ok", "tcp.syncookies_failed",
          "tcp.passive_opens", "arp.out", "arp.evicted", "arp.ratelimited"):
    print("%s +%d" % (k, d.get(k, 0)))
print("frames received: %d" % rx)
from rnjson import drops
d0, d1 = drops(s0), drops(s1)
print("drops: %s" % {k: d1[k] - d0.get(k, 0) for k in sorted(d1) if d1[k] != d0.get(k, 0)})
for e in errs:
    print("FAIL: " + e)
sys.exit(1 if errs else 0)
PYEOF

net_done "synflood: every fetch through a 20 s SYN flood from spoofed sources succeeded within 1 s"
