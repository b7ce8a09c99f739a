"""Receive-side scaling's hash, written again from the specification (a
Toeplitz hash under Microsoft's key, then (hash mod 128) mod queues), apart
from refnet's own code, for the tests to say which loop a flow belongs to.

As a program:
  rsshash.py check NETSTAT_JSON [SEEN_JSON]
      every ESTABLISHED TCP row on port 80 sits on the loop its hash
      names, and on the loop SEEN_JSON saw it on before (updated); prints
      the connections per loop
  rsshash.py ports SRC DST DPORT FIRST N
      N source ports from FIRST up, half of whose flows SRC:port ->
      DST:DPORT (as refnet receives them) go to each of two loops, as
      "port loop" lines, loop 0's first
"""
import ipaddress
import json
import sys

KEY = bytes.fromhex("6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c"
                    "6a42b73bbeac01fa")


def toeplitz(data):
    k = int.from_bytes(KEY, "big")
    kbits = len(KEY) * 8
    h = 0
    for i in range(len(data) * 8):
        if data[i // 8] >> (7 - i % 8) & 1:
            h ^= (k >> (kbits - 32 - i)) & 0xffffffff
    return h


def addr(a):
    a = ipaddress.ip_address(a.strip("[]") if isinstance(a, str) else a)
    if a.version == 6 and a.ipv4_mapped:
        a = a.ipv4_mapped
    return a


def flow_loop(src, dst, sport, dport, queues=2):
    """The loop of the flow whose frames arrive from src:sport to dst:dport."""
    data = addr(src).packed + addr(dst).packed + sport.to_bytes(2, "big") + dport.to_bytes(2, "big")
    return toeplitz(data) % 128 % queues


def split(ep):
    host, port = ep.rsplit(":", 1)
    return host, int(port)


def loop_of(local, remote, queues=2):
    """The loop of a netstat row: local and remote as "addr:port"."""
    (la, lp), (ra, rp) = split(local), split(remote)
    return flow_loop(ra, la, rp, lp, queues)


def balanced_ports(src, dst, dport, first, n):
    """n source ports from first up, n/2 of whose flows go to each loop."""
    per = {0: [], 1: []}
    port = first
    while len(per[0]) < n // 2 or len(per[1]) < n - n // 2:
        q = flow_loop(src, dst, port, dport)
        if len(per[q]) < (n // 2 if q == 0 else n - n // 2):
            per[q].append(port)
        port += 1
    return [(p, 0) for p in per[0]] + [(p, 1) for p in per[1]]


def check(rows_path, seen_path=None):
    rows = json.load(open(rows_path))
    seen = json.load(open(seen_path)) if seen_path else {}
    per = [0, 0]
    bad = 0
    for r in rows:
        if r["proto"] not in ("tcp", "tcp6") or r["state"] != "ESTABLISHED" or \
           not r["local"].endswith(":80"):
            continue
        want = loop_of(r["local"], r["remote"])
        per[r["loop"]] += 1
        if r["loop"] != want:
            print("FAIL: %s <- %s on loop %d, its hash names %d" %
                  (r["local"], r["remote"], r["loop"], want))
            bad += 1
        key = r["remote"]
        if seen.get(key, r["loop"]) != r["loop"]:
            print("FAIL: %s moved from loop %d to %d" % (key, seen[key], r["loop"]))
            bad += 1
        seen[key] = r["loop"]
    if seen_path:
        json.dump(seen, open(seen_path, "w"))
    print("%d %d" % tuple(per))
    return 1 if bad else 0


if __name__ == "__main__":
    if sys.argv[1] == "check":
        sys.exit(check(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None))
    if sys.argv[1] == "ports":
        src, dst, dport, first, n = sys.argv[2:7]
        for p, q in balanced_ports(src, dst, int(dport), int(first), int(n)):
            print(p, q)
        sys.exit(0)
    sys.exit("usage: rsshash.py check NETSTAT_JSON [SEEN_JSON] | ports SRC DST DPORT FIRST N")
