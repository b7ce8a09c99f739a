#!/usr/bin/env bash
# TCP's settings against Linux's TCP, in a namespace of its own (lib.sh):
#   - the daemon starts with --set tcp.sack=0 --set tcp.initial_window=4;
#     `refnet get` reads them back (text and JSON), `refnet set` changes
#     one at run time, and bad input is refused with one line, exit 2;
#   - a Linux client of refnet's echo service sees it in its own TCP_INFO
#     (the options byte ss -i shows as "ts" and "sack", which this
#     system's ss leaves out) and in `ss -i`: no SACK (refnet's SYN+ACK
#     did not accept it), no timestamps after `refnet set tcp.timestamps
#     0`, and after `refnet set tcp.mss_clamp 1000` ss's "mss:1000" (what
#     refnet announced);
#   - refnet's own `netstat -i` shows the connection's statistics, and the
#     connection opened before a change keeps what it began with;
#   - refnet's first flight to a Linux reader (of chargen), in the
#     daemon's capture, is tcp.initial_window (4) segments;
#   - the daemon shuts down cleanly (lib.sh).
. "$(dirname "$0")/lib.sh"
net_setup tcp_settings
net_need ss
net_start --service echo --service chargen --set tcp.sack=0 --set tcp.initial_window=4 \
    --capture "$dir/cap.pcap"

out=$(nsx ping -n -q -c 1 -W 2 198.18.0.2 2>&1) || bad "ping: $out"

# ---- get and set ----
[ "$(rn get tcp.sack --json | "$py" -c 'import json,sys; print(json.load(sys.stdin)["value"])')" = 0 ] ||
    bad "refnet get tcp.sack --json: $(rn get tcp.sack --json)"
rn get tcp >"$dir/get.txt" || bad "refnet get tcp failed"
grep -q "^tcp.initial_window *4 *10 " "$dir/get.txt" || bad "get tcp: $(grep initial_window "$dir/get.txt")"
n=$(rn get --json | "$py" -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$n" -ge 26 ] || bad "refnet get --json listed $n settings"
out=$(rn set tcp.rto_initial 90s 2>&1)
[ $? = 2 ] && [ "$out" = "refnet set: tcp.rto_initial: '90s' refused: tcp.rto_initial must not exceed tcp.rto_max" ] ||
    bad "set tcp.rto_initial 90s: '$out'"
out=$(rn set tcp.sack maybe 2>&1)
[ $? = 2 ] && [ "$out" = "refnet set: tcp.sack: 'maybe' is not a valid value (0 or 1)" ] ||
    bad "set tcp.sack maybe: '$out'"
out=$(rn set tcp.nosuch 1 2>&1)
[ $? = 2 ] && [ "$out" = "refnet set: unknown setting 'tcp.nosuch' (refnet get tcp lists them)" ] ||
    bad "set tcp.nosuch 1: '$out'"

# A Linux connection to refnet's echo, held open while it looks: its
# TCP_INFO options (1 timestamps, 2 SACK, 4 window scaling), then ss -i.
ss_of_echo() {
    nsx "$py" - <<'EOF'
import socket, subprocess, sys
s = socket.create_connection(("198.18.0.2", 7), timeout=5)
s.sendall(b"hello")
if s.recv(5) != b"hello":
    sys.exit("no echo")
opts = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)[5]
port = s.getsockname()[1]
out = subprocess.run(["ss", "-tin", "src", "198.18.0.1:%d" % port], capture_output=True,
                     text=True).stdout
print("options:%d %s" % (opts, " ".join(out.split())))
s.close()
EOF
}

# ---- SACK refused, timestamps on: as Linux sees it ----
info=$(ss_of_echo) || bad "echo through Linux: $info"
echo "Linux's view (tcp.sack=0): $info"
case "$info" in "options:5 "*) ;; *) bad "Linux's options are not timestamps and scaling: $info" ;; esac

# A connection opened now, and held, keeps its settings through a change.
net_bg "$py" -c '
import socket, time
s = socket.create_connection(("198.18.0.2", 7), timeout=5)
s.sendall(b"x"); s.recv(1)
time.sleep(8)
' </dev/null
hold=$bgpid
sleep 1

# ---- timestamps off, MSS clamped, at run time ----
out=$(rn set tcp.timestamps 0) || bad "set tcp.timestamps 0: $out"
[ "$out" = "tcp.timestamps 0 (was 1); connections opened from now on use it" ] || bad "set said '$out'"
rn set tcp.mss_clamp 1000 >/dev/null || bad "set tcp.mss_clamp 1000"
info=$(ss_of_echo) || bad "echo through Linux: $info"
echo "Linux's view (tcp.timestamps=0, tcp.mss_clamp=1000): $info"
case "$info" in "options:4 "*) ;; *) bad "Linux's options are not scaling alone: $info" ;; esac
case " $info " in *" mss:1000 "*) ;; *) bad "Linux's ss -i mss is not 1000: $info" ;; esac

# refnet's own view: the held connection still has timestamps, and the
# statistics of ss -i.
rn netstat -i >"$dir/netstat.txt" || bad "refnet netstat -i failed"
grep -q "^	 ts cubic wscale:" "$dir/netstat.txt" ||
    { bad "netstat -i shows no connection with timestamps"; cat "$dir/netstat.txt"; }
grep -q " mss:1448 advmss:1460 " "$dir/netstat.txt" ||
    { bad "netstat -i: no mss:1448"; cat "$dir/netstat.txt"; }
rn netstat -i --json | "$py" -c '
import json, sys
rows = [r for r in json.load(sys.stdin) if "info" in r]
assert rows, "no row has info"
assert all(not r["info"]["sack"] for r in rows), "a connection has SACK"
assert any(r["info"]["timestamps"] for r in rows), "no connection kept timestamps"
' || bad "netstat -i --json"
net_wait_bg "$hold" 15 || bad "the held connection"

# ---- the first flight: tcp.initial_window segments ----
# chargen fills its send buffer at once: what leaves before Linux's first
# ACK of data is what the initial window lets out.
nsx "$py" -c '
import socket
s = socket.create_connection(("198.18.0.2", 19), timeout=5)
got = 0
while got < 100000:
    got += len(s.recv(65536))
s.close()
' || bad "reading from chargen"
net_stop
"$py" - "$dir/cap.pcap" <<'EOF' || bad "the first flight"
import logging, sys
logging.getLogger("scapy").setLevel(logging.ERROR)
from scapy.all import rdpcap, TCP
pkts = [p for p in rdpcap(sys.argv[1]) if TCP in p and 19 in (p[TCP].sport, p[TCP].dport)]
synack = next(p for p in pkts if p[TCP].sport == 19 and p[TCP].flags & 0x12 == 0x12)
iss = synack[TCP].seq
opts = dict(o for o in synack[TCP].options if isinstance(o, tuple))
seg = opts["MSS"] - (12 if "Timestamp" in opts else 0)
# The capture sees frames as refnet hands them to the TAP: with TSO one
# frame may carry several segments, so the flight is counted in bytes.
sent = 0
for p in pkts:
    t = p[TCP]
    if t.sport == 19:
        sent += len(t.payload)
    elif t.dport == 19 and (t.flags & 0x10) and t.ack > iss + 1:
        break
print("refnet's first flight: %d bytes, %d segments of %d" % (sent, sent // seg, seg))
sys.exit(0 if sent == 4 * seg else 1)
EOF
net_done "settings from --set, get and set, seen by Linux's ss -i and in the capture"
