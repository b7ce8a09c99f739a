#!/usr/bin/env bash
# The main job: refnet at work on a TAP device against the Linux kernel,
# and what it tells you when a stop hangs.
# Usage: scripts/demo.sh BUILD_DIR
#
# With root, the network part runs in a network namespace of its own
# (198.18.0.0/15 only) and is torn down at the end; without root, only the
# parts that need no privileges run, and the script says so.
#
# It ends with the two things to look at in a browser: the daemon's live
# view (`--ui`, on this machine's loopback; from a terminal the daemon stays
# up until Enter) and the HTML report of the case's dump, written to
# BUILD_DIR/demo/refnet-case-report.html.
set -u
build=${1:-build}
refnet=$(cd "$build" && pwd)/bin/refnet

step() { printf '\n\033[1m### %s\033[0m\n' "$*"; }
run() { printf '\033[2m$ %s\033[0m\n' "$*"; "$@"; }

ns=rn-demo-$$
tap=rndemo$$
dir=$(mktemp -d)
out=$(cd "$build" && pwd)/demo
daemon_pid=
ui_url=
ui_token=
cleanup() {
    if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
        kill -TERM "$daemon_pid"
        wait "$daemon_pid" 2>/dev/null
    fi
    ip netns del "$ns" 2>/dev/null
    ip link del "$tap" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

network_part() {
    local inns=(ip netns exec "$ns")
    export REFNET_CTL=$dir/ctl.sock

    step "1. refnet runs on a TAP device whose other end is in a fresh network namespace"
    # The daemon stays in this machine's namespace, so that its live view
    # (--ui) is on this machine's loopback; its TAP goes into the demo's
    # namespace once the daemon holds it, so that every frame stays there.
    ip netns add "$ns" || return 1
    "${inns[@]}" ip link set lo up
    ip tuntap add "$tap" mode tap multi_queue || return 1  # a queue per loop
    sysctl -qw "net.ipv6.conf.$tap.disable_ipv6=1"
    mkdir -p "$dir/www"
    printf '<!doctype html>\n<title>refnet</title>\n<h1>Hello from refnet</h1>\n' \
        >"$dir/www/index.html"
    "$refnet" daemon --tap "$tap" --addr 198.18.0.2/15 --addr6 2001:2::2/64 --ctl "$REFNET_CTL" \
        --service "httpd=80:$dir/www" --service echo --ui "127.0.0.1:${REFNET_DEMO_UI_PORT:-0}" \
        2>"$dir/daemon.err" &
    daemon_pid=$!
    for _ in $(seq 50); do
        "$refnet" status >/dev/null 2>&1 && break
        sleep 0.1
    done
    ip link set "$tap" netns "$ns" || return 1
    # Linux's side speaks IPv6 too, quietly: no DAD of its own, no router
    # solicitations, so the only IPv6 frames are the demo's.
    "${inns[@]}" sysctl -qw "net.ipv6.conf.$tap.accept_dad=0" \
        "net.ipv6.conf.$tap.router_solicitations=0" "net.ipv6.conf.$tap.accept_ra=0"
    "${inns[@]}" ip addr add 2001:2::1/64 dev "$tap" nodad
    "${inns[@]}" ip addr add 198.18.0.1/15 dev "$tap"
    "${inns[@]}" ip link set "$tap" up
    run "$refnet" status || return 1
    ui_url=$(sed -n 's/^refnet daemon: live view at \([^ ]*\) .*/\1/p' "$dir/daemon.err")
    ui_token=$(sed -n 's/.*actions need the token \([0-9a-f]*\)).*/\1/p' "$dir/daemon.err")
    echo "(the live view: $ui_url; the last step says more)"

    step "2. Linux pings refnet; the interface is an object, and its ledger names every holder"
    run "${inns[@]}" ping -c 3 -i 0.2 198.18.0.2
    local ifid
    ifid=$("$refnet" ifconfig --json | sed -n 's/.*"id":\([0-9]*\).*/\1/p' | head -n 1)
    run "$refnet" refs "$ifid"

    step "3. refnet's httpd serves a page; Linux curl fetches it, over IPv4 and over IPv6"
    run "${inns[@]}" curl -s http://198.18.0.2/
    # The IPv6 address is refnet's once duplicate address detection is over.
    for _ in $(seq 30); do
        "${inns[@]}" ping -6 -c 1 -W 1 2001:2::2 >/dev/null 2>&1 && break
        sleep 0.1
    done
    run "${inns[@]}" curl -6 -s -w '(%{remote_ip} port %{remote_port}, HTTP %{http_code})\n' 'http://[2001:2::2]/'
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

# shutdown: stops the daemon and shows that it shut down cleanly.
shutdown() {
    step "refnet shuts down: every object is released, nothing leaks"
    if [ -n "$daemon_pid" ]; then
        kill -TERM "$daemon_pid"
        wait "$daemon_pid"
        echo "daemon exit status $? (0: shut down cleanly, no leak)"
        cat "$dir/daemon.err"
        daemon_pid=
    fi
    ip netns del "$ns" 2>/dev/null && echo "namespace $ns removed"
}

network=0
if [ "$(id -u)" = 0 ] && [ -c /dev/net/tun ] && command -v ip >/dev/null; then
    network=1
    network_part || echo "demo: the network part failed; see $dir/daemon.err" >&2
else
    step "Skipping the network part (steps 1 to 5 and the live view): it needs root and /dev/net/tun to put a TAP device in a network namespace"
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
run "$refnet" lab stop-hang --dump "$dir/case.dump"
rc=$?
if [ "$rc" != 3 ]; then
    echo "demo: the lab should have reproduced the hang (exit 3), got $rc" >&2
    exit 1
fi
echo
echo "(exit status 3: hang reproduced and diagnosed; \`refnet lab stop-hang --fixed\` stops cleanly)"

step "The report of the case, for a ticket: one HTML file"
mkdir -p "$out"
report=$out/refnet-case-report.html
run "$refnet" analyze --html "$dir/case.dump" >"$report" || exit 1
echo "$report: $(wc -c <"$report") bytes, the chain drawn, holders, sites and verdict, every object"

# The end: what to open, and how.
if [ "$network" = 1 ] && [ -n "$ui_url" ] && [ ! -t 0 ]; then
    shutdown   # not a terminal: nobody will look; the view goes with the daemon
fi
step "Look at it in a browser"
if [ -n "$ui_url" ] && [ -n "$daemon_pid" ]; then
    echo "The live view:  $ui_url"
    echo "    open it in a browser on this machine (its pages refresh every second;"
    echo "    read-only: stopping a service from it needs the token $ui_token)."
elif [ -n "$ui_url" ]; then
    echo "The live view was at $ui_url while the daemon ran; run \`make demo\` from a"
    echo "    terminal and the daemon stays up until you press Enter."
fi
echo "The report:     $report"
echo "    open it with any browser (xdg-open $report, or file://$report);"
echo "    it is one self-contained file and needs no network: attach it to a ticket."
if [ -n "$daemon_pid" ]; then
    printf '\nPress Enter to stop the daemon and end the demo. '
    read -r _
    shutdown
fi
