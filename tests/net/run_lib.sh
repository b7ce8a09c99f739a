# Helpers of the tests of `refnet run` (tests/net/test_run_*.sh), sourced
# after lib.sh.  Programs under `refnet run` run on the host's side (the
# root namespace): only their TCP and UDP sockets are refnet's, so they
# reach Linux at 198.18.0.1 (and 2001:2::1) through refnet and its TAP; Linux's programs run in
# the test's namespace.

# runx ARGS...: `refnet run` on this test's daemon, bounded to 60 s.
runx() {
    timeout 60 "$refnet" run --ctl "$sock" "$@"
}

# run_bg ARGS...: `refnet run` ARGS in the background (teardown ends it),
# in a session of its own if $run_setsid is set;
# sets $run_pid to refnet run's PID and $prog_pid to the program's (its
# child), once it exists (5 s).
run_bg() {
    if [ -n "${run_setsid:-}" ]; then
        # A session of its own: a program that signals its process group
        # on shutdown (apache2 does) signals only itself.
        setsid "$refnet" run --ctl "$sock" "$@" &
    else
        "$refnet" run --ctl "$sock" "$@" &
    fi
    run_pid=$!
    net_track "$run_pid"
    prog_pid=
    local i
    for i in $(seq 50); do
        prog_pid=$(pgrep -P "$run_pid" | head -1)
        [ -n "$prog_pid" ] && return 0
        sleep 0.1
    done
    bad "refnet run $* started no program"
}

# run_objects_base: saves the daemon's objects (before programs ran) as the
# base run_settled compares with.
run_objects_base() {
    net_objects "$dir/run-base.json"
}

# run_settled SECS: waits at most SECS seconds until the daemon holds no
# more objects than at run_objects_base (TIME_WAIT entries and control
# requests aside): every process under refnet run ended, and its sockets
# with it.  Records a failure with what is left otherwise.
run_settled() {
    local end=$((SECONDS + $1))
    while :; do
        net_objects "$dir/run-now.json"
        net_objects_settled "$dir/run-base.json" "$dir/run-now.json" >"$dir/run-diff" && return 0
        if [ "$SECONDS" -ge "$end" ]; then
            bad "objects left behind after the programs ended: $(cat "$dir/run-diff")"
            rn objects | grep -E "^(process|socket|tcp)" | head -20
            return 1
        fi
        sleep 0.2
    done
}

# run_stat NAME: the value of counter NAME in `refnet stat --json`.
run_stat() {
    net_stat "$dir/run-stat.json"
    jq_py "$dir/run-stat.json" "proto(j, '$1')"
}

# wait_linux_listen PORT: until Linux listens on TCP PORT in the namespace.
wait_linux_listen() {
    net_wait_for 10 sh -c "ip netns exec '$ns' ss -ltnH 'sport = :$1' | grep -q LISTEN" ||
        bad "nothing listens on Linux port $1"
}

# wait_refnet_listen PORT: until refnet listens on TCP PORT.
wait_refnet_listen() {
    net_wait_for 10 sh -c "'$refnet' netstat -a --ctl '$sock' 2>/dev/null |
        grep -Eq '^tcp +[0-9.]+:$1 .* LISTEN '" || bad "refnet does not listen on port $1"
}

# wait_refnet_listen6 PORT: until refnet listens on TCP PORT with an
# AF_INET6 socket on [::].
wait_refnet_listen6() {
    net_wait_for 10 sh -c "'$refnet' netstat -a --ctl '$sock' 2>/dev/null |
        grep -Eq '^tcp6 +\\[::\\]:$1 .* LISTEN '" || bad "refnet does not listen on [::]:$1"
}

sha() { sha256sum "$1" | cut -d' ' -f1; }
