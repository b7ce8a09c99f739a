#!/bin/bash
# The differential test of the socket semantics (tests/diff/sockdiff.h):
# every case runs on Linux's sockets and on refnet's, and the two runs must
# agree, call for call, unless docs/sockets.md lists the case under "Where
# refnet differs from Linux".  One line per case: PASS, FAIL, DIVERGES or
# PENDING (refnet lacks the feature the case needs).
#
# Namespaces (198.18.0.0/15 only):
#   peer ($ns)   rn0 198.18.0.1/24: a TAP device, refnet (in sockdiff) on
#                the other side as 198.18.0.2; vp 198.18.1.1/24 to the
#                subject; vq 198.18.3.254/24 to the remote namespace.  It
#                forwards, and routes 198.18.2.0/24 (the silent addresses)
#                into a blackhole.  sockdiff runs here.
#   subject      vs 198.18.1.2/24: Linux's sockets under test; the silent
#                and remote addresses via the peer.
#   remote       vr 198.18.3.1/24 and 198.18.3.2/24: the peers that go
#                silent (sockdiff adds a blackhole route for one in the
#                peer namespace), via the peer.
#
# SOCKDIFF_ARGS adds arguments (e.g. "-k 'tcp.*' -v").
. "$(dirname "$0")/lib.sh"

net_setup diff
src=${REFNET_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
prog="$REFNET_BUILD/tests/sockdiff"
[ -x "$prog" ] || die "$prog is not built"

net_plen=24
net_tap_up
net_ns_add subject
subject=$net_ns_last
net_ns_add remote
remote=$net_ns_last

ip link add vs netns "$subject" type veth peer name vp netns "$ns" || die "cannot make veth vs/vp"
ip link add vr netns "$remote" type veth peer name vq netns "$ns" || die "cannot make veth vr/vq"
for x in "$subject vs" "$ns vp" "$ns vq" "$remote vr"; do
    set -- $x
    ip netns exec "$1" sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1" || die "cannot disable IPv6 on $2"
done
nsx ip addr add 198.18.1.1/24 dev vp &&
    nsx ip addr add 198.18.3.254/24 dev vq &&
    ip -n "$subject" addr add 198.18.1.2/24 dev vs &&
    ip -n "$remote" addr add 198.18.3.1/24 dev vr &&
    ip -n "$remote" addr add 198.18.3.2/24 dev vr || die "cannot address the veth pairs"
nsx ip link set vp up && nsx ip link set vq up &&
    ip -n "$subject" link set vs up && ip -n "$remote" link set vr up || die "cannot bring the veth pairs up"
ip -n "$subject" route add 198.18.2.0/23 via 198.18.1.1 &&
    ip -n "$remote" route add default via 198.18.3.254 &&
    nsx ip route add blackhole 198.18.2.0/24 || die "cannot route"
# The peer forwards, and answers every datagram to a closed port with an
# ICMP error (no rate limit): the UDP cases count on it.
nsx sysctl -qw net.ipv4.ip_forward=1 &&
    nsx sysctl -qw net.ipv4.icmp_ratelimit=0 &&
    nsx sysctl -qw net.ipv4.icmp_msgs_per_sec=100000 || die "cannot set the peer's sysctls"

start=$SECONDS
# Bounded: sockdiff bounds each case itself; this is the last resort.
eval "set -- ${SOCKDIFF_ARGS:-}"
timeout -k 5 300 ip netns exec "$ns" "$prog" --subject "$subject" --remote "$remote" --tap rn0 \
    --docs "$src/docs/sockets.md" "$@" >"$dir/sockdiff.out" 2>"$dir/sockdiff.err"
rc=$?
cat "$dir/sockdiff.out"
if [ -s "$dir/sockdiff.err" ]; then
    echo "sockdiff's stderr:"
    cat "$dir/sockdiff.err"
fi
echo "sockdiff ran $((SECONDS - start)) s"
case $rc in
0) ;;
124 | 137) bad "sockdiff did not finish within 300 s" ;;
*) bad "sockdiff exited $rc" ;;
esac
grep -qi 'leak' "$dir/sockdiff.err" && bad "refnet reported leaks"
net_done "refnet's sockets agree with Linux's, but where docs/sockets.md says otherwise"
