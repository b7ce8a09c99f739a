#!/usr/bin/env bash
# ARP against Linux, in a namespace of its own (lib.sh):
#   - refnet's gratuitous ARP at start reached Linux: before Linux has sent
#     refnet anything, Linux's neighbour table maps 198.18.0.2 to refnet's
#     MAC (as `refnet ifconfig --json` gives it; lib.sh sets arp_accept=1 on
#     rn0, so the kernel learns from a gratuitous ARP);
#   - `arping -c 3 -I rn0 198.18.0.2`: all three answered, each by refnet's
#     MAC;
#   - refnet learned Linux from those requests: `refnet arp --json` maps
#     198.18.0.1 to rn0's MAC;
#   - an address refnet does not own (198.18.0.3) gets no answer;
#   - the counters: arp.in and arp.out grew by what arping sent, no drops.
. "$(dirname "$0")/lib.sh"
net_setup arping
net_start

net_need arping
# Habets' arping takes -W for the interval between requests; iputils'
# means something else by it, so it only gets the default interval.
gap=()
arping --help 2>&1 | grep -q Habets && gap=(-W 0.2)
mac=$(net_mac)
[[ $mac =~ ^[0-9a-f]{2}(:[0-9a-f]{2}){5}$ ]] || die "refnet ifconfig --json gave MAC '$mac'"
linux_mac=$(nsx ip -j link show rn0 | "$py" -c 'import json,sys; print(json.load(sys.stdin)[0]["address"])')

# The gratuitous ARP: the first frame refnet sends, at start.  The kernel
# handles it in its receive softirq; give it up to 2 s to show.
learned=
for i in $(seq 20); do
    learned=$(nsx ip -j neigh show 198.18.0.2 dev rn0 |
        "$py" -c 'import json,sys; n=json.load(sys.stdin); print(n[0].get("lladdr","") if n else "")')
    [ -n "$learned" ] && break
    sleep 0.1
done
[ "$learned" = "$mac" ] ||
    bad "after refnet's gratuitous ARP Linux maps 198.18.0.2 to '$learned', want $mac"
tx=$(nsx ip -j -s link show rn0 | "$py" -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["tx"]["packets"])')
[ "$tx" = 0 ] || bad "premise: Linux sent refnet $tx frames before arping (the neighbour entry must come from the gratuitous ARP)"

net_stat "$dir/s0.json"
out=$(nsx timeout 10 arping "${gap[@]}" -c 3 -I rn0 198.18.0.2 2>&1)
rc=$?
[ "$rc" = 0 ] || bad "arping 198.18.0.2 exited $rc: $out"
# Habets' arping: "42 bytes from MAC (IP): ..."; iputils': "Unicast reply
# from IP [MAC] ...".  Every reply line must carry refnet's MAC.
printf '%s\n' "$out" >"$dir/arping.out"
"$py" - "$mac" "$dir/arping.out" <<'EOF' || bad "arping replies: $out"
import re, sys
mac = sys.argv[1]
macs = []
for line in open(sys.argv[2]):
    m = (re.search(r"bytes from ([0-9a-f:]{17}) \(198\.18\.0\.2\)", line, re.I) or
         re.search(r"reply from 198\.18\.0\.2 \[([0-9a-f:]{17})\]", line, re.I))
    if m:
        macs.append(m.group(1).lower())
if len(macs) != 3 or any(m != mac for m in macs):
    print("want 3 replies from %s, got %r" % (mac, macs))
    sys.exit(1)
EOF

# refnet learned Linux's MAC from the requests addressed to it.
rn arp --json >"$dir/arp.json" || bad "refnet arp --json failed"
got=$("$py" -c 'import json,sys
e=[x for x in json.load(open(sys.argv[1])) if x.get("address")=="198.18.0.1"]
print(e[0].get("hwaddr","") if e else "")' "$dir/arp.json")
[ "$got" = "$linux_mac" ] || bad "refnet maps 198.18.0.1 to '$got', want Linux's $linux_mac: $(cat "$dir/arp.json")"

# Nobody owns 198.18.0.3: no answer, from refnet or anyone.
out=$(nsx timeout 10 arping "${gap[@]}" -c 2 -I rn0 198.18.0.3 2>&1)
rc=$?
[ "$rc" != 0 ] || bad "arping 198.18.0.3 was answered: $out"
grep -Eqi "bytes from|reply from" <<<"$out" && bad "arping 198.18.0.3 got a reply: $out"

net_stat "$dir/s1.json"
d() { echo $(( $(jq_py "$dir/s1.json" "$1") - $(jq_py "$dir/s0.json" "$1") )); }
# 3 + 2 requests in; 3 replies out.  The kernel may add a probe of its own
# (none in practice: its entry is fresh), so at least, and at most 2 more.
ain=$(d 'proto(j,"arp.in")')
aout=$(d 'proto(j,"arp.out")')
[ "$ain" -ge 5 ] && [ "$ain" -le 7 ] || bad "arp.in grew by $ain, want 5"
[ "$aout" -ge 3 ] && [ "$aout" -le 5 ] || bad "arp.out grew by $aout, want 3"
drops=$(jq_py "$dir/s1.json" 'drops(j)')
[ "$drops" = "{}" ] || bad "frames were dropped: $drops"

net_done "arping: gratuitous ARP learned by Linux, 3 of 3 answered by $mac, 198.18.0.3 unanswered"
