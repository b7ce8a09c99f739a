#!/usr/bin/env bash
# The lab's scenarios in the simulator (src/sim/lab.h), no root needed:
#   stop-hang     exit 3; the watchdog fires within threshold + 1 s with
#                 the chain service -> process -> socket -> listener, the
#                 verdict names 'enum' and the traced site (tab_keep), the
#                 port cannot be bound again, the dump analysed offline
#                 prints the same chain, clearing the leak completes the
#                 stop; the same for other seeds and another threshold; a
#                 seed replays byte for byte; --fixed stops cleanly, exit 0;
#   callout-hang  exit 3, the verdict names 'callout:faulty' and the pended
#                 listen authorisation; --fixed exit 0;
#   close-wait    exit 3, CLOSE_WAIT piles up, owned by the application
#                 that never closed, and goes once it exits; --fixed exit 0;
# every run leak-free (the simulator reports leaks on stderr and the lab
# exits 1), and bad arguments get one line and exit 2.
set -u
refnet=${REFNET_BUILD:?}/bin/refnet
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# run NAME WANT-EXIT ARGS...: runs `refnet lab ARGS` into $tmp/NAME.out,
# checks the exit status and that nothing went to stderr.
run() {
    local name=$1 want=$2 rc
    shift 2
    "$refnet" lab "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
    rc=$?
    [ "$rc" = "$want" ] || fail "lab $* exited $rc, want $want: $(head -c 2000 "$tmp/$name.err")"
    [ -s "$tmp/$name.err" ] && fail "lab $* wrote to stderr: $(head -c 2000 "$tmp/$name.err")"
    return 0
}
has() { grep -qF -- "$2" "$tmp/$1.out" || fail "$1: no '$2' in:
$(cat "$tmp/$1.out")"; }
# in_order NAME S1 S2 ...: each string found after the one before.
in_order() {
    local name=$1 rest
    shift
    rest=$(cat "$tmp/$name.out")
    for s in "$@"; do
        case "$rest" in
        *"$s"*) rest=${rest#*"$s"} ;;
        *) fail "$name: '$s' missing or out of order" ;;
        esac
    done
}
# The watchdog's lateness: "the watchdog, 10.0s after the stop began
# (threshold 10s)" must be within threshold + 1 s.
on_time() {
    awk -v t="$2" '/the watchdog, .*s after the stop began/ {
            for (i = 1; i <= NF; i++) if ($i ~ /s$/ && $(i+1) == "after") { sub(/s$/, "", $i); v = $i }
            found = 1; if (v + 0 < t || v + 0 > t + 1) bad = 1 }
         END { exit (found && !bad) ? 0 : 1 }' "$tmp/$1.out" ||
        fail "$1: the watchdog did not report within $2 s + 1 s: $(grep 'the watchdog' "$tmp/$1.out")"
}

# The watchdog reported no later than $2 s + 1 s after the stop began: for
# a chain whose oldest wait began before the stop (a listen authorisation
# pended since the listen), sooner.
by_time() {
    awk -v t="$2" '/the watchdog, .*s after the stop began/ {
            for (i = 1; i <= NF; i++) if ($i ~ /s$/ && $(i+1) == "after") { sub(/s$/, "", $i); v = $i }
            found = 1; if (v + 0 > t + 1) bad = 1 }
         END { exit (found && !bad) ? 0 : 1 }' "$tmp/$1.out" ||
        fail "$1: the watchdog did not report by $2 s + 1 s: $(grep 'the watchdog' "$tmp/$1.out")"
}

# ---- stop-hang ----
run hang 3 stop-hang --dump "$tmp/hang.dump"
in_order hang "service httpd STOP_PENDING" "process httpd (pid" "socket #1 tcp 0.0.0.0:80 close pending" \
    "tcp listener 0.0.0.0:80 CLOSED" "enum " "at tab_keep+0x" \
    "verdict: 'enum' holds past its bound (1.0s) with no enumeration running"
has hang "suspect holder 'enum':"
has hang "taken at tab_keep+0x"
has hang "refnet: svc start httpd: TCP port 80: address in use: held by #"
has hang "still STOP_PENDING after 30s"
has hang "httpd STOPPED: the stop that hung completed"
on_time hang 10
# The enumeration's leak is visible in netstat before the stop.
grep -E "0\.0\.0\.0:80 .*LISTEN .*enum [1-9]" "$tmp/hang.out" >/dev/null ||
    fail "netstat --refs did not show the listener's 'enum' holders"
# The dump, analysed offline, prints the watchdog's chain line for line.
live=$(sed -n '/the watchdog, /,/^== .*diagnosis$/p' "$tmp/hang.out" | sed '1,2d;$d' | sed '/^$/d')
offline=$("$refnet" analyze "$tmp/hang.dump" 2>&1 | sed '1d' | sed '/^$/d')
[ -n "$live" ] && [ "$live" = "$offline" ] || fail "analyze differs from the watchdog:
--- live
$live
--- offline
$offline"

# The same seed replays exactly; other seeds hang too.
run hang1 3 stop-hang --seed 1
sed '/wrote\|written/d' "$tmp/hang.out" >"$tmp/a"
sed '/wrote\|written/d' "$tmp/hang1.out" >"$tmp/b"
cmp -s "$tmp/a" "$tmp/b" || fail "seed 1 did not replay: $(diff "$tmp/a" "$tmp/b" | head -20)"
for seed in 2 3 7; do
    run "hang$seed" 3 stop-hang --seed "$seed"
    has "hang$seed" "verdict: 'enum' holds past its bound"
done
run hang_t 3 stop-hang --threshold 4
on_time hang_t 4

run fixed 0 stop-hang --fixed
has fixed "httpd STOPPED, "
grep -q "verdict" "$tmp/fixed.out" && fail "--fixed printed a verdict"
grep -E "0\.0\.0\.0:80 .*LISTEN .*enum" "$tmp/fixed.out" >/dev/null &&
    fail "--fixed: the listener kept 'enum' holders after the walks"

# ---- callout-hang ----
run callout 3 callout-hang
in_order callout "service httpd STOP_PENDING" "tcp listener 0.0.0.0:80 CLOSED" \
    "listen authorisation pending" "pended operation listen tcp 0.0.0.0:80 by callout faulty" \
    "callout:faulty" "verdict: 'callout:faulty' pended the listen authorisation of tcp listener" \
    "never completed it"
has callout "still pending after"
has callout "pended operation listen tcp 0.0.0.0:80 by callout faulty"
has callout "address in use"
has callout "httpd STOPPED: the stop that hung completed"
by_time callout 10
run callout_fixed 0 callout-hang --fixed
has callout_fixed "httpd STOPPED, "

# ---- close-wait ----
run cw 3 close-wait
has cw "36 connections to port 2525 are in CLOSE_WAIT"
has cw "the application never called close"
has cw "\"inbox\" (pid"
has cw "0 in CLOSE_WAIT, 0 other connections on port 2525"
grep -cE "^  tcp +198\.18\.0\.2:2525 .* CLOSE_WAIT .* inbox \(pid [0-9]+\) handle [0-9]+$" "$tmp/cw.out" |
    grep -qx 5 || fail "close-wait: want 5 CLOSE_WAIT rows with their owner"
run cw_fixed 0 close-wait --fixed
has cw_fixed "no connection in CLOSE_WAIT: 36 accepted, 36 closed by the application"

# ---- bad arguments: one line, exit 2 ----
for args in "stop-hang --seed x" "stop-hang --seed 0" "stop-hang --threshold 0" \
    "close-wait --dump" "callout-hang --bogus" "nosuch"; do
    # shellcheck disable=SC2086
    "$refnet" lab $args >/dev/null 2>"$tmp/err"
    rc=$?
    [ "$rc" = 2 ] || fail "lab $args exited $rc, want 2"
    [ "$(wc -l <"$tmp/err")" = 1 ] || fail "lab $args: want one line of error, got: $(cat "$tmp/err")"
done
echo "ok"
