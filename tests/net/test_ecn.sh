#!/usr/bin/env bash
# ECN (RFC 3168) between Linux's TCP and refnet's echo service:
#   - a Linux client with net.ipv4.tcp_ecn=1 asks for ECN in its SYN, and
#     refnet (tcp.ecn 2, the default) agrees: Linux's TCP_INFO shows ECN
#     in use (TCPI_OPT_ECN) and that refnet's data came marked ECT
#     (TCPI_OPT_ECN_SEEN), and 1 MB comes back intact;
#   - after `refnet set tcp.ecn 0` the next connection goes without;
#   - a Linux client left at its default (2: never asks) gets no ECN;
#   - the daemon shuts down cleanly (lib.sh).
. "$(dirname "$0")/lib.sh"
net_setup ecn
net_start --service echo

# echo_ecn: prints the TCP_INFO options byte of a Linux connection to
# refnet's echo after 1 MB went through it and back.
echo_ecn() {
    nsx "$py" - <<'EOF'
import os, socket, sys
data = os.urandom(1 << 20)
s = socket.create_connection(("198.18.0.2", 7), timeout=10)
s.sendall(data)
s.shutdown(socket.SHUT_WR)
got = bytearray()
while len(got) < len(data):
    d = s.recv(1 << 16)
    if not d:
        break
    got += d
if bytes(got) != data:
    sys.exit("echo returned %d bytes, not what was sent" % len(got))
print(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)[5])
s.close()
EOF
}

old=$(nsx sysctl -n net.ipv4.tcp_ecn) || bad "reading net.ipv4.tcp_ecn"
nsx sysctl -qw net.ipv4.tcp_ecn=1 || bad "setting net.ipv4.tcp_ecn"
opts=$(echo_ecn) || bad "echo with ECN asked for"
[ $((opts & 8)) = 8 ] || bad "refnet did not agree to ECN (TCP_INFO options $opts)"
[ $((opts & 16)) = 16 ] || bad "Linux saw no ECT-marked data from refnet (TCP_INFO options $opts)"

rn set tcp.ecn 0 >/dev/null || bad "refnet set tcp.ecn 0"
opts=$(echo_ecn) || bad "echo with tcp.ecn 0"
[ $((opts & 24)) = 0 ] || bad "ECN in use though refnet's tcp.ecn is 0 (options $opts)"
rn set tcp.ecn 2 >/dev/null || bad "refnet set tcp.ecn 2"

nsx sysctl -qw net.ipv4.tcp_ecn="$old" || bad "restoring net.ipv4.tcp_ecn"
opts=$(echo_ecn) || bad "echo with Linux's default"
[ "$old" = 1 ] || [ $((opts & 24)) = 0 ] || bad "ECN in use though nobody asked (options $opts)"
net_done "ECN agreed with Linux when it asks, ECT data seen, off with tcp.ecn 0"
