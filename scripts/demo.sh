#!/usr/bin/env bash
# The main job: refnet at work on a TAP device against the Linux kernel,
# and what it tells you when a stop hangs.
# Usage: scripts/demo.sh BUILD_DIR
#
# With root, the network part runs in a network namespace of its own
# (198.18.0.0/15 only) and is torn down at the end; without root, only the
# parts that need no privileges run, and the script says so.
set -u
build=${1:-build}
refnet=$(cd "$build" && pwd)/bin/refnet

step() { printf '\n\033[1m### %s\033[0m\n' "$*"; }
run() { printf '\033[2m$ %s\033[0m\n' "$*"; "$@"; }

ns=rn-demo-$$
dir=$(mktemp -d)
daemon_pid=
cleanup() {
    if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
        kill -TERM "$daemon_pid"
        wait "$daemon_pid" 2>/dev/null
    fi
    ip netns del "$ns" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

network_part() {
    local inns=(ip netns exec "$ns")
    export REFNET_CTL=$dir/ctl.sock

    step "1. refnet runs on a TAP device in a fresh network namespace"
    ip netns add "$ns" || return 1
    "${inns[@]}" ip link set lo up
    "${inns[@]}" ip tuntap add rn0 mode tap
    "${inns[@]}" sysctl -qw net.ipv6.conf.rn0.disable_ipv6=1
    "${inns[@]}" ip addr add 198.18.0.1/15 dev rn0
    "${inns[@]}" ip link set rn0 up
    mkdir -p "$dir/www"
    printf '<!doctype html>\n<title>refnet</title>\n<h1>Hello from refnet</h1>\n' \
        >"$dir/www/index.html"
    "${inns[@]}" "$refnet" daemon --tap rn0 --addr 198.18.0.2/15 --ctl "$REFNET_CTL" \
        --service "httpd=80:$dir/www" --service echo 2>"$dir/daemon.err" &
    daemon_pid=$!
    for _ in $(seq 50); do
        "$refnet" status >/dev/null 2>&1 && break
        sleep 0.1
    done
    run "$refnet" status || return 1

    step "2. Linux pings refnet; the interface is an object, and its ledger names every holder"
    run "${inns[@]}" ping -c 3 -i 0.2 198.18.0.2
    local ifid
    ifid=$("$refnet" ifconfig --json | sed -n 's/.*"id":\([0-9]*\).*/\1/p' | head -n 1)
    run "$refnet" refs "$ifid"

    step "3. refnet's httpd serves a page; Linux curl fetches it"
    run "${inns[@]}" curl -s http://198.18.0.2/
    # A connection that stays open for the listing: Linux nc to the echo
    # service, idle for a few seconds.
    "${inns[@]}" timeout 10 sh -c 'sleep 3 | nc -N 198.18.0.2 7' >/dev/null 2>&1 &
    local nc_pid=$!
    sleep 0.5

    step "4. netstat with holders: every endpoint, its owner, and who holds it"
    run "$refnet" netstat -a --refs
    wait "$nc_pid" 2>/dev/null

    step "5. httpd stops cleanly: its handles close, its listener is released"
    run "$refnet" svc stop httpd || return 1
    run "$refnet" svc list
    return 0
}

if [ "$(id -u)" = 0 ] && [ -c /dev/net/tun ] && command -v ip >/dev/null; then
    network_part || echo "demo: the network part failed; see $dir/daemon.err" >&2
    step "6. refnet shuts down: every object is released, nothing leaks"
    if [ -n "$daemon_pid" ]; then
        kill -TERM "$daemon_pid"
        wait "$daemon_pid"
        echo "daemon exit status $? (0: shut down cleanly, no leak)"
        cat "$dir/daemon.err"
        daemon_pid=
    fi
    ip netns del "$ns" 2>/dev/null && echo "namespace $ns removed"
else
    step "Skipping the network part (steps 1 to 6): it needs root and /dev/net/tun to put a TAP device in a network namespace"
fi

# ---- The case for real: Debian's apache2 as a service of refnet's
# controller, its sockets on refnet (`refnet lab apache`, which makes its
# own namespace, daemon and apache2 and leaves nothing behind).  It needs
# root and apache2; without them it is skipped and the simulator's telling
# of the same case below is the demo's case.
if [ "$(id -u)" = 0 ] && [ -c /dev/net/tun ] && command -v ip >/dev/null &&
    [ -x /usr/sbin/apache2 ]; then
    step "The case, for real: Debian's apache2 cannot be stopped, and refnet says why"
    echo "apache2 runs as a service of refnet's controller, under \`refnet run\`: its"
    echo "sockets are on refnet.  Linux's curl loads it while netstat runs in a loop;"
    echo "the enumeration has the case's bug (--inject enum-leak): when the table"
    echo "changes under it, it forgets its reference on the listener.  apache2 exits"
    echo "when stopped, but its listener cannot close: the stop stays pending, a"
    echo "restart finds port 80 taken, and the watchdog names the leaking holder."
    run "$refnet" lab apache
    rc=$?
    if [ "$rc" != 3 ]; then
        echo "demo: the lab should have reproduced the hang with apache2 (exit 3), got $rc" >&2
        exit 1
    fi
    echo
    echo "(\`refnet lab apache --mpm prefork\`: children accepting on the listener they inherited)"
    echo "The same case follows in the simulator, in virtual time: no root, no apache2."
elif [ -x /usr/sbin/apache2 ]; then
    step "Skipping the case with apache2 (\`refnet lab apache\`): it needs root and /dev/net/tun"
else
    step "Skipping the case with apache2 (\`refnet lab apache\`): apache2 is not installed (scripts/deps.sh installs it)"
fi
# ---- end of the case with apache2

step "The case: a service stop that hangs, reproduced in the simulator and explained"
echo "httpd serves clients while netstat runs in a loop.  The enumeration has"
echo "the case's bug: when the table changes under it, it forgets its reference"
echo "on the listener.  Stopping httpd then hangs; the watchdog shows the chain"
echo "down to the listener, names the leaking holder and the code that took it."
run "$refnet" lab stop-hang
rc=$?
if [ "$rc" != 3 ]; then
    echo "demo: the lab should have reproduced the hang (exit 3), got $rc" >&2
    exit 1
fi
echo
echo "(exit status 3: hang reproduced and diagnosed; \`refnet lab stop-hang --fixed\` stops cleanly)"
