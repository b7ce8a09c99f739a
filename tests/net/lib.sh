# Harness for the tests that run refnet against the Linux kernel: sourced by
# every tests/net/test_*.sh.
#
# Each test gets its own network namespace (rn-net-NAME-PID) holding one TAP
# device, rn0.  The Linux side of rn0 is 198.18.0.1/15; refnet runs on the
# other side as `refnet daemon --tap rn0 --addr 198.18.0.2/15`.  The harness
# creates the TAP and configures Linux's side (address, IPv6 off, up) before
# the daemon attaches, so that the kernel is ready for refnet's very first
# frame (its gratuitous ARP) and sends refnet nothing of its own accord (no
# IPv6 router solicitations or DAD): the daemon's counters then show only
# what the test did.
#
# A test that needs neither (a capture file read by tshark) starts with
# net_setup_local instead, and uses the rest but the daemon's part.
#
# Usage in a test:
#     . "$(dirname "$0")/lib.sh"
#     net_setup udp_echo              # skips (exit 0) without root or TUN
#     net_start --service echo        # extra daemon arguments
#     nsx ping -c 3 198.18.0.2        # any command inside the namespace
#     rn stat --json                  # the refnet client on the control socket
#     [ ... ] || bad "what went wrong"
#     net_done "what passed"          # stops the daemon, checks, exits
#
# Teardown (trap EXIT) runs whatever happened: the daemon still running is
# stopped with SIGTERM and must exit 0 with "shut down cleanly" and no leak
# report (its exit status and log are the leak oracle); then the namespace
# and the temporary directory go.  Processes are ended by PID only.  Every
# wait is bounded.
#
# A test may set $net_v6=1 before net_start: rn0 then speaks IPv6 as well,
# Linux's side 2001:2::1/64 and the daemon --addr6 2001:2::2/64; net_wait_dad
# waits until the daemon's addresses passed duplicate address detection.
# Linux's side does no DAD of its own (accept_dad=0, dad_transmits=0: its
# address is usable at once) and sends no router solicitations and takes no
# advertisements (router_solicitations=0, accept_ra=0), so that the only
# IPv6 frames are the test's, the neighbour discovery they need, and the
# MLD reports Linux sends for the groups it joins (refnet drops those as
# not_for_us: it has not joined ff02::16).
#
# A test may set $net_plen (default 15) before net_start: the prefix length
# of both sides of rn0 (with 24, a test can route 198.18.1.0/24 elsewhere
# and give the daemon --gw 198.18.0.1).  net_ns_add makes a further
# namespace (a server behind a Linux router), deleted by teardown.
#
# Variables for the tests: $refnet (the binary), $ns (namespace), $dir
# (temporary directory), $sock (control socket), $dpid (daemon PID), $dlog
# (daemon's stderr), $py (/usr/bin/python3: the one with scapy), $here
# (tests/net), $fail (1 once bad was called), $bgpid (the last net_bg).
#
# Background programs on the Linux side (a listening nc, a held-open
# connection) go through net_bg, which remembers their PIDs: teardown ends
# those still running, by PID, before it stops the daemon.  A background
# program on the host's side (a refnet client) is started by the test and
# handed to net_track for the same.
#
# Tests of the daemon's own life cycle stop it with another signal
# (net_stop INT), crash it (net_crash) and start another on the same rn0
# (net_restart).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The tests' Python reads the daemon's listings with rnjson.py.
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"
py=/usr/bin/python3
fail=0
dpid=
ns=
dir=
net_name=
net_stopped=0
net_pids=()
bgpid=
net_plen=15
net_v6=0
net_extra_ns=()
net_ns_last=
net_leak_re=

# bad MSG: records a failure; the test goes on, and fails at the end.
bad() {
    echo "FAIL: $*"
    fail=1
}

# die MSG: fails at once (teardown still runs).
die() {
    echo "FAIL: $*"
    fail=1
    exit 1
}

# nsx CMD...: runs CMD inside the test's namespace.
nsx() {
    ip netns exec "$ns" "$@"
}

# rn ARGS...: the refnet client on this test's control socket.
rn() {
    "$refnet" "$@" --ctl "$sock" --timeout 10
}

# net_setup NAME: checks the prerequisites, creates the namespace and the
# temporary directory, and installs the teardown.  Exits 0 with "SKIP: ..."
# when not root or /dev/net/tun is missing; fails on anything else.
net_setup() {
    _net_need_build "$1"
    if [ "$(id -u)" != 0 ]; then
        echo "SKIP: needs root (network namespaces, TAP devices)"
        exit 0
    fi
    if [ ! -c /dev/net/tun ]; then
        echo "SKIP: /dev/net/tun is missing"
        exit 0
    fi
    _net_files
    ns="rn-net-$net_name-$$"
    ip netns add "$ns" || die "cannot create namespace $ns"
}

# net_setup_local NAME: net_setup for a test that runs only programs of
# its own against Linux's tools (no namespace, no TAP, no root): the
# temporary directory and the teardown.
net_setup_local() {
    _net_need_build "$1"
    _net_files
}

# Sets $net_name and $refnet; fails unless the build has the tool.
_net_need_build() {
    net_name=$1
    local build=${REFNET_BUILD:-}
    [ -n "$build" ] || { echo "FAIL: REFNET_BUILD must name the build directory"; exit 1; }
    refnet="$build/bin/refnet"
    [ -x "$refnet" ] || { echo "FAIL: $refnet not built"; exit 1; }
}

# Makes the temporary directory and installs the teardown.
_net_files() {
    [ -x "$py" ] || { echo "FAIL: $py is missing"; exit 1; }
    dir=$(mktemp -d "/tmp/refnet-net-$net_name.XXXXXX") || { echo "FAIL: mktemp"; exit 1; }
    sock="$dir/ctl.sock"
    dlog="$dir/daemon.log"
    trap net_teardown EXIT
    # A test stopped by a signal (ctest's timeout, ^C) still tears down.
    trap 'echo "FAIL: interrupted"; exit 1' INT TERM HUP
}

# net_tap_up: creates the TAP device rn0 in the namespace, with Linux's
# side at 198.18.0.1/$net_plen and up, for a program to attach to (the
# daemon, or an embedder's program such as the examples).
net_tap_up() {
    # Multi-queue, for the daemon's receive-side scaling (--rss); a daemon
    # without it takes one queue.
    nsx ip tuntap add dev rn0 mode tap multi_queue || die "cannot create TAP rn0 in $ns"
    if [ "$net_v6" = 1 ]; then
        nsx sysctl -qw net.ipv6.conf.rn0.accept_dad=0 net.ipv6.conf.rn0.dad_transmits=0 \
            net.ipv6.conf.rn0.router_solicitations=0 net.ipv6.conf.rn0.accept_ra=0 ||
            die "cannot set IPv6 on rn0"
        nsx ip addr add 2001:2::1/64 dev rn0 nodad || die "cannot give rn0 an IPv6 address"
    else
        nsx sysctl -qw net.ipv6.conf.rn0.disable_ipv6=1 || die "cannot disable IPv6 on rn0"
    fi
    # Learn refnet's MAC from its gratuitous ARP (test_arping looks).
    nsx sysctl -qw net.ipv4.conf.rn0.arp_accept=1 || die "cannot set arp_accept on rn0"
    nsx ip addr add "198.18.0.1/$net_plen" dev rn0 || die "cannot address rn0"
    nsx ip link set rn0 up || die "cannot bring rn0 up"
}

# net_start [DAEMON ARGS...]: creates rn0 in the namespace and configures
# Linux's side (net_tap_up), then starts the daemon on it and waits (at
# most 5 s) until it answers `refnet status`.  Sets $dpid.  Fails (exit)
# if it does not.
net_start() {
    net_tap_up
    _net_launch "$@"
}

# net_launch [DAEMON ARGS...]: the second half of net_start, for a test
# that sets Linux's side up further after net_tap_up (another address on
# rn0, say) before the daemon starts.
net_launch() {
    _net_launch "$@"
}

# net_restart [DAEMON ARGS...]: stops the daemon (checked as net_stop does:
# a leak or unclean exit is a failure) and starts a new one on the same rn0
# with these arguments.  Linux's side stays as it was.
net_restart() {
    net_stop
    _net_launch "$@"
}

# Starts the daemon on rn0 and waits (at most 5 s each) until it answers
# `refnet status` and the kernel's side has carrier.
_net_launch() {
    local i
    # Not through nsx: a backgrounded function would be a subshell, and $!
    # its PID; ip netns exec execs the daemon, so $! is the daemon's.
    local v6=() rss=()
    [ "$net_v6" = 1 ] && v6=(--addr6 2001:2::2/64)
    # REFNET_TEST_RSS (off, or a number of queues) runs every daemon of the
    # suite so, but one whose test gives --rss itself.
    [ -n "${REFNET_TEST_RSS:-}" ] && [[ " $* " != *" --rss "* ]] && rss=(--rss "$REFNET_TEST_RSS")
    ip netns exec "$ns" "$refnet" daemon --tap rn0 --addr "198.18.0.2/$net_plen" --ctl "$sock" \
        "${v6[@]}" "${rss[@]}" "$@" 2>"$dlog" &
    dpid=$!
    net_stopped=0
    for i in $(seq 50); do
        rn status >/dev/null 2>&1 && break
        kill -0 "$dpid" 2>/dev/null || break
        sleep 0.1
    done
    if ! rn status >/dev/null 2>&1; then
        echo "daemon's stderr:"; cat "$dlog"
        die "the daemon did not come up"
    fi
    # The kernel's side has carrier once the daemon holds the device.
    for i in $(seq 50); do
        nsx ip link show rn0 | grep -q "LOWER_UP" && return 0
        sleep 0.1
    done
    die "rn0 has no carrier with the daemon attached"
}

# net_wait_dad: waits (at most 5 s) until every IPv6 address of the
# daemon's is out of duplicate address detection, and fails unless all are
# preferred.
net_wait_dad() {
    local i states
    for i in $(seq 50); do
        states=$(rn ifconfig --json | "$py" -c '
import json, sys
print(" ".join(a["state"] for i in json.load(sys.stdin) for a in i.get("addr6", [])))')
        case " $states " in
        *" tentative "*) sleep 0.1 ;;
        *) break ;;
        esac
    done
    case " $states " in
    *" tentative "* | *" duplicate "* | "  ") die "IPv6 addresses not ready: '$states'" ;;
    esac
}

# net_stop [SIG]: stops the daemon with SIGSIG, SIGTERM by default (waiting
# at most 10 s, then SIGKILL) and checks it ended well: exit 0, "shut down
# cleanly", no leak report.  A failure is recorded with bad; the daemon's
# log is shown.
net_stop() {
    local i status sig=${1:-TERM}
    [ -n "$dpid" ] && [ "$net_stopped" = 0 ] || return 0
    net_stopped=1
    kill -"$sig" "$dpid" 2>/dev/null
    for i in $(seq 100); do
        kill -0 "$dpid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$dpid" 2>/dev/null; then
        kill -KILL "$dpid" 2>/dev/null
        wait "$dpid" 2>/dev/null
        bad "the daemon did not stop within 10 s of SIG$sig (killed)"
        cat "$dlog"
        return
    fi
    wait "$dpid"
    status=$?
    local ok=1
    [ "$status" = 0 ] || { bad "the daemon exited $status"; ok=0; }
    grep -q "^refnet daemon: shut down cleanly$" "$dlog" || { bad "no clean shutdown line"; ok=0; }
    if _net_leak_lines >/dev/null; then bad "the daemon reported leaks"; ok=0; fi
    if [ "$ok" = 0 ]; then echo "daemon's stderr:"; cat "$dlog"; fi
}

# The lines of the daemon's log that report a leak; fails (returns 1) if
# there are none.  By default every line that says "leak", but the notice
# that the lab-only callout 'faulty' is registered (which names its
# arg=leak).  A test whose daemon speaks of leaks on purpose (an injected
# fault) sets $net_leak_re to the extended regex of the lines that report
# real ones.
_net_leak_lines() {
    if [ -n "$net_leak_re" ]; then
        grep -E "$net_leak_re" "$dlog"
    else
        grep -i "leak" "$dlog" | grep -v "^filter: the lab-only callout '[a-z]*' is registered"
    fi
}

# net_crash: kills the daemon with SIGKILL and reaps it, unchecked (what a
# crash leaves behind is the test's to check).
net_crash() {
    [ -n "$dpid" ] && [ "$net_stopped" = 0 ] || return 0
    net_stopped=1
    kill -KILL "$dpid" 2>/dev/null
    wait "$dpid" 2>/dev/null
}

# net_track PID: has teardown end PID (a background program the test
# started on the host's side) if it is still running, as net_bg's are.
net_track() {
    net_pids+=("$1")
}

# net_need TOOL...: fails at once unless each TOOL is installed
# (scripts/deps.sh installs them all).
net_need() {
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null || die "$t is not installed"
    done
}

# net_bg CMD...: starts CMD in the background inside the namespace (with
# the caller's redirections) and sets $bgpid to its PID, which teardown
# ends if it is still running.  `wait $bgpid` gives its exit status.
# net_bg_in NS CMD... does the same in namespace NS.
net_bg() {
    net_bg_in "$ns" "$@" <&0
}

net_bg_in() {
    local in=$1
    shift
    # Not through nsx, for the same reason as the daemon: $! must be CMD's.
    # <&0: without job control, a background command's stdin would be
    # /dev/null, not the caller's redirection.
    ip netns exec "$in" "$@" <&0 &
    bgpid=$!
    net_pids+=("$bgpid")
}

# net_wait_bg PID SECS: waits at most SECS seconds for the net_bg program
# PID to end and returns its exit status; if it is still running then, ends
# it (TERM, then KILL) and returns 124, like timeout(1).
net_wait_bg() {
    local p=$1 end=$((SECONDS + $2))
    while kill -0 "$p" 2>/dev/null && [ "$SECONDS" -lt "$end" ]; do
        sleep 0.1
    done
    if kill -0 "$p" 2>/dev/null; then
        kill -TERM "$p" 2>/dev/null
        sleep 0.5
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
        return 124
    fi
    wait "$p"
}

# net_kill_bg: ends (TERM, then KILL after 2 s) the net_bg programs still
# running, by PID.
net_kill_bg() {
    local p i
    for p in "${net_pids[@]}"; do
        kill -0 "$p" 2>/dev/null || continue
        kill -TERM "$p" 2>/dev/null
        for i in $(seq 20); do
            kill -0 "$p" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    net_pids=()
}

# net_wait_for SECS CMD...: runs CMD every 0.1 s until it succeeds (returns
# 0) or SECS seconds have passed (returns 1).
net_wait_for() {
    local end=$((SECONDS + $1))
    shift
    while :; do
        "$@" && return 0
        [ "$SECONDS" -lt "$end" ] || return 1
        sleep 0.1
    done
}

# net_ns_add NAME: creates a further namespace (rn-net-TEST-NAME-PID, in
# $net_ns_last) with its loopback up; teardown deletes it.
net_ns_add() {
    net_ns_last="rn-net-$net_name-$1-$$"
    ip netns add "$net_ns_last" || die "cannot create namespace $net_ns_last"
    net_extra_ns+=("$net_ns_last")
    ip -n "$net_ns_last" link set lo up || die "cannot bring lo up in $net_ns_last"
}

# net_snmp NS GROUP FIELD: a counter of /proc/net/snmp in namespace NS
# (net_snmp "$ns" Icmp OutDestUnreachs).
net_snmp() {
    ip netns exec "$1" cat /proc/net/snmp |
        awk -v g="$2:" -v f="$3" '$1 == g { if (!h) { for (i = 2; i <= NF; i++) c[$i] = i; h = 1 }
                                            else print $(c[f]) }'
}

# net_snmp6 NS FIELD: a counter of /proc/net/snmp6 in namespace NS.
net_snmp6() {
    ip netns exec "$1" awk -v f="$2" '$1 == f { print $2 }' /proc/net/snmp6
}

# net_routed_srv: a server namespace behind a router, the test's
# namespace: a veth pair vr (the router's end: 198.18.1.1/24,
# 2001:2:1::1/64) and vs in the new namespace (198.18.1.2/24,
# 2001:2:1::2/64), forwarding on for both families, the server's default
# routes through the router.  Leaves the server's namespace in $srv.
# Tests set the MTUs they need afterwards.
net_routed_srv() {
    local side
    net_ns_add srv
    srv=$net_ns_last
    ip -n "$ns" link add vr type veth peer name vs netns "$srv" || die "cannot create the veth pair"
    for side in "$ns vr" "$srv vs"; do
        set -- $side
        ip netns exec "$1" sysctl -qw "net.ipv6.conf.$2.accept_dad=0" \
            "net.ipv6.conf.$2.accept_ra=0" || die "cannot set $2's IPv6 options"
    done
    nsx sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 ||
        die "cannot enable forwarding"
    nsx ip addr add 198.18.1.1/24 dev vr || die "cannot address vr"
    nsx ip addr add 2001:2:1::1/64 dev vr nodad || die "cannot address vr (IPv6)"
    nsx ip link set vr up || die "cannot bring vr up"
    ip -n "$srv" addr add 198.18.1.2/24 dev vs || die "cannot address vs"
    ip -n "$srv" addr add 2001:2:1::2/64 dev vs nodad || die "cannot address vs (IPv6)"
    ip -n "$srv" link set vs up || die "cannot bring vs up"
    ip -n "$srv" route add default via 198.18.1.1 || die "cannot route the server's namespace"
    ip -n "$srv" -6 route add default via 2001:2:1::1 ||
        die "cannot route the server's namespace (IPv6)"
}

# net_ra_router: Linux's rn0 advertises itself as a router (one router
# advertisement from its link-local address, lifetime 600 s), and waits
# (at most 5 s) until the daemon lists it as its IPv6 default router.
net_ra_router() {
    local ll mac
    ll=$(nsx ip -6 -o addr show dev rn0 scope link | awk '{ sub("/.*", "", $4); print $4; exit }')
    [ -n "$ll" ] || die "rn0 has no link-local address"
    mac=$(nsx cat /sys/class/net/rn0/address)
    nsx "$py" - "$ll" "$mac" 2>"$dir/ra.err" <<'EOF' || die "cannot send the advertisement: $(cat "$dir/ra.err")"
import sys
from scapy.all import Ether, IPv6, ICMPv6ND_RA, ICMPv6NDOptSrcLLAddr, sendp, conf
conf.verb = 0
ll, mac = sys.argv[1], sys.argv[2]
sendp(Ether(src=mac, dst="33:33:00:00:00:01") / IPv6(src=ll, dst="ff02::1", hlim=255) /
      ICMPv6ND_RA(routerlifetime=600) / ICMPv6NDOptSrcLLAddr(lladdr=mac), iface="rn0")
EOF
    net_wait_for 5 eval 'rn route | grep -qi "$ll"' || die "refnet took no default router: $(rn route)"
}

net_teardown() {
    local rc=$? x
    net_kill_bg
    net_stop
    for x in "${net_extra_ns[@]}"; do
        ip netns del "$x" 2>/dev/null
    done
    [ -n "$ns" ] && ip netns del "$ns" 2>/dev/null
    [ -n "$dir" ] && rm -rf "$dir"
    [ "$fail" = 0 ] || rc=1
    exit "$rc"
}

# net_done MSG: stops the daemon (checked), then exits 0 with "PASS: MSG"
# or 1 if anything failed.
net_done() {
    net_kill_bg
    net_stop
    if [ "$fail" != 0 ]; then
        echo "FAIL: $net_name"
        exit 1
    fi
    echo "PASS: $*"
    exit 0
}

# net_alive: fails at once if the daemon died.
net_alive() {
    if ! kill -0 "$dpid" 2>/dev/null; then
        net_stopped=1
        echo "daemon's stderr:"; cat "$dlog"
        die "the daemon died"
    fi
}

# net_stat FILE: saves `refnet stat --json` to FILE (fails at once if the
# daemon does not answer).
net_stat() {
    rn stat --json >"$1" 2>"$1.err" || die "refnet stat --json failed: $(cat "$1.err")"
}

# net_svc FILE: saves `refnet svc --json` to FILE (fails at once if the
# daemon does not answer).
net_svc() {
    rn svc --json >"$1" 2>"$1.err" || die "refnet svc --json failed: $(cat "$1.err")"
}

# net_objects FILE: saves `refnet objects --json` to FILE (fails at once if
# the daemon does not answer).
net_objects() {
    rn objects --json >"$1" 2>"$1.err" || die "refnet objects --json failed: $(cat "$1.err")"
}

# jq_py FILE EXPR: prints the Python expression EXPR evaluated with j bound
# to FILE's JSON, and rnjson.py's helpers: drops(j) (all drops by reason,
# interface and stack-wide summed), proto(j, name) and iface(j, key) for
# `stat --json`, svc(j, name) (a service's counters) for `svc --json`, and
# types(j) (live objects by type) for `objects --json`.
jq_py() {
    "$py" - "$1" "$2" <<'EOF'
import json, sys
from rnjson import drops, proto, iface, svc, types
j = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))
EOF
}

# net_rss_kb: the daemon's resident set in KiB.
net_rss_kb() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$dpid/status"
}

# net_mac: refnet's MAC, from `refnet ifconfig --json`.
net_mac() {
    rn ifconfig --json | "$py" -c 'import json,sys; print(json.load(sys.stdin)[0]["mac"])'
}

# net_tcp_idle SECS: waits at most SECS seconds until refnet has no TCP
# connection left (tcp.connections 0 in `refnet stat`; TIME_WAIT entries
# are not connections).  Returns 1 if some remain.
net_tcp_idle() {
    net_wait_for "$1" _net_tcp_none
}
_net_tcp_none() {
    rn stat --json >"$dir/.idle.json" 2>/dev/null &&
        [ "$(jq_py "$dir/.idle.json" 'proto(j,"tcp.connections")')" = 0 ]
}

# net_objects_settled BASE NOW: compares two `objects --json` files: NOW
# must hold the objects of BASE type for type, but for control requests
# (the listing's own), TIME_WAIT entries (any number), the spare request
# records processes keep (at most rnjson.SPARES_MAX each), ARP entries (at
# most one per loop: Linux's) and neighbour entries (at most two per loop: Linux's global
# and link-local IPv6 addresses, with $net_v6).  Prints the difference and
# returns 1 otherwise.
net_objects_settled() {
    local loops
    # With receive-side scaling each loop's stack learns Linux's addresses.
    loops=$(rn status --json 2>/dev/null | "$py" -c '
import json, sys
print(json.load(sys.stdin).get("rss_queues", 1))' 2>/dev/null)
    "$py" - "$1" "$2" "${loops:-1}" <<'EOF'
import json, sys
from rnjson import types, SPARES_MAX
base, now = (types(json.load(open(p))) for p in sys.argv[1:3])
loops = int(sys.argv[3])
free = {"ctl request", "tcp timewait"}
errs = []
for t in sorted(set(base) | set(now)):
    if t in free:
        continue
    b, n = base.get(t, 0), now.get(t, 0)
    if t == "request spare":
        ok = n <= SPARES_MAX * now.get("process", 0)
    elif t == "arp entry":
        ok = n <= max(b, loops)
    elif t == "nd entry":
        ok = n <= max(b, 2 * loops)
    else:
        ok = n == b
    if not ok:
        errs.append("%s: %d, at the start %d" % (t, n, b))
if errs:
    print("objects not back to the baseline: " + "; ".join(errs))
    sys.exit(1)
EOF
}

# net_unexpected_drops FILE: the drops of a `stat --json` file, as a Python
# dict, leaving out two kinds a correct exchange can produce on a TAP that
# loses nothing: tcp_duplicate, segments refnet already had, which Linux
# resends on its own when refnet is slow to acknowledge (its tail loss probe
# after two round trips; sanitizer builds make this common); and
# tcp_rst_no_conn, Linux's resets to refnet's segments still in flight when
# a Linux reader closed with data unread (refnet lets the connection go on
# the first reset; the later ones reach its listener).
net_unexpected_drops() {
    jq_py "$1" '{k: v for k, v in drops(j).items() if k not in ("tcp_duplicate", "tcp_rst_no_conn")}'
}
