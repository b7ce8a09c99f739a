#!/usr/bin/python3
# Malformed HTTP for test_http_bad.sh: runs inside the test's namespace
# against refnet's httpd at 198.18.0.2:80.
#
#   http_bad.py SEED COUNT SLOW OUT.json INDEX
#
# Sends COUNT bad requests, one connection each, from 8 threads at once
# (seeded: the same SEED builds the same requests), while SLOW slowloris
# connections trickle a request head one byte every 0.5 s.  Every bad
# request must get the status its kind calls for (apps.h), with the
# connection closed by httpd afterwards, unless the status is 404: httpd
# keeps those, and the same connection must then serve /index.html (the
# file INDEX); no answer may hold the file outside the root.
# Every slowloris connection must get 408 between 9 and 12 s after its
# first byte (httpd's 10 s head deadline, not reset by trickled bytes), and
# be closed.  Writes the statuses sent by kind and the counts expected to
# OUT.json; exits 1 (with the first failures printed) if any check fails.
import json
import random
import socket
import sys
import threading
import time

HOST = ("198.18.0.2", 80)
SECRET = b"refnet-secret-outside-the-root"


def kinds(rng):
    """(name, request bytes, expected status) for one bad request."""
    h = b"Host: 198.18.0.2\r\n"
    out = []
    # Fields over 16 KiB in all, each line under 8 KiB.
    big = b"".join(b"X-Pad-%d: %s\r\n" % (i, b"a" * 4000) for i in range(5))
    out.append(("fields_16k", b"GET / HTTP/1.1\r\n" + h + big + b"\r\n", 431))
    out.append(("line_8k", b"GET / HTTP/1.1\r\n" + h + b"X-Long: " + b"b" * 9000 + b"\r\n\r\n", 431))
    many = b"".join(b"X-F%d: 1\r\n" % i for i in range(120))
    out.append(("fields_100", b"GET / HTTP/1.1\r\n" + h + many + b"\r\n", 431))
    out.append(("target_8k", b"GET /" + b"c" * 9000 + b" HTTP/1.1\r\n" + h + b"\r\n", 414))
    # Binary junk: no method can start with a control byte.
    junk = bytes([rng.randrange(0, 9)]) + rng.randbytes(rng.randint(1, 3000))
    out.append(("junk", junk + b"\r\n\r\n", 400))
    # Escapes from the root, literal and percent-encoded: refused as absent.
    for t in (b"/../secret.txt", b"/../../secret.txt", b"/a/../../secret.txt",
              b"/%2e%2e/secret.txt", b"/%2E%2E/secret.txt", b"/..%2fsecret.txt",
              b"/%2e%2e%2fsecret.txt", b"/./../secret.txt", b"/link/secret.txt",
              b"/link"):
        out.append(("traversal", b"GET " + t + b" HTTP/1.1\r\n" + h + b"\r\n", 404))
    out.append(("no_host", b"GET / HTTP/1.1\r\n\r\n", 400))
    out.append(("two_hosts", b"GET / HTTP/1.1\r\n" + h + h + b"\r\n", 400))
    out.append(("version_2", b"GET / HTTP/2.0\r\n" + h + b"\r\n", 505))
    out.append(("version_19", b"GET / HTTP/1.9\r\n" + h + b"\r\n", 505))
    out.append(("version_bad", b"GET / HTTP/1\r\n" + h + b"\r\n", 400))
    out.append(("version_lower", b"GET / http/1.1\r\n" + h + b"\r\n", 400))
    out.append(("version_none", b"GET / \r\n" + h + b"\r\n", 400))
    out.append(("nul_escape", b"GET /a%00b HTTP/1.1\r\n" + h + b"\r\n", 400))
    out.append(("bad_escape", b"GET /a%zz HTTP/1.1\r\n" + h + b"\r\n", 400))
    out.append(("space_colon", b"GET / HTTP/1.1\r\n" + h + b"X-A : 1\r\n\r\n", 400))
    out.append(("folding", b"GET / HTTP/1.1\r\n" + h + b"X-A: 1\r\n  2\r\n\r\n", 400))
    out.append(("post", b"POST / HTTP/1.1\r\n" + h + b"Content-Length: 0\r\n\r\n", 405))
    out.append(("chunked", b"GET / HTTP/1.1\r\n" + h + b"Transfer-Encoding: chunked\r\n\r\n", 501))
    out.append(("te_and_cl", b"GET / HTTP/1.1\r\n" + h +
                b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400))
    out.append(("two_lengths", b"GET / HTTP/1.1\r\n" + h +
                b"Content-Length: 5\r\nContent-Length: 6\r\n\r\n", 400))
    out.append(("body_2m", b"GET / HTTP/1.1\r\n" + h + b"Content-Length: 2000000\r\n\r\n", 413))
    return out


def read_response(s, deadline):
    """Reads one response; returns (status, body, closed) where closed
    says httpd closed the connection after it."""
    data = b""
    while b"\r\n\r\n" not in data:
        s.settimeout(max(0.1, deadline - time.monotonic()))
        d = s.recv(65536)
        if not d:
            break
        data += d
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        raise RuntimeError("no complete head: %r" % data[:80])
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ")[1])
    length = 0
    for l in lines[1:]:
        k, _, v = l.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    while len(rest) < length:
        s.settimeout(max(0.1, deadline - time.monotonic()))
        d = s.recv(65536)
        if not d:
            break
        rest += d
    return status, rest[:length], rest[length:]


def closes(s, extra, limit=2.0):
    """True if httpd closes the connection (EOF or reset) within limit
    seconds, sending nothing more."""
    if extra:
        return False
    s.settimeout(limit)
    try:
        return s.recv(1) == b""
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True


def main():
    seed, count, slow, outpath = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    index = open(sys.argv[5], "rb").read()
    rng = random.Random(seed)
    jobs = []
    while len(jobs) < count:
        k = kinds(rng)
        jobs.append(k[rng.randrange(len(k))])
    errs, got, lock = [], {}, threading.Lock()
    t0 = time.monotonic()

    def slowloris(i, res):
        s = socket.create_connection(HOST, timeout=5)
        head = b"GET / HTTP/1.1\r\nHost: 198.18.0.2\r\nX-Slow-%d: " % i + b"z" * 100
        first = time.monotonic()
        n = 0
        try:
            while time.monotonic() - first < 15 and n < len(head):
                s.sendall(head[n:n + 1])
                n += 1
                s.settimeout(0.5)
                try:
                    d = s.recv(65536)
                except socket.timeout:
                    continue
                status, _, extra = read_response_from(s, d, time.monotonic() + 3)
                res[i] = (status, time.monotonic() - first, closes(s, extra))
                return
            res[i] = (None, time.monotonic() - first, False)
        except OSError as e:
            res[i] = ("error %r" % e, time.monotonic() - first, True)
        finally:
            s.close()

    def read_response_from(s, first_bytes, deadline):
        # The response started in first_bytes: push them back through a
        # tiny wrapper.
        class W:
            def __init__(self, s, b):
                self.s, self.b = s, b

            def recv(self, n):
                if self.b:
                    b, self.b = self.b, b""
                    return b
                return self.s.recv(n)

            def settimeout(self, t):
                self.s.settimeout(t)
        if not first_bytes:
            return ("closed without an answer", b"", b"")
        return read_response(W(s, first_bytes), deadline)

    slow_res = {}
    slow_threads = [threading.Thread(target=slowloris, args=(i, slow_res)) for i in range(slow)]
    for t in slow_threads:
        t.start()
    time.sleep(0.5)  # the slowloris connections are in before the hammering

    nextjob = [0]

    def worker():
        while True:
            with lock:
                if nextjob[0] >= len(jobs) or len(errs) >= 20:
                    return
                j = nextjob[0]
                nextjob[0] += 1
            name, req, want = jobs[j]
            try:
                s = socket.create_connection(HOST, timeout=5)
                try:
                    s.sendall(req)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # httpd may answer and close before taking it all
                status, body, extra = read_response(s, time.monotonic() + 5)
                e = None
                if status != want:
                    e = "%s: status %d, want %d" % (name, status, want)
                elif SECRET in body:
                    e = "%s: the answer holds the file outside the root" % name
                elif want != 404 and not closes(s, extra):
                    e = "%s (%d): httpd kept the connection" % (name, status)
                elif want == 404:
                    # A 404 keeps the connection: it serves the next request.
                    s.sendall(b"GET /index.html HTTP/1.1\r\nHost: 198.18.0.2\r\n\r\n")
                    status2, body2, _ = read_response(s, time.monotonic() + 5)
                    if status2 != 200 or body2 != index:
                        e = "%s: after the 404, GET /index.html on the same connection: %d" % (
                            name, status2)
                s.close()
            except Exception as ex:
                e = "%s: %r" % (name, ex)
            with lock:
                if e:
                    errs.append(e)
                got[name] = got.get(name, 0) + 1

    workers = [threading.Thread(target=worker) for _ in range(8)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    hammer = time.monotonic() - t0
    for t in slow_threads:
        t.join()
    for i in range(slow):
        status, when, closed = slow_res.get(i, (None, 0, False))
        if status != 408 or not 9 <= when <= 12 or not closed:
            errs.append("slowloris %d: %r after %.1f s, closed %s (want 408 after 9-12 s, closed)"
                        % (i, status, when, closed))
    expect = {}
    for name, req, want in jobs:
        expect[str(want)] = expect.get(str(want), 0) + 1
    expect["408"] = expect.get("408", 0) + slow
    json.dump({"by_kind": got, "status": expect,
               "refused_paths": sum(1 for j in jobs if j[0] == "traversal"),
               "requests": len(jobs) + slow}, open(outpath, "w"), sort_keys=True)
    for e in errs[:20]:
        print("FAIL: " + e)
    print("%d bad requests in %.1f s from 8 threads, %d slowloris; by kind: %s" %
          (len(jobs), hammer, slow, json.dumps(got, sort_keys=True)))
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main())
