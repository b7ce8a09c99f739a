#!/usr/bin/env bash
# `refnet filter` over IPv6 against Linux over the TAP (2001:2::/64, lib.sh's
# net_v6), with the echo service listening dual-stack on [::]:7:
#   - filters take IPv6 addresses and prefixes: `filter add` prints them
#     back in canonical form and `filter list` (text and JSON) shows them;
#     a prefix too long for its family, a bad IPv6 address or an
#     IPv4-mapped one is a usage error of one line (exit 2);
#   - ping -6 from Linux is answered; a block at inbound-ip of ICMPv6 from
#     Linux's prefix 2001:2::/64 stops it (no reply, the filter's hits and
#     filter_blocked drops counted) while ping -4 is still answered;
#     deleting it brings the replies back;
#   - a TCP connect from Linux over IPv6 to port 7 is refused (RST) by a
#     block at accept on raddr=2001:2::1, and goes unanswered under a block
#     at inbound-transport on raddr=2001:2::/48 (the SYNs counted as
#     filter_blocked); IPv4 to the same port, on the same dual-stack
#     listener, still gets its line echoed each time;
#   - the connlog callout (given at start) logs IPv6 connections with the
#     addresses in brackets, [2001:2::2]:7 <- [2001:2::1]:PORT;
#   - the daemon then shuts down cleanly with no leak (lib.sh).
# Needs root and /dev/net/tun; otherwise skipped with a message (lib.sh).
# Takes about 10 s, most of it connects that are meant to time out.
. "$(dirname "$0")/lib.sh"
net_v6=1
net_setup wfp6

net_start --service echo --filter layer=accept,lport=7,action=callout:connlog
net_wait_dad

# expect_error STATUS NEEDLE CMD...: CMD exits STATUS with exactly one line
# on stderr containing NEEDLE.
expect_error() {
    local want=$1 needle=$2 status
    shift 2
    "$@" >"$dir/out" 2>"$dir/err"
    status=$?
    [ "$status" = "$want" ] || bad "'$*' exited $status, want $want: $(cat "$dir/err")"
    [ "$(wc -l <"$dir/err")" = 1 ] || bad "'$*' printed $(wc -l <"$dir/err") lines: $(cat "$dir/err")"
    grep -qF -- "$needle" "$dir/err" || bad "'$*' said '$(cat "$dir/err")', want '$needle'"
}

# filter_add SPEC CANONICAL: adds a filter, checks the canonical form it
# prints, and sets $id.
filter_add() {
    rn filter add "$1" >"$dir/add" 2>"$dir/adderr" || die "filter add $1: $(cat "$dir/adderr")"
    grep -Eq "^filter [0-9]+ added: $2\$" "$dir/add" || bad "filter add $1 said: $(cat "$dir/add")"
    id=$(sed -nE 's/^filter ([0-9]+) added:.*/\1/p' "$dir/add")
}

# hits ID: the filter's hits, from `filter list --json`.
hits() {
    rn filter list --json >"$dir/fl.json" || die "filter list --json failed"
    jq_py "$dir/fl.json" "[f['hits'] for f in j['filters'] if f['id'] == $1][0]"
}

blocked() {
    net_stat "$dir/st.json"
    jq_py "$dir/st.json" 'drops(j).get("filter_blocked", 0)'
}

# ping6_answered: 0 if one of three pings -6 (1 s each) is answered.
ping6_answered() {
    local i
    for i in 1 2 3; do
        nsx ping -6 -n -q -c 1 -W 1 2001:2::2 >/dev/null 2>&1 && return 0
    done
    return 1
}

# echo_tcp ADDR: prints what a TCP connect from Linux to ADDR port 7 gets:
# "echoed" (its line came back), "refused", or "timeout" (2 s).
echo_tcp() {
    nsx "$py" - "$1" <<'PY'
import socket, sys
addr = sys.argv[1]
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.settimeout(2)
try:
    s.connect((addr, 7))
    s.sendall(b"filter over ipv6\n")
    got = b""
    while not got.endswith(b"\n"):
        b = s.recv(100)
        if not b:
            break
        got += b
    print("echoed" if got == b"filter over ipv6\n" else "got %r" % got)
except ConnectionRefusedError:
    print("refused")
except socket.timeout:
    print("timeout")
PY
}

# ---- Bad IPv6 specs: one line each ----
expect_error 2 "bad prefix length '129' in 'raddr=2001:2::/129': expected 0..128 for an IPv6" \
    rn filter add layer=inbound-ip,raddr=2001:2::/129,action=block
expect_error 2 "expected 0..32 for an IPv4 address" \
    rn filter add layer=inbound-ip,raddr=198.18.0.0/48,action=block
expect_error 2 "bad IPv6 address '2001:2::x'" rn filter add layer=inbound-ip,raddr=2001:2::x,action=block
expect_error 2 "IPv4-mapped" rn filter add layer=inbound-ip,raddr=::ffff:198.18.0.1,action=block
expect_error 2 "host bits set beyond the /48 prefix" \
    rn filter add layer=inbound-ip,raddr=2001:2::1/48,action=block

# ---- ping -6 blocked by prefix at inbound-ip; ping -4 unaffected ----
ping6_answered || bad "ping -6 is not answered before any filter"
nsx ping -n -q -c 1 -W 2 198.18.0.2 >/dev/null || bad "ping is not answered before any filter"
b0=$(blocked)
filter_add "layer=inbound-ip,proto=icmp6,raddr=2001:2:0:0::/64,action=block" \
    "layer=inbound-ip,proto=icmpv6,raddr=2001:2::/64,action=block"
ping_id=$id
ping6_answered && bad "ping -6 is answered with ICMPv6 from 2001:2::/64 blocked"
nsx ping -n -q -c 2 -i 0.2 -W 2 198.18.0.2 >/dev/null || bad "ping -4 is not answered under an IPv6 block"
[ "$(hits "$ping_id")" -ge 3 ] || bad "the ICMPv6 block has $(hits "$ping_id") hits, want >= 3"
[ "$(blocked)" -ge $((b0 + 3)) ] || bad "filter_blocked went from $b0 to $(blocked), want +3"
rn filter list >"$dir/list"
grep -Eq "^$ping_id +inbound-ip +0 +[1-9][0-9]* +layer=inbound-ip,proto=icmpv6,raddr=2001:2::/64,action=block" \
    "$dir/list" || bad "filter list: $(cat "$dir/list")"
[ "$(rn filter del "$ping_id")" = "filter $ping_id deleted" ] || bad "filter del $ping_id"
ping6_answered || bad "ping -6 is not answered after filter del"

# ---- TCP over IPv6 blocked; IPv4 to the same port passes ----
[ "$(echo_tcp 2001:2::2)" = echoed ] || bad "TCP over IPv6 to echo fails before any filter"
[ "$(echo_tcp 198.18.0.2)" = echoed ] || bad "TCP over IPv4 to echo fails before any filter"

filter_add "layer=accept,raddr=2001:2::1,lport=7,action=block,weight=5" \
    "layer=accept,raddr=2001:2::1,lport=7,action=block,weight=5"
got=$(echo_tcp 2001:2::2)
[ "$got" = refused ] || bad "TCP over IPv6 under an accept block: $got, want refused"
got=$(echo_tcp 198.18.0.2)
[ "$got" = echoed ] || bad "TCP over IPv4 under an IPv6 accept block: $got"
[ "$(hits "$id")" = 1 ] || bad "the accept block has $(hits "$id") hits, want 1"
rn filter del "$id" >/dev/null || bad "filter del $id"

b0=$(blocked)
filter_add "layer=inbound-transport,proto=tcp,raddr=2001:2::/48,lport=7,action=block" \
    "layer=inbound-transport,proto=tcp,raddr=2001:2::/48,lport=7,action=block"
got=$(echo_tcp 2001:2::2)
[ "$got" = timeout ] || bad "TCP over IPv6 under an inbound-transport block: $got, want timeout"
got=$(echo_tcp 198.18.0.2)
[ "$got" = echoed ] || bad "TCP over IPv4 under an IPv6 inbound-transport block: $got"
[ "$(hits "$id")" -ge 2 ] || bad "the inbound-transport block has $(hits "$id") hits (SYNs), want >= 2"
[ "$(blocked)" -ge $((b0 + 2)) ] || bad "filter_blocked went from $b0 to $(blocked), want +2"
rn filter list --json >"$dir/fl.json"
spec=$(jq_py "$dir/fl.json" "[f['spec'] for f in j['filters'] if f['id'] == $id][0]")
[ "$spec" = "layer=inbound-transport,proto=tcp,raddr=2001:2::/48,lport=7,action=block" ] ||
    bad "filter list --json spec: '$spec'"
rn filter del "$id" >/dev/null || bad "filter del $id"
[ "$(echo_tcp 2001:2::2)" = echoed ] || bad "TCP over IPv6 fails after filter del"

# ---- connlog wrote IPv6 endpoints in brackets ----
grep -Eq "connlog: tcp \[2001:2::2\]:7 <- \[2001:2::1\]:[0-9]+ established" "$dlog" ||
    bad "connlog logged no IPv6 connection in brackets: $(grep connlog "$dlog" | head -5)"
grep -Eq "connlog: tcp 198\.18\.0\.2:7 <- 198\.18\.0\.1:[0-9]+ established" "$dlog" ||
    bad "connlog logged no IPv4 connection: $(grep connlog "$dlog" | head -5)"

net_done "refnet filter over IPv6"
