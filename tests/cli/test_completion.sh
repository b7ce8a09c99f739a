#!/usr/bin/env bash
# The bash completion (completion/refnet), sourced into bash as a user's
# shell would, completing lines typed against the built refnet:
#   refnet ne<TAB>            -> neigh netstat
#   refnet netstat --<TAB>    -> its options, from `refnet netstat --help`
#   refnet <TAB>              -> every command;  refnet svc <TAB> -> list
#   status start stop add remove;  refnet daemon --offload <TAB> -> on off;
#   refnet svc add web -- <TAB> -> programs, then files;
#   refnet why <TAB>          -> nothing (no daemon asked);
#   refnet svc stop <TAB>     -> nothing when no daemon answers, at once;
#   refnet svc stop <TAB>     -> the service names a daemon's `svc list`
#                                gives (a stand-in daemon on a socket).
# Needs REFNET_BUILD and REFNET_SOURCE_DIR (set by ctest).
set -uo pipefail

build=${REFNET_BUILD:?REFNET_BUILD must name the build directory}
src=${REFNET_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
refnet="$build/bin/refnet"
[ -x "$refnet" ] || { echo "FAIL: $refnet not built"; exit 1; }
dir=$(mktemp -d /tmp/refnet-cli-comp.XXXXXX)
fake_pid=
cleanup() {
    [ -n "$fake_pid" ] && { kill "$fake_pid" 2>/dev/null; wait "$fake_pid" 2>/dev/null; }
    rm -rf "$dir"
}
trap cleanup EXIT
export REFNET_CTL="$dir/no-daemon.sock"

fails=0
passes=0
# completes WANT WORDS...: completing the last of WORDS (after "refnet")
# offers exactly WANT (space-separated, in order).
completes() {
    local want=$1 got
    shift
    got=$(bash --norc --noprofile -c '
        source "$1" || exit 9
        shift
        COMP_WORDS=("$@")
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        COMP_LINE="$*"
        COMP_POINT=${#COMP_LINE}
        _refnet
        echo "${COMPREPLY[*]}"' bash "$src/completion/refnet" "$refnet" "$@" 2>&1)
    if [ "$got" = "$want" ]; then
        passes=$((passes + 1))
    else
        echo "FAIL: refnet $* <TAB>: got '$got', want '$want'" >&2
        fails=$((fails + 1))
    fi
}

completes "neigh netstat" ne
completes "--all --info --refs --json --ctl --timeout --help" netstat --
completes "-a --all -i --info --refs -j --json --ctl --timeout -h --help" netstat -
completes "--help --version -h -V" -
completes "list status start stop drain add remove" svc ""
# svc add: the command after --, a program first (bash's own list), then
# files; the stop signal's names.
completes "TERM" svc add web --stop-signal TE
completes "base64" svc add web -- base6
touch "$dir/cfg"
completes "$dir/cfg" svc add web -- apache2 -f "$dir/cf"
completes "on off" daemon --offload ""
completes "--offload" daemon --tap rn0 --off
completes "stop-hang callout-hang close-wait leak apache clear-leak" lab ""
completes "ping udp-echo" sim --seed 3 ""
completes "filter" help fil
completes "" why ""
# Every command of the tool, as `refnet help` lists them.
all=$("$refnet" help | sed -n 's/^  \([a-z][a-z-]*\).*/\1/p' | tr '\n' ' ')
completes "${all% }" ""
# No daemon: nothing, and at once.
start=$SECONDS
completes "" svc stop ""
[ $((SECONDS - start)) -le 2 ] || { echo "FAIL: svc stop <TAB> took $((SECONDS - start)) s" >&2; fails=$((fails + 1)); }

# A daemon that answers `svc list --json`: its service names.
if command -v python3 >/dev/null; then
    cat >"$dir/fake.py" <<'EOF'
import json, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen(4)
while True:
    c, _ = s.accept()
    head = c.recv(8)
    n = struct.unpack(">I", head[4:8])[0]
    payload = b""
    while len(payload) < n:
        payload += c.recv(n - len(payload))
    flags, argc = struct.unpack(">IH", payload[:6])
    # Only `svc list` with JSON is answered with services.
    rows = [{"name": "echo"}, {"name": "httpd"}] if flags & 1 and b"svc" in payload else []
    text = (json.dumps(rows) + "\n").encode()
    body = struct.pack(">iI", 0, len(text)) + text
    c.sendall(b"RNC\x01" + struct.pack(">I", len(body)) + body)
    c.close()
EOF
    python3 "$dir/fake.py" "$dir/ctl.sock" &
    fake_pid=$!
    for _ in $(seq 50); do [ -S "$dir/ctl.sock" ] && break; sleep 0.1; done
    completes "echo httpd" svc stop --ctl "$dir/ctl.sock" ""
    completes "httpd" svc --ctl "$dir/ctl.sock" status h
    REFNET_CTL="$dir/ctl.sock" completes "echo httpd" svc start ""
fi

echo "$passes passed, $fails failed"
[ "$fails" = 0 ]
