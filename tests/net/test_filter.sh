#!/usr/bin/env bash
# `refnet filter` against a daemon in a network namespace this test creates,
# with the Linux kernel as the peer:
#   - `refnet daemon --filter` checks its spec before anything starts (a bad
#     one: exit 2, one line naming the bad field), and applies good ones at
#     start, registering the lab-only faulty callout only when a spec names it;
#   - the echo service answers UDP on port 7 from Linux; `refnet filter add`
#     of a block on UDP port 7 makes it unreachable (the client times out,
#     the drop is counted as filter_blocked and as the filter's hits);
#     `refnet filter del` restores it;
#   - `filter list` (text and JSON) shows filters, callouts and layers;
#   - bad specs, bad ids and unknown subcommands get one-line errors: exit
#     2 (usage) or 1 (no such filter); the daemon keeps answering;
#   - SIGTERM: clean shutdown, no leak.
# Needs root and /dev/net/tun; otherwise skipped with a message (lib.sh).
. "$(dirname "$0")/lib.sh"
net_setup filter

# expect_error STATUS NEEDLE CMD...: CMD exits STATUS with exactly one line
# on stderr containing NEEDLE, and nothing on stdout.
expect_error() {
    local want=$1 needle=$2 status
    shift 2
    "$@" >"$dir/out" 2>"$dir/err"
    status=$?
    [ "$status" = "$want" ] || bad "'$*' exited $status, want $want: $(cat "$dir/err")"
    [ "$(wc -l <"$dir/err")" = 1 ] || bad "'$*' printed $(wc -l <"$dir/err") lines: $(cat "$dir/err")"
    grep -qF -- "$needle" "$dir/err" || bad "'$*' said '$(cat "$dir/err")', want '$needle'"
    [ ! -s "$dir/out" ] || bad "'$*' wrote to stdout: $(cat "$dir/out")"
}

# A bad --filter is refused before any device is touched.
expect_error 2 "--filter: 'layer=bogus,action=block': unknown layer 'bogus'" \
    "$refnet" daemon --tap rnx0 --addr 198.18.0.2/15 --ctl "$sock" --filter layer=bogus,action=block
expect_error 2 "'lport=' given twice" \
    "$refnet" daemon --tap rnx0 --addr 198.18.0.2/15 --ctl "$sock" \
    --filter layer=listen,lport=1,lport=2,action=block

net_start --service echo --filter layer=accept,lport=80,action=callout:connlog \
    --filter "layer=listen,lport=8080,action=callout:faulty,arg=leak"
grep -q "lab-only callout 'faulty' is registered" "$dlog" ||
    bad "the daemon did not say it registered the lab-only callout: $(cat "$dlog")"

# echo_answers: 0 if the echo service answers a datagram within 2 s, 1 if
# the client times out.
echo_answers() {
    nsx "$py" - <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.sendto(b"refnet filter test", ("198.18.0.2", 7))
try:
    data, peer = s.recvfrom(2048)
except socket.timeout:
    sys.exit(1)
sys.exit(0 if data == b"refnet filter test" else 2)
PY
}

echo_answers || bad "the echo service does not answer before any filter"

# The filters given at start are there, and faulty with them.
rn filter list >"$dir/list0" || bad "filter list failed"
grep -q "layer=accept,lport=80,action=callout:connlog" "$dir/list0" || bad "no --filter connlog: $(cat "$dir/list0")"
grep -q "^faulty .*lab_only yes" "$dir/list0" || bad "faulty is not listed as lab-only: $(cat "$dir/list0")"

# A block on UDP port 7: the echo service goes quiet.
rn filter add layer=inbound-transport,proto=udp,lport=7,action=block >"$dir/add" 2>"$dir/adderr" ||
    bad "filter add failed: $(cat "$dir/adderr")"
grep -Eq "^filter ([0-9]+) added: layer=inbound-transport,proto=udp,lport=7,action=block$" "$dir/add" ||
    bad "filter add said: $(cat "$dir/add")"
id=$(sed -nE 's/^filter ([0-9]+) added:.*/\1/p' "$dir/add")
echo_answers
status=$?
[ "$status" = 1 ] || bad "the echo service still answers with port 7 blocked (status $status)"
rn filter list --json >"$dir/list.json" || bad "filter list --json failed"
python3 - "$dir/list.json" "$id" <<'PY' || bad "filter list --json: $(cat "$dir/list.json")"
import json, sys
o = json.load(open(sys.argv[1]))
f = [f for f in o["filters"] if f["id"] == int(sys.argv[2])]
assert len(f) == 1 and f[0]["hits"] >= 1 and f[0]["action"] == "block", f
assert f[0]["layer"] == "inbound-transport"
names = [c["name"] for c in o["callouts"]]
assert "connlog" in names and "portblock" in names and "faulty" in names, names
l = [l for l in o["layers"] if l["layer"] == "inbound-transport"][0]
assert l["blocked"] >= 1, l
PY
rn stat | grep -Eq "filter_blocked +[1-9]" || bad "stat shows no filter_blocked drop: $(rn stat 2>&1 | grep -i filter)"
rn filter list | grep -Eq "^$id +inbound-transport +0 +[1-9][0-9]* +layer=inbound-transport" ||
    bad "filter list shows no hits: $(rn filter list 2>&1)"

# Deleting it restores the service.
[ "$(rn filter del "$id")" = "filter $id deleted" ] || bad "filter del $id"
echo_answers || bad "the echo service does not answer after filter del"

# Mistakes: one line each, status 2 for usage, 1 for a filter that is not there.
expect_error 2 "refnet filter: bad filter spec: unknown key 'lprot' in 'lprot=7'" \
    rn filter add layer=inbound-transport,lprot=7,action=block
expect_error 2 "bad port '7x' in 'lport=7x'" rn filter add layer=inbound-transport,lport=7x,action=block
expect_error 2 "missing 'action='" rn filter add layer=inbound-transport
expect_error 2 "unknown callout 'nosuch'" rn filter add layer=accept,action=callout:nosuch
expect_error 2 "the spec as one argument" rn filter add layer=accept, action=block
expect_error 2 "usage: filter add SPEC" rn filter add
expect_error 1 "no filter 999" rn filter del 999
expect_error 2 "not 'x7'" rn filter del x7
expect_error 2 "unknown subcommand 'frob'" rn filter frob
expect_error 2 "usage: filter list" rn filter
rn status >/dev/null || bad "the daemon stopped answering"

net_done "refnet filter"
