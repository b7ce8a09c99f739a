#!/usr/bin/env bash
# refnet lab apache: the case with Debian's apache2, end to end, as a user
# runs it (it makes its own namespace, daemon and apache2):
#   - mpm_event with the fault: exit 3; the load made the listener collect
#     'enum' holds; the stop's diagnosis is the chain service -> real
#     process (exited) -> refnet process terminating -> socket -> listener
#     -> verdict naming 'enum', and the watchdog named it within the
#     threshold + 1 s; the restart named the holder; clear-leak completed
#     the stop and the restart served the page; the daemon shut down
#     cleanly; no process of apache2 and no namespace left; the dump taken
#     when the watchdog named the holder shows the same chain in analyze;
#   - mpm_prefork, --fixed: exit 0, the stop completes at once.
set -u
refnet=${REFNET_BUILD:?REFNET_BUILD must name the build directory}/bin/refnet
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (network namespaces, TAP devices)"; exit 0; }
[ -c /dev/net/tun ] || { echo "SKIP: /dev/net/tun is missing"; exit 0; }
out=$(mktemp /tmp/refnet-lab-apache-test.XXXXXX)
dump=$out.dump
trap 'rm -f "$out" "$dump" "$out.an"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

timeout 120 "$refnet" lab apache --threshold 3 --dump "$dump" >"$out" 2>&1
rc=$?
cat "$out"
[ "$rc" = 3 ] || bad "lab apache exited $rc, want 3"
for want in "apache2 (command: /usr/sbin/apache2 -f " ": RUNNING for " \
    "Hello from apache2 on refnet" \
    "refnet svc: apache2 did not stop within 5.0s; it stays STOP_PENDING. Why:" \
    "└ real process apache2 (pid " "exit status 0, SIGWINCH sent " \
    "its process group is gone, refnet's cleanup of 1 of " \
    "terminating, 1 of " "close pending" "tcp listener 198.18.0.2:80 CLOSED" \
    "verdict: 'enum' holds past its bound (1.0s) with no enumeration running" \
    "refnet watchdog: " "(the watchdog named the 'enum' holder when the stop had been pending " \
    "cannot start apache2: TCP port 80: address in use: held by #" \
    "owner service apache2" "gave back " ": STOPPED for " \
    "service apache2 RUNNING, pid " "service apache2 STOPPED (stop took " \
    "refnet daemon: shut down cleanly" "no process of apache2 left"; do
    grep -qF -- "$want" "$out" || bad "lab apache's output lacks '$want'"
done
grep -Eq "LISTEN .*apache2\[[0-9]+\].*enum [0-9]+" "$out" || bad "the listener's row shows no 'enum' hold"
[ "$(grep -c "Hello from apache2 on refnet" "$out")" = 2 ] || bad "the page was not served before and after"
# The dump taken when the watchdog named the holder: analyze prints the
# same chain, from the service through the exited real process.
if [ -s "$dump" ]; then
    "$refnet" analyze "$dump" >"$out.an" 2>&1
    rc=$?
    [ "$rc" = 0 ] || [ "$rc" = 3 ] || bad "refnet analyze of the lab's dump exited $rc: $(cat "$out.an")"
    for want in "service apache2 STOP_PENDING" "└ real process apache2 (pid " ", exit status 0, SIGWINCH sent " \
        "terminating, 1 of 1 handle cleanups pending" "tcp listener 198.18.0.2:80 CLOSED" \
        "verdict: 'enum' holds past its bound (1.0s) with no enumeration running"; do
        grep -qF -- "$want" "$out.an" || bad "analyze of the lab's dump lacks '$want'"
    done
    rm -f "$out.an"
else
    bad "lab apache --dump wrote no dump"
fi
ip netns list | grep -q "^rn-lab-apache-" && bad "a lab namespace is left: $(ip netns list | grep rn-lab-apache)"

timeout 90 "$refnet" lab apache --mpm prefork --fixed >"$out" 2>&1
rc=$?
echo "---- lab apache --mpm prefork --fixed: exit $rc"
grep -E "^(### |service apache2 STOPPED|refnet daemon: shut down|curl: )" "$out" | sed 's/\x1b\[[0-9;]*m//g'
[ "$rc" = 0 ] || { cat "$out"; bad "lab apache --mpm prefork --fixed exited $rc, want 0"; }
grep -q "mod_mpm_prefork\|(prefork)" "$out" || bad "prefork was not the MPM: $(head -3 "$out")"
grep -q "^service apache2 STOPPED (stop took " "$out" || bad "the fixed stop did not complete"
grep -q "STOP_PENDING" "$out" && bad "the fixed run's stop was pending"

[ "$fail" = 0 ] || exit 1
echo "PASS: lab apache: the case with apache2 hangs, is named within the threshold + 1 s, is cleared; prefork without the fault stops at once"
