#!/usr/bin/env bash
# The POSIX socket calls of an unmodified program on refnet through
# `refnet run` (tests/run/run_posix.c), against a Linux peer
# (tests/net/run_peer.py) in a network namespace:
#   - run-posix all: non-blocking connect, poll, select, epoll (level, edge,
#     one-shot), shutdown, sendfile, dup, dup2, fork (a child writing on an
#     inherited connection, two children accepting on an inherited
#     listener), accept4, exec with and without close-on-exec, exec in
#     place, setsockopt(TCP_CONGESTION) with Linux's names: every check
#     passes;
#   - run-posix six: AF_INET6 sockets against a second peer on [2001:2::1]:
#     Linux's errno for bad lengths and families, IPV6_V6ONLY and
#     IPV6_TCLASS, connects with sockaddr_in6 names, a dual-stack listener
#     on [::] accepting an IPv4 client as ::ffff:198.18.0.1, V6ONLY
#     leaving the port to IPv4, UDP to both families (none to IPv4 when
#     V6ONLY), ::1 the kernel's: every check passes (Linux's own sockets
#     pass them too);
#   - fork gives each child its own handle: a listener held by a parent and
#     two children is one socket with three "handle" references, one per
#     process; killing the parent leaves two, killing all closes it;
#   - kill -9 mid-transfer: noticed within a second, and once the cleanup
#     ends nothing of the program is left in `refnet objects`;
#   - kill -9 of a program whose last data the peer never reads: its
#     process stays "terminating" with its real pid and "killed by signal
#     9" in `refnet why`, the watchdog's report and a dump read by
#     `refnet analyze` until the peer goes;
#     then nothing is left.
# Needs root and /dev/net/tun; otherwise skipped with a message (lib.sh).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run_lib.sh"
net_setup run_posix
posix="$REFNET_BUILD/tests/run-posix"
[ -x "$posix" ] || die "$posix not built"

net_v6=1
net_start --watchdog 2
net_wait_dad
run_objects_base
net_bg "$py" "$here/run_peer.py" 198.18.0.1 7000 120
net_bg "$py" "$here/run_peer.py" 2001:2::1 7000 120
net_wait_for 10 sh -c "[ \$(ip netns exec '$ns' ss -ltnH 'sport = :7000' | grep -c LISTEN) = 2 ]" ||
    bad "the two peers do not listen"

# ---- every check ------------------------------------------------------------------
runx -- "$posix" all 198.18.0.1 7000 8000 >"$dir/all.out" 2>&1
rc=$?
grep "^FAIL" "$dir/all.out"
grep -c "^ok " "$dir/all.out" | sed "s/^/checks passed: /"
[ "$rc" = 0 ] || bad "run-posix all exited $rc: $(tail -3 "$dir/all.out")"
[ "$(grep -c '^ok ' "$dir/all.out")" -ge 42 ] || bad "fewer checks passed than written: $(grep -c '^ok ' "$dir/all.out")"
[ "$(grep -c '^ok congestion-' "$dir/all.out")" = 6 ] || bad "TCP_CONGESTION's checks did not all pass"
run_settled 10

# ---- AF_INET6 ---------------------------------------------------------------------
runx -- "$posix" six 2001:2::1 198.18.0.1 7000 8010 >"$dir/six.out" 2>&1
rc=$?
grep "^FAIL" "$dir/six.out"
grep -c "^ok " "$dir/six.out" | sed "s/^/AF_INET6 checks passed: /"
[ "$rc" = 0 ] || bad "run-posix six exited $rc: $(tail -3 "$dir/six.out")"
[ "$(grep -c '^ok six-' "$dir/six.out")" -ge 37 ] || bad "fewer AF_INET6 checks passed than written: $(grep -c '^ok ' "$dir/six.out")"
run_settled 10

# ---- one socket, a handle per process ----------------------------------------------
run_bg --name holder -- "$posix" hold 8001 >"$dir/hold.out"
holder=$prog_pid
net_wait_for 10 grep -q held "$dir/hold.out" || bad "hold did not start"
# The listener's socket and its handles, from `refnet objects --json`.
handles() {
    net_objects "$dir/h.json"
    "$py" - "$dir/h.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
for o in j:
    if o["type"] == "socket" and ":8001" in o["desc"]:
        print(sum(t["count"] for t in o["ledger"] if t["tag"] == "handle"))
        break
else:
    print(0)
PY
}
n=$(handles)
[ "$n" = 3 ] || bad "the held listener has $n handle references, not 3 (a parent and two children)"
procs=$(rn objects -t process | grep -c "process holder\|process run-posix")
[ "$procs" = 3 ] || bad "$procs refnet processes for the holder and its children, not 3"
kids=$(pgrep -P "$holder")
kill -KILL "$holder"
wait "$run_pid" 2>/dev/null
sleep 1
n=$(handles)
[ "$n" = 2 ] || bad "after the parent's kill -9: $n handle references, not 2"
[ "$(rn objects -t process | grep -c "process run-posix")" = 2 ] ||
    bad "the children are not refnet processes of their own: $(rn objects -t process)"
for p in $kids; do kill -KILL "$p"; done
run_settled 5

# ---- kill -9 mid-transfer -----------------------------------------------------------
run_bg -- "$posix" sink 198.18.0.1 7000
sleep 1
kill -KILL "$prog_pid"
wait "$run_pid" 2>/dev/null
t0=$SECONDS
run_settled 5
[ $((SECONDS - t0)) -le 2 ] || bad "the killed program took $((SECONDS - t0)) s to be cleaned up"

# ---- a process that cannot finish: terminating, killed by signal 9 ------------------
run_bg --name staller -- "$posix" stream 198.18.0.1 7000 >"$dir/st.out"
net_wait_for 20 grep -q blocked "$dir/st.out" || bad "the stream never blocked"
pid=$prog_pid
kill -KILL "$pid"
net_wait_for 5 sh -c "'$refnet' objects -t process --ctl '$sock' | grep -q 'process staller (pid $pid, killed by signal 9) terminating'" ||
    bad "no terminating process with its pid and signal: $(rn objects -t process)"
sleep 2.5
rn why >"$dir/why.out" 2>&1
grep -q "process staller (pid $pid, killed by signal 9) terminating" "$dir/why.out" ||
    bad "refnet why does not name the terminating process: $(cat "$dir/why.out")"
grep -q "process staller (pid $pid, killed by signal 9) terminating" "$dlog" ||
    bad "the watchdog did not report it: $(tail -5 "$dlog")"
rn dump "$dir/stall.dump" >/dev/null || bad "refnet dump failed"
"$refnet" analyze "$dir/stall.dump" >"$dir/analyze.out" 2>&1
grep -q "process staller (pid $pid, killed by signal 9) terminating" "$dir/analyze.out" ||
    bad "the dump does not show the terminating process: $(head -5 "$dir/analyze.out")"
# The peer goes (its stalled reader is reset): the close completes.
net_kill_bg
run_settled 15

net_done "POSIX calls through refnet run, AF_INET and AF_INET6; a handle per process; kill -9 cleaned up within a second; a stuck exit shown terminating with its pid and signal"
