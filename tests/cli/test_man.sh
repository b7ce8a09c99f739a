#!/usr/bin/env bash
# The man pages in man/ against the tool they document:
#   - each page renders with `man --warnings -l` at 80 columns without a
#     warning, and its header names the version `refnet --version` prints;
#   - refnet.8 shows every command of the table (tools/cmd_help.c) with its
#     one-line synopsis, and points to every other page;
#   - each command's page (the one its --help names) exists, shows `refnet
#     CMD`, and every option that `refnet CMD --help` lists.
# Needs man (Debian package man-db), REFNET_BUILD and REFNET_SOURCE_DIR
# (set by ctest).
set -uo pipefail

build=${REFNET_BUILD:?REFNET_BUILD must name the build directory}
src=${REFNET_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
refnet="$build/bin/refnet"
[ -x "$refnet" ] || { echo "FAIL: $refnet not built"; exit 1; }
command -v man >/dev/null || { echo "FAIL: needs man (Debian package man-db; make deps)"; exit 1; }
dir=$(mktemp -d /tmp/refnet-cli-man.XXXXXX)
trap 'rm -rf "$dir"' EXIT

fails=0
passes=0
check() { # check NAME COMMAND...
    local name=$1
    shift
    if "$@"; then
        passes=$((passes + 1))
    else
        echo "FAIL: $name" >&2
        fails=$((fails + 1))
    fi
}

# render PAGE: the page as a reader sees it, in $dir/PAGE.txt, and its
# whitespace run together in $dir/PAGE.flat (for phrases that wrap).
render() {
    local page=$1
    LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$src/man/$page.8" >"$dir/$page.txt" 2>"$dir/$page.warn"
    check "$page.8 renders" [ $? = 0 ] && [ -s "$dir/$page.txt" ]
    check "$page.8 renders without warnings" [ ! -s "$dir/$page.warn" ]
    [ -s "$dir/$page.warn" ] && sed "s|^|  $page.8: |" "$dir/$page.warn" >&2
    tr -s '[:space:]' ' ' <"$dir/$page.txt" >"$dir/$page.flat"
}
# shows PAGE TEXT: the rendered PAGE holds TEXT (whitespace run together).
shows() {
    local want
    want=$(printf '%s' "$2" | tr -s '[:space:]' ' ')
    grep -qF -- "$want" "$dir/$1.flat"
}

pages=()
for f in "$src"/man/*.8; do
    pages+=("$(basename "$f" .8)")
done
check "man/ has refnet.8 and the family pages" [ "${#pages[@]}" -ge 8 ]
version=$("$refnet" --version)
for p in "${pages[@]}"; do
    render "$p"
    # The footer names the version the page describes.
    check "$p.8 is of $version" grep -q "^\.TH [^ ]* 8 [0-9-]* \"$version\"" "$src/man/$p.8"
done
for p in "${pages[@]}"; do
    [ "$p" = refnet ] && continue
    check "refnet.8 points to $p(8)" shows refnet "$p(8)"
done

# The table: each command's name and one-line synopsis, from its source.
sed -n 's/^ *\.cd_name = "\([a-z-]*\)",$/\1/p' "$src/tools/cmd_help.c" >"$dir/names"
sed -n 's/^ *\.cd_brief = "\(.*\)",$/\1/p' "$src/tools/cmd_help.c" >"$dir/briefs"
check "the table has a synopsis per command" [ "$(wc -l <"$dir/names")" = "$(wc -l <"$dir/briefs")" ]
check "the table has commands" [ "$(wc -l <"$dir/names")" -ge 20 ]
while IFS= read -r brief; do
    check "refnet.8 shows '$brief'" shows refnet "$brief"
done <"$dir/briefs"

while IFS= read -r cmd; do
    "$refnet" "$cmd" --help >"$dir/usage" 2>/dev/null
    page=$(sed -n 's/^See \(refnet[a-z-]*\)(8)\.$/\1/p' "$dir/usage")
    check "$cmd --help names a page" [ -n "$page" ]
    [ -n "$page" ] || continue
    check "$cmd's page $page.8 exists" [ -f "$src/man/$page.8" ]
    [ -f "$src/man/$page.8" ] || continue
    [ "$page" = refnet ] || check "$page.8 shows 'refnet $cmd'" shows "$page" "refnet $cmd"
    # Every option of the usage: "  -a, --all ..." or "      --refs ...".
    sed -n 's/^ \{2,6\}\(-[a-zA-Z], \)\{0,1\}\(--[a-z][a-z-]*\).*/\2/p' "$dir/usage" >"$dir/opts"
    check "$cmd --help lists options" [ -s "$dir/opts" ]
    while IFS= read -r opt; do
        check "$page.8 documents $cmd $opt" shows "$page" "$opt"
    done <"$dir/opts"
    # And the short forms.
    sed -n 's/^ \{2\}\(-[a-zA-Z]\), --.*/\1/p' "$dir/usage" >"$dir/shorts"
    while IFS= read -r opt; do
        check "$page.8 documents $cmd $opt" grep -Eq -- "(^|[ [])$opt([], |]|$)" "$dir/$page.txt"
    done <"$dir/shorts"
done <"$dir/names"

echo "$passes passed, $fails failed"
[ "$fails" = 0 ]
