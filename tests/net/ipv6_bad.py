#!/usr/bin/python3
# Sends IPv6 frames that refnet must drop, each under one known reason, and
# a few it must answer, from the Linux side of the TAP through a raw
# AF_PACKET socket; for tests/net/test_ipv6_bad.sh.  Runs inside the test's
# namespace, as root.  Only addresses of 2001:2::/48 are used.
#
# usage: ipv6_bad.py IFACE REFNET_MAC MODE OUT
#   MODE "cases": every case below, COPIES frames each; OUT gets
#     {"expect": {reason: count}, "param_problems": N, "echo_replies": N}
#   MODE "ratelimit": 300 frames of an unknown next header at once;
#     OUT gets {"sent": 300}
#   MODE "ndflood": 3000 neighbour solicitations for 2001:2::2 from
#     3000 sources of 2001:2::/64 that nobody else knows, each with its own
#     link address; OUT gets {"sent": 3000}
import json
import socket
import struct
import sys
import time

IFACE, RN_MAC, MODE, OUT = sys.argv[1:5]
COPIES = 3
rn_mac = bytes.fromhex(RN_MAC.replace(":", ""))
SRC_MAC = bytes.fromhex(open("/sys/class/net/%s/address" % IFACE).read().strip().replace(":", ""))
LINUX = socket.inet_pton(socket.AF_INET6, "2001:2::1")
RN = socket.inet_pton(socket.AF_INET6, "2001:2::2")
NOBODY = socket.inet_pton(socket.AF_INET6, "2001:2::9")
ALL_NODES = socket.inet_pton(socket.AF_INET6, "ff02::1")
SN_RN = socket.inet_pton(socket.AF_INET6, "ff02::1:ff00:2")


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def icmp6(src, dst, typ, code, body):
    msg = struct.pack("!BBHI", typ, code, 0, 0)[:4] + body
    pseudo = src + dst + struct.pack("!IxxxB", len(msg), 58)
    c = csum(pseudo + msg)
    return msg[:2] + struct.pack("!H", c) + msg[4:]


def echo(src=LINUX, dst=RN, seq=1, bad_csum=False):
    m = icmp6(src, dst, 128, 0, struct.pack("!HH", 0x6b6b, seq) + b"refnet ipv6" * 4)
    if bad_csum:
        m = m[:2] + struct.pack("!H", struct.unpack("!H", m[2:4])[0] ^ 0x5555) + m[4:]
    return m


def ip6(nxt, payload, src=LINUX, dst=RN, hlim=64, plen=None, version=6):
    plen = len(payload) if plen is None else plen
    return struct.pack("!IHBB", version << 28, plen, nxt, hlim) + src + dst + payload


def frame(pkt, dst_mac=None):
    return (dst_mac or rn_mac) + SRC_MAC + b"\x86\xdd" + pkt


def opts_hdr(nxt, options):
    body = options
    pad = (-(2 + len(body))) % 8
    if pad == 1:
        body += b"\x00"
    elif pad:
        body += bytes([1, pad - 2]) + b"\x00" * (pad - 2)
    return bytes([nxt, (2 + len(body)) // 8 - 1]) + body


def routing(nxt, rtype, segleft):
    return bytes([nxt, 2, rtype, segleft]) + b"\x00" * 4 + b"\x00" * 16


def frag(nxt, off, more, ident=0x1234):
    return struct.pack("!BxHI", nxt, (off & 0xFFF8) | (1 if more else 0), ident)


def ns(src, target, hlim=255, lladdr=None, dst=SN_RN):
    body = b"\x00" * 4 + target
    if lladdr is not None:
        body += b"\x01\x01" + lladdr
    return ip6(58, icmp6(src, dst, 135, 0, body), src=src, dst=dst, hlim=hlim)


def cases():
    """(name, frame or a function of the copy's number giving frames,
    reason or None if answered, param problem expected)"""
    e = echo()
    yield "payload_len", frame(ip6(58, e, plen=len(e) + 40)), "bad_ip6_payload_len", False
    yield "trunc", frame(ip6(58, e)[:30]), "truncated", False
    yield "version", frame(ip6(58, e, version=4)), "bad_ip_version", False
    yield "src_mcast", frame(ip6(58, echo(src=ALL_NODES), src=ALL_NODES)), "bad_ip6_src", False
    yield "rh0", frame(ip6(43, routing(58, 0, 1) + e)), "ip6_routing_type0", True
    yield "rh_other", frame(ip6(43, routing(58, 4, 1) + e)), "ip6_routing", True
    yield "rh0_done", frame(ip6(43, routing(58, 0, 0) + e)), None, False
    yield "opt_skip", frame(ip6(60, opts_hdr(58, b"\x1e\x02\x00\x00") + e)), None, False
    yield "opt_discard", frame(ip6(60, opts_hdr(58, b"\x5e\x02\x00\x00") + e)), \
        "ip6_unknown_option", False
    yield "opt_icmp", frame(ip6(60, opts_hdr(58, b"\x9e\x02\x00\x00") + e)), \
        "ip6_unknown_option", True
    yield "hbh_late", frame(ip6(60, opts_hdr(0, b"") + opts_hdr(58, b"") + e)), \
        "bad_ip6_ext", True
    yield "ext_trunc", frame(ip6(60, bytes([58, 9]) + b"\x01\x04" + b"\x00" * 4)), \
        "bad_ip6_ext", False
    # Two fragments of one datagram that overlap (RFC 5722): both dropped.
    yield "frag_overlap", lambda k: [frame(ip6(44, frag(58, 0, True, 0x100 + k) + e[:48])),
                                     frame(ip6(44, frag(58, 40, False, 0x100 + k) + e[40:]))], \
        "frag_overlap", False
    yield "frag_bad", frame(ip6(44, frag(58, 0, True) + e[:47])), "bad_ip6_frag", True
    yield "atomic", frame(ip6(44, frag(58, 0, False) + e)), None, False
    yield "nh_unknown", frame(ip6(253, b"\x00" * 16)), "unknown_proto", True
    yield "no_next", frame(ip6(59, b"\x00" * 16)), "ip6_no_next_header", False
    yield "ndp_hlim", frame(ns(LINUX, RN, hlim=64, lladdr=SRC_MAC)), "bad_ndp", False
    yield "icmp_csum", frame(ip6(58, echo(bad_csum=True))), "bad_icmp_csum", False
    yield "not_for_us", frame(ip6(58, echo(dst=NOBODY), dst=NOBODY)), "not_for_us", False


def main():
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((IFACE, 0))
    out = {}
    if MODE == "cases":
        expect, pp, replies = {}, 0, 0
        for name, f, reason, answers in cases():
            n = 0
            for k in range(COPIES):
                for fr in (f(k) if callable(f) else [f]):
                    s.send(fr)
                    n += 1
                    time.sleep(0.002)
            if reason is None:
                replies += n
            else:
                expect[reason] = expect.get(reason, 0) + n
            if answers:
                pp += COPIES
        out = {"expect": expect, "param_problems": pp, "echo_replies": replies}
    elif MODE == "ratelimit":
        f = frame(ip6(253, b"\x00" * 16))
        for _ in range(300):
            s.send(f)
        out = {"sent": 300}
    elif MODE == "ndflood":
        n = 3000
        for i in range(n):
            src = socket.inet_pton(socket.AF_INET6, "2001:2::1:%x:%x" % (i >> 12, i & 0xFFF))
            mac = bytes([0x02, 0xee, 0, 0, i >> 8, i & 0xFF])
            s.send(frame(ns(src, RN, lladdr=mac), dst_mac=bytes.fromhex("3333ff000002")))
            if i % 200 == 199:
                time.sleep(0.02)  # the TAP's queue holds 500 frames
        out = {"sent": n}
    json.dump(out, open(OUT, "w"))


main()
