#!/usr/bin/env bash
# `refnet daemon` and its control socket, against the Linux kernel in a
# network namespace this test creates:
#   - the start-up line, the socket's mode 0600, a ping from Linux answered,
#     the echo service (--service echo) answering UDP on port 7;
#   - every listing parses as JSON (python3 -m json.tool), and the text
#     forms show what the user expects (interface, ARP entry, routes);
#   - objects --type, refs, trace on/off change what refs shows;
#   - malformed requests (garbage, oversized, bad version, argc lie) get a
#     status-2 error and the daemon keeps answering;
#   - descriptors passed with requests: closed when not taken, two
#     refused, connect --data-fd's bad ones refused, none kept;
#   - a second daemon on the same socket is refused, the first unharmed;
#   - refnet dump writes a file at a path relative to the client's cwd;
#   - SIGTERM: the echo service stops, exit 0, "shut down cleanly", no
#     leak, socket file removed;
#   - a daemon killed with SIGKILL leaves a stale socket the next daemon
#     replaces; SIGINT shuts that one down cleanly too.
# Needs root and /dev/net/tun; otherwise skipped with a message (lib.sh).
. "$(dirname "$0")/lib.sh"
net_setup daemon_ctl

# net_stop_checked SIG: stops the daemon with SIG (checked by lib.sh: exit
# 0, a clean shutdown, no leak) and checks that it removed its socket.
net_stop_checked() {
    net_stop "$1"
    [ ! -e "$sock" ] || bad "the socket file is still there after SIG$1"
}

net_start --gw 198.18.0.1 --capture "$dir/d1.pcap" --service echo
grep -Eq "^refnet daemon: rn0 198\.18\.0\.2/15 mac [0-9a-f:]{17}, control $sock$" "$dlog" ||
    bad "start-up line: $(cat "$dlog")"
[ "$(stat -c %a "$sock")" = 600 ] || bad "socket mode $(stat -c %a "$sock"), want 600"

# Traffic from the Linux side of the link, to fill the tables.
nsx ping -c 2 -W 2 198.18.0.2 >/dev/null || bad "Linux cannot ping refnet"

# The echo service answers a datagram from Linux with the same bytes.
nsx "$py" - <<'EOF' || bad "UDP echo on port 7 did not answer"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
for i in range(3):
    msg = b"refnet echo %d " % i + bytes(range(256)) * 4
    s.sendto(msg, ("198.18.0.2", 7))
    data, peer = s.recvfrom(65536)
    if data != msg or peer != ("198.18.0.2", 7):
        sys.exit(1)
EOF
rn status | grep -q "services  echo (echo on UDP and TCP port 7)" || bad "status does not list echo: $(rn status 2>&1)"

for cmd in status ifconfig arp route stat objects; do
    if ! rn "$cmd" --json >"$dir/$cmd.json" 2>"$dir/$cmd.err"; then
        bad "$cmd --json failed: $(cat "$dir/$cmd.err")"; continue
    fi
    python3 -m json.tool "$dir/$cmd.json" >/dev/null 2>"$dir/$cmd.jerr" ||
        bad "$cmd --json is not valid JSON: $(cat "$dir/$cmd.jerr")"
done
rn ifconfig | grep -q "198.18.0.2/15" || bad "ifconfig does not show the address"
rn arp | grep -q "198.18.0.1" || bad "arp does not show Linux's entry"
rn route | grep -q "198.18.0.1" || bad "route does not show the default route"
rn status | grep -Eq "^refnet daemon .*, pid $dpid, up " || bad "status: $(rn status 2>&1)"

grep -q '"type":"process"' "$dir/objects.json" || bad "objects --json shows no process for echo"
# objects --type, refs and trace on the interface.
rn objects --type interface >"$dir/ifobj" || bad "objects --type interface failed"
grep -q "rn0" "$dir/ifobj" || bad "objects --type interface does not show rn0"
id=$(python3 -c 'import json,sys
objs=[o for o in json.load(open(sys.argv[1])) if o["type"]=="interface"]
print(objs[0]["id"] if objs else "")' "$dir/objects.json")
if [ -z "$id" ]; then
    bad "objects --json holds no interface"
else
    rn refs "$id" | grep -q "rn0" || bad "refs $id does not show rn0"
    rn refs "$id" --json | python3 -c 'import json,sys; o=json.load(sys.stdin); sys.exit(0 if not o["traced"] and o["refs"]==sum(t["count"] for t in o["ledger"]) else 1)' ||
        bad "refs $id --json: refs is not the sum of the ledger, or traced already"
    rn trace on "$id" | grep -q "tracing on for #$id" || bad "trace on $id"
    rn refs "$id" --json | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["traced"] else 1)' ||
        bad "refs $id does not show tracing on"
    rn trace off "$id" >/dev/null || bad "trace off $id"
fi
rn trace on interface | grep -q "tracing on for type 'interface'" || bad "trace on a type"
rn trace off interface >/dev/null || bad "trace off a type"
rn refs 99999999 >/dev/null 2>"$dir/refs.err"
[ $? = 1 ] && grep -q "no object #99999999" "$dir/refs.err" || bad "refs of a missing id"
rn objects --bogus >/dev/null 2>"$dir/bogus.err"
[ $? = 2 ] && [ "$(wc -l <"$dir/bogus.err")" = 1 ] || bad "objects --bogus: $(cat "$dir/bogus.err")"

# Malformed requests straight on the socket: each gets a status-2 reply
# naming the defect, and the daemon keeps answering.
python3 - "$sock" <<'EOF' || fail=1
import socket, struct, sys
path = sys.argv[1]
def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return buf
# Sends data, reads one reply frame; returns (status, text, closed) where
# closed says whether the daemon closed the connection after the reply.
def exchange(data):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    s.sendall(data)
    head = recv_exact(s, 16)
    if len(head) < 16 or head[:4] != b"RNC\x01":
        s.close()
        return None, head, True
    (status, tlen) = struct.unpack(">iI", head[8:16])
    text = recv_exact(s, tlen).decode()
    s.settimeout(2)
    try:
        closed = s.recv(1) == b""
    except socket.timeout:
        closed = False
    s.close()
    return status, text, closed
cases = [
    (b"GET / HTTP/1.0\r\n\r\n", "bad magic"),
    (b"RNC\x01" + struct.pack(">I", 10 << 20), "exceeds the limit"),
    (b"RNC\x07" + struct.pack(">I", 6) + b"\0" * 6, "version 7"),
    (b"RNC\x01" + struct.pack(">I", 9) + struct.pack(">IH", 0, 3) + b"\x00\x01x", "argument 1 of 3"),
    (b"RNC\x01" + struct.pack(">I", 12) + struct.pack(">IH", 0, 1) + b"\x00\x05frob", "claims 5 bytes but 4 remain"),
]
ok = True
for data, needle in cases:
    status, text, closed = exchange(data)
    if status != 2 or needle not in text or "bad control request" not in text or not closed:
        print("FAIL: malformed request %r: status %r, text %r, closed %r" % (data[:24], status, text, closed))
        ok = False
# A well-formed request for an unknown command: status 2, the list of
# commands, and the connection stays open for the next request.
p = struct.pack(">IH", 0, 1) + struct.pack(">H", 4) + b"frob"
status, text, closed = exchange(b"RNC\x01" + struct.pack(">I", len(p)) + p)
if status != 2 or "unknown command 'frob'" not in text or "objects" not in text or closed:
    print("FAIL: unknown command: status %r, text %r, closed %r" % (status, text, closed))
    ok = False
sys.exit(0 if ok else 1)
EOF
rn status >/dev/null || bad "the daemon stopped answering after malformed requests"
net_alive

# Descriptors passed with requests (SCM_RIGHTS): one a command does not
# take is closed; two are refused; `connect --data-fd` refuses a missing,
# unreadable or regular-file descriptor, each with one line, status 2.
# The daemon holds as many descriptors after as before.
python3 - "$sock" "$dpid" "$dir" <<'EOF' || fail=1
import os, socket, struct, sys, time
path, pid, tmp = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def request(args, flags=0):
    p = struct.pack(">IH", flags, len(args))
    for a in args:
        p += struct.pack(">H", len(a)) + a
    return b"RNC\x01" + struct.pack(">I", len(p)) + p
def exchange(args, fds, flags=0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    socket.send_fds(s, [request(args, flags)], fds)
    head = b""
    while len(head) < 16:
        d = s.recv(16 - len(head))
        if not d:
            break
        head += d
    status, tlen = struct.unpack(">iI", head[8:16])
    text = b""
    while len(text) < tlen:
        text += s.recv(tlen - len(text))
    s.close()
    return status, text.decode()
def nfds():
    return len(os.listdir("/proc/%d/fd" % pid))
before = nfds()
r, w = os.pipe()
reg = os.open(os.path.join(tmp, "plain"), os.O_RDWR | os.O_CREAT, 0o600)
cases = [
    (["status"], [r], 0, 0, "refnet daemon"),
    (["status"], [r, w], 0, 2, "more than one descriptor came with the request"),
    (["connect", "198.18.0.1", "9", "--data-fd"], [], 2, 2, "--data-fd: no descriptor came"),
    (["connect", "198.18.0.1", "9", "--data-fd"], [reg], 2, 2, "not a pipe or a socket"),
    (["connect", "198.18.0.1", "9", "--data-fd"], [w], 2, 2, "not open for reading"),
    (["connect", "198.18.0.1", "9", "--data-fd", "--recv-only"], [r], 2, 2, "--data-fd and --recv-only"),
]
ok = True
for args, fds, flags, want, needle in cases:
    status, text = exchange([a.encode() for a in args], fds, flags)
    if status != want or needle not in text or (want == 2 and text.count("\n") != 1):
        print("FAIL: %s with %d descriptor(s): status %r, %r" % (" ".join(args), len(fds), status, text))
        ok = False
# The daemon closes each connection once it sees the client's close:
# wait for that (bounded) before counting.
deadline = time.time() + 3
after = nfds()
while after > before and time.time() < deadline:
    time.sleep(0.05)
    after = nfds()
if after > before:
    print("FAIL: the daemon holds %d descriptors after the requests, %d before" % (after, before))
    ok = False
print("descriptors with requests: %d cases, the daemon's descriptors %d before, %d after" % (len(cases), before, after))
sys.exit(0 if ok else 1)
EOF

# A second daemon on the same socket is refused; the first keeps going.
ip netns exec "$ns" timeout 10 "$refnet" daemon --tap rn1 --addr 198.18.0.3/15 --ctl "$sock" \
    >/dev/null 2>"$dir/d2.log"
status=$?
[ "$status" = 1 ] || bad "a second daemon on the same socket exited $status, want 1"
grep -q "another daemon is answering there" "$dir/d2.log" || bad "second daemon: $(cat "$dir/d2.log")"
rn status >/dev/null || bad "the first daemon stopped answering after the second was refused"

# dump: the path is relative to the client's working directory.
(cd "$dir" && "$refnet" dump rel.dump --ctl "$sock" --timeout 10 >"$dir/dump.out" 2>"$dir/dump.err") ||
    bad "dump failed: $(cat "$dir/dump.err")"
[ -s "$dir/rel.dump" ] || bad "dump wrote no file at $dir/rel.dump"
grep -q "written to $dir/rel.dump" "$dir/dump.out" || bad "dump said: $(cat "$dir/dump.out")"

net_stop_checked TERM
[ -s "$dir/d1.pcap" ] || bad "the capture file is empty"

# SIGKILL leaves a stale socket; the next daemon replaces it.
net_restart --gw 198.18.0.1
net_crash
[ -S "$sock" ] || bad "no stale socket left by SIGKILL (test premise)"
net_restart --gw 198.18.0.1
rn status >/dev/null || bad "the daemon over a stale socket does not answer"
net_stop_checked INT

net_done "daemon control socket"
