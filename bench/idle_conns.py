#!/usr/bin/python3
"""Opens idle TCP connections and holds them (bench/idle.sh).

Usage: idle_conns.py HOST PORT COUNT SECS SRC_PREFIX FIRST NSRC [WINDOW [ASK]]

Connects COUNT times to HOST:PORT from source addresses SRC_PREFIX.FIRST ..
(NSRC of them, the last octet counting up, then the one before it), with
at most WINDOW connects outstanding (default 64), giving up after SECS
seconds.  Prints one JSON line {"opened":..,"failed":..,"secs":..} once
done (or a one-line error if COUNT is over the descriptor limit), then
holds every connection open until its standard input closes or reads a
line, and exits.  ASK says what each connection does once connected,
before it goes idle: "none" (the default) sends nothing; "echo" sends one
line and reads it back; "http" sends one keep-alive GET of /small.bin and
reads the whole response.  A connection counts as opened once that is
done.
"""
import json
import resource
import selectors
import socket
import sys
import time


def sources(prefix, first, n):
    """The source addresses: prefix "198.18" and first 256 give
    198.18.1.0, 198.18.1.1, ...; the caller keeps them in 198.18.0.0/15."""
    for i in range(first, first + n):
        yield "%s.%d.%d" % (prefix, i // 256, i % 256)


ASKS = {"none": b"", "echo": b"idle\n",
        "http": b"GET /small.bin HTTP/1.1\r\nHost: bench\r\n\r\n"}


def answered(ask, got):
    """Whether got is the whole answer to ask's request."""
    if ask == "echo":
        return len(got) >= len(ASKS["echo"])
    head, sep, body = got.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return True


def main():
    if len(sys.argv) not in (8, 9, 10):
        sys.stderr.write(__doc__)
        return 2
    host, port, count, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    prefix, first, nsrc = sys.argv[5], int(sys.argv[6]), int(sys.argv[7])
    window = int(sys.argv[8]) if len(sys.argv) >= 9 else 64
    ask = sys.argv[9] if len(sys.argv) == 10 else "none"
    if ask not in ASKS:
        sys.stderr.write("idle_conns.py: ASK must be none, echo or http, not %r\n" % ask)
        return 2
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = count + 64
    if want > hard:
        sys.stderr.write("idle_conns.py: %d connections need %d descriptors; the limit is %d\n"
                         % (count, want, hard))
        return 2
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    srcs = list(sources(prefix, first, nsrc))
    # Each source address takes its share of the connections, ports picked
    # by the kernel (IP_BIND_ADDRESS_NO_PORT: the port is chosen at connect,
    # per destination, so each address gives a full port range).
    sel = selectors.DefaultSelector()
    held = []
    opened = failed = started = 0
    t0 = time.monotonic()
    deadline = t0 + secs
    while opened + failed < count and time.monotonic() < deadline:
        while started - opened - failed < window and started < count:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.IPPROTO_IP, 24, 1)  # IP_BIND_ADDRESS_NO_PORT
            s.bind((srcs[started % len(srcs)], 0))
            s.setblocking(False)
            err = s.connect_ex((host, port))
            started += 1
            if err not in (0, 115):  # EINPROGRESS
                failed += 1
                s.close()
                continue
            sel.register(s, selectors.EVENT_WRITE)
        for key, _ in sel.select(timeout=0.5):
            s = key.fileobj
            if key.data is not None:  # the answer to the request
                try:
                    chunk = s.recv(65536)
                except OSError:
                    chunk = b""
                if chunk and not answered(ask, key.data + chunk):
                    sel.modify(s, selectors.EVENT_READ, key.data + chunk)
                    continue
                sel.unregister(s)
                if chunk:
                    opened += 1
                    held.append(s)
                else:
                    failed += 1
                    s.close()
                continue
            sel.unregister(s)
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                failed += 1
                s.close()
            elif ask == "none":
                opened += 1
                held.append(s)
            else:
                s.send(ASKS[ask])  # a few bytes: the send buffer takes them
                sel.register(s, selectors.EVENT_READ, b"")
    for key in list(sel.get_map().values()):
        sel.unregister(key.fileobj)
        key.fileobj.close()
    print(json.dumps({"opened": opened, "failed": failed,
                      "secs": round(time.monotonic() - t0, 2)}), flush=True)
    sys.stdin.readline()
    for s in held:
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
