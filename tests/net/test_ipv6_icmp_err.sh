#!/usr/bin/env bash
# ICMPv6 errors from Linux delivered to refnet's sockets (RFC 4443), over
# the TAP of a namespace of its own (2001:2::/64): refnet is the stack of
# icmp6-client (tests/net/icmp6_client.c, built as tests/icmp6-client), a
# program on the public API, at 2001:2::2; Linux is 2001:2::1, with an nft
# table that rejects chosen ports with chosen ICMPv6 codes.  Checked, each
# call's result as refnet's code name:
#   - a connected UDP socket sending to a closed Linux port: Linux's
#     ICMPv6 port unreachable makes the receive fail with CONNREFUSED;
#     to a port nft rejects as administratively prohibited: ACCES;
#   - TCP connects that nft rejects with an ICMPv6 destination unreachable
#     end with the code Linux's own sockets give (icmpv6_err_convert):
#     admin-prohibited ACCES, addr-unreachable HOSTUNREACH,
#     port-unreachable CONNREFUSED, no-route NETUNREACH, all the calls
#     within 20 s (the errors, not the 5 s timeouts); a closed port
#     without a rule refuses with a RST (CONNREFUSED too);
#   - refnet counted at least 6 ICMPv6 errors handed to a transport, none
#     dropped as bad_icmp6_quote or icmp6_err_not_ours, and nft's rules
#     each matched; the stack ends with no object left (icmp6-client's
#     exit status).
# Needs root, /dev/net/tun and nft; otherwise skipped or failed with a
# message (lib.sh).  Takes about 5 s (duplicate address detection, then
# one round trip per call).
. "$(dirname "$0")/lib.sh"
net_v6=1
net_setup icmp6err
net_need nft
prog="$REFNET_BUILD/tests/icmp6-client"
[ -x "$prog" ] || die "$prog is not built"

net_tap_up
# Every error answered at once: no ICMPv6 rate limit on Linux's side.
nsx sysctl -qw net.ipv6.icmp.ratelimit=0 || die "cannot lift Linux's ICMPv6 rate limit"
nsx nft -f - <<'EOF' || die "cannot load the nft rules"
table inet icmp6err {
    chain in {
        type filter hook input priority 0; policy accept;
        ip6 saddr 2001:2::2 tcp dport 5010 counter reject with icmpv6 type admin-prohibited
        ip6 saddr 2001:2::2 tcp dport 5011 counter reject with icmpv6 type addr-unreachable
        ip6 saddr 2001:2::2 tcp dport 5012 counter reject with icmpv6 type port-unreachable
        ip6 saddr 2001:2::2 tcp dport 5013 counter reject with icmpv6 type no-route
        ip6 saddr 2001:2::2 udp dport 5015 counter reject with icmpv6 type admin-prohibited
    }
}
EOF

start=$SECONDS
timeout -k 5 60 ip netns exec "$ns" "$prog" rn0 2001:2::2 2001:2::1 \
    udp:9999 udp:5015 tcp:5010 tcp:5011 tcp:5012 tcp:5013 tcp:5014 \
    >"$dir/client.out" 2>"$dir/client.err"
rc=$?
cat "$dir/client.out"
[ -s "$dir/client.err" ] && { echo "icmp6-client's stderr:"; cat "$dir/client.err"; }
echo "icmp6-client ran $((SECONDS - start)) s"
case $rc in
0) ;;
124 | 137) bad "icmp6-client did not finish within 60 s" ;;
*) bad "icmp6-client exited $rc (1: it could not start, or it leaked)" ;;
esac

want() {
    grep -qx "$1" "$dir/client.out" || bad "want '$1': $(tr '\n' ';' <"$dir/client.out")"
}
want "udp 9999 CONNREFUSED"
want "udp 5015 ACCES"
want "tcp 5010 ACCES"
want "tcp 5011 HOSTUNREACH"
want "tcp 5012 CONNREFUSED"
want "tcp 5013 NETUNREACH"
want "tcp 5014 CONNREFUSED"
n=$(awk '$1 == "icmp6.errors_to_transport" {print $2}' "$dir/client.out")
[ "${n:-0}" -ge 6 ] || bad "refnet handed ${n:-0} ICMPv6 errors to its transports, want 6 or more"
want "bad_icmp6_quote 0"
want "icmp6_err_not_ours 0"
# Each rule met refnet's datagrams: the errors were nft's, not a timeout.
rules=$(nsx nft list chain inet icmp6err in)
hits=$(grep -c 'counter packets [1-9]' <<<"$rules")
[ "$hits" = 5 ] || bad "$hits of the 5 nft rules matched: $rules"
[ $((SECONDS - start)) -le 20 ] || bad "the calls took $((SECONDS - start)) s: some waited for a timeout"

net_done "ICMPv6 errors reach refnet's sockets: UDP CONNREFUSED and ACCES, TCP connects end with Linux's codes"
