#!/usr/bin/env bash
# Help and version, as a user meets them, with no daemon anywhere:
#   - refnet --version, -V and `refnet version` print "refnet X.Y.Z", the
#     version of include/refnet/version.h, exit 0;
#   - refnet help lists every command of the table (tools/cmd_help.c), in
#     at most 80 columns; refnet with no command prints it on stderr, exit 2;
#   - for every command of the table, `refnet CMD --help`, `refnet CMD -h`
#     and `refnet help CMD` print the same usage on stdout, starting with
#     "usage: refnet CMD" and ending with its man page, exit 0, nothing on
#     stderr, no file written (dump --help once wrote a file '--help');
#   - refnet help NOSUCH, refnet NOSUCH and refnet --bogus are usage errors:
#     exit 2, one line on stderr naming the word.
# Needs REFNET_BUILD and REFNET_SOURCE_DIR (set by ctest).
set -uo pipefail

build=${REFNET_BUILD:?REFNET_BUILD must name the build directory}
src=${REFNET_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
refnet="$build/bin/refnet"
[ -x "$refnet" ] || { echo "FAIL: $refnet not built"; exit 1; }
dir=$(mktemp -d /tmp/refnet-cli-help.XXXXXX)
trap 'rm -rf "$dir"' EXIT
# Any daemon these commands asked would be at a socket that is not there.
export REFNET_CTL="$dir/no-daemon.sock"

fails=0
passes=0
check() { # check NAME COMMAND...: counts COMMAND's success as a pass
    local name=$1
    shift
    if "$@"; then
        passes=$((passes + 1))
    else
        echo "FAIL: $name" >&2
        fails=$((fails + 1))
    fi
}
# run ARGS...: refnet ARGS in an empty working directory; stdout, stderr
# and the status in $dir.
mkdir "$dir/cwd"
run() {
    (cd "$dir/cwd" && "$refnet" "$@" >"$dir/out" 2>"$dir/err")
    echo $? >"$dir/rc"
}
rc() { cat "$dir/rc"; }
err_one_line_with() { [ "$(wc -l <"$dir/err")" = 1 ] && grep -qF -- "$1" "$dir/err"; }
# narrow FILE: no line longer than 80 columns (the long ones are printed).
narrow() { awk 'length > 80 { print FILENAME ": " $0; bad = 1 } END { exit bad }' "$1"; }

# ---- version ----
want=$(sed -n 's/^#define RN_VERSION_STRING "\(.*\)"$/\1/p' "$src/include/refnet/version.h")
check "version in the header" [ -n "$want" ]
for args in --version -V version; do
    run $args
    check "refnet $args exits 0" [ "$(rc)" = 0 ]
    check "refnet $args prints the version" [ "$(cat "$dir/out")" = "refnet $want" ]
    check "refnet $args: nothing on stderr" [ ! -s "$dir/err" ]
done
run version extra
check "version extra exits 2" [ "$(rc)" = 2 ]
check "version extra names it" err_one_line_with "'extra'"

# ---- the list ----
# The table's commands, from its one source.
mapfile -t cmds < <(sed -n 's/^ *\.cd_name = "\([a-z-]*\)",$/\1/p' "$src/tools/cmd_help.c")
check "the table has commands" [ "${#cmds[@]}" -ge 20 ]
run help
check "help exits 0" [ "$(rc)" = 0 ]
check "help: nothing on stderr" [ ! -s "$dir/err" ]
check "help fits in 80 columns" narrow "$dir/out"
cp "$dir/out" "$dir/list"
for c in "${cmds[@]}"; do
    check "help lists $c" grep -Eq "^  $c( |$)" "$dir/list"
done
run --help
check "--help prints the list" cmp -s "$dir/out" "$dir/list"
run -h
check "-h prints the list" cmp -s "$dir/out" "$dir/list"
run
check "no command exits 2" [ "$(rc)" = 2 ]
check "no command: the list on stderr" cmp -s "$dir/err" "$dir/list"
check "no command: nothing on stdout" [ ! -s "$dir/out" ]

# ---- every command's usage, three ways, locally ----
for c in "${cmds[@]}"; do
    run "$c" --help
    check "$c --help exits 0" [ "$(rc)" = 0 ]
    check "$c --help: nothing on stderr" [ ! -s "$dir/err" ]
    check "$c --help starts with its usage" grep -q "^usage: refnet $c" "$dir/out"
    check "$c --help names its man page" grep -Eq "^See refnet(-[a-z]+)?\(8\)\.$" "$dir/out"
    check "$c --help lists -h" grep -q "^  -h, --help" "$dir/out"
    check "$c --help fits in 80 columns" narrow "$dir/out"
    check "$c --help wrote no file" [ -z "$(ls -A "$dir/cwd")" ]
    cp "$dir/out" "$dir/usage"
    run "$c" -h
    check "$c -h is --help" cmp -s "$dir/out" "$dir/usage"
    run help "$c"
    check "help $c is $c --help" cmp -s "$dir/out" "$dir/usage"
    check "help $c exits 0" [ "$(rc)" = 0 ]
done
# --help among other arguments still answers locally.
run dump x.dump --help
check "dump x.dump --help exits 0" [ "$(rc)" = 0 ]
check "dump x.dump --help prints the usage" grep -q "^usage: refnet dump FILE" "$dir/out"
check "dump --help wrote no file" [ -z "$(ls -A "$dir/cwd")" ]
run svc stop httpd -h
check "svc stop httpd -h exits 0" [ "$(rc)" = 0 ]
run sim help
check "sim help still prints the usage" grep -q "^usage: refnet sim ping" "$dir/out"

# ---- unknown names ----
run help nosuch
check "help nosuch exits 2" [ "$(rc)" = 2 ]
check "help nosuch names it" err_one_line_with "unknown command 'nosuch'"
run nosuch
check "nosuch exits 2" [ "$(rc)" = 2 ]
check "nosuch names it" err_one_line_with "unknown command 'nosuch'"
run --bogus
check "--bogus exits 2" [ "$(rc)" = 2 ]
check "--bogus names it" err_one_line_with "unknown option '--bogus'"
run help netstat arp
check "help with two commands exits 2" [ "$(rc)" = 2 ]

echo "$passes passed, $fails failed"
[ "$fails" = 0 ]
