#!/usr/bin/env bash
# refnet lab leak: the hang is reproduced (exit 3) and diagnosed, naming the
# leaking holder and where it was taken; the dump analysed offline prints
# the same chain; with --fixed the stop completes (exit 0).
set -u
refnet=${REFNET_BUILD:?}/bin/refnet
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$refnet" lab leak --dump "$tmp/lab.dump" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" = 3 ] || fail "lab leak exited $rc, want 3: $(cat "$tmp/err")"
grep -q "verdict: 'enum' holds past its bound" "$tmp/out" || fail "no verdict naming enum"
grep -q "at netstat_enum_step+0x" "$tmp/out" || fail "no acquisition site for the leaked hold"
grep -q "service httpd STOP_PENDING" "$tmp/out" || fail "no chain from the service"
# The watchdog's chain and the offline analysis agree line for line.
live=$(sed -n '/^== 11 seconds later/,/^== a dump/p' "$tmp/out" | sed '1,2d;$d' | sed '/^$/d')
offline=$("$refnet" analyze "$tmp/lab.dump" | sed '1d')
[ "$live" = "$offline" ] || fail "analyze differs from the watchdog:
--- live
$live
--- offline
$offline"
grep -q "0 objects left" "$tmp/out" || fail "objects left after clearing the leak"

"$refnet" lab leak --fixed >"$tmp/out2" 2>&1
rc=$?
[ "$rc" = 0 ] || fail "lab leak --fixed exited $rc, want 0"
grep -q "stopped cleanly" "$tmp/out2" || fail "no clean stop with --fixed"

"$refnet" lab nosuch >/dev/null 2>"$tmp/err3"
rc=$?
[ "$rc" = 2 ] || fail "unknown scenario exited $rc, want 2"
[ "$(wc -l <"$tmp/err3")" = 1 ] || fail "unknown scenario: want one line of error"
echo "ok"
