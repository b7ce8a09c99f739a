#!/usr/bin/env bash
# Argument errors of the service commands, without a daemon where the
# client catches them, and with none running where the client must say it
# cannot reach one:
#   - refnet daemon --inject with an unknown fault: exit 2, one line naming
#     the known one; --dump-dir on a missing directory: exit 1, one line;
#   - refnet svc stop NAME --timeout with a bad value or twice: exit 2;
#   - refnet lab clear-leak and refnet why with no daemon: exit 1, one line
#     saying it cannot reach the daemon.
set -u
refnet=${REFNET_BUILD:?}/bin/refnet
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# want STATUS REGEX ARGS...: runs refnet ARGS, wants STATUS and one line of
# stderr matching REGEX.
want() {
    local st=$1 re=$2 rc
    shift 2
    "$refnet" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    [ "$rc" = "$st" ] || bad "refnet $*: exit $rc, want $st ($(cat "$tmp/err"))"
    [ "$(wc -l <"$tmp/err")" = 1 ] || bad "refnet $*: want one line of error: $(cat "$tmp/err")"
    grep -Eq "$re" "$tmp/err" || bad "refnet $*: stderr '$(cat "$tmp/err")' does not match '$re'"
}

A=(--tap rn-none0 --addr 198.18.0.2/15 --ctl "$tmp/ctl")
want 2 "^refnet daemon: --inject: 'nosuch': unknown fault \(known: enum-leak\)$" \
    daemon "${A[@]}" --inject nosuch
want 1 "^refnet daemon: --dump-dir $tmp/missing: not a directory the daemon can write to$" \
    daemon "${A[@]}" --dump-dir "$tmp/missing"
want 2 "^refnet: svc stop: --timeout: 'soon': must be a number of seconds" \
    svc stop httpd --timeout soon --ctl "$tmp/ctl"
want 2 "^refnet: svc stop: --timeout given twice$" \
    svc stop httpd --timeout 5 --timeout 6 --ctl "$tmp/ctl"
want 1 "^refnet: cannot reach the daemon at $tmp/ctl" lab clear-leak --ctl "$tmp/ctl"
want 1 "^refnet: cannot reach the daemon at $tmp/ctl" why httpd --ctl "$tmp/ctl"
"$refnet" daemon --help | grep -q -- "--inject FAULT" || bad "daemon --help lacks --inject"
"$refnet" help 2>&1 | grep -q "why \[SERVICE|ID\]" || bad "refnet help lacks why"
[ "$fail" = 0 ] || exit 1
echo "PASS: service command argument errors"
