#!/usr/bin/env bash
# Unmodified Linux clients and a server on refnet through `refnet run`,
# against the Linux kernel in a network namespace:
#   - curl fetches 1 MiB from Linux's python3 -m http.server, same sha256;
#     a closed port is "Connection refused", exit 7;
#   - curl -6 fetches it from a Linux http.server on [2001:2::1] (its
#     AF_INET6 socket on refnet), same sha256; a closed IPv6 port is
#     "Connection refused", exit 7;
#   - nc (OpenBSD's) sends 2 MiB to a Linux nc listener, same sha256;
#   - nc listens on refnet and receives 2 MiB from Linux's nc, same sha256;
#   - python3's urllib fetches the same file, same sha256;
#   - python3 -m http.server on refnet serves it to Linux's curl;
#   - python3 UDP sockets: sendto/recvfrom with the sender's address, connect
#     and send/recv of 3000 bytes, an empty datagram;
#   - a program with kernel sockets (a UNIX pair, a UNIX listener, a
#     loopback listener and connection) and a refnet connection in one
#     epoll loop: all four carry their data, and refnet lists only the
#     one connection (loopback stays the kernel's);
#   - once they ended, the daemon holds nothing of them (objects as before);
#   - without a daemon, curl gets one line from the shim and fails at once
#     (ENETDOWN), and --fallback puts it on the kernel's sockets instead.
# Needs root and /dev/net/tun; otherwise skipped with a message (lib.sh).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run_lib.sh"
net_setup run_clients
net_need curl nc python3 ss sha256sum

net_v6=1
net_start
net_wait_dad
run_objects_base
mkdir "$dir/www"
head -c $((1 << 20)) /dev/urandom >"$dir/www/f1m"
head -c $((2 << 20)) /dev/urandom >"$dir/in2m"
want1=$(sha "$dir/www/f1m")
want2=$(sha "$dir/in2m")

net_bg python3 -m http.server 8080 --bind 198.18.0.1 --directory "$dir/www" >/dev/null 2>&1
wait_linux_listen 8080

# ---- curl ----------------------------------------------------------------------
runx -- curl -sS -o "$dir/c1" http://198.18.0.1:8080/f1m || bad "curl on refnet failed"
[ "$(sha "$dir/c1")" = "$want1" ] || bad "curl's download differs"
runx -- curl -sS -o /dev/null http://198.18.0.1:8081/ 2>"$dir/c2.err"
rc=$?
[ "$rc" = 7 ] && grep -q "Couldn't connect\|Connection refused" "$dir/c2.err" ||
    bad "curl to a closed port: exit $rc, $(cat "$dir/c2.err")"

# ---- curl -6 ----------------------------------------------------------------------
net_bg python3 -m http.server 8086 --bind 2001:2::1 --directory "$dir/www" >/dev/null 2>&1
wait_linux_listen 8086
runx -- curl -6 -sS -o "$dir/c6" "http://[2001:2::1]:8086/f1m" || bad "curl -6 on refnet failed"
[ "$(sha "$dir/c6")" = "$want1" ] || bad "curl -6's download differs"
runx -- curl -6 -sS -o /dev/null "http://[2001:2::1]:8087/" 2>"$dir/c6.err"
rc=$?
[ "$rc" = 7 ] && grep -q "Couldn't connect\|Connection refused" "$dir/c6.err" ||
    bad "curl -6 to a closed port: exit $rc, $(cat "$dir/c6.err")"

# ---- nc as a client --------------------------------------------------------------
net_bg timeout 20 nc -l 198.18.0.1 9000 >"$dir/n1"
l1=$bgpid
wait_linux_listen 9000
runx -- nc -N 198.18.0.1 9000 <"$dir/in2m" || bad "nc client on refnet failed"
net_wait_bg "$l1" 10 || bad "Linux's nc listener did not end"
[ "$(sha "$dir/n1")" = "$want2" ] || bad "nc client: Linux received other bytes"

# ---- nc as a server --------------------------------------------------------------
runx -- nc -l 9001 >"$dir/n2" &
srv=$!
net_track "$srv"
wait_refnet_listen 9001
nsx timeout 20 nc -N 198.18.0.2 9001 <"$dir/in2m" || bad "Linux's nc could not send to refnet"
wait "$srv" || bad "nc server on refnet exited $?"
[ "$(sha "$dir/n2")" = "$want2" ] || bad "nc server: refnet's nc received other bytes"

# ---- python3 urllib --------------------------------------------------------------
runx -- python3 -c '
import sys, urllib.request
sys.stdout.buffer.write(urllib.request.urlopen("http://198.18.0.1:8080/f1m", timeout=10).read())
' >"$dir/p1" || bad "python3 urllib on refnet failed"
[ "$(sha "$dir/p1")" = "$want1" ] || bad "urllib's download differs"

# ---- python3 http.server on refnet ------------------------------------------------
chmod 755 "$dir"
run_bg -- python3 -m http.server 8000 --bind 198.18.0.2 --directory "$dir/www"
wait_refnet_listen 8000
nsx curl -sS -o "$dir/h1" http://198.18.0.2:8000/f1m || bad "curl from Linux to http.server on refnet failed"
[ "$(sha "$dir/h1")" = "$want1" ] || bad "http.server on refnet sent other bytes"
kill -TERM "$prog_pid"
wait "$run_pid" 2>/dev/null

# ---- python3 socket: UDP and TCP -----------------------------------------------------
net_bg python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.18.0.1", 9007))
s.settimeout(20)
for _ in range(3):
    d, a = s.recvfrom(65536)
    s.sendto(d.upper(), a)
'
u=$bgpid
out=$(runx -- python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.sendto(b"datagram one", ("198.18.0.1", 9007))
d, a = s.recvfrom(100)
print(d.decode(), a[0], a[1])
s.connect(("198.18.0.1", 9007))
s.send(b"x" * 3000)
print(len(s.recv(4000)))
s.sendto(b"", ("198.18.0.1", 9007))
print(len(s.recv(10)), s.getsockname()[0])
' 2>&1)
[ "$out" = "DATAGRAM ONE 198.18.0.1 9007
3000
0 198.18.0.2" ] || bad "python3 UDP on refnet: '$out'"
net_wait_bg "$u" 5 || bad "the Linux UDP echo did not end"

# ---- kernel sockets and refnet sockets in one program -------------------------------
# A UNIX socket pair, a UNIX listener on a path, a loopback listener and a
# connection to it (the kernel's), and a connection to Linux's http.server
# (refnet's), all in one epoll loop.  While they are open, refnet lists
# the program's one connection and nothing on 127.0.0.1.
mkfifo "$dir/mix.go"
run_bg -- python3 -c '
import selectors, socket, sys
d = sys.argv[1]
u1, u2 = socket.socketpair()
us = socket.socket(socket.AF_UNIX); us.bind(d + "/mix.sock"); us.listen(1)
uc = socket.socket(socket.AF_UNIX); uc.connect(d + "/mix.sock"); ua, _ = us.accept()
lo = socket.socket(); lo.bind(("127.0.0.1", 0)); lo.listen(1)
lc = socket.create_connection(lo.getsockname()); la, _ = lo.accept()
r = socket.create_connection(("198.18.0.1", 8080))
open(d + "/mix.ready", "w").write("%s %d\n" % lo.getsockname())
open(d + "/mix.go").read()
u1.sendall(b"pair"); uc.sendall(b"path"); lc.sendall(b"loopback")
r.sendall(b"GET /f1m HTTP/1.0\r\n\r\n")
sel = selectors.EpollSelector()
got = {}
for name, s in (("pair", u2), ("path", ua), ("loopback", la), ("refnet", r)):
    s.setblocking(False); sel.register(s, selectors.EVENT_READ, name); got[name] = b""
open_ = 4
while open_:
    ev = sel.select(10)
    if not ev:
        sys.exit("nothing for 10 s: %s" % got)
    for k, _ in ev:
        b = k.fileobj.recv(65536)
        got[k.data] += b
        # The kernel sockets carry one short message, refnet'"'"'s to its end.
        if (k.data == "refnet" and not b) or (k.data != "refnet" and got[k.data]):
            sel.unregister(k.fileobj); open_ -= 1
hdr, _, body = got["refnet"].partition(b"\r\n\r\n")
open(d + "/mix.body", "wb").write(body)
print(got["pair"].decode(), got["path"].decode(), got["loopback"].decode(), hdr.split(b"\r\n")[0].decode())
' "$dir" >"$dir/mix.out"
net_wait_for 10 test -s "$dir/mix.ready" || bad "the mixed program did not start"
lo_port=$(cut -d' ' -f2 "$dir/mix.ready")
rn netstat -a >"$dir/mix.ns"
[ "$(grep -Ec '^tcp +198\.18\.0\.2:[0-9]+ +198\.18\.0\.1:8080 +ESTABLISHED' "$dir/mix.ns")" = 1 ] ||
    bad "the mixed program's refnet connection is not listed once: $(cat "$dir/mix.ns")"
! grep -q "127\.0\.0\.1" "$dir/mix.ns" || bad "a loopback socket went to refnet: $(grep 127 "$dir/mix.ns")"
ss -ltnH "sport = :$lo_port" | grep -q "127.0.0.1:$lo_port" || bad "the loopback listener is not the kernel's"
echo go >"$dir/mix.go"
wait "$run_pid" || bad "the mixed program failed: $(cat "$dir/mix.out")"
[ "$(cat "$dir/mix.out")" = "pair path loopback HTTP/1.0 200 OK" ] || bad "the mixed program: '$(cat "$dir/mix.out")'"
[ "$(sha "$dir/mix.body")" = "$want1" ] || bad "the mixed program's download differs"

run_settled 10

# ---- no daemon -------------------------------------------------------------------
start=$SECONDS
timeout 20 "$refnet" run --ctl "$dir/none.sock" -- curl -v -sS -o /dev/null \
    http://198.18.0.1:8080/f1m 2>"$dir/nd.err"
rc=$?
[ "$rc" != 0 ] || bad "curl without a daemon succeeded"
[ $((SECONDS - start)) -le 5 ] || bad "curl without a daemon took $((SECONDS - start)) s"
[ "$(grep -c "^refnet run: no refnet daemon at $dir/none.sock.run" "$dir/nd.err")" = 1 ] ||
    bad "no one line from the shim: $(cat "$dir/nd.err")"
out=$(timeout 20 "$refnet" run --ctl "$dir/none.sock" -- python3 -c '
import errno, socket
try:
    socket.socket()
except OSError as e:
    print(errno.errorcode[e.errno])' 2>/dev/null)
[ "$out" = ENETDOWN ] || bad "socket() without a daemon: '$out', not ENETDOWN"
# --fallback: the kernel's sockets (here: no route to 198.18.0.1 but
# through refnet's namespace, so a connect to a loopback port instead).
python3 -c '
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1); print(s.getsockname()[1]); sys.stdout.flush()
c, _ = s.accept(); c.sendall(b"kernel\n"); c.close()' >"$dir/lo.port" &
lo=$!
net_track "$lo"
net_wait_for 5 test -s "$dir/lo.port" || bad "no loopback listener"
out=$(timeout 20 "$refnet" run --fallback --ctl "$dir/none.sock" -- python3 -c '
import socket
s = socket.socket()
s.connect(("127.0.0.1", int(open("'"$dir/lo.port"'").read()))); print(s.recv(64).decode().strip())' 2>"$dir/fb.err")
[ "$out" = "kernel" ] || bad "--fallback: '$out'"
grep -q "TCP and UDP sockets go to the kernel" "$dir/fb.err" || bad "--fallback said nothing"
wait "$lo"

net_done "curl (IPv4 and IPv6), nc (client and server), python3 urllib, http.server and UDP sockets on refnet through refnet run; a program mixing kernel and refnet sockets; nothing left behind; no daemon is one line and ENETDOWN"
