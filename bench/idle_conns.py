#!/usr/bin/python3
"""Opens idle TCP connections and holds them (bench/idle.sh).

Usage: idle_conns.py HOST PORT COUNT SECS SRC_PREFIX FIRST NSRC [WINDOW]

Connects COUNT times to HOST:PORT from source addresses SRC_PREFIX.FIRST ..
(NSRC of them, the last octet counting up, then the one before it), with
at most WINDOW connects outstanding (default 64), giving up after SECS
seconds.  Prints one JSON line {"opened":..,"failed":..,"secs":..} once
done (or a one-line error if COUNT is over the descriptor limit), then holds every connection open until its standard input closes or
reads a line, and exits.  Sends nothing on the connections.
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


def main():
    if len(sys.argv) not in (8, 9):
        sys.stderr.write(__doc__)
        return 2
    host, port, count, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    prefix, first, nsrc = sys.argv[5], int(sys.argv[6]), int(sys.argv[7])
    window = int(sys.argv[8]) if len(sys.argv) == 9 else 64
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
            sel.unregister(s)
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                opened += 1
                held.append(s)
            else:
                failed += 1
                s.close()
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
