#!/usr/bin/env bash
# How the refnet command reads its command line (getopt_long for every
# command), checked where a user sees it, and what the client commands send
# the daemon:
#   - against a stand-in daemon on a control socket (a Python script that
#     answers each request with the argv and flags it received): options
#     before or after operands, --opt=VALUE and --opt VALUE, abbreviations,
#     -- before an operand, all arrive as the one form the daemon parses
#     (`netstat -a --refs` with the JSON flag, `objects --type NAME`, `svc
#     stop NAME --timeout S`, `dump /absolute/path`);
#   - --json refused with one line and exit 2 by every command that has no
#     JSON output; taken by the listings;
#   - mistakes found before anything is sent: exit 2, one line naming the
#     word (unknown, ambiguous, missing value, value to a flag, given
#     twice, an operand too many); nothing on stdout;
#   - exit 1 and one line when no daemon answers.
# Needs python3 and REFNET_BUILD (set by ctest).
set -uo pipefail

build=${REFNET_BUILD:?REFNET_BUILD must name the build directory}
refnet="$build/bin/refnet"
[ -x "$refnet" ] || { echo "FAIL: $refnet not built"; exit 1; }
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 0; }
dir=$(mktemp -d /tmp/refnet-cli-opts.XXXXXX)
sock="$dir/ctl.sock"
fake_pid=
cleanup() {
    [ -n "$fake_pid" ] && { kill "$fake_pid" 2>/dev/null; wait "$fake_pid" 2>/dev/null; }
    rm -rf "$dir"
}
trap cleanup EXIT

fails=0
passes=0
check() { # check NAME COMMAND...
    local name=$1
    shift
    if "$@"; then
        passes=$((passes + 1))
    else
        echo "FAIL: $name" >&2
        fails=$((fails + 1))
    fi
}

# The stand-in daemon: each request is answered, status 0, with one line
# of JSON: {"argv": [...], "json": true|false}.
cat >"$dir/fake.py" <<'EOF'
import json, os, socket, struct, sys
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(16)
def exact(c, n):
    b = b""
    while len(b) < n:
        d = c.recv(n - len(b))
        if not d:
            raise EOFError
        b += d
    return b
while True:
    c, _ = s.accept()
    try:
        while True:
            head = exact(c, 8)
            assert head[:4] == b"RNC\x01", head
            payload = exact(c, struct.unpack(">I", head[4:])[0])
            flags, argc = struct.unpack(">IH", payload[:6])
            off, argv = 6, []
            for _ in range(argc):
                (n,) = struct.unpack(">H", payload[off:off + 2])
                argv.append(payload[off + 2:off + 2 + n].decode())
                off += 2 + n
            text = (json.dumps({"argv": argv, "json": bool(flags & 1)}) + "\n").encode()
            body = struct.pack(">iI", 0, len(text)) + text
            c.sendall(b"RNC\x01" + struct.pack(">I", len(body)) + body)
    except EOFError:
        pass
    c.close()
EOF
python3 "$dir/fake.py" "$sock" &
fake_pid=$!
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || { echo "FAIL: the stand-in daemon did not start"; exit 1; }

# sends WANT CMD ARGS...: refnet CMD --ctl SOCK ARGS exits 0 and the
# stand-in received WANT, the JSON of {"argv", "json"}.
sends() {
    local want=$1 got
    shift
    got=$(cd "$dir" && "$refnet" "$1" --ctl "$sock" "${@:2}" 2>"$dir/err")
    local st=$?
    if [ "$st" = 0 ] && [ "$got" = "$want" ]; then
        passes=$((passes + 1))
    else
        echo "FAIL: refnet $*: exit $st, sent $got, want $want ($(cat "$dir/err"))" >&2
        fails=$((fails + 1))
    fi
}
A='{"argv": ['
sends "$A\"status\"], \"json\": false}" status
sends "$A\"status\"], \"json\": true}" status --json
sends "$A\"status\"], \"json\": true}" status -j
sends "$A\"netstat\", \"-a\", \"--refs\"], \"json\": true}" netstat --refs -j --all
sends "$A\"netstat\", \"-a\", \"--refs\"], \"json\": true}" netstat -aj --ref
sends "$A\"netstat\"], \"json\": false}" netstat
sends "$A\"objects\", \"--type\", \"tcp listener\"], \"json\": false}" objects -t "tcp listener"
sends "$A\"objects\", \"--type\", \"tcp listener\"], \"json\": true}" objects --json --type="tcp listener"
sends "$A\"objects\", \"--type\", \"socket\"], \"json\": false}" objects --ty socket
sends "$A\"svc\", \"stop\", \"httpd\", \"--timeout\", \"5\"], \"json\": false}" svc stop httpd --timeout=5
sends "$A\"svc\", \"stop\", \"httpd\", \"--timeout\", \"5\"], \"json\": false}" svc --timeout 5 stop httpd
sends "$A\"svc\", \"stop\", \"httpd\"], \"json\": false}" svc stop httpd
sends "$A\"svc\", \"status\", \"httpd\"], \"json\": true}" svc status httpd -j
sends "$A\"svc\"], \"json\": true}" svc --json
sends "$A\"svc\", \"start\", \"echo\"], \"json\": false}" svc start echo --timeout 3
sends "$A\"why\", \"httpd\"], \"json\": false}" why httpd
sends "$A\"why\", \"-7\"], \"json\": false}" why -- -7
sends "$A\"refs\", \"#17\"], \"json\": true}" refs --json '#17'
sends "$A\"trace\", \"on\", \"tcp\", \"listener\"], \"json\": false}" trace on tcp listener
sends "$A\"filter\", \"add\", \"layer=accept,action=block\"], \"json\": true}" filter -j add layer=accept,action=block
sends "$A\"dump\", \"$dir/rel.dump\"], \"json\": false}" dump rel.dump
sends "$A\"dump\", \"$dir/--odd\"], \"json\": false}" dump -- --odd
sends "$A\"lab\", \"clear-leak\"], \"json\": false}" lab clear-leak
sends "$A\"ifconfig\"], \"json\": true}" ifconfig --json
sends "$A\"arp\"], \"json\": true}" arp --json
sends "$A\"route\"], \"json\": true}" route --json
sends "$A\"stat\"], \"json\": true}" stat --json
# REFNET_CTL names the socket when --ctl does not.
got=$(REFNET_CTL="$sock" "$refnet" status 2>&1)
check "REFNET_CTL is the default socket" [ "$got" = "$A\"status\"], \"json\": false}" ]

# usage STATUS NEEDLE ARGS...: refnet ARGS exits STATUS with one line on
# stderr holding NEEDLE and nothing on stdout.
usage() {
    local want=$1 needle=$2 st
    shift 2
    (cd "$dir" && "$refnet" "$@" >"$dir/out" 2>"$dir/err")
    st=$?
    if [ "$st" = "$want" ] && [ "$(wc -l <"$dir/err")" = 1 ] && grep -qF -- "$needle" "$dir/err" &&
        [ ! -s "$dir/out" ]; then
        passes=$((passes + 1))
    else
        echo "FAIL: refnet $*: exit $st (want $want), stderr '$(cat "$dir/err")' (want '$needle'), stdout '$(head -c 200 "$dir/out")'" >&2
        fails=$((fails + 1))
    fi
}
C=(--ctl "$sock")
# No JSON output: refused, before anything is sent.
usage 2 "--json: refnet why has no JSON output" why httpd --json "${C[@]}"
usage 2 "--json: svc start has no JSON output" svc start echo -j "${C[@]}"
usage 2 "--json: svc stop has no JSON output" svc stop httpd --json "${C[@]}"
usage 2 "--json: refnet lab has no JSON output" lab clear-leak --json "${C[@]}"
usage 2 "--json: refnet sim has no JSON output" sim ping --json
usage 2 "--json: refnet analyze has no JSON output" analyze x.dump --json
usage 2 "--json: refnet send has no JSON output" send 198.18.0.1 9 --json
usage 2 "--json: refnet recv has no JSON output" recv 9 --json
usage 2 "--json: refnet get has no JSON output" get http://198.18.0.1/ --json
usage 2 "--json: refnet daemon has no JSON output" daemon --tap rn9 --addr 198.18.0.2/15 --json
usage 2 "--json: refnet version has no JSON output" version --json
# Mistakes in the options.
usage 2 "unknown option '--frob' (see refnet netstat --help)" netstat --frob "${C[@]}"
usage 2 "unknown option '-x' (see refnet netstat --help)" netstat -ax "${C[@]}"
usage 2 "option '--t' is ambiguous (--timeout, --type)" objects --t x "${C[@]}"
usage 2 "--type needs a value" objects "${C[@]}" --type
usage 2 "--json takes no value" status --json=yes "${C[@]}"
usage 2 "--timeout given twice" status --timeout 1 --timeout 2 "${C[@]}"
usage 2 "--ctl given twice" status --ctl "$sock" "${C[@]}"
usage 2 "--timeout: 'soon': must be a number of seconds" status --timeout soon "${C[@]}"
usage 2 "--timeout: '0': must be a number of seconds" status --timeout=0 "${C[@]}"
usage 2 "svc stop: --timeout: '-1': must be a number of seconds" svc stop httpd --timeout -1 "${C[@]}"
# Operands the command does not take.
usage 2 "status: unexpected argument 'extra'" status extra "${C[@]}"
usage 2 "netstat: unexpected argument 'tcp'" netstat tcp "${C[@]}"
usage 2 "why: unexpected argument 'b'" why a b "${C[@]}"
usage 2 "refs: missing argument" refs "${C[@]}"
usage 2 "dump: which file?" dump "${C[@]}"
usage 2 "lab clear-leak: unexpected argument 'now'" lab clear-leak now "${C[@]}"
usage 2 "lab stop-hang: --ctl is an option of clear-leak only" lab stop-hang "${C[@]}"
usage 2 "lab leak: --seed: the leak runs without the simulator" lab --seed 2 leak
usage 2 "lab clear-leak: --fixed: clear-leak asks the daemon" lab clear-leak --fixed "${C[@]}"
usage 2 "unexpected argument '9'" send 198.18.0.1 7 9
usage 2 "'x': not an IPv4 or IPv6 address" send x 7
usage 2 "--addr '198.18.0.256': not an IPv4 or IPv6 address" recv 7 --addr 198.18.0.256
usage 2 "--output needs a value" get http://198.18.0.1/ -o
# Options and operands in any order, = or not, in the local commands.
"$refnet" sim ping --count 3 --seed 4 >"$dir/a" 2>&1
"$refnet" sim --seed=4 --count=3 ping >"$dir/b" 2>&1
check "sim: options before or after the scenario, = or not" cmp -s "$dir/a" "$dir/b"
check "sim ran" grep -q "^3 sent" "$dir/a"
(cd "$dir" && "$refnet" analyze -- --objects >/dev/null 2>"$dir/err")
check "analyze -- --objects reads a file named --objects" grep -qF "refnet: --objects: cannot open" "$dir/err"

# No daemon: exit 1, one line.
usage 1 "refnet: cannot reach the daemon at $dir/none.sock" netstat -a --ctl "$dir/none.sock"
usage 1 "refnet: cannot reach the daemon at $dir/none.sock" svc list --ctl "$dir/none.sock"

echo "$passes passed, $fails failed"
[ "$fails" = 0 ]
