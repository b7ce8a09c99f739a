#!/usr/bin/python3
# The Linux peer of tests/run/run_posix.c (tests/net/test_run_posix.sh),
# inside the test's namespace: a TCP server on ADDR PORT serving each
# connection in a thread.  A connection's first line says what it wants:
#   echo           echoes everything until the end of data, then closes
#   dial PORT N    opens N connections back to the client's address on
#                  PORT, sends "hello I\n" on each, echoes each line back,
#                  and closes each at its end of data; answers "ok\n"
#   sink           reads and discards until the end of data
#   stall          reads nothing, ever (the client's sends fill the window);
#                  the connection is reset when the peer exits
# UDP on the same ADDR PORT echoes each datagram to its sender.  ADDR may
# be IPv6 (2001:2::1).  Stops by itself after LIFETIME seconds (default 120).
import socket
import sys
import threading
import time


def echo(c, f):
    while True:
        b = f.read1(65536) if hasattr(f, "read1") else f.read(65536)
        if not b:
            break
        c.sendall(b)


def dial(host, port, i):
    s = socket.create_connection((host, port), timeout=20)
    s.sendall(b"hello %d\n" % i)
    f = s.makefile("rb")
    for line in f:
        s.sendall(line)
    s.close()


def serve(c, addr):
    c.settimeout(60)
    f = c.makefile("rb")
    try:
        line = f.readline().split()
        if not line:
            return
        if line[0] == b"echo":
            echo(c, f)
        elif line[0] == b"dial":
            ts = [threading.Thread(target=dial, args=(addr[0], int(line[1]), i), daemon=True)
                  for i in range(int(line[2]))]
            for t in ts:
                t.start()
            c.sendall(b"ok\n")
            for t in ts:
                t.join(30)
            f.read()
        elif line[0] == b"sink":
            while f.read(65536):
                pass
        elif line[0] == b"stall":
            time.sleep(3600)
    except OSError:
        pass
    finally:
        c.close()


def udp_echo(us, end):
    while time.time() < end:
        try:
            d, a = us.recvfrom(65536)
        except socket.timeout:
            continue
        us.sendto(d, a)


def main():
    addr, port = sys.argv[1], int(sys.argv[2])
    life = float(sys.argv[3]) if len(sys.argv) > 3 else 120
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    end = time.time() + life
    us = socket.socket(fam, socket.SOCK_DGRAM)
    us.bind((addr, port))
    us.settimeout(1)
    threading.Thread(target=udp_echo, args=(us, end), daemon=True).start()
    ls = socket.socket(fam)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(64)
    ls.settimeout(1)
    while time.time() < end:
        try:
            c, a = ls.accept()
        except socket.timeout:
            continue
        threading.Thread(target=serve, args=(c, a), daemon=True).start()


if __name__ == "__main__":
    main()
