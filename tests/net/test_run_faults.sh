#!/usr/bin/env bash
# `refnet run` under bad input and faults, against Linux in a network
# namespace:
#   - a per-process socket limit (--run-max-sockets 4): the fifth socket
#     fails with EMFILE, counted as run.refused.limit;
#   - a hostile client of the run socket: a message before its hello, a
#     short message, descriptors sent unasked, a request on a socket of
#     another process, a socket of an unknown family: each refused and
#     counted, the daemon lives on and serves programs as before;
#   - a datagram whose header (written past the shim) names an IPv6
#     destination on an AF_INET socket: dropped and counted, the next one
#     goes;
#   - a shim of another protocol version: the daemon answers
#     EPROTONOSUPPORT with its own version, counted as run.refused.version;
#     and a program whose shim meets a daemon of another version (a fake
#     one) prints one line naming both versions and gets ENETDOWN at once;
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
FMT = "=IiQ4iq16sHH16sHHI168s4x"  # struct run_msg (src/run/run_proto.h), 256 bytes
HELLO, SOCKET, BIND, VERSION = 1, 3, 4, 3
def msg(op, mid=0, args=(0, 0, 0, 0), data=b""):
    return struct.pack(FMT, op, 0, mid, *args, 0, b"", 0, 0, b"", 0, 0, len(data), data)
def ask(c, m, fds=(), whole=False):
    anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("%di" % len(fds), *fds))] if fds else []
    c.sendmsg([m], anc)
    r, anc, _, _ = c.recvmsg(512, socket.CMSG_SPACE(4 * 8))
    for _, _, d in anc:
        for fd in struct.unpack("%di" % (len(d) // 4), d):
            os.close(fd)
    if len(r) != struct.calcsize(FMT):
        return "short %d" % len(r)
    return struct.unpack(FMT, r)[1:4] if whole else struct.unpack(FMT, r)[1]
def chan():
    c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    c.settimeout(5)
    c.connect(sys.argv[1])
    return c
c = chan()
out = [ask(c, msg(BIND, int(sys.argv[2])))]                  # before its hello
c.send(b"\x01\x02\x03")                                        # short: no answer
r, w = os.pipe()
out.append(ask(c, msg(HELLO, args=(VERSION, os.getppid(), 0, 0), data=b"hostile\0"), [r, w] * 8))
out.append(ask(c, msg(BIND, int(sys.argv[2]), args=(0, 0, 0, 0))))  # not its socket
out.append(ask(c, msg(SOCKET, args=(socket.SOCK_STREAM, 0, 99, 0))))  # family 99
out.append(ask(c, msg(SOCKET, args=(99, 0, socket.AF_INET6, 0))))     # type 99
# Another version's shim: refused, told this daemon's version.
res, _, ver = ask(chan(), msg(HELLO, args=(2, os.getppid(), 0, 0), data=b"old\0"), whole=True)
out.append("%d/%d" % (res, ver))
print(" ".join(str(x) for x in out))
PY
)
# EPROTO (71) before hello, the hello answered (0) with its descriptors
# closed, EBADF (9) on a socket it does not hold, EAFNOSUPPORT (97) for
# family 99, EPROTONOSUPPORT (93) for type 99; a version 2 hello
# EPROTONOSUPPORT with this daemon's version, 3.
[ "$out" = "-71 0 -9 -97 -93 -93/3" ] || bad "the hostile client got '$out', not '-71 0 -9 -97 -93 -93/3'"
[ "$(run_stat run.refused.version)" -ge 1 ] || bad "the other version's hello was not counted"
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

# ---- a program that writes its own datagram headers ----------------------------------------
# Written past the shim (a raw system call): an IPv6 destination on an
# AF_INET socket is dropped and counted; the next datagram still goes.
net_bg timeout 10 "$py" -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.18.0.1", 9102))
print(s.recv(100).decode())' >"$dir/dg.out"
dgl=$bgpid
net_wait_for 5 sh -c "ip netns exec '$ns' ss -lunH 'sport = :9102' | grep -q 9102" ||
    bad "the Linux UDP reader is not there"
g0=$(run_stat run.refused.garbage)
runx -- python3 -c '
import ctypes, socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
hdr = struct.pack("=16sHHI", socket.inet_pton(socket.AF_INET6, "2001:2::1"), 9102, 0, 1)
libc = ctypes.CDLL(None, use_errno=True)
buf = hdr + b"bad"
libc.syscall(44, s.fileno(), buf, len(buf), 0, None, 0)  # sendto(2), past the shim
s.sendto(b"good", ("198.18.0.1", 9102))' || bad "the program writing its own headers failed"
net_wait_bg "$dgl" 10 || bad "the Linux UDP reader did not end"
[ "$(cat "$dir/dg.out")" = good ] || bad "after a bad header: Linux read '$(cat "$dir/dg.out")', not 'good'"
[ "$(run_stat run.refused.garbage)" -ge $((g0 + 1)) ] || bad "the bad header was not counted"

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

# ---- a daemon of another version ---------------------------------------------------------
# A fake run socket that answers every message EPROTONOSUPPORT, version 7.
net_bg timeout 20 "$py" - "$dir/fake.sock.run" <<'PY'
import socket, struct, sys
FMT = "=IiQ4iq16sHH16sHHI168s4x"
l = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
l.bind(sys.argv[1])
l.listen(4)
while True:
    c, _ = l.accept()
    c.settimeout(5)
    m = c.recv(512)
    if len(m) == struct.calcsize(FMT):
        f = list(struct.unpack(FMT, m))
        f[1], f[3] = -93, 7
        c.send(struct.pack(FMT, *f))
    c.close()
PY
net_wait_for 5 test -S "$dir/fake.sock.run" || bad "the fake run socket is not there"
start=$SECONDS
out=$(timeout 20 "$refnet" run --ctl "$dir/fake.sock" -- python3 -c '
import errno, socket
try:
    socket.socket(socket.AF_INET6)
except OSError as e:
    print(errno.errorcode[e.errno])' 2>"$dir/ver.err")
[ "$out" = ENETDOWN ] || bad "a daemon of another version: '$out', not ENETDOWN"
[ $((SECONDS - start)) -le 3 ] || bad "a daemon of another version took $((SECONDS - start)) s"
[ "$(grep -c "speaks run protocol version 7, this shim version 3" "$dir/ver.err")" = 1 ] ||
    bad "no one line naming both versions: $(cat "$dir/ver.err")"

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

net_done "refnet run: socket limit, hostile channel client, another protocol version, uid not allowed, daemon death, each refused or failed cleanly and counted"
