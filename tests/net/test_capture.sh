#!/usr/bin/env bash
# `refnet daemon --capture FILE` against Linux, in a namespace of its own
# (lib.sh): pings, fragmented pings, UDP echo and a datagram to a closed
# port go through; the daemon is stopped; then tshark reads the file:
#   - it parses, with no malformed frame (-Y _ws.malformed prints nothing)
#     and no expert error or warning (-z expert);
#   - it holds exactly the frames the interface counted (rx_frames +
#     tx_frames from `refnet stat --json` just before the stop; the capture
#     filter sits above the fault filter, so with no --fault they are the
#     same frames), with timestamps that never go back;
#   - every IPv4 header checksum and every ICMP checksum verifies, and so
#     does the UDP checksum of every datagram refnet sent.  Datagrams Linux
#     sent whole carry a partial checksum: with offloads on (the default,
#     IFF_VNET_HDR) the kernel leaves it to the device, here refnet, and the
#     capture shows the frame as it came;
#   - the conversation is all there: 23 echo requests and 23 replies
#     (3 of them reassembled from 6 fragments each), 50 UDP datagrams to
#     port 7 and 50 back, one ICMP port unreachable.
. "$(dirname "$0")/lib.sh"
net_setup capture
net_need tshark
cap="$dir/rn0.pcap"
net_start --capture "$cap" --service echo

out=$(nsx ping -n -q -c 20 -i 0.01 -W 2 198.18.0.2 2>&1) || bad "20 pings: $out"
out=$(nsx ping -n -q -c 3 -i 0.05 -W 2 -s 8000 198.18.0.2 2>&1) || bad "3 pings of 8000 bytes: $out"
nsx "$py" - <<'EOF' || bad "UDP echo and the closed port"
import random, socket, sys
rng = random.Random(7)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2.0)
for i in range(50):
    msg = rng.randbytes(rng.randint(1, 8192))
    s.sendto(msg, ("198.18.0.2", 7))
    data, src = s.recvfrom(65536)
    if data != msg or src != ("198.18.0.2", 7):
        print("FAIL: datagram %d of %d bytes echoed as %d bytes from %r" % (i, len(msg), len(data), src))
        sys.exit(1)
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
c.connect(("198.18.0.2", 9))
c.settimeout(2.0)
c.send(b"closed?")
try:
    c.recv(100)
    sys.exit(1)
except ConnectionRefusedError:
    pass
EOF
net_stat "$dir/s.json"
frames=$(jq_py "$dir/s.json" 'iface(j,"rx_frames") + iface(j,"tx_frames")')
net_stop
[ -s "$cap" ] || die "the capture file is empty or missing"

tshark -r "$cap" -Y _ws.malformed >"$dir/malformed" 2>"$dir/tshark.err" ||
    die "tshark cannot read the capture: $(cat "$dir/tshark.err")"
[ ! -s "$dir/malformed" ] || bad "tshark found malformed frames: $(head -20 "$dir/malformed")"
tshark -r "$cap" -q -z expert >"$dir/expert" 2>"$dir/tshark.err" ||
    die "tshark -z expert failed: $(cat "$dir/tshark.err")"
grep -Eq "^(Errors|Warnings) \(" "$dir/expert" && bad "tshark's expert info: $(cat "$dir/expert")"

# One line per frame; first occurrence of each field (the outer header of
# an ICMP error quoting a datagram).
tshark -r "$cap" -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE \
    -T fields -E separator='|' -E occurrence=f \
    -e frame.number -e frame.time_epoch -e frame.protocols -e ip.src \
    -e ip.checksum.status -e icmp.type -e icmp.code -e icmp.checksum.status \
    -e udp.srcport -e udp.dstport -e udp.checksum.status -e ip.flags.mf -e ip.frag_offset \
    >"$dir/fields" 2>"$dir/tshark.err" || die "tshark -T fields failed: $(cat "$dir/tshark.err")"

"$py" - "$dir/fields" "$frames" <<'EOF' || fail=1
import sys
rows = [l.rstrip("\n").split("|") for l in open(sys.argv[1]) if l.strip()]
want_frames = int(sys.argv[2])
errs = []
if len(rows) != want_frames:
    errs.append("the capture holds %d frames, the interface counted %d (rx + tx)" % (len(rows), want_frames))
count = {"echo_req": 0, "echo_rep": 0, "port_unreach": 0, "to7": 0, "from7": 0, "frags": 0, "arp": 0}
last_ts = 0.0
import time
now = time.time()
for (num, ts, protos, src, ipc, itype, icode, icmpc, sport, dport, udpc, mf, off) in rows:
    ts = float(ts)
    if not now - 600 <= ts <= now + 60:
        errs.append("frame %s: timestamp %.3f is not the wall-clock time of the run (%.3f)" % (num, ts, now))
    if ts < last_ts:
        errs.append("frame %s: time goes back (%.9f < %.9f)" % (num, ts, last_ts))
    last_ts = ts
    p = protos.split(":")
    if "arp" in p:
        count["arp"] += 1
        continue
    if "ip" not in p:
        errs.append("frame %s: neither ARP nor IPv4 (%s)" % (num, protos))
        continue
    if ipc != "1":
        errs.append("frame %s: IPv4 header checksum status %r (%s)" % (num, ipc, protos))
    if src not in ("198.18.0.1", "198.18.0.2"):
        errs.append("frame %s: from %s" % (num, src))
    if mf == "1" or (off not in ("", "0")):
        count["frags"] += 1
    if "icmp" in p:
        if icmpc != "1":
            errs.append("frame %s: ICMP checksum status %r" % (num, icmpc))
        if itype == "8":
            count["echo_req"] += 1
        elif itype == "0":
            count["echo_rep"] += 1
        elif itype == "3" and icode == "3" and src == "198.18.0.2":
            count["port_unreach"] += 1
        continue
    if "udp" in p:
        # Linux's whole datagrams may carry a partial checksum (offload).
        if src == "198.18.0.2" and udpc != "1":
            errs.append("frame %s: refnet's UDP checksum status %r" % (num, udpc))
        if dport == "7" and src == "198.18.0.1":
            count["to7"] += 1
        if sport == "7" and src == "198.18.0.2":
            count["from7"] += 1
want = {"echo_req": 23, "echo_rep": 23, "port_unreach": 1, "to7": 50, "from7": 50}
for k, v in want.items():
    if count[k] != v:
        errs.append("%s: %d in the capture, want %d" % (k, count[k], v))
# 3 big pings: 6 fragments each way.  Echo datagrams add more.
if count["frags"] < 36:
    errs.append("only %d fragments in the capture, want at least 36" % count["frags"])
if count["arp"] < 2:
    errs.append("only %d ARP frames, want the gratuitous one and a resolution" % count["arp"])
for e in errs[:20]:
    print("FAIL: " + e)
print("capture: %d frames, %r" % (len(rows), count))
sys.exit(1 if errs else 0)
EOF

net_done "capture: $frames frames, tshark finds none malformed, checksums verify, conversation complete"
