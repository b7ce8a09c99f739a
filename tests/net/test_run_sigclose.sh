#!/usr/bin/env bash
# A program under `refnet run` that closes a socket in a signal handler
# while its main code waits for the daemon's answer (apache2's prefork
# children close their listeners in their SIGWINCH and SIGUSR1 handlers):
# every close returns, every child ends (tests/run/run_sigclose.c), and
# the daemon holds nothing of them afterwards.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run_lib.sh"
net_setup run_sigclose
prog=$REFNET_BUILD/tests/run-sigclose
[ -x "$prog" ] || die "$prog is missing (built with the project)"

net_start
run_objects_base
runx -- "$prog" >"$dir/out" 2>&1
rc=$?
cat "$dir/out"
[ "$rc" = 0 ] || bad "run-sigclose exited $rc"
run_settled 5

net_done "run_sigclose: a socket closed in a signal handler during a call to the daemon returns"
