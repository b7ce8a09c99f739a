#!/usr/bin/env python3
"""Bulk TCP helper of bench/tcp.sh: the same program drives refnet and the
Linux reference, so that the tool's own cost is alike on both sides.

  bulk.py send HOST PORT SECS MAXBYTES
      connects, sends zeros for SECS seconds (or MAXBYTES), shuts down its
      sending side and waits for the peer's close; prints one JSON line
      with the bytes and the seconds from connect to the peer's close (so
      every byte was taken by the receiving application)
  bulk.py gen SECS MAXBYTES
      writes zeros to stdout for SECS seconds (or MAXBYTES), then exits:
      the input of a sender that reads a pipe (refnet send, nc)
  bulk.py sink ADDR PORT SECS
      accepts one connection (waiting at most SECS seconds for it), reads
      until EOF; prints one JSON line with the bytes and the seconds from
      the first byte to EOF
"""
import json
import os
import socket
import sys
import time

CHUNK = 1 << 20


def send(host, port, secs, maxbytes):
    buf = memoryview(bytes(CHUNK))
    s = socket.create_connection((host, port), timeout=30)
    t0 = time.monotonic()
    end = t0 + secs
    n = 0
    while n < maxbytes and time.monotonic() < end:
        n += s.send(buf[:min(CHUNK, maxbytes - n)])
    s.shutdown(socket.SHUT_WR)
    while s.recv(65536):
        pass
    t = time.monotonic() - t0
    s.close()
    print(json.dumps({"bytes": n, "secs": round(t, 4)}))


def gen(secs, maxbytes):
    buf = memoryview(bytes(CHUNK))
    end = time.monotonic() + secs
    n = 0
    fd = sys.stdout.fileno()
    try:
        while n < maxbytes and time.monotonic() < end:
            n += os.write(fd, buf[:min(CHUNK, maxbytes - n)])
    except BrokenPipeError:
        sys.exit(1)


def sink(addr, port, secs):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(1)
    ls.settimeout(secs)
    s, _ = ls.accept()
    ls.close()
    s.settimeout(secs)
    buf = bytearray(CHUNK)
    n = s.recv_into(buf)
    t0 = time.monotonic()
    total = n
    while n:
        n = s.recv_into(buf)
        total += n
    t = time.monotonic() - t0
    s.close()
    print(json.dumps({"bytes": total, "secs": round(t, 4)}))


def main():
    a = sys.argv[1:]
    if len(a) == 5 and a[0] == "send":
        send(a[1], int(a[2]), float(a[3]), int(a[4]))
    elif len(a) == 3 and a[0] == "gen":
        gen(float(a[1]), int(a[2]))
    elif len(a) == 4 and a[0] == "sink":
        sink(a[1], int(a[2]), float(a[3]))
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
