#!/usr/bin/python3
# A Linux TCP endpoint that a network test drives step by step, for the
# tests that need Linux's side of one connection to act at chosen moments
# (test_close.sh: half-closes, simultaneous close).  It runs inside the
# test's namespace:
#
#   tcp_peer.py listen ADDR PORT CMD ACK     accept one connection
#   tcp_peer.py connect ADDR PORT CMD ACK    open one connection
#
# then reads commands, one per line, from the FIFO CMD, and answers each
# with one line on the FIFO ACK ("ok ..." or "err ...") once it is done:
#   port              "ok LOCALPORT"
#   readn N           reads exactly N bytes; "ok SHA256"
#   read              reads until the peer's FIN; "ok BYTES SHA256"
#   send N            sends N bytes (random, seeded by N); "ok SHA256"
#   sendtext TEXT     sends TEXT with \r\n for each literal "\r\n"; "ok"
#   shut              shutdown(SHUT_WR): our FIN; "ok"
#   close             close(); "ok"
#   reset             close with SO_LINGER {1, 0}: a RST; "ok"
#   exit              "ok", then exits 0
# Every socket operation times out after 10 s ("err timeout"), and the
# program exits after 60 s without a command.
import hashlib
import random
import select
import socket
import struct
import sys


def main():
    mode, addr, port, cmd_path, ack_path = sys.argv[1:6]
    cmd = open(cmd_path, "r")
    ack = open(ack_path, "w", buffering=1)
    if mode == "listen":
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((addr, int(port)))
        ls.listen(1)
        ls.settimeout(30)
        ack.write("ok listening\n")
        s, _ = ls.accept()
        ls.close()
    else:
        s = socket.create_connection((addr, int(port)), timeout=10)
    s.settimeout(10)
    ack.write("ok connected\n")
    while True:
        r, _, _ = select.select([cmd], [], [], 60)
        if not r:
            return 1
        line = cmd.readline()
        if not line:
            return 1
        words = line.split(None, 1)
        op = words[0] if words else ""
        arg = words[1].rstrip("\n") if len(words) > 1 else ""
        try:
            if op == "port":
                ack.write("ok %d\n" % s.getsockname()[1])
            elif op == "readn":
                n, buf = int(arg), bytearray()
                while len(buf) < n:
                    d = s.recv(min(65536, n - len(buf)))
                    if not d:
                        raise EOFError("EOF after %d of %d bytes" % (len(buf), n))
                    buf += d
                ack.write("ok %s\n" % hashlib.sha256(buf).hexdigest())
            elif op == "read":
                h, n = hashlib.sha256(), 0
                while True:
                    d = s.recv(65536)
                    if not d:
                        break
                    h.update(d)
                    n += len(d)
                ack.write("ok %d %s\n" % (n, h.hexdigest()))
            elif op == "send":
                n = int(arg)
                data = random.Random(n).randbytes(n)
                s.sendall(data)
                ack.write("ok %s\n" % hashlib.sha256(data).hexdigest())
            elif op == "sendtext":
                s.sendall(arg.replace("\\r\\n", "\r\n").encode())
                ack.write("ok\n")
            elif op == "shut":
                s.shutdown(socket.SHUT_WR)
                ack.write("ok\n")
            elif op == "close":
                s.close()
                ack.write("ok\n")
            elif op == "reset":
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
                ack.write("ok\n")
            elif op == "exit":
                ack.write("ok\n")
                return 0
            else:
                ack.write("err unknown command %r\n" % op)
        except socket.timeout:
            ack.write("err timeout\n")
        except (OSError, EOFError) as e:
            ack.write("err %s\n" % e)


if __name__ == "__main__":
    sys.exit(main())
