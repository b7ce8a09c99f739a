#!/usr/bin/env bash
# Duplicate address detection against Linux (RFC 4862), in a namespace of
# its own (lib.sh, net_v6): Linux's rn0 holds 2001:2::2 besides its own
# 2001:2::1, and the daemon starts with --addr6 2001:2::2/64 and --addr6
# 2001:2::3/64.  Linux defends 2001:2::2 when refnet's solicitation from ::
# asks for it, so:
#   - `refnet ifconfig` shows 2001:2::2 "duplicate" and 2001:2::3 and the
#     link-local address "preferred"; nd.dad_conflicts is 1;
#   - refnet never uses the duplicate: it answers Linux's pings on
#     2001:2::3 (which Linux sends from 2001:2::2: to refnet that address
#     is then Linux's, at Linux's MAC);
#   - a datagram that reaches refnet for the duplicate is dropped as
#     nd_dad_conflict.
# The daemon then shuts down cleanly with no leak (lib.sh).
. "$(dirname "$0")/lib.sh"
net_v6=1
net_setup ipv6_dad
net_tap_up
nsx ip addr add 2001:2::2/64 dev rn0 nodad || die "cannot give rn0 2001:2::2"
net_launch --addr6 2001:2::3/64

states=
for i in $(seq 50); do
    states=$(rn ifconfig --json | "$py" -c '
import json, sys
print(" ".join(a["addr"] + "=" + a["state"] for i in json.load(sys.stdin) for a in i["addr6"]))')
    case " $states " in *"=tentative "*) sleep 0.1 ;; *) break ;; esac
done
if ! grep -q "2001:2::2=duplicate" <<<"$states"; then
    bad "2001:2::2 is not duplicate: $states"
    # What each side saw: Linux's drops on rn0 (a frame it could not send),
    # refnet's drops by reason and neighbour discovery counters.
    nsx ip -s link show rn0 >&2
    rn stat 2>&1 | grep -Ei "drop|nd\.|icmp6" >&2
fi
grep -q "2001:2::3=preferred" <<<"$states" || bad "2001:2::3 is not preferred: $states"
grep -q "fe80::.*=preferred" <<<"$states" || bad "the link-local address is not preferred: $states"
net_stat "$dir/s0.json"
[ "$(jq_py "$dir/s0.json" 'proto(j,"nd.dad_conflicts")')" = 1 ] ||
    bad "nd.dad_conflicts is $(jq_py "$dir/s0.json" 'proto(j,"nd.dad_conflicts")'), want 1"

out=$(nsx ping -6 -n -q -c 5 -i 0.05 -W 2 2001:2::3 2>&1)
grep -q "5 packets transmitted, 5 received, 0% packet loss" <<<"$out" ||
    bad "pings to 2001:2::3: $out"

# A datagram for the duplicate, sent to refnet's MAC by hand (Linux itself
# would deliver its pings to 2001:2::2 locally).
mac=$(net_mac)
nsx "$py" - "$mac" <<'PY' || bad "could not send to the duplicate"
import socket, struct, sys
mac = bytes.fromhex(sys.argv[1].replace(":", ""))
own = bytes.fromhex(open("/sys/class/net/rn0/address").read().strip().replace(":", ""))
src = socket.inet_pton(socket.AF_INET6, "2001:2::1")
dst = socket.inet_pton(socket.AF_INET6, "2001:2::2")
pkt = struct.pack("!IHBB", 6 << 28, 8, 59, 64) + src + dst + b"\0" * 8
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("rn0", 0))
for _ in range(3):
    s.send(mac + own + b"\x86\xdd" + pkt)
PY
sleep 0.3
net_stat "$dir/s1.json"
n=$(( $(jq_py "$dir/s1.json" 'drops(j).get("nd_dad_conflict", 0)') - $(jq_py "$dir/s0.json" 'drops(j).get("nd_dad_conflict", 0)') ))
[ "$n" = 3 ] || bad "nd_dad_conflict grew by $n, want 3"
# Linux's pings to 2001:2::3 come from 2001:2::2 (its longest match): to
# refnet that is Linux's address, reached at Linux's MAC.
linux_mac=$(nsx cat /sys/class/net/rn0/address)
out=$(rn neigh)
if grep -q "^2001:2::2 " <<<"$out"; then
    grep -q "^2001:2::2 *$linux_mac " <<<"$out" || bad "2001:2::2 is not Linux's to refnet: $out"
fi

net_done "IPv6 DAD: the address Linux holds is duplicate and unused, the other one serves"
