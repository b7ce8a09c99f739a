#!/usr/bin/python3
# Injects a burst of bad Ethernet frames into a TAP device from the Linux
# side, for tests/net/test_bad_frames.sh.  Runs inside the test's network
# namespace, as root (AF_PACKET).
#
# Every frame is built so that refnet must drop it under one known reason
# (include/refnet/drop.h), except the fragments of datagrams that never
# complete: those are held for reassembly until the memory limits evict
# them (frag_no_memory) or the 30 s timeout.  The frames go out through a
# raw AF_PACKET socket (scapy's sendp is too slow for 10,000 frames) in
# batches; after each batch the script waits until refnet's interface has
# counted them (refnet stat --json), so no frame is lost in the TAP's
# queue (500 frames) and each one reaches refnet's parser.
#
# Prints nothing on success; writes to OUT a JSON object:
#   {"frames": N, "expect": {reason: count, ...}, "held_or_evicted": M,
#    "categories": {name: count, ...}}
# where every frame either counts under expect[reason], or is one of the
# M fragments of never-completing datagrams (held, or dropped as
# frag_no_memory).
#
# usage: bad_frames.py IFACE REFNET_MAC REFNET CTL_SOCK OUT [COUNT]
import json
import random
import socket
import struct
import subprocess
import sys
import time

IFACE, RN_MAC, REFNET, CTL, OUT = sys.argv[1:6]
COUNT = int(sys.argv[6]) if len(sys.argv) > 6 else 10000
BATCH = 250

LINUX_IP = "198.18.0.1"
RN_IP = "198.18.0.2"
OTHER_IP = "198.18.0.9"          # on the link, nobody's
SRC_MAC = bytes.fromhex("020000000001")
BCAST = b"\xff" * 6
rn_mac = bytes.fromhex(RN_MAC.replace(":", ""))
rng = random.Random(0xBADF)


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip4(addr):
    return socket.inet_aton(addr)


def ip_hdr(payload_len, proto, src=LINUX_IP, dst=RN_IP, ident=None, frag=0, ihl=5, opts=b"",
           version=4, tot=None, bad_csum=False):
    if ident is None:
        ident = rng.randrange(65536)
    if tot is None:
        tot = ihl * 4 + payload_len
    h = struct.pack("!BBHHHBBH4s4s", version << 4 | ihl, 0, tot & 0xFFFF, ident, frag, 64,
                    proto, 0, ip4(src), ip4(dst)) + opts
    c = csum(h)
    if bad_csum:
        c ^= 0x5A5A
    return h[:10] + struct.pack("!H", c) + h[12:]


def udp(payload, sport=None, dport=7, src=LINUX_IP, dst=RN_IP, ulen=None, bad_csum=False):
    if sport is None:
        sport = rng.randrange(1024, 65536)
    n = 8 + len(payload)
    ulen = n if ulen is None else ulen
    h = struct.pack("!HHHH", sport, dport, ulen, 0)
    pseudo = ip4(src) + ip4(dst) + struct.pack("!BBH", 0, 17, n)
    c = csum(pseudo + h + payload) or 0xFFFF
    if bad_csum:
        c ^= 0x00FF
        if c in (0, 0xFFFF):
            c ^= 0x0F00
    return h[:6] + struct.pack("!H", c) + payload


def icmp(typ, code, rest, data, bad_csum=False):
    m = struct.pack("!BBH", typ, code, 0) + rest + data
    c = csum(m)
    if bad_csum:
        c ^= 0x1234
    return m[:2] + struct.pack("!H", c) + m[4:]


def echo_req(n=None):
    if n is None:
        n = rng.randrange(0, 1000)
    return icmp(8, 0, struct.pack("!HH", 0x4242, rng.randrange(65536)), rng.randbytes(n))


def eth(payload, etype=0x0800, dst=None, src=SRC_MAC):
    return dst + src + struct.pack("!H", etype) + payload


def ip_pkt(l4, proto, **kw):
    return ip_hdr(len(l4), proto, **kw) + l4


def valid_dgram():
    """A datagram refnet would accept, as IP payload and protocol."""
    if rng.random() < 0.5:
        return echo_req(), 1
    return udp(rng.randbytes(rng.randrange(0, 1000))), 17


# Each generator returns (frame payload after the Ethernet header,
# EtherType, reason) given the destination MAC chosen by the caller; the
# Ethernet header is added by the caller unless the generator returns a
# whole frame (etype None).

def g_random(dst):
    while True:
        f = dst + rng.randbytes(rng.randrange(0, 1501))
        if len(f) < 14:
            f += rng.randbytes(14 - len(f))
        etype = struct.unpack("!H", f[12:14])[0]
        if etype not in (0x0800, 0x0806):
            break
    reason = "bad_eth" if f[6] & 1 else "unsupported_ethertype"
    return f, None, reason


def g_eth_mcast_src(dst):
    l4, proto = valid_dgram()
    src = bytes([0x01 | (rng.randrange(256) & 0xFE)]) + rng.randbytes(5)
    return eth(ip_pkt(l4, proto), dst=dst, src=src), None, "bad_eth"


def g_vlan(dst):
    l4, proto = valid_dgram()
    tag = struct.pack("!HH", rng.randrange(4096), 0x0800)
    return eth(tag + ip_pkt(l4, proto), etype=rng.choice([0x8100, 0x88A8]), dst=dst), None, \
        "unsupported_ethertype"


def g_not_our_mac(dst):
    l4, proto = valid_dgram()
    return eth(ip_pkt(l4, proto), dst=bytes.fromhex("020000000099")), None, "not_for_us"


def g_arp_trunc(dst):
    return rng.randbytes(rng.randrange(0, 28)), 0x0806, "truncated"


def g_arp_bad(dst):
    htype, op = (2, 1) if rng.random() < 0.5 else (1, rng.choice([0, 3, 9, 255]))
    a = struct.pack("!HHBBH6s4s6s4s", htype, 0x0800, 6, 4, op, SRC_MAC, ip4(LINUX_IP),
                    b"\0" * 6, ip4(RN_IP))
    return a, 0x0806, "bad_arp"


def g_ip_trunc(dst):
    l4, proto = valid_dgram()
    return ip_pkt(l4, proto)[:rng.randrange(0, 20)], 0x0800, "truncated"


def g_ip_version(dst):
    l4, proto = valid_dgram()
    v = rng.choice([0, 1, 2, 3, 5, 6, 7, 15])
    return ip_pkt(l4, proto, version=v), 0x0800, "bad_ip_version"


def g_ip_ihl(dst):
    l4, proto = valid_dgram()
    if rng.random() < 0.5:
        p = ip_pkt(l4, proto, ihl=rng.randrange(0, 5))
    else:
        # A header longer than the packet: 60 bytes claimed, fewer sent.
        p = ip_hdr(0, proto, ihl=15, opts=b"\x01" * 40)[:rng.randrange(20, 60)]
    return p, 0x0800, "bad_ip_hdr_len"


def g_ip_totlen(dst):
    l4, proto = valid_dgram()
    if rng.random() < 0.5:
        tot = rng.randrange(0, 20)
    else:
        tot = 20 + len(l4) + rng.randrange(1, 2000)
    return ip_pkt(l4, proto, tot=tot), 0x0800, "bad_ip_total_len"


def g_ip_csum(dst):
    l4, proto = valid_dgram()
    return ip_pkt(l4, proto, bad_csum=True), 0x0800, "bad_ip_csum"


def g_ip_options(dst):
    l4, proto = valid_dgram()
    opts = rng.choice([b"\x07\x28\x04\x00",      # record route, length past the header
                       b"\x83\x01\x00\x00",      # loose source route, length 1
                       b"\x94\x02\x00\x00",      # router alert, length 2 (must be 4)
                       b"\x01\x01\x01\x44"])     # timestamp with no room for its length
    return ip_pkt(l4, proto, ihl=6, opts=opts), 0x0800, "bad_ip_options"


def g_ip_bad_frag(dst):
    n = rng.choice([0] + [k for k in range(1, 200) if k % 8])
    return ip_pkt(rng.randbytes(n), 17, frag=0x2000), 0x0800, "bad_ip_frag"


def g_frag_too_big(dst):
    # Offset 65520: any payload over 15 bytes would end past 65535.
    return ip_pkt(rng.randbytes(rng.randrange(16, 500)), 17, frag=8190), 0x0800, "frag_too_big"


def g_not_our_ip(dst):
    l4, proto = valid_dgram()
    if proto == 17:
        l4 = udp(rng.randbytes(20), dst=OTHER_IP)
    return ip_pkt(l4, proto, dst=OTHER_IP), 0x0800, "not_for_us"


def g_bad_ip_src(dst):
    src = rng.choice(["255.255.255.255", "224.0.0.5", "239.1.2.3", "198.19.255.255"])
    return ip_pkt(echo_req(), 1, src=src), 0x0800, "bad_ip_src"


def g_udp_trunc(dst):
    return ip_pkt(rng.randbytes(rng.randrange(0, 8)), 17), 0x0800, "truncated"


def g_udp_len(dst):
    payload = rng.randbytes(rng.randrange(0, 500))
    ulen = rng.randrange(0, 8) if rng.random() < 0.5 else 8 + len(payload) + rng.randrange(1, 100)
    return ip_pkt(udp(payload, ulen=ulen), 17), 0x0800, "bad_udp_len"


def g_udp_csum(dst):
    dport = rng.choice([7, 9, rng.randrange(1, 65536)])
    return ip_pkt(udp(rng.randbytes(rng.randrange(0, 1400)), dport=dport, bad_csum=True), 17), \
        0x0800, "bad_udp_csum"


def g_icmp_trunc(dst):
    return ip_pkt(rng.randbytes(rng.randrange(0, 8)), 1), 0x0800, "truncated"


def g_icmp_csum(dst):
    m = icmp(8, 0, struct.pack("!HH", 1, 2), rng.randbytes(rng.randrange(0, 1000)), bad_csum=True)
    return ip_pkt(m, 1), 0x0800, "bad_icmp_csum"


def g_icmp_bad_quote(dst):
    # Destination unreachable quoting less than an IPv4 header.
    m = icmp(3, rng.choice([1, 3, 4]), b"\0\0\0\0", rng.randbytes(rng.randrange(0, 20)))
    return ip_pkt(m, 1), 0x0800, "bad_icmp"


def g_unknown_proto(dst):
    return ip_pkt(rng.randbytes(rng.randrange(0, 200)), rng.choice([200, 253, 254])), 0x0800, \
        "unknown_proto"


SIMPLE = [  # (name, generator, share of the frames)
    ("random", g_random, 14),
    ("eth_mcast_src", g_eth_mcast_src, 2),
    ("vlan", g_vlan, 1),
    ("not_our_mac", g_not_our_mac, 2),
    ("arp_trunc", g_arp_trunc, 2),
    ("arp_bad", g_arp_bad, 2),
    ("ip_trunc", g_ip_trunc, 5),
    ("ip_version", g_ip_version, 5),
    ("ip_ihl", g_ip_ihl, 5),
    ("ip_totlen", g_ip_totlen, 5),
    ("ip_csum", g_ip_csum, 10),
    ("ip_options", g_ip_options, 2),
    ("ip_bad_frag", g_ip_bad_frag, 2),
    ("frag_too_big", g_frag_too_big, 2),
    ("not_our_ip", g_not_our_ip, 2),
    ("bad_ip_src", g_bad_ip_src, 2),
    ("udp_trunc", g_udp_trunc, 3),
    ("udp_len", g_udp_len, 3),
    ("udp_csum", g_udp_csum, 10),
    ("icmp_trunc", g_icmp_trunc, 3),
    ("icmp_csum", g_icmp_csum, 5),
    ("icmp_bad_quote", g_icmp_bad_quote, 1),
    ("unknown_proto", g_unknown_proto, 1),
]

frames = []            # (bytes, reason or None for held/evicted)
cats = {}
expect = {}


def add(name, frame, reason):
    frames.append(frame)
    cats[name] = cats.get(name, 0) + 1
    if reason is not None:
        expect[reason] = expect.get(reason, 0) + 1


# Fragment frames come after the others, in this order, so that the
# reassembly table is empty when the overlap and duplicate groups run
# (none of theirs can be evicted) and the never-completing ones come last.
n_overlap, n_dup, n_incomplete, n_memory = 150, 100, 600, 700
n_frag = n_overlap * 2 + n_dup * 3 + n_incomplete + n_memory
n_simple = COUNT - n_frag
assert n_simple > 0
total_share = sum(s for _, _, s in SIMPLE)
simple = []
for name, gen, share in SIMPLE:
    simple += [(name, gen)] * max(1, n_simple * share // total_share)
simple += [("random", g_random)] * (n_simple - len(simple))
simple = simple[:n_simple]
rng.shuffle(simple)
for i, (name, gen) in enumerate(simple):
    dst = rn_mac if i % 2 == 0 else BCAST
    f, etype, reason = gen(dst)
    if etype is not None:
        f = eth(f, etype=etype, dst=dst)
    add(name, f, reason)

ident = 1000
def frag(off, data, mf, ident, dst):
    flags = (0x2000 if mf else 0) | (off // 8)
    return eth(ip_pkt(data, 17, ident=ident, frag=flags), dst=dst)

for i in range(n_overlap):
    # 0..16 then 8..24: the second overlaps; both are dropped.
    ident += 1
    dst = rn_mac if i % 2 == 0 else BCAST
    add("frag_overlap", frag(0, rng.randbytes(16), True, ident, dst), "frag_overlap")
    add("frag_overlap", frag(8, rng.randbytes(16), True, ident, dst), "frag_overlap")
for i in range(n_dup):
    # A fragment twice (the copy dropped), then an overlapping one: that
    # and the held original are dropped.
    ident += 1
    dst = rn_mac if i % 2 == 0 else BCAST
    a = frag(0, rng.randbytes(16), True, ident, dst)
    add("frag_dup", a, "frag_overlap")
    add("frag_dup", a, "frag_duplicate")
    add("frag_dup", frag(8, rng.randbytes(16), True, ident, dst), "frag_overlap")
for i in range(n_incomplete):
    # A first or a last fragment alone: the datagram never completes.
    ident += 1
    dst = rn_mac if i % 2 == 0 else BCAST
    if i % 2:
        add("frag_incomplete", frag(0, rng.randbytes(64), True, ident, dst), None)
    else:
        add("frag_incomplete", frag(1024, rng.randbytes(100), False, ident, dst), None)
ident += 1
for i in range(n_memory):
    # One datagram of 8-byte fragments with 8-byte holes: far more buffers
    # than the reassembly memory limit allows.
    add("frag_memory", frag(16 * i, rng.randbytes(8), True, ident, rn_mac), None)
assert len(frames) == COUNT

held_or_evicted = n_incomplete + n_memory


def rx_frames():
    out = subprocess.run([REFNET, "stat", "--json", "--ctl", CTL, "--timeout", "10"],
                         capture_output=True, text=True, timeout=15)
    if out.returncode != 0:
        sys.exit("FAIL: refnet stat --json: %s" % out.stderr.strip())
    return sum(i["rx_frames"] for i in json.loads(out.stdout)["interfaces"])


s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((IFACE, 0))
base = rx_frames()
start = time.monotonic()
for b in range(0, COUNT, BATCH):
    for f in frames[b:b + BATCH]:
        s.send(f)
    want = base + min(b + BATCH, COUNT)
    deadline = time.monotonic() + 10
    while True:
        got = rx_frames()
        if got >= want:
            break
        if time.monotonic() > deadline:
            sys.exit("FAIL: refnet received %d of the %d frames sent so far" %
                     (got - base, want - base))
        time.sleep(0.002)
elapsed = time.monotonic() - start
with open(OUT, "w") as f:
    json.dump({"frames": COUNT, "expect": expect, "held_or_evicted": held_or_evicted,
               "categories": cats, "seconds": round(elapsed, 3)}, f, sort_keys=True)
