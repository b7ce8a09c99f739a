#!/usr/bin/env bash
# Argument errors of the service commands, without a daemon where the
# client catches them, and with none running where the client must say it
# cannot reach one:
#   - refnet daemon --inject with an unknown fault: exit 2, one line naming
#     the known one; --dump-dir on a missing directory: exit 1, one line;
#   - refnet svc stop NAME --timeout with a bad value or twice: exit 2;
#   - refnet lab clear-leak and refnet why with no daemon: exit 1, one line
#     saying it cannot reach the daemon;
#   - --service-exec, --stop-signal and --stop-grace with bad values, and
#     svc add without a name or a command, with a bad signal or grace:
#     exit 2, one line; the words after -- are the command's, never
#     options.
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
# Services that are commands: the daemon's options and svc add.
want 2 "^refnet daemon: --service-exec: 'web': expected NAME=COMMAND" \
    daemon "${A[@]}" --service-exec web
want 2 "^refnet daemon: --service-exec: 'a b': not a service name" \
    daemon "${A[@]}" --service-exec "a b=true"
want 2 "^refnet daemon: --service-exec: 'sh -c \"echo': the double quote is not closed$" \
    daemon "${A[@]}" --service-exec 'web=sh -c "echo'
want 2 "^refnet daemon: --service-exec: '  ': no command after '='$" \
    daemon "${A[@]}" --service-exec 'web=  '
want 2 "^refnet daemon: --service-exec: service web given twice$" \
    daemon "${A[@]}" --service-exec web=true --service-exec web=false
want 2 "^refnet daemon: --stop-signal: 'web=TERM': no --service-exec web=\.\.\. before it$" \
    daemon "${A[@]}" --stop-signal web=TERM
want 2 "^refnet daemon: --stop-signal: 'NOPE': not a signal" \
    daemon "${A[@]}" --service-exec web=true --stop-signal web=NOPE
want 2 "^refnet daemon: --stop-signal: 'KILL': a stop must let the command end by itself" \
    daemon "${A[@]}" --service-exec web=true --stop-signal web=KILL
want 2 "^refnet daemon: --stop-grace: '0': must be a number of seconds in \(0, 3600\]$" \
    daemon "${A[@]}" --service-exec web=true --stop-grace web=0
want 2 "^refnet: svc add: which service\?" svc add --ctl "$tmp/ctl"
want 2 "^refnet: svc add: no command: it goes after --" svc add web --ctl "$tmp/ctl"
want 2 "^refnet: svc add: 'python3': the command goes after --" \
    svc add web python3 --ctl "$tmp/ctl"
want 2 "^refnet: svc add: --stop-signal: 'NOPE': not a signal" \
    svc add web --stop-signal NOPE -- true --ctl "$tmp/ctl"
want 2 "^refnet: svc add: --stop-grace: 'soon': must be a number of seconds" \
    svc add web --stop-grace soon -- true
want 2 "^refnet: svc stop: --stop-signal is for svc add$" svc stop web --stop-signal TERM
want 2 "^refnet: --json: svc add has no JSON output" svc add web --json -- true
# What follows -- is the command's, even what looks like refnet's options.
want 1 "^refnet: cannot reach the daemon at $tmp/ctl" \
    svc add web --ctl "$tmp/ctl" -- python3 -m http.server --json -h
"$refnet" daemon --help | grep -q -- "--service-exec NAME=COMMAND" || bad "daemon --help lacks --service-exec"
"$refnet" svc --help | grep -q -- "svc add NAME \[--stop-signal SIG\] \[--stop-grace S\] \[--stop-main\]" || bad "svc --help lacks svc add"
"$refnet" daemon --help | grep -q -- "--inject FAULT" || bad "daemon --help lacks --inject"
"$refnet" help 2>&1 | grep -q "why \[SERVICE|ID\]" || bad "refnet help lacks why"
[ "$fail" = 0 ] || exit 1
echo "PASS: service command argument errors"
