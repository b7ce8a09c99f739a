#!/usr/bin/env bash
# `refnet run` under bad input and faults, against Linux in a network
# namespace:
#   - a per-process socket limit (--run-max-sockets 4): the fifth socket
#     fails with EMFILE, counted as run.refused.limit;
#   - a hostile client of the run socket: a message before its hello, a
#     short message, descriptors sent unasked, a request on a socket of
#     another process: each refused and counted, the daemon lives on and
#     serves programs as before;
#   - a uid not allowed (nobody): socket() fails with EACCES and one line
#     from the shim, counted as run.refused.uid;
#   - the daemon killed under a running program: its connection reads the
#     end (or ECONNRESET) and a new socket fails with ENETDOWN, within 5 s,
#     nothing hangs.
# Needs root and /dev/net/tun; otherwise skipped with a message (lib.sh).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run_lib.sh"
net_setup run_faults
net_need python3 nc setpriv

net_start --run-max-sockets 4
run_objects_base

# ---- the per-process limit ----------------------------------------------------------
out=$(runx -- python3 -c '
import errno, socket
ss = []
try:
    for i in range(6):
        ss.append(socket.socket())
except OSError as e:
    print(len(ss), errno.errorcode[e.errno])' 2>&1)
[ "$out" = "4 EMFILE" ] || bad "the socket limit: '$out', not '4 EMFILE'"
[ "$(run_stat run.refused.limit)" -ge 1 ] || bad "the limit's refusal was not counted"

# ---- a hostile client of the channel --------------------------------------------------
# A program holding one socket, and a raw client that tries it.
mkfifo "$dir/hold.go"
run_bg -- python3 -c '
import os, socket, sys
s = socket.socket(); s.bind(("0.0.0.0", 7100)); s.listen(1)
open(sys.argv[1] + "/hold.id", "w").write("%d\n" % os.fstat(s.fileno()).st_ino)
open(sys.argv[1] + "/hold.go").read()' "$dir"
net_wait_for 10 test -s "$dir/hold.id" || bad "the holding program did not start"
g0=$(run_stat run.refused.garbage)
f0=$(run_stat run.refused.descriptors)
o0=$(run_stat run.refused.foreign)
out=$("$py" - "$sock.run" "$(cat "$dir/hold.id")" <<'PY'
import os, socket, struct, sys
FMT = "=IiQ4iqIHHIHHI192s4x"      # struct run_msg (src/run/run_proto.h)
HELLO, BIND = 1, 4
def msg(op, mid=0, args=(0, 0, 0, 0), data=b""):
    return struct.pack(FMT, op, 0, mid, *args, 0, 0, 0, 0, 0, 0, 0, len(data), data)
def ask(c, m, fds=()):
    anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("%di" % len(fds), *fds))] if fds else []
    c.sendmsg([m], anc)
    r = c.recv(512)
    return struct.unpack(FMT, r)[1] if len(r) == struct.calcsize(FMT) else "short %d" % len(r)
c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
c.settimeout(5)
c.connect(sys.argv[1])
out = [ask(c, msg(BIND, int(sys.argv[2])))]                  # before its hello
c.send(b"\x01\x02\x03")                                        # short: no answer
r, w = os.pipe()
out.append(ask(c, msg(HELLO, args=(2, os.getppid(), 0, 0), data=b"hostile\0"), [r, w] * 8))
out.append(ask(c, msg(BIND, int(sys.argv[2]), args=(0, 0, 0, 0))))  # not its socket
print(" ".join(str(x) for x in out))
PY
)
# EPROTO (71) before hello, the hello answered (0) with its descriptors
# closed, EBADF (9) on a socket it does not hold.
[ "$out" = "-71 0 -9" ] || bad "the hostile client got '$out', not '-71 0 -9'"
[ "$(run_stat run.refused.garbage)" -ge $((g0 + 2)) ] || bad "garbage not counted"
[ "$(run_stat run.refused.descriptors)" -ge $((f0 + 16)) ] || bad "unasked descriptors not counted"
kill -0 "$dpid" || bad "the daemon died of a hostile client"
echo go >"$dir/hold.go"
wait "$run_pid" || bad "the holding program failed"
# The daemon still serves programs.
net_bg timeout 20 nc -l 198.18.0.1 9100 >"$dir/after"
l=$bgpid
wait_linux_listen 9100
echo "still here" | runx -- nc -N 198.18.0.1 9100 || bad "a program after the hostile client failed"
net_wait_bg "$l" 10
[ "$(cat "$dir/after")" = "still here" ] || bad "after the hostile client: '$(cat "$dir/after")'"

# ---- a uid not allowed ----------------------------------------------------------------
chmod 755 "$dir"
out=$(timeout 20 setpriv --reuid=65534 --regid=65534 --clear-groups \
    "$refnet" run --ctl "$sock" -- python3 -c '
import errno, socket
try:
    socket.socket()
except OSError as e:
    print(errno.errorcode[e.errno])' 2>"$dir/uid.err")
[ "$out" = EACCES ] || bad "a uid not allowed: '$out', not EACCES"
[ "$(grep -c "refused this user (uid 65534)" "$dir/uid.err")" = 1 ] ||
    bad "no one line from the shim: $(cat "$dir/uid.err")"
[ "$(run_stat run.refused.uid)" -ge 1 ] || bad "the uid's refusal was not counted"
run_settled 10

# ---- the daemon dies under a running program -------------------------------------------
net_bg timeout 30 nc -l 198.18.0.1 9101 >/dev/null
l=$bgpid
wait_linux_listen 9101
run_bg -- python3 -c '
import errno, socket, sys, time
s = socket.create_connection(("198.18.0.1", 9101), timeout=20)
open(sys.argv[1] + "/dies.up", "w").write("up\n")
t = time.time()
try:
    r = "eof" if s.recv(10) == b"" else "data"
except OSError as e:
    r = errno.errorcode[e.errno]
try:
    socket.socket()
    n = "socket made"
except OSError as e:
    n = errno.errorcode[e.errno]
print(r, n, "%.0f" % (time.time() - t))' "$dir" >"$dir/dies.out" 2>"$dir/dies.err"
net_wait_for 10 test -s "$dir/dies.up" || bad "the program did not connect"
net_crash
net_wait_bg "$run_pid" 10 || bad "the program hung after the daemon died"
read -r r n secs <"$dir/dies.out"
[ "$r" = eof ] || [ "$r" = ECONNRESET ] || bad "its connection read '$r' after the daemon died"
[ "$n" = ENETDOWN ] || bad "a new socket after the daemon died: '$n'"
[ "${secs:-99}" -le 5 ] || bad "it took ${secs} s to notice"
net_wait_bg "$l" 10

net_done "refnet run: socket limit, hostile channel client, uid not allowed, daemon death, each refused or failed cleanly and counted"
