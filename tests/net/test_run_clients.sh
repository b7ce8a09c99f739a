#!/usr/bin/env bash
# Unmodified Linux clients and a server on refnet through `refnet run`,
# against the Linux kernel in a network namespace:
#   - curl fetches 1 MiB from Linux's python3 -m http.server, same sha256;
#     a closed port is "Connection refused", exit 7;
#   - nc (OpenBSD's) sends 2 MiB to a Linux nc listener, same sha256;
#   - nc listens on refnet and receives 2 MiB from Linux's nc, same sha256;
#   - python3's urllib fetches the same file, same sha256;
#   - once they ended, the daemon holds nothing of them (objects as before);
#   - without a daemon, curl gets one line from the shim and fails at once
#     (ENETDOWN), and --fallback puts it on the kernel's sockets instead.
# Needs root and /dev/net/tun; otherwise skipped with a message (lib.sh).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run_lib.sh"
net_setup run_clients
net_need curl nc python3 ss sha256sum

net_start
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
grep -q "AF_INET sockets go to the kernel" "$dir/fb.err" || bad "--fallback said nothing"
wait "$lo"

net_done "curl, nc (client and server) and python3 urllib on refnet through refnet run; nothing left behind; no daemon is one line and ENETDOWN"
