#!/usr/bin/env bash
# The clients that move data over refnet's own TCP through the daemon
# (refnet send, recv, get) and refnet netstat, against the Linux kernel in
# a network namespace this test creates:
#   - send: 20 MiB from refnet to a Linux listener that sends the file
#     back (so both directions flow), same sha256 both ways, from a file
#     and from a pipe (which the daemon reads itself); a closed port
#     answers "refnet send: 198.18.0.1:9: connection refused", exit 1; a
#     peer that resets mid-transfer, "connection reset by peer", exit 1;
#   - recv: 20 MiB from Linux `nc` to refnet, same sha256; --timeout with
#     no peer is exit 1 with one line;
#   - netstat lists the connection while a transfer is held open (text and
#     JSON, with the object id refs knows), listeners and the UDP echo
#     endpoint only with -a, and nothing of a transfer once it is over;
#   - get: a small and a 5 MiB file from Linux `python3 -m http.server`,
#     same sha256, -o FILE; a 404 is exit 1 with the status line; chunked
#     and close-delimited bodies from a scripted server; ambiguous framing
#     and a body cut short are exit 1; https and names are refused;
#   - a client killed mid-transfer leaves nothing behind in the daemon;
#   - SIGTERM: "shut down cleanly", no leak.
# Needs root and /dev/net/tun; otherwise skipped with a message (lib.sh).
. "$(dirname "$0")/lib.sh"
net_setup clients
net_need nc ss sha256sum

# The clients run as long as a transfer takes (bounded by timeout), not the
# 10 s lib.sh's rn allows a control request.
rn() { timeout 60 "$refnet" "$@" --ctl "$sock"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

# wait_linux_listen PORT: until Linux listens on PORT in the namespace (5 s).
wait_linux_listen() {
    local i
    for i in $(seq 50); do
        nsx ss -ltnH "sport = :$1" | grep -q LISTEN && return 0
        sleep 0.1
    done
    bad "nothing listens on Linux port $1"
    return 1
}
# wait_refnet_listen PORT: until refnet's netstat -a shows a listener (5 s).
wait_refnet_listen() {
    local i
    for i in $(seq 50); do
        rn netstat -a 2>/dev/null | grep -Eq "^tcp +0\.0\.0\.0:$1 .* LISTEN " && return 0
        sleep 0.1
    done
    bad "refnet does not listen on port $1: $(rn netstat -a 2>&1)"
    return 1
}

net_start --gw 198.18.0.1 --service echo
nsx ping -c 2 -W 2 198.18.0.2 >/dev/null || bad "Linux cannot ping refnet"

head -c $((20 << 20)) /dev/urandom >"$dir/in20"
want20=$(sha "$dir/in20")

# ---- send ----------------------------------------------------------------------
# The Linux side sends the same file back while it reads, so send's stdout
# carries Linux's data; it closes only once both directions are done.  (nc
# -l will not do: it quits at the peer's FIN, even with input left unsent.)
cat >"$dir/echo-file.py" <<'EOF'
import socket, sys, threading
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("198.18.0.1", 5000))
s.listen(1)
s.settimeout(60)
c, _ = s.accept()
c.settimeout(60)
data = open(sys.argv[1], "rb").read()
def send():
    c.sendall(data)
    c.shutdown(socket.SHUT_WR)
t = threading.Thread(target=send)
t.start()
with open(sys.argv[2], "wb") as out:
    while True:
        d = c.recv(65536)
        if not d:
            break
        out.write(d)
t.join()
c.close()
EOF
# Twice: from a file (send reads it and streams it to the daemon), then
# from a pipe (the daemon reads the pipe itself, from the descriptor send
# passes; -v shows the summary that says so).
for how in file pipe; do
    net_bg timeout 60 /usr/bin/python3 "$dir/echo-file.py" "$dir/in20" "$dir/nc-got" 2>"$dir/nc.err"
    ncpid=$bgpid
    wait_linux_listen 5000 || continue
    if [ "$how" = file ]; then
        rn send 198.18.0.1 5000 <"$dir/in20" >"$dir/send-back" 2>"$dir/send.err"
        st=$?
    else
        cat "$dir/in20" | rn send 198.18.0.1 5000 -v >"$dir/send-back" 2>"$dir/send.err"
        st=$?
        grep -q "^198\.18\.0\.1:5000: sent 20971520 bytes (read from the passed descriptor), received 20971520 bytes$" "$dir/send.err" ||
            bad "send from a pipe: the daemon did not read the pipe itself: $(cat "$dir/send.err")"
        # -v's lines: the go and the summary.
        sed -i '/^connected 198\.18\.0\.2:[0-9]* -> 198\.18\.0\.1:5000$/d; /^198\.18\.0\.1:5000: sent /d' "$dir/send.err"
    fi
    wait "$ncpid" || bad "the Linux peer failed: $(cat "$dir/nc.err")"
    [ "$st" = 0 ] || bad "send of 20 MiB from a $how exited $st: $(cat "$dir/send.err")"
    [ -s "$dir/send.err" ] && bad "send from a $how printed on success: $(cat "$dir/send.err")"
    [ "$(sha "$dir/nc-got")" = "$want20" ] ||
        bad "Linux received $(stat -c %s "$dir/nc-got") bytes that differ from the 20 MiB sent from a $how"
    [ "$(sha "$dir/send-back")" = "$want20" ] ||
        bad "send's stdout holds $(stat -c %s "$dir/send-back") bytes, not what Linux sent back ($how)"
done

rn send 198.18.0.1 9 </dev/null >"$dir/refused.out" 2>"$dir/refused.err"
st=$?
[ "$st" = 1 ] || bad "send to a closed port exited $st, want 1"
[ "$(cat "$dir/refused.err")" = "refnet send: 198.18.0.1:9: connection refused" ] ||
    bad "send to a closed port said: $(cat "$dir/refused.err")"
# A peer that resets the connection after 1 MiB: exit 1, one line.
cat >"$dir/rst.py" <<'EOF'
import socket, struct
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("198.18.0.1", 5005))
s.listen(1)
s.settimeout(30)
c, _ = s.accept()
c.settimeout(10)
got = 0
while got < (1 << 20):
    d = c.recv(65536)
    if not d:
        break
    got += len(d)
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
c.close()
EOF
net_bg /usr/bin/python3 "$dir/rst.py"
if wait_linux_listen 5005; then
    rn send 198.18.0.1 5005 <"$dir/in20" >/dev/null 2>"$dir/rst.err"
    st=$?
    [ "$st" = 1 ] && [ "$(cat "$dir/rst.err")" = "refnet send: 198.18.0.1:5005: connection reset by peer" ] ||
        bad "send to a peer that resets: exit $st, said: $(cat "$dir/rst.err")"
fi
rn send 198.18.0.1 0 </dev/null 2>"$dir/usage.err"
[ $? = 2 ] && [ "$(wc -l <"$dir/usage.err")" = 1 ] || bad "send to port 0: $(cat "$dir/usage.err")"

# ---- recv ----------------------------------------------------------------------
timeout 60 "$refnet" recv 5001 --ctl "$sock" >"$dir/recv-got" 2>"$dir/recv.err" &
rpid=$!
net_track "$rpid"
if wait_refnet_listen 5001; then
    nsx timeout 60 nc -N 198.18.0.2 5001 <"$dir/in20" >/dev/null 2>"$dir/nc2.err" ||
        bad "Linux nc to refnet failed: $(cat "$dir/nc2.err")"
    wait "$rpid"
    st=$?
    [ "$st" = 0 ] || bad "recv exited $st: $(cat "$dir/recv.err")"
    [ "$(sha "$dir/recv-got")" = "$want20" ] ||
        bad "recv wrote $(stat -c %s "$dir/recv-got") bytes that differ from the 20 MiB sent"
fi
rn recv 5002 --timeout 0.5 >"$dir/rto.out" 2>"$dir/rto.err"
st=$?
[ "$st" = 1 ] && grep -qx "refnet recv: port 5002: no connection within .*" "$dir/rto.err" ||
    bad "recv with nobody connecting: exit $st, said: $(cat "$dir/rto.err")"

# ---- netstat while a transfer is held open ---------------------------------------
net_bg timeout 60 nc -l 198.18.0.1 5003 </dev/null >"$dir/nc3-got"
ncpid=$bgpid
mkfifo "$dir/fifo"
if wait_linux_listen 5003; then
    timeout 60 "$refnet" send 198.18.0.1 5003 --ctl "$sock" <"$dir/fifo" >/dev/null 2>"$dir/held.err" &
    spid=$!
    net_track "$spid"
    exec 7>"$dir/fifo"
    head -c 100000 "$dir/in20" >&7
    established=
    for i in $(seq 50); do
        rn netstat >"$dir/ns.txt" 2>&1
        if grep -Eq "^tcp +198\.18\.0\.2:[0-9]+ +198\.18\.0\.1:5003 +ESTABLISHED " "$dir/ns.txt"; then
            established=1
            break
        fi
        sleep 0.1
    done
    [ -n "$established" ] || bad "netstat does not show the transfer: $(cat "$dir/ns.txt")"
    head -1 "$dir/ns.txt" | grep -q "^Proto .*Send-Q .*Recv-Q .*Refs" ||
        bad "netstat header: $(head -1 "$dir/ns.txt")"
    grep -q "LISTEN" "$dir/ns.txt" && bad "netstat without -a lists listeners"
    grep -q "^udp" "$dir/ns.txt" && bad "netstat without -a lists the unconnected UDP endpoint"
    rn netstat -a >"$dir/nsa.txt" 2>&1
    grep -Eq "^udp +0\.0\.0\.0:7 +\*:\* +UNCONN " "$dir/nsa.txt" ||
        bad "netstat -a does not show the echo service's UDP endpoint: $(cat "$dir/nsa.txt")"
    if rn netstat -a --json >"$dir/ns.json" 2>&1; then
        python3 - "$dir/ns.json" "$sock" "$refnet" <<'EOF' || bad "netstat --json: see above"
import json, subprocess, sys
rows = json.load(open(sys.argv[1]))
conn = [r for r in rows if r["proto"] == "tcp" and r["remote"] == "198.18.0.1:5003"]
if len(conn) != 1 or conn[0]["state"] != "ESTABLISHED":
    print("FAIL: netstat --json rows for the transfer: %r" % conn); sys.exit(1)
c = conn[0]
for k in ("local", "sendq", "recvq", "id", "refs"):
    if k not in c:
        print("FAIL: netstat --json row lacks %s: %r" % (k, c)); sys.exit(1)
if c["refs"] < 1:
    print("FAIL: refs %r" % c["refs"]); sys.exit(1)
# The id is the object's: refs ID knows it as a tcp connection.
out = subprocess.run([sys.argv[3], "refs", str(c["id"]), "--ctl", sys.argv[2]],
                     capture_output=True, text=True, timeout=30).stdout
if "tcp" not in out or "socket.endpoint" not in out:
    print("FAIL: refs %d: %s" % (c["id"], out)); sys.exit(1)
if not any(r["proto"] == "udp" and r["local"] == "0.0.0.0:7" for r in rows):
    print("FAIL: netstat -a --json lacks the UDP echo endpoint"); sys.exit(1)
EOF
    else
        bad "netstat -a --json failed: $(cat "$dir/ns.json")"
    fi
    head -c 100000 "$dir/in20" >&7
    exec 7>&-
    wait "$spid"
    st=$?
    wait "$ncpid"
    [ "$st" = 0 ] || bad "the held send exited $st: $(cat "$dir/held.err")"
    [ "$(stat -c %s "$dir/nc3-got")" = 200000 ] || bad "the held send delivered $(stat -c %s "$dir/nc3-got") bytes, want 200000"
    rn netstat >"$dir/ns2.txt"
    grep -Eq "198\.18\.0\.1:5003 +(ESTABLISHED|FIN_WAIT|CLOSE_WAIT|LAST_ACK|CLOSING)" "$dir/ns2.txt" &&
        bad "netstat still shows the finished transfer open: $(cat "$dir/ns2.txt")"
fi
rn netstat --bogus >/dev/null 2>"$dir/nsb.err"
[ $? = 2 ] || bad "netstat --bogus: $(cat "$dir/nsb.err")"

# ---- get -----------------------------------------------------------------------
mkdir "$dir/www"
printf 'hello from Linux\n' >"$dir/www/small.txt"
head -c $((5 << 20)) /dev/urandom >"$dir/www/big.bin"
net_bg /usr/bin/python3 -m http.server 8080 --bind 198.18.0.1 --directory "$dir/www" \
    >/dev/null 2>&1
if wait_linux_listen 8080; then
    out=$(rn get http://198.18.0.1:8080/small.txt 2>"$dir/get1.err")
    [ $? = 0 ] && [ "$out" = "hello from Linux" ] || bad "get small.txt: '$out' $(cat "$dir/get1.err")"
    rn get http://198.18.0.1:8080/big.bin -o "$dir/got.bin" 2>"$dir/get2.err" ||
        bad "get big.bin failed: $(cat "$dir/get2.err")"
    [ "$(sha "$dir/got.bin")" = "$(sha "$dir/www/big.bin")" ] || bad "get big.bin: the bytes differ"
    rn get http://198.18.0.1:8080/big.bin >"$dir/got2.bin" 2>"$dir/get3.err" ||
        bad "get big.bin to stdout failed: $(cat "$dir/get3.err")"
    cmp -s "$dir/got2.bin" "$dir/www/big.bin" || bad "get big.bin to stdout: the bytes differ"
    rn get http://198.18.0.1:8080/missing -o "$dir/missing" >"$dir/404.out" 2>"$dir/404.err"
    st=$?
    [ "$st" = 1 ] || bad "get of a missing file exited $st, want 1"
    grep -Eqx "refnet get: HTTP/1\.[01] 404 .*" "$dir/404.err" || bad "get 404 said: $(cat "$dir/404.err")"
    [ -e "$dir/missing" ] && bad "get 404 created the -o file"
    [ -s "$dir/404.out" ] && bad "get 404 wrote to stdout"
fi

# A scripted server for the framings http.server does not produce.
cat >"$dir/srv.py" <<'EOF'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("198.18.0.1", 8081))
s.listen(8)
s.settimeout(60)
bodies = {
    b"/chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: 1\r\n\r\n",
    b"/close": b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end",
    b"/ambiguous": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"5\r\nhello\r\n0\r\n\r\n",
    b"/short": b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this",
    b"/interim": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
}
for _ in range(len(bodies)):
    c, _ = s.accept()
    c.settimeout(10)
    req = b""
    while b"\r\n\r\n" not in req:
        d = c.recv(4096)
        if not d:
            break
        req += d
    path = req.split(b" ")[1] if b" " in req else b""
    c.sendall(bodies.get(path, b"HTTP/1.1 500 x\r\nContent-Length: 0\r\n\r\n"))
    c.close()
EOF
net_bg /usr/bin/python3 "$dir/srv.py" >/dev/null 2>"$dir/srv.err"
if wait_linux_listen 8081; then
    out=$(rn get http://198.18.0.1:8081/chunked 2>"$dir/g.err")
    [ $? = 0 ] && [ "$out" = "hello, world" ] || bad "chunked: '$out' $(cat "$dir/g.err")"
    out=$(rn get http://198.18.0.1:8081/close 2>"$dir/g.err")
    [ $? = 0 ] && [ "$out" = "until the end" ] || bad "close-delimited: '$out' $(cat "$dir/g.err")"
    out=$(rn get http://198.18.0.1:8081/interim 2>"$dir/g.err")
    [ $? = 0 ] && [ "$out" = "ok" ] || bad "100 Continue then 200: '$out' $(cat "$dir/g.err")"
    rn get http://198.18.0.1:8081/ambiguous >"$dir/amb.out" 2>"$dir/g.err"
    [ $? = 1 ] && grep -q "both Transfer-Encoding and Content-Length" "$dir/g.err" ||
        bad "ambiguous framing: $(cat "$dir/g.err")"
    rn get http://198.18.0.1:8081/short >/dev/null 2>"$dir/g.err"
    [ $? = 1 ] && grep -q "cut short: 9 of 100 bytes" "$dir/g.err" || bad "short body: $(cat "$dir/g.err")"
fi
rn get https://198.18.0.1/ 2>"$dir/g.err"
[ $? = 2 ] && grep -q "https is not supported" "$dir/g.err" || bad "https: $(cat "$dir/g.err")"
rn get http://example.test/ 2>"$dir/g.err"
[ $? = 2 ] && grep -q "names are not resolved" "$dir/g.err" || bad "a name: $(cat "$dir/g.err")"

# ---- a client killed mid-transfer ---------------------------------------------------
"$refnet" recv 5004 --ctl "$sock" >/dev/null 2>&1 &
rpid=$!
net_track "$rpid"
if wait_refnet_listen 5004; then
    # Linux keeps sending; the client goes away under it.
    net_bg timeout 20 nc 198.18.0.2 5004 </dev/zero >/dev/null 2>&1
    ncpid=$bgpid
    seen=
    for i in $(seq 30); do  # at most 3 s, on a loaded machine
        sleep 0.1
        rn objects >"$dir/objs.txt" 2>&1 && grep -q "^process ctl accept" "$dir/objs.txt" &&
            { seen=1; break; }
    done
    [ -n "$seen" ] || bad "the transfer's process is not in objects while it runs (test premise): $(grep -E "^(process|tcp connection.*:5004|tcp listener.*:5004)" "$dir/objs.txt")"
    kill -KILL "$rpid"
    wait "$rpid" 2>/dev/null
    gone=
    for i in $(seq 50); do
        # Everything of the transfer (port 5004); the services' own
        # listeners stay.
        if ! rn objects 2>/dev/null | grep -E "^(process ctl|socket #[0-9]+ tcp|tcp (connection|listener)|ctl request 'accept)" | grep -Eq "ctl|:5004"; then
            gone=1
            break
        fi
        sleep 0.1
    done
    [ -n "$gone" ] || bad "a killed client's transfer stays in the daemon: $(rn objects 2>&1 | grep -EA4 "^(process ctl|socket #[0-9]+ tcp.*:5004|tcp (connection|listener).*:5004|ctl request 'accept)")"
    wait "$ncpid" 2>/dev/null
fi

# ---- shutdown ------------------------------------------------------------------------
net_done "refnet send, recv, get and netstat through the daemon"
