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
  bulk.py relay HOST PORT
      connects and sends what stdin (a pipe, grown to 1 MiB) brings until
      its end, in reads of up to 1 MiB, then shuts down its sending side
      and waits for the peer's close: the kernel's side of `producer |
      refnet send` (splice() from the pipe into the socket was slower
      here: 10.5-14 Gbit/s against 13-18 at MTU 65520)
  bulk.py sink ADDR PORT SECS
      accepts one connection (waiting at most SECS seconds for it), reads
      until EOF; prints one JSON line with the bytes and the seconds from
      the first byte to EOF
  bulk.py recv HOST PORT SECS MAXBYTES
      connects to a server that sends (refnet's chargen, bulk.py serve),
      reads for SECS seconds (or MAXBYTES), then closes; prints one JSON
      line with the bytes and the seconds from the first byte to the last
  bulk.py serve ADDR PORT SECS
      accepts one connection (waiting at most SECS seconds for it) and
      sends zeros until the peer closes: the kernel's side of a server
      that sends
  bulk.py echo HOST PORT BYTES STALL LIMIT
      connects to an echo service, sends BYTES of a pseudo-random pattern
      while reading what comes back, and checks every byte returned against
      the pattern; gives up when nothing came back for STALL seconds (a
      stall) or after LIMIT seconds in all.  Prints one JSON line: bytes
      sent and returned, seconds from connect to the peer's close, whether
      the returned stream was exact and whether it stalled; exits 0 only if
      all BYTES came back exact
"""
import fcntl
import json
import os
import socket
import sys
import time

CHUNK = 1 << 20
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


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


def relay(host, port):
    fd = sys.stdin.fileno()
    try:
        fcntl.fcntl(fd, F_SETPIPE_SZ, CHUNK)
    except OSError:
        pass  # best effort, as refnet send's
    s = socket.create_connection((host, port), timeout=30)
    s.settimeout(None)
    buf = bytearray(CHUNK)
    mv = memoryview(buf)
    while True:
        n = os.readv(fd, [buf])
        if n <= 0:
            break
        s.sendall(mv[:n])
    s.shutdown(socket.SHUT_WR)
    while s.recv(65536):
        pass
    s.close()


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


def accept_one(addr, port, secs):
    """Listens on addr:port, takes one connection within secs seconds."""
    ls = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(1)
    ls.settimeout(secs)
    s, _ = ls.accept()
    ls.close()
    s.settimeout(secs)
    return s


def sink(addr, port, secs):
    s = accept_one(addr, port, secs)
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


def recv(host, port, secs, maxbytes):
    s = socket.create_connection((host, port), timeout=30)
    buf = bytearray(CHUNK)
    n = s.recv_into(buf)
    t0 = time.monotonic()
    end = t0 + secs
    total = n
    while n and total < maxbytes and time.monotonic() < end:
        n = s.recv_into(buf)
        total += n
    t = time.monotonic() - t0
    s.close()
    print(json.dumps({"bytes": total, "secs": round(t, 4)}))


def serve(addr, port, secs):
    s = accept_one(addr, port, secs)
    buf = memoryview(bytes(CHUNK))
    try:
        while True:
            s.send(buf)
    except (BrokenPipeError, ConnectionResetError):
        pass
    s.close()


# The echo pattern: a random block whose length is no power of two, so a
# segment delivered at a wrong offset cannot match by chance.
PATTERN_LEN = (1 << 20) + 4093


def echo(host, port, total, stall, limit):
    import threading
    pat = os.urandom(PATTERN_LEN)
    rep = memoryview(pat * 3)
    s = socket.create_connection((host, port), timeout=30)
    t0 = time.monotonic()
    sent = [0]

    def writer():
        try:
            while sent[0] < total:
                off = sent[0] % PATTERN_LEN
                n = min(CHUNK, total - sent[0])
                s.sendall(rep[off:off + n])
                sent[0] += n
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    w = threading.Thread(target=writer, daemon=True)
    w.start()
    buf = bytearray(CHUNK)
    got = 0
    exact = True
    stalled = False
    s.settimeout(stall)
    while True:
        if time.monotonic() - t0 > limit:
            stalled = True
            break
        try:
            n = s.recv_into(buf)
        except socket.timeout:
            stalled = True
            break
        except OSError:
            break
        if n == 0:
            break
        off = got % PATTERN_LEN
        if exact and (got + n > total or buf[:n] != rep[off:off + n]):
            exact = False
        got += n
    t = time.monotonic() - t0
    s.close()
    ok = exact and not stalled and got == total
    print(json.dumps({"sent": sent[0], "bytes": got, "secs": round(t, 4),
                      "exact": exact and got == total, "stalled": stalled}))
    sys.exit(0 if ok else 1)


def main():
    a = sys.argv[1:]
    if len(a) == 5 and a[0] == "send":
        send(a[1], int(a[2]), float(a[3]), int(a[4]))
    elif len(a) == 3 and a[0] == "relay":
        relay(a[1], int(a[2]))
    elif len(a) == 3 and a[0] == "gen":
        gen(float(a[1]), int(a[2]))
    elif len(a) == 4 and a[0] == "sink":
        sink(a[1], int(a[2]), float(a[3]))
    elif len(a) == 5 and a[0] == "recv":
        recv(a[1], int(a[2]), float(a[3]), int(a[4]))
    elif len(a) == 4 and a[0] == "serve":
        serve(a[1], int(a[2]), float(a[3]))
    elif len(a) == 6 and a[0] == "echo":
        echo(a[1], int(a[2]), int(a[3]), float(a[4]), float(a[5]))
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
