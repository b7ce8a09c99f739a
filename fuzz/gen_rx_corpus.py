#!/usr/bin/env python3
"""Writes the seed corpus of fuzz/fuzz_rx.c into fuzz/corpus/rx/, with the
inputs of bugs it found kept as regression seeds.

Each file is a sequence of records (see fuzz_rx.c):
    u16 dt_ms, u16 flags (bit 15 repair checksums, bit 14 the stack
    originates a ping with these bytes, bits 0-13 the length), bytes.
The stack under test is 198.18.0.2/15 and 2001:2::2/64 with MAC
02:00:00:00:00:01; frames come from the peer 198.18.0.1 (2001:2::1), MAC
02:00:00:00:00:02.  Python 3 standard
library only.  Run from anywhere: python3 fuzz/gen_rx_corpus.py
"""
import os
import struct
import sys

US_MAC = bytes([2, 0, 0, 0, 0, 1])
PEER_MAC = bytes([2, 0, 0, 0, 0, 2])
BCAST_MAC = b"\xff" * 6
US = bytes([198, 18, 0, 2])
PEER = bytes([198, 18, 0, 1])
OTHER = bytes([198, 18, 0, 99])
SUBNET_BCAST = bytes([198, 19, 255, 255])

REPAIR = 0x8000
ORIGINATE = 0x4000


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def eth(dst, src, etype, payload, pad=True):
    f = dst + src + struct.pack("!H", etype) + payload
    if pad and len(f) < 60:
        f += b"\0" * (60 - len(f))
    return f


def arp(op, sha, spa, tha, tpa, htype=1):
    return struct.pack("!HHBBH", htype, 0x0800, 6, 4, op) + sha + spa + tha + tpa


def ipv4(src, dst, proto, payload, ident=1, off=0, mf=False, ttl=64, opts=b"",
         total=None, version=4, bad_csum=False):
    hlen = 20 + len(opts)
    frag = (off // 8) | (0x2000 if mf else 0)
    tot = total if total is not None else hlen + len(payload)
    h = struct.pack("!BBHHHBBH4s4s", (version << 4) | (hlen // 4), 0, tot, ident,
                    frag, ttl, proto, 0, src, dst) + opts
    c = csum(h) ^ (0x1234 if bad_csum else 0)
    h = h[:10] + struct.pack("!H", c) + h[12:]
    return h + payload


def icmp(typ, code, rest, data):
    m = struct.pack("!BBHI", typ, code, 0, rest) + data
    return m[:2] + struct.pack("!H", csum(m)) + m[4:]


def echo(ident, seq, data, reply=False):
    return icmp(0 if reply else 8, 0, (ident << 16) | seq, data)


def udp(src, dst, sport, dport, data):
    ln = 8 + len(data)
    u = struct.pack("!HHHH", sport, dport, ln, 0) + data
    pseudo = src + dst + struct.pack("!BBH", 0, 17, ln)
    c = csum(pseudo + u) or 0xFFFF
    return u[:6] + struct.pack("!H", c) + u[8:]


def tcp(src, dst, sport, dport, seq, ack, flags, data=b"", win=65535):
    t = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, win, 0, 0) + data
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(t))
    return t[:16] + struct.pack("!H", csum(pseudo + t)) + t[18:]


def to_us(payload, dst_mac=US_MAC, etype=0x0800):
    return eth(dst_mac, PEER_MAC, etype, payload)


def fragments(src, dst, proto, payload, ident, size):
    """Splits payload into IPv4 fragments of `size` bytes (a multiple of 8)."""
    out = []
    for off in range(0, len(payload), size):
        piece = payload[off:off + size]
        out.append(ipv4(src, dst, proto, piece, ident=ident, off=off,
                        mf=off + size < len(payload)))
    return out


def rec(frame, dt=0, flags=REPAIR):
    return struct.pack("!HH", dt, flags | len(frame)) + frame


def originate(nbytes, dt=0):
    data = bytes((i * 7) & 0xFF for i in range(nbytes))
    return struct.pack("!HH", dt, ORIGINATE | nbytes) + data


ARP_WHO_HAS_US = to_us(arp(1, PEER_MAC, PEER, b"\0" * 6, US), BCAST_MAC, 0x0806)
ARP_REPLY_PEER = to_us(arp(2, PEER_MAC, PEER, US_MAC, US), US_MAC, 0x0806)


US6 = bytes([0x20, 0x01, 0, 2] + [0] * 11 + [2])
PEER6 = bytes([0x20, 0x01, 0, 2] + [0] * 11 + [1])
SN_US6 = bytes([0xFF, 2] + [0] * 9 + [1, 0xFF, 0, 0, 2])
US6_MCAST_MAC = bytes([0x33, 0x33, 0xFF, 0, 0, 2])


def icmp6(src, dst, typ, code, body):
    msg = struct.pack("!BBH", typ, code, 0) + body
    c = csum(src + dst + struct.pack("!IxxxB", len(msg), 58) + msg)
    return msg[:2] + struct.pack("!H", c) + msg[4:]


def ipv6(src, dst, nxt, payload, hlim=64):
    return struct.pack("!IHBB", 6 << 28, len(payload), nxt, hlim) + src + dst + payload


def echo6(seq, data, src=PEER6, dst=US6):
    return icmp6(src, dst, 128, 0, struct.pack("!HH", 9, seq) + data)


def ns6(src, target, dst):
    return ipv6(src, dst, 58, icmp6(src, dst, 135, 0, b"\0" * 4 + target + b"\x01\x01" + PEER_MAC),
                hlim=255)


def corpus6():
    """IPv6: the addresses are tentative from the first poll (DAD) for a
    second, so two ARP replies poll the stack at once and 1.1 s later
    before the peer solicits us."""
    c = {}
    ns = (rec(ARP_REPLY_PEER) + rec(ARP_REPLY_PEER, dt=1100) +
          rec(to_us(ns6(PEER6, US6, SN_US6), US6_MCAST_MAC, 0x86DD), dt=10, flags=0))
    ping = to_us(ipv6(PEER6, US6, 58, echo6(1, bytes(range(56)))), etype=0x86DD)
    c["ipv6-ping"] = ns + rec(ping, dt=10, flags=0) + rec(ping, dt=1000, flags=0)
    e = echo6(2, b"chain")
    hbh = bytes([60, 0, 5, 2, 0, 0, 1, 0])                  # router alert, PadN
    dst = bytes([43, 0, 0x1E, 2, 0, 0, 1, 0])               # skip-me option, PadN
    rh0 = bytes([44, 2, 0, 0]) + b"\0" * 20                 # type 0, no segments left
    atomic = struct.pack("!BxHI", 58, 0, 77)                # an atomic fragment
    c["ipv6-ext-chain"] = ns + rec(to_us(ipv6(PEER6, US6, 0, hbh + dst + rh0 + atomic + e),
                                         etype=0x86DD), dt=1, flags=0)
    c["ipv6-routing-type0"] = ns + rec(to_us(ipv6(PEER6, US6, 43, bytes([58, 2, 0, 1]) +
                                                  b"\0" * 20 + e), etype=0x86DD), dt=1, flags=0)
    c["ipv6-option-discard"] = ns + rec(to_us(ipv6(PEER6, US6, 60, bytes([58, 0, 0x9E, 2, 0, 0,
                                                                          1, 0]) + e),
                                              etype=0x86DD), dt=1, flags=0)
    c["ipv6-fragment"] = ns + rec(to_us(ipv6(PEER6, US6, 44, struct.pack("!BxHI", 58, 1, 78) +
                                             (e + b"\0" * 16)[:16]), etype=0x86DD), dt=1, flags=0)
    c["ipv6-dad-conflict"] = rec(to_us(ipv6(US6, bytes([0xFF, 2] + [0] * 13 + [1]), 58,
                                            icmp6(US6, bytes([0xFF, 2] + [0] * 13 + [1]), 136, 0,
                                                  struct.pack("!I", 0x20000000) + US6 +
                                                  b"\x02\x01" + PEER_MAC), hlim=255),
                                       bytes([0x33, 0x33, 0, 0, 0, 1]), 0x86DD), dt=100, flags=0)
    c["ipv6-unknown-next-header"] = ns + rec(to_us(ipv6(PEER6, US6, 253, b"\0" * 8),
                                                   etype=0x86DD), dt=1, flags=0)
    # Router discovery: the peer advertises itself from its link-local
    # address with a /64 (on-link, autonomous) and a 1280 MTU; 1.1 s later
    # (past DAD of the SLAAC address) a host beyond it pings that address
    # with 1400 bytes, and the reply leaves through the router in
    # fragments.
    ra = ra6(PEER_LL6, 1800, [(SLAAC_PFX, 64, 0xC0, 3600, 1800)], mtu=1280)
    far = bytes([0x20, 0x01, 0, 2, 0, 0, 0, 5] + [0] * 7 + [9])
    big = to_us(ipv6(far, US_SLAAC6, 58, echo6(3, bytes(1400), src=far, dst=US_SLAAC6)),
                etype=0x86DD)
    c["ipv6-ra-slaac"] = ns + rec(to_all_nodes(ra), dt=10, flags=0) + rec(big, dt=1100, flags=0)
    # Bad advertisements: hop limit 64, a global source, an option of
    # length 0, a prefix with its preferred lifetime over its valid one.
    bad_hlim = ipv6(PEER_LL6, ALL_NODES6, 58, ra6_msg(PEER_LL6, 1800, []), hlim=64)
    bad_src = ra6(PEER6, 1800, [])
    zero_opt = ipv6(PEER_LL6, ALL_NODES6, 58,
                    icmp6(PEER_LL6, ALL_NODES6, 134, 0, struct.pack("!BBHII", 64, 0, 1800, 0, 0) +
                          bytes([5, 0, 0, 0, 0, 0, 5, 0])), hlim=255)
    pref_over = ra6(PEER_LL6, 0, [(SLAAC_PFX, 64, 0x40, 100, 200)])
    c["ipv6-ra-bad"] = ns + b"".join(rec(to_all_nodes(f), dt=1, flags=0)
                                     for f in (bad_hlim, bad_src, zero_opt, pref_over))
    # Advertisements from many routers with many prefixes: the lists
    # fill to their bounds.
    flood = b""
    for i in range(12):
        src = PEER_LL6[:14] + struct.pack("!H", 0x100 + i)
        pfx = [(bytes([0x20, 0x01, 0, 2, 0, 0x10 + i, 0, k] + [0] * 8), 64, 0xC0, 600, 600)
               for k in range(3)]
        flood += rec(to_all_nodes(ra6(src, 600, pfx)), dt=1, flags=0)
    c["ipv6-ra-flood"] = ns + flood
    # A redirect from the router for the host beyond it, to fe80::55 with
    # its link address; then one from a node that is not the router.
    redir = lambda src: ipv6(src, US_SLAAC6, 58, icmp6(
        src, US_SLAAC6, 137, 0, b"\0" * 4 + FE80_55 + far + bytes([2, 1]) + PEER_MAC),
        hlim=255)
    ping_far = to_us(ipv6(far, US_SLAAC6, 58, echo6(4, b"redirected", src=far,
                                                       dst=US_SLAAC6)), etype=0x86DD)
    c["ipv6-redirect"] = (ns + rec(to_all_nodes(ra), dt=10, flags=0) +
                          rec(to_us(redir(PEER_LL6), etype=0x86DD), dt=1100, flags=0) +
                          rec(ping_far, dt=1, flags=0) +
                          rec(to_us(redir(FE80_55), etype=0x86DD), dt=1, flags=0))
    # A packet too big about a reply of ours to the peer: 1280; then a
    # 1400-byte ping the reply to which leaves in fragments.
    quoted = ipv6(US6, PEER6, 58, echo6(5, bytes(64), src=US6, dst=PEER6))
    ptb = ipv6(PEER6, US6, 58, icmp6(PEER6, US6, 2, 0, struct.pack("!I", 1280) + quoted))
    ping_big = to_us(ipv6(PEER6, US6, 58, echo6(6, bytes(1400))), etype=0x86DD)
    c["ipv6-packet-too-big"] = (ns + rec(to_us(ptb, etype=0x86DD), dt=1, flags=0) +
                                rec(ping_big, dt=1, flags=0))
    # ICMPv6 errors for the transports: about a TCP segment of ours
    # through a destination options header (unreachable, admin), a UDP
    # datagram (port unreachable, time exceeded, parameter problem, too
    # big), a quote whose options header runs past it, one with 4 bytes of
    # TCP, and one about a datagram from another node.
    tcp_q = struct.pack("!HHIIBBHHH", 40000, 80, 1000, 0, 5 << 4, 2, 65535, 0, 0)
    udp_q = struct.pack("!HHHH", 40001, 53, 20, 0)
    dopt = bytes([6, 0, 1, 4, 0, 0, 0, 0])
    def err6(typ, code, rest, quoted):
        return rec(to_us(ipv6(PEER6, US6, 58, icmp6(PEER6, US6, typ, code,
                                                    struct.pack("!I", rest) + quoted)),
                         etype=0x86DD), dt=1, flags=0)
    c["ipv6-icmp6-errors"] = (
        ns + err6(1, 1, 0, ipv6(US6, PEER6, 60, dopt + tcp_q)) +
        err6(1, 4, 0, ipv6(US6, PEER6, 17, udp_q + b"x" * 12)) +
        err6(3, 0, 0, ipv6(US6, PEER6, 17, udp_q)) +
        err6(4, 1, 6, ipv6(US6, PEER6, 17, udp_q)) +
        err6(2, 0, 1280, ipv6(US6, PEER6, 6, tcp_q)) +
        err6(1, 4, 0, ipv6(US6, PEER6, 60, bytes([6, 1, 1, 12, 0, 0, 0, 0]))) +
        err6(1, 4, 0, ipv6(US6, PEER6, 6, tcp_q[:4])) +
        err6(1, 4, 0, ipv6(FE80_55, PEER6, 6, tcp_q)))
    # RFC 7112: a first fragment whose TCP header is cut short.
    c["ipv6-first-fragment-short"] = ns + rec(to_us(ipv6(
        PEER6, US6, 44, struct.pack("!BxHI", 6, 1, 79) + b"\0" * 8), etype=0x86DD), dt=1, flags=0)
    return c


PEER_LL6 = bytes([0xFE, 0x80] + [0] * 6 + [0, 0, 0, 0xFF, 0xFE, 0, 0, 2])
FE80_55 = bytes([0xFE, 0x80] + [0] * 13 + [0x55])
ALL_NODES6 = bytes([0xFF, 2] + [0] * 13 + [1])
SLAAC_PFX = bytes([0x20, 0x01, 0, 2, 0, 0, 0, 1] + [0] * 8)
US_SLAAC6 = SLAAC_PFX[:8] + bytes([0, 0, 0, 0xFF, 0xFE, 0, 0, 1])


def ra6_msg(src, lifetime, prefixes, mtu=0):
    """A router advertisement from src to all nodes: a source link-layer
    option (the peer's MAC), an MTU option if mtu, and prefix options
    (prefix, length, flags, valid, preferred)."""
    body = struct.pack("!BBHII", 64, 0, lifetime, 30000, 1000) + bytes([1, 1]) + PEER_MAC
    if mtu:
        body += struct.pack("!BBHI", 5, 1, 0, mtu)
    for pfx, plen, flags, valid, pref in prefixes:
        body += struct.pack("!BBBBIII", 3, 4, plen, flags, valid, pref, 0) + pfx
    return icmp6(src, ALL_NODES6, 134, 0, body)


def ra6(src, lifetime, prefixes, mtu=0):
    return ipv6(src, ALL_NODES6, 58, ra6_msg(src, lifetime, prefixes, mtu), hlim=255)


def to_all_nodes(datagram):
    return to_us(datagram, bytes([0x33, 0x33, 0, 0, 0, 1]), 0x86DD)


def corpus():
    c = {}
    c["arp-request"] = rec(ARP_WHO_HAS_US)
    c["arp-reply-unsolicited"] = rec(ARP_REPLY_PEER)
    c["arp-bad-hwtype"] = rec(to_us(arp(1, PEER_MAC, PEER, b"\0" * 6, US, htype=6),
                                    BCAST_MAC, 0x0806), flags=0)
    ping = to_us(ipv4(PEER, US, 1, echo(7, 1, bytes(range(56)))))
    c["ping"] = rec(ARP_WHO_HAS_US) + rec(ping, dt=10) + rec(ping, dt=1000)
    c["ping-broadcast"] = (
        rec(to_us(ipv4(PEER, SUBNET_BCAST, 1, echo(7, 2, b"x" * 16)), BCAST_MAC))
        + rec(to_us(ipv4(PEER, b"\xff" * 4, 1, echo(7, 3, b"y" * 16)), BCAST_MAC)))
    big = echo(9, 1, bytes((i * 13) & 0xFF for i in range(3000)))
    frags = [to_us(f) for f in fragments(PEER, US, 1, big, 77, 1480)]
    c["ping-fragmented"] = rec(ARP_WHO_HAS_US) + b"".join(rec(f, dt=1) for f in frags)
    c["ping-fragments-reversed"] = rec(ARP_REPLY_PEER) + b"".join(
        rec(f, dt=1) for f in reversed(frags))
    data = bytes(range(64))
    a = ipv4(PEER, US, 17, data[:32], ident=5, off=0, mf=True)
    b = ipv4(PEER, US, 17, data[16:48], ident=5, off=16, mf=False)
    c["frag-overlap"] = rec(to_us(a)) + rec(to_us(b), dt=1)
    d = ipv4(PEER, US, 253, data[:16], ident=6, off=0, mf=True)
    c["frag-duplicate"] = rec(to_us(d)) + rec(to_us(d), dt=1) + rec(
        to_us(ipv4(PEER, US, 253, data[:8], ident=6, off=16, mf=False)), dt=1)
    c["frag-timeout"] = rec(ARP_REPLY_PEER) + rec(to_us(d), dt=1) + rec(b"", dt=35000, flags=0)
    c["frag-two-ends"] = (rec(to_us(ipv4(PEER, US, 253, data[:16], ident=8, off=16)))
                          + rec(to_us(ipv4(PEER, US, 253, data[:8], ident=8, off=32))))
    c["udp-closed-port"] = rec(ARP_REPLY_PEER) + rec(
        to_us(ipv4(PEER, US, 17, udp(PEER, US, 40000, 9, b"discard me"))))
    c["udp-echo-port"] = rec(ARP_REPLY_PEER) + rec(
        to_us(ipv4(PEER, US, 17, udp(PEER, US, 40001, 7, b"echo this back"))))
    c["tcp-syn"] = rec(ARP_REPLY_PEER) + rec(
        to_us(ipv4(PEER, US, 6, tcp(PEER, US, 40002, 80, 1000, 0, 0x02))))
    # A whole TCP connection to the listener on port 80.  ISN is the
    # stack's initial sequence number for this 4-tuple at 1 s with seed 1,
    # as FUZZ_RX_VERBOSE=1 fuzz-rx shows it in the SYN-ACK; if the ISN
    # function changes, update it here.
    isn = 3499684651
    c["tcp-handshake-data-fin"] = (
        rec(ARP_REPLY_PEER)
        + rec(to_us(ipv4(PEER, US, 6, tcp(PEER, US, 40003, 80, 1000, 0, 0x02))))
        + rec(to_us(ipv4(PEER, US, 6, tcp(PEER, US, 40003, 80, 1001, isn + 1, 0x10))), dt=1)
        + rec(to_us(ipv4(PEER, US, 6, tcp(PEER, US, 40003, 80, 1001, isn + 1, 0x18,
                                          b"GET / HTTP/1.0\r\n\r\n"))), dt=1)
        + rec(to_us(ipv4(PEER, US, 6, tcp(PEER, US, 40003, 80, 1019, isn + 1, 0x11))), dt=1)
        + rec(to_us(ipv4(PEER, US, 6, tcp(PEER, US, 40003, 80, 1020, isn + 1, 0x10))), dt=300))
    c["tcp-rst-closed-port"] = rec(ARP_REPLY_PEER) + rec(
        to_us(ipv4(PEER, US, 6, tcp(PEER, US, 40004, 81, 5000, 0, 0x02))))
    # An ICMP port unreachable quoting a UDP datagram we sent.
    quoted = ipv4(US, PEER, 17, udp(US, PEER, 5000, 9, b"abcdefgh"))[:28]
    c["icmp-unreach-to-us"] = rec(to_us(ipv4(PEER, US, 1, icmp(3, 3, 0, quoted))))
    c["icmp-frag-needed"] = rec(to_us(ipv4(PEER, US, 1, icmp(3, 4, 576, quoted))))
    rr = bytes([7, 11, 4]) + b"\0" * 8 + b"\0"
    c["ip-options-rr"] = rec(ARP_REPLY_PEER) + rec(
        to_us(ipv4(PEER, US, 1, echo(7, 4, b"rr"), opts=rr)))
    c["truncated-eth"] = rec(US_MAC + PEER_MAC[:4], flags=0)
    c["truncated-ip"] = rec(eth(US_MAC, PEER_MAC, 0x0800, ipv4(PEER, US, 1, b"")[:12], pad=False),
                            flags=0)
    c["ip-total-len-short"] = rec(to_us(ipv4(PEER, US, 1, echo(7, 5, b"zz"), total=16)))
    c["ip-bad-version"] = rec(to_us(ipv4(PEER, US, 1, echo(7, 6, b"v6"), version=6)), flags=0)
    c["ip-bad-csum"] = rec(to_us(ipv4(PEER, US, 1, echo(7, 7, b"cs"), bad_csum=True)), flags=0)
    c["not-for-us"] = rec(to_us(ipv4(PEER, OTHER, 1, echo(7, 8, b"nfu"))))
    c["vlan-tagged"] = rec(eth(US_MAC, PEER_MAC, 0x8100, b"\x00\x05\x08\x00" +
                               ipv4(PEER, US, 1, echo(7, 9, b"vlan"))), flags=0)
    c["originate-then-resolve"] = (originate(3000) + rec(ARP_REPLY_PEER, dt=5)
                                   + b"".join(rec(f, dt=1) for f in frags[:1]))
    c["originate-unresolved"] = originate(100) + originate(200, dt=10) + rec(b"", dt=5000, flags=0)
    # More askers than the fuzzed stack's 4 ARP entries: eviction.
    c["arp-many-askers"] = b"".join(
        rec(to_us(arp(1, bytes([2, 0, 0, 0, 1, i]), bytes([198, 18, 1, i]), b"\0" * 6, US),
                  BCAST_MAC, 0x0806), dt=1) for i in range(1, 7))
    # More datagrams under reassembly than its 8 slots: the oldest go.
    c["reass-many-datagrams"] = rec(ARP_REPLY_PEER) + b"".join(
        rec(to_us(ipv4(PEER, US, 253, bytes(1024), ident=100 + i, off=0, mf=True)), dt=1)
        for i in range(10))
    # A wrong ICMP checksum that the repair bit fixes.
    broken = bytearray(ping)
    broken[14 + 20 + 2] ^= 0xFF
    c["repair-fixes-checksum"] = rec(ARP_WHO_HAS_US) + rec(bytes(broken))
    return c


def regressions():
    """Inputs that once showed a bug, now fixed: kept in the corpus so every
    run replays them."""
    isn = 3499684651  # see tcp-handshake-data-fin
    syn = rec(to_us(ipv4(PEER, US, 6, tcp(PEER, US, 40003, 80, 1000, 0, 0x02))))
    ack = rec(to_us(ipv4(PEER, US, 6, tcp(PEER, US, 40003, 80, 1001, isn + 1, 0x10))), dt=1)
    data = rec(to_us(ipv4(PEER, US, 6, tcp(PEER, US, 40003, 80, 1001, isn + 1, 0x18,
                                           b"data nobody reads"))), dt=1)
    rst = rec(to_us(ipv4(PEER, US, 6, tcp(PEER, US, 40003, 80, 1018, 0, 0x04))), dt=1)
    return {
        # Data queued on a connection nobody accepted was never freed when
        # the listener closed, nor when the peer reset it.
        "tcp-unaccepted-data-listener-close": rec(ARP_REPLY_PEER) + syn + ack + data,
        "tcp-unaccepted-data-peer-reset": rec(ARP_REPLY_PEER) + syn + ack + data + rst,
    }


def write_all(out, files):
    os.makedirs(out, exist_ok=True)
    for name, data in sorted(files.items()):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print("wrote %d files to %s" % (len(files), out), file=sys.stderr)


def main():
    top = os.path.dirname(os.path.abspath(__file__))
    files = corpus()
    files.update(corpus6())
    files.update(regressions())
    write_all(os.path.join(top, "corpus", "rx"), files)


if __name__ == "__main__":
    main()
