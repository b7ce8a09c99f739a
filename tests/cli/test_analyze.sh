#!/usr/bin/env bash
# `refnet analyze` as a user meets it: a good dump prints its header and the
# stuck chain with its verdict; --object, --objects and --threshold choose
# what is printed; a missing file, a file that is not a dump, a truncated
# dump and bad arguments each get one line on stderr naming what was wrong,
# and the documented exit status (1 for the file, 2 for the arguments).
#
# The good dump is written by the diag unit test program
# (tests/unit/diag/test_dump.c --write-seeds), so it is always in the
# current format.  Needs REFNET_BUILD (set by ctest).
set -euo pipefail

build=${REFNET_BUILD:?set REFNET_BUILD to the build directory}
refnet=$build/bin/refnet
seeds=$build/tests/unit-diag-test_dump
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fails=0
passes=0
check() { # check NAME CONDITION...
    local name=$1
    shift
    if "$@"; then
        passes=$((passes + 1))
    else
        echo "FAIL: $name" >&2
        fails=$((fails + 1))
    fi
}

# run ARGS...: runs refnet, leaving stdout, stderr and status in $work.
run() {
    set +e
    "$refnet" "$@" >"$work/out" 2>"$work/err"
    echo $? >"$work/rc"
    set -e
}
rc() { cat "$work/rc"; }
out_has() { grep -qF -- "$1" "$work/out"; }
err_is_one_line_with() { [ "$(wc -l <"$work/err")" -eq 1 ] && grep -qF -- "$1" "$work/err"; }

"$seeds" --write-seeds "$work" >/dev/null
dump=$work/case.rndump

# A good dump: header, the chain, the verdict naming 'enum'.
run analyze "$dump"
check "good dump exits 0" [ "$(rc)" -eq 0 ]
check "header" out_has "dump $dump: taken at 3h00m on its process clock, watchdog threshold 10.0s; 5 objects, 3 waits"
check "chain top" out_has "service httpd STOP_PENDING  #1   stop pending 31.2s"
check "blocker" out_has "tcp listener 0.0.0.0:80  #4   live, refs 2, traced"
check "enum line" out_has "enum         1   held 31.2s   at tl_enum_next+0x4c <- ctl_netstat+0x1a2"
check "verdict" out_has "verdict: 'enum' holds past its bound (1.0s) with no enumeration running"
check "nothing on stderr" [ ! -s "$work/err" ]

# The threshold chooses the waits.
run analyze "$dump" --threshold 40
check "high threshold exits 0" [ "$(rc)" -eq 0 ]
check "high threshold: no chain" out_has "no wait pending for 40.0s or more (3 waits in all; --threshold 0 shows every one)"
run analyze --threshold=0 "$dump"
check "threshold 0 shows the chain" out_has "verdict: 'enum'"

# One object: its chain, or the object alone.
run analyze "$dump" --object 3
check "--object in a chain" out_has "socket #7  #3"
check "--object shows the verdict" out_has "verdict: 'enum'"
run analyze "$dump" --object '#9'
check "--object alone" out_has "udp endpoint 0.0.0.0:53  #9   live, refs 1"
run analyze "$dump" --object 77
check "--object unknown exits 1" [ "$(rc)" -eq 1 ]
check "--object unknown message" err_is_one_line_with "refnet: $dump: no object #77 in the dump"

# Every object.
run analyze "$dump" --objects
check "--objects lists them" out_has "udp endpoint 0.0.0.0:53  #9   live, refs 1"
check "--objects has no verdict" bash -c "! grep -q verdict '$work/out'"

# A missing file.
run analyze "$work/nonexistent.rndump"
check "missing file exits 1" [ "$(rc)" -eq 1 ]
check "missing file message" err_is_one_line_with "refnet: $work/nonexistent.rndump: cannot open: No such file or directory"
check "missing file prints nothing" [ ! -s "$work/out" ]

# A file that is not a dump.
printf 'GET / HTTP/1.0\r\n\r\n' >"$work/bad.rndump"
run analyze "$work/bad.rndump"
check "bad file exits 1" [ "$(rc)" -eq 1 ]
check "bad file message" err_is_one_line_with "refnet: $work/bad.rndump: offset 0: header: not a refnet dump"

# A truncated and a corrupted dump name the offset.
head -c 500 "$dump" >"$work/short.rndump"
run analyze "$work/short.rndump"
check "truncated exits 1" [ "$(rc)" -eq 1 ]
check "truncated message" err_is_one_line_with "refnet: $work/short.rndump: offset 500: header: the file ends after 500 bytes but its header says"
cp "$dump" "$work/flip.rndump"
printf '\377' | dd of="$work/flip.rndump" bs=1 seek=300 conv=notrunc status=none
run analyze "$work/flip.rndump"
check "corrupted exits 1" [ "$(rc)" -eq 1 ]
check "corrupted message" err_is_one_line_with "CRC mismatch"

# Bad arguments: one line, status 2.
for args in "" "$dump --threshold" "$dump --threshold ten" "$dump --threshold -1" \
            "$dump --object x" "$dump --frobnicate" "$dump $dump" "$dump --object 1 --objects"; do
    # shellcheck disable=SC2086
    run analyze $args
    check "bad args '$args' exit 2" [ "$(rc)" -eq 2 ]
    check "bad args '$args' message" err_is_one_line_with "refnet: analyze: "
done

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
