#!/usr/bin/env bash
# Command-line errors of `refnet daemon` and of the client commands: each is
# one line on stderr naming the bad argument, nothing on stdout, exit 2 (bad
# usage) or 1 (no daemon to talk to).  Needs no privileges: every case fails
# before a device or socket is touched.
set -uo pipefail

build=${REFNET_BUILD:?REFNET_BUILD must name the build directory}
refnet="$build/bin/refnet"
[ -x "$refnet" ] || { echo "FAIL: $refnet not built"; exit 1; }
dir=$(mktemp -d /tmp/refnet-cli-args.XXXXXX)
trap 'rm -rf "$dir"' EXIT

fail=0
# expect STATUS MESSAGE ARGS...: runs refnet ARGS, checks the exit status,
# that stderr is exactly one line equal to MESSAGE, and stdout is empty.
expect() {
    local want_status=$1 want_msg=$2 status out err
    shift 2
    "$refnet" "$@" >"$dir/out" 2>"$dir/err"
    status=$?
    out=$(cat "$dir/out")
    err=$(cat "$dir/err")
    if [ "$status" != "$want_status" ]; then
        echo "FAIL: refnet $*: exit $status, want $want_status (stderr: $err)"; fail=1; return
    fi
    if [ "$(wc -l <"$dir/err")" != 1 ] || [ "$err" != "$want_msg" ]; then
        echo "FAIL: refnet $*:"; echo "  got:  $err"; echo "  want: $want_msg"; fail=1; return
    fi
    if [ -n "$out" ]; then echo "FAIL: refnet $*: printed on stdout: $out"; fail=1; fi
}

T=(--tap rn0)
A=(--addr 198.18.0.2/15)
expect 2 "refnet daemon: --tap is required (see refnet daemon --help)" daemon "${A[@]}"
expect 2 "refnet daemon: --addr is required (see refnet daemon --help)" daemon "${T[@]}"
expect 2 "refnet daemon: --addr: '198.18.0.2/40': prefix length must be 0..32" \
    daemon "${T[@]}" --addr 198.18.0.2/40
expect 2 "refnet daemon: --addr: '198.18.0.2/': prefix length must be 0..32" \
    daemon "${T[@]}" --addr 198.18.0.2/
expect 2 "refnet daemon: --addr: '198.18.0.2': expected ADDR/PREFIX, e.g. 198.18.0.2/15" \
    daemon "${T[@]}" --addr 198.18.0.2
expect 2 "refnet daemon: --addr: '198.18.0.256/15': '198.18.0.256' is not an IPv4 address" \
    daemon "${T[@]}" --addr 198.18.0.256/15
expect 2 "refnet daemon: --tap: 'averyveryverylong0': a device name is 1 to 15 characters, without '/', ':' or spaces" \
    daemon --tap averyveryverylong0 "${A[@]}"
expect 2 "refnet daemon: --gw: '198.20.0.1': not on 198.18.0.0/15, the interface's prefix" \
    daemon "${T[@]}" "${A[@]}" --gw 198.20.0.1
expect 2 "refnet daemon: --gw: 'gateway': not an IPv4 address" \
    daemon "${T[@]}" "${A[@]}" --gw gateway
expect 2 "refnet daemon: --addr6: '2001:2::2': missing '/prefix-length' (expected ADDR/PREFIX, e.g. 2001:2::2/64)" \
    daemon "${T[@]}" "${A[@]}" --addr6 2001:2::2
expect 2 "refnet daemon: --addr6: '2001:2::2::3/64': more than one '::' (expected ADDR/PREFIX, e.g. 2001:2::2/64)" \
    daemon "${T[@]}" "${A[@]}" --addr6 2001:2::2::3/64
expect 2 "refnet daemon: --addr6: '2001:2::2/129': prefix length above 128 (expected ADDR/PREFIX, e.g. 2001:2::2/64)" \
    daemon "${T[@]}" "${A[@]}" --addr6 2001:2::2/129
expect 2 "refnet daemon: --addr6: 'fe80::1/64': not a unicast global address with a prefix length of 1..128 (the link-local one comes from the MAC)" \
    daemon "${T[@]}" "${A[@]}" --addr6 fe80::1/64
expect 2 "refnet daemon: --addr6: 'ff02::1/64': not a unicast global address with a prefix length of 1..128 (the link-local one comes from the MAC)" \
    daemon "${T[@]}" "${A[@]}" --addr6 ff02::1/64
expect 2 "refnet daemon: --addr6: '2001:2::2/64': given twice" \
    daemon "${T[@]}" "${A[@]}" --addr6 2001:2::2/64 --addr6 2001:2::2/64
expect 2 "refnet daemon: --addr6: at most 4 addresses" \
    daemon "${T[@]}" "${A[@]}" --addr6 2001:2::2/64 --addr6 2001:2::3/64 --addr6 2001:2::4/64 \
    --addr6 2001:2::5/64 --addr6 2001:2::6/64
expect 2 "refnet daemon: --mac: '01:00:5e:00:00:01': a multicast address cannot be an interface's" \
    daemon "${T[@]}" "${A[@]}" --mac 01:00:5e:00:00:01
expect 2 "refnet daemon: --mac: '02:00:00:00:00': expected six hex octets, e.g. 02:00:00:00:00:02" \
    daemon "${T[@]}" "${A[@]}" --mac 02:00:00:00:00
expect 2 "refnet daemon: --mtu: '20': must be a number in 68..65521" \
    daemon "${T[@]}" "${A[@]}" --mtu 20
expect 2 "refnet daemon: --seed: 'x': must be a number in 1..18446744073709551615" \
    daemon "${T[@]}" "${A[@]}" --seed x
expect 2 "refnet daemon: --watchdog: '1d': must be a number in 0..86400" \
    daemon "${T[@]}" "${A[@]}" --watchdog 1d
# The daemon's own limits (--set svc.*, sock.max_handles).
expect 2 "refnet daemon: --set svc.max_conns: '0': must be a number in 1..4000000" \
    daemon "${T[@]}" "${A[@]}" --set svc.max_conns=0
expect 2 "refnet daemon: --set svc.httpd.max_conns: 'lots': must be a number in 1..4000000" \
    daemon "${T[@]}" "${A[@]}" --set svc.httpd.max_conns=lots
expect 2 "refnet daemon: --set svc.backlog: '70000': must be a number in 1..65535" \
    daemon "${T[@]}" "${A[@]}" --set svc.backlog=70000
expect 2 "refnet daemon: --set: 'svc.backlog=': must be a number in 1..65535" \
    daemon "${T[@]}" "${A[@]}" --set svc.backlog=
expect 2 "refnet daemon: --set svc.httpd.idle_timeout: '0': must be a number in 1..86400" \
    daemon "${T[@]}" "${A[@]}" --set svc.httpd.idle_timeout=0s
expect 2 "refnet daemon: --set sock.max_handles: '10': must be a number in 64..4194304" \
    daemon "${T[@]}" "${A[@]}" --set sock.max_handles=10
expect 2 "refnet daemon: --set: a service cap of 70000 connections needs more handles than sock.max_handles (65536) gives a process: raise sock.max_handles above it" \
    daemon "${T[@]}" "${A[@]}" --set svc.max_conns=70000
expect 2 "refnet daemon: --set: a service cap of 5000 connections needs more handles than sock.max_handles (4096) gives a process: raise sock.max_handles above it" \
    daemon "${T[@]}" "${A[@]}" --set sock.max_handles=4096 --set svc.httpd.max_conns=5000
expect 2 "refnet daemon: --set: 'svc.bogus=1': unknown setting 'svc.bogus' (refnet get tcp lists TCP's; the daemon's own are svc.max_conns, svc.httpd.max_conns, svc.backlog, svc.httpd.idle_timeout, sock.max_handles)" \
    daemon "${T[@]}" "${A[@]}" --set svc.bogus=1
expect 2 "refnet daemon: --ui: '127.0.0.1': expected ADDR:PORT (e.g. 127.0.0.1:8080) or unix:PATH" \
    daemon "${T[@]}" "${A[@]}" --ui 127.0.0.1
expect 2 "refnet daemon: --ui: '127.0.0.1:65536': expected ADDR:PORT (e.g. 127.0.0.1:8080) or unix:PATH" \
    daemon "${T[@]}" "${A[@]}" --ui 127.0.0.1:65536
expect 2 "refnet daemon: --ui: 'localhost:8080': expected ADDR:PORT (e.g. 127.0.0.1:8080) or unix:PATH" \
    daemon "${T[@]}" "${A[@]}" --ui localhost:8080
expect 2 "refnet daemon: --ui: 'unix:ui.sock': a UNIX socket is unix:/absolute/path, at most 107 bytes" \
    daemon "${T[@]}" "${A[@]}" --ui unix:ui.sock
expect 2 "refnet daemon: --reass-timeout: '0': must be a number in 1..3600" \
    daemon "${T[@]}" "${A[@]}" --reass-timeout 0
expect 2 "refnet daemon: --reass-timeout: '30s': must be a number in 1..3600" \
    daemon "${T[@]}" "${A[@]}" --reass-timeout 30s
expect 2 "refnet daemon: --reass-timeout given twice" \
    daemon "${T[@]}" "${A[@]}" --reass-timeout 5 --reass-timeout 6
expect 2 "refnet daemon: --busy-poll: '10001': must be a number in 0..10000" \
    daemon "${T[@]}" "${A[@]}" --busy-poll 10001
expect 2 "refnet daemon: --busy-poll: '5us': must be a number in 0..10000" \
    daemon "${T[@]}" "${A[@]}" --busy-poll 5us
expect 2 "refnet daemon: --rss: '0': must be a number in 1..64" \
    daemon "${T[@]}" "${A[@]}" --rss 0
expect 2 "refnet daemon: --rss: 'on': must be a number in 1..64" \
    daemon "${T[@]}" "${A[@]}" --rss on
expect 2 "refnet daemon: --rss given twice" \
    daemon "${T[@]}" "${A[@]}" --rss 2 --rss off
expect 2 "refnet daemon: --rss-key: RSS key: ends after byte 2 (want 40 bytes separated by ':')" \
    daemon "${T[@]}" "${A[@]}" --rss-key 6d:5a
expect 2 "refnet daemon: --rss-key: RSS key: byte 1 is not two hexadecimal digits (want 40 bytes like 6d:5a:...)" \
    daemon "${T[@]}" "${A[@]}" --rss-key zz
# The list of known services depends on the build.
"$refnet" daemon "${T[@]}" "${A[@]}" --service nosuch >"$dir/out" 2>"$dir/err"
status=$?
if [ "$status" != 2 ] || [ "$(wc -l <"$dir/err")" != 1 ] ||
    ! grep -q "^refnet daemon: --service: 'nosuch': unknown service, or an argument it does not take (known: .*)$" "$dir/err"; then
    echo "FAIL: unknown --service: exit $status, stderr: $(cat "$dir/err")"; fail=1
fi
expect 2 "refnet daemon: unknown option '--frob' (see refnet daemon --help)" \
    daemon "${T[@]}" "${A[@]}" --frob 1
expect 2 "refnet daemon: unexpected argument 'extra' (see refnet daemon --help)" \
    daemon "${T[@]}" "${A[@]}" extra
expect 2 "refnet daemon: --tap given twice" daemon "${T[@]}" "${A[@]}" --tap rn1
expect 2 "refnet daemon: --ctl needs a value" daemon "${T[@]}" "${A[@]}" --ctl
expect 2 "refnet daemon: --ctl: '$(printf 'x%.0s' {1..120})': a socket path is 1 to 107 bytes" \
    daemon "${T[@]}" "${A[@]}" --ctl "$(printf 'x%.0s' {1..120})"
# The fault spec's own message follows the option's name.
"$refnet" daemon "${T[@]}" "${A[@]}" --fault drop=200% >"$dir/out" 2>"$dir/err"
status=$?
if [ "$status" != 2 ] || ! grep -q "^refnet daemon: --fault: 'drop=200%': " "$dir/err" ||
    [ "$(wc -l <"$dir/err")" != 1 ]; then
    echo "FAIL: bad --fault: exit $status, stderr: $(cat "$dir/err")"; fail=1
fi
# TCP's settings: a bad name, a bad value, a rule broken, no '='.
expect 2 "refnet daemon: --set: 'tcp.nosuch=1': unknown setting 'tcp.nosuch' (refnet get tcp lists them)" \
    daemon "${T[@]}" "${A[@]}" --set tcp.nosuch=1
expect 2 "refnet daemon: --set: 'tcp.rto_min=200': '200' is not a valid value for tcp.rto_min (a time, 1ms..60s, at most tcp.rto_max)" \
    daemon "${T[@]}" "${A[@]}" --set tcp.rto_min=200
expect 2 "refnet daemon: --set: 'tcp.sack': expected NAME=VALUE, e.g. tcp.sack=0" \
    daemon "${T[@]}" "${A[@]}" --set tcp.sack
expect 2 "refnet daemon: --set: the settings given break a rule: tcp.rto_min must not exceed tcp.rto_max" \
    daemon "${T[@]}" "${A[@]}" --set tcp.rto_max=100ms --set tcp.rto_min=150ms
# --help is not an error.
"$refnet" daemon --help >"$dir/out" 2>&1 && grep -q "^usage: refnet daemon --tap NAME" "$dir/out" ||
    { echo "FAIL: refnet daemon --help"; fail=1; }

# The client side.
sock="$dir/none.sock"
expect 1 "refnet: cannot reach the daemon at $sock: No such file or directory (is \`refnet daemon\` running?)" \
    status --ctl "$sock"
REFNET_CTL="$sock" expect 1 "refnet: cannot reach the daemon at $sock: No such file or directory (is \`refnet daemon\` running?)" \
    objects --json
expect 2 "refnet: --timeout: 'soon': must be a number of seconds in (0, 86400]" \
    objects --timeout soon --ctl "$sock"
expect 2 "refnet: --ctl needs a value" arp --ctl
expect 2 "refnet: set: missing argument (usage: refnet set NAME VALUE)" set tcp.sack --ctl "$sock"
expect 2 "refnet: get: unexpected argument 'tcp.rto_min' (usage: refnet get [tcp | NAME] [-j])" \
    get tcp.sack tcp.rto_min --ctl "$sock"
expect 1 "refnet: cannot reach the daemon at $sock: No such file or directory (is \`refnet daemon\` running?)" \
    get tcp --ctl "$sock"
# A socket file nobody listens on: refused, not a hang.
python3 -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])" "$dir/stale.sock"
expect 1 "refnet: cannot reach the daemon at $dir/stale.sock: Connection refused (is \`refnet daemon\` running?)" \
    route --ctl "$dir/stale.sock"

if [ "$fail" != 0 ]; then exit 1; fi
echo "PASS: daemon and client argument errors"
