#!/bin/bash
# Installing refnet and building on it, as an embedder does.
#
# Installs the build into a temporary root (DESTDIR, prefix /usr) and
# checks the tree: the public headers and only they, librefnet.so with its
# soname and symlinks, librefnet.a, refnet.pc, the tool, the systemd unit,
# the man pages and completion present in the source, and the shared
# library's exports (the public API: no rn__ symbol but those the public
# headers need, as dist/librefnet.map lists them).  Then builds the three
# examples from the installed copies with their own Makefiles, finding
# refnet through pkg-config alone, and runs them against the installed
# library:
#   link-driver  two stacks over the example's socketpair driver: three
#                UDP datagrams (one in fragments) must come back intact;
#   callout      the example's callout in the simulator: one connection
#                let in, established and ended, one refused;
#   echo-server  on a TAP device in this test's namespace: two Linux
#                clients at once each echo 48 KiB through it, a third holds
#                its connection open; SIGTERM must end it with status 0,
#                "stopped cleanly", no leak, and the held connection ended.
#
# The TAP device comes from lib.sh's net_tap_up, as net_start makes it for
# the daemon, with no daemon on it.
. "$(dirname "$0")/lib.sh"

net_setup examples
src=${REFNET_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
build=$REFNET_BUILD
root="$dir/root"

major=$(sed -n 's/^#define RN_VERSION_MAJOR \([0-9]*\)$/\1/p' "$src/include/refnet/version.h")
version=$(sed -n 's/^#define RN_VERSION_STRING "\(.*\)"$/\1/p' "$src/include/refnet/version.h")
[ -n "$major" ] && [ -n "$version" ] || die "cannot read the version from include/refnet/version.h"

# ---- The install ----------------------------------------------------------------

# A sanitizer build's library needs the sanitizer's runtime in the
# program, which an embedder's plain build does not have.
if nm -D --undefined-only "$build"/lib/librefnet.so 2>/dev/null | grep -q ' U __[at]san_'; then
    echo "SKIP: $build is a sanitizer build; its librefnet.so needs the sanitizer's runtime"
    exit 0
fi

# cmake --install rewrites the build's install_manifest.txt, which `make
# uninstall` reads to undo the user's own install: it is put back at once.
manifest="$build/install_manifest.txt"
[ ! -f "$manifest" ] || cp -p "$manifest" "$dir/manifest.user"
DESTDIR="$root" cmake --install "$build" --prefix /usr >"$dir/install.log" 2>&1
rc=$?
if [ -f "$dir/manifest.user" ]; then
    cp -p "$dir/manifest.user" "$manifest"
else
    rm -f "$manifest"
fi
if [ "$rc" != 0 ]; then
    cat "$dir/install.log"
    die "cmake --install into $root failed"
fi

pc=$(find "$root/usr/lib" -name refnet.pc -path '*/pkgconfig/*' | head -n 1)
[ -n "$pc" ] || die "no refnet.pc under $root/usr/lib"
libdir=$(dirname "$(dirname "$pc")")
echo "libdir: ${libdir#"$root"}"

# Headers: exactly include/refnet/*.h.
(cd "$src/include/refnet" && ls -- *.h) >"$dir/headers.src"
(cd "$root/usr/include/refnet" 2>/dev/null && ls) >"$dir/headers.inst"
diff -u "$dir/headers.src" "$dir/headers.inst" >"$dir/headers.diff" ||
    bad "installed headers differ from include/refnet/*.h: $(cat "$dir/headers.diff")"

# Libraries: the real file, the soname link, the development link, the archive.
so="$libdir/librefnet.so.$version"
[ -f "$so" ] && [ ! -L "$so" ] || bad "no librefnet.so.$version in ${libdir#"$root"}"
[ "$(readlink "$libdir/librefnet.so.$major")" = "librefnet.so.$version" ] ||
    bad "librefnet.so.$major is not a link to librefnet.so.$version"
[ -L "$libdir/librefnet.so" ] && [ "$(readlink -f "$libdir/librefnet.so")" = "$(readlink -f "$so")" ] ||
    bad "librefnet.so does not lead to librefnet.so.$version"
soname=$(readelf -d "$so" 2>/dev/null | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = "librefnet.so.$major" ] || bad "the soname is '$soname', not librefnet.so.$major"
[ -f "$libdir/librefnet.a" ] || bad "no librefnet.a"
ar t "$libdir/librefnet.a" | grep -q '\.o$' || bad "librefnet.a holds no objects"

# The tool, the unit and the defaults file, naming installed paths.
# (LD_LIBRARY_PATH: the tool may be linked against librefnet.so.)
LD_LIBRARY_PATH="$libdir" "$root/usr/bin/refnet" version 2>/dev/null | grep -qF "$version" ||
    bad "the installed refnet does not say version $version"
unit="$root/usr/lib/systemd/system/refnet.service"
if [ -f "$unit" ]; then
    grep -q '^ExecStart=/usr/bin/refnet daemon ' "$unit" || bad "the unit does not start /usr/bin/refnet daemon"
    grep -q '^EnvironmentFile=-/etc/default/refnet$' "$unit" || bad "the unit does not read /etc/default/refnet"
    grep -q '^RuntimeDirectory=refnet$' "$unit" || bad "the unit has no RuntimeDirectory"
    if command -v systemd-analyze >/dev/null; then
        # Only the unit's own syntax: the binary and the man pages are not
        # where the unit names them (they are under the temporary root).
        systemd-analyze verify "$unit" 2>&1 | grep -v 'is not executable\|man .* failed' \
            >"$dir/verify.out"
        [ ! -s "$dir/verify.out" ] || bad "systemd-analyze verify: $(cat "$dir/verify.out")"
    fi
else
    bad "no refnet.service in /usr/lib/systemd/system"
fi
[ -f "$root/etc/default/refnet" ] || bad "no /etc/default/refnet"

# Man pages and completion: whatever the source has.
for m in "$src"/man/*.8; do
    [ -e "$m" ] || continue
    [ -f "$root/usr/share/man/man8/$(basename "$m")" ] || bad "man page $(basename "$m") not installed"
done
if [ -f "$src/completion/refnet" ]; then
    [ -f "$root/usr/share/bash-completion/completions/refnet" ] || bad "bash completion not installed"
fi

# Exports: nothing but rn_ names; of the rn__ names, exactly the ones the
# version script lets out, which must be exactly the ones the public
# headers declare (variables and functions, not struct tags).
nm -D --defined-only "$so" | awk '$2 != "A" { sub(/@.*/, "", $3); print $3 }' | sort >"$dir/exports"
grep -v '^rn_' "$dir/exports" >"$dir/exports.other"
[ ! -s "$dir/exports.other" ] || bad "exported without an rn_ prefix: $(tr '\n' ' ' <"$dir/exports.other")"
grep '^rn__' "$dir/exports" >"$dir/exports.internal"
grep -hoP '(?<!struct )\brn__\w+' "$src"/include/refnet/*.h | sort -u >"$dir/headers.internal"
sed -n 's/^ *\(rn__[a-z0-9_]*\);.*/\1/p' "$src/dist/librefnet.map" | sort -u >"$dir/map.internal"
diff -u "$dir/map.internal" "$dir/exports.internal" >"$dir/d1" ||
    bad "rn__ exports are not the version script's list: $(cat "$dir/d1")"
diff -u "$dir/headers.internal" "$dir/map.internal" >"$dir/d2" ||
    bad "the version script's rn__ list is not what the public headers use: $(cat "$dir/d2")"
grep -q '^rn_version$' "$dir/exports" || bad "rn_version is not exported"

# ---- The examples, built with pkg-config alone --------------------------------------

# pkg-config finds the installed refnet.pc first, then the system's (for
# libdw and libpcap, which refnet.pc requires); the sysroot puts the -I and
# -L paths under the temporary root.
syspc=$(pkg-config --variable=pc_path pkg-config)
export PKG_CONFIG_LIBDIR="$(dirname "$pc"):$syspc"
export PKG_CONFIG_SYSROOT_DIR="$root"
unset PKG_CONFIG_PATH
[ "$(pkg-config --modversion refnet)" = "$version" ] || bad "pkg-config --modversion refnet is not $version"
cp -r "$root/usr/share/doc/refnet/examples" "$dir/ex" || die "the examples are not installed"
for ex in echo-server link-driver callout; do
    if ! make -C "$dir/ex/$ex" CC=gcc CFLAGS="-O2 -g -Wall -Wextra -Werror" >"$dir/make-$ex.log" 2>&1; then
        cat "$dir/make-$ex.log"
        die "example $ex does not build against the installed tree"
    fi
    readelf -d "$dir/ex/$ex/$ex" | grep -qF "Shared library: [librefnet.so.$major]" ||
        bad "$ex is not linked against librefnet.so.$major"
done
# The plug-in examples: modules against the installed tree.
for pex in plugin-callout plugin-filter; do
    if ! make -C "$dir/ex/$pex" CC=gcc CFLAGS="-O2 -g -Wall -Wextra -Werror" \
            >"$dir/make-$pex.log" 2>&1; then
        cat "$dir/make-$pex.log"
        die "example $pex does not build against the installed tree"
    fi
    readelf -d "$dir/ex/$pex/$pex.so" | grep -qF "Shared library: [librefnet.so.$major]" ||
        bad "$pex.so is not linked against librefnet.so.$major"
    nm -D --defined-only "$dir/ex/$pex/$pex.so" | grep -q ' rn_plugin_v1$' ||
        bad "$pex.so does not export rn_plugin_v1"
done
export LD_LIBRARY_PATH="$libdir"

# link-driver: three datagrams each way over the socketpair driver.
"$dir/ex/link-driver/link-driver" >"$dir/link.out" 2>&1
rc=$?
cat "$dir/link.out"
[ "$rc" = 0 ] || bad "link-driver exited $rc"
grep -q '^link-driver: 3 of 3 datagrams came back intact$' "$dir/link.out" || bad "link-driver: datagrams lost"
grep -q '^link-driver: pair.a (pair): tx [1-9]' "$dir/link.out" || bad "link-driver: no frame crossed the driver"

# callout: one connection let in, one refused, the flow let go.
"$dir/ex/callout/callout" >"$dir/callout.out" 2>&1
rc=$?
cat "$dir/callout.out"
[ "$rc" = 0 ] || bad "callout exited $rc"
grep -q '^callout: connect to port 80: ok$' "$dir/callout.out" || bad "callout: port 80 was not let in"
grep -q '^callout: connect to port 81: connection refused$' "$dir/callout.out" ||
    bad "callout: port 81 was not refused"
grep -q '^callout: gatekeeper let in 1, refused 1; established 1, ended 1; holds 0 flows$' \
    "$dir/callout.out" || bad "callout: the callout's counts are wrong"

# ---- echo-server on a TAP device ----------------------------------------------------

net_tap_up
net_bg env LD_LIBRARY_PATH="$libdir" "$dir/ex/echo-server/echo-server" rn0 198.18.0.2/15 7 \
    >"$dir/echo.out" 2>"$dir/echo.err" </dev/null
epid=$bgpid
net_wait_for 5 grep -q '^echo-server: listening on port 7$' "$dir/echo.out" || {
    cat "$dir/echo.out" "$dir/echo.err"
    die "echo-server did not start listening"
}
net_wait_for 5 sh -c "ip netns exec $ns ip link show rn0 | grep -q LOWER_UP" ||
    die "rn0 has no carrier with echo-server attached"

# A client that holds its connection open until the server ends it.
net_bg "$py" -c '
import socket, sys
s = socket.create_connection(("198.18.0.2", 7), timeout=5)
s.sendall(b"hold")
got = b""
while len(got) < 4:
    got += s.recv(4 - len(got))
print("holding", flush=True)
s.settimeout(20)
try:
    end = s.recv(1)
except ConnectionResetError:
    end = b""
sys.exit(0 if end == b"" else 1)
' >"$dir/hold.out" 2>&1 </dev/null
hpid=$bgpid
net_wait_for 5 grep -q '^holding$' "$dir/hold.out" || bad "the holding client got no echo: $(cat "$dir/hold.out")"

# Two clients at once, 48 KiB each, sent and read back concurrently.
nsx "$py" - >"$dir/clients.out" 2>&1 <<'EOF'
import os, socket, sys, threading
size = 48 * 1024
results = {}
def client(n):
    data = os.urandom(size)
    s = socket.create_connection(("198.18.0.2", 7), timeout=10)
    t = threading.Thread(target=s.sendall, args=(data,))
    t.start()
    back = b""
    while len(back) < size:
        chunk = s.recv(65536)
        if not chunk:
            break
        back += chunk
    t.join()
    s.shutdown(socket.SHUT_WR)
    rest = s.recv(1)              # the server closes after our FIN
    s.close()
    results[n] = (back == data, len(back), rest == b"")
threads = [threading.Thread(target=client, args=(n,)) for n in range(2)]
for t in threads: t.start()
for t in threads: t.join()
ok = True
for n in range(2):
    same, got, closed = results.get(n, (False, 0, False))
    print("client %d: %d of %d bytes back, %s, %s" % (n, got, size,
          "identical" if same else "DIFFERENT", "closed" if closed else "NOT CLOSED"))
    ok = ok and same and closed
sys.exit(0 if ok else 1)
EOF
rc=$?
cat "$dir/clients.out"
[ "$rc" = 0 ] || bad "the echo through echo-server failed"

# SIGTERM: the server resets the held connection, destroys its stack and
# exits 0 with no leak.
kill -TERM "$epid"
net_wait_bg "$epid" 10
rc=$?
cat "$dir/echo.out"
[ "$rc" = 0 ] || { bad "echo-server exited $rc after SIGTERM"; cat "$dir/echo.err"; }
grep -q '^echo-server: stopped cleanly: 3 connections, ' "$dir/echo.out" ||
    bad "echo-server did not stop cleanly after serving 3 connections"
if grep -qi 'leak' "$dir/echo.err"; then bad "echo-server reported leaks: $(cat "$dir/echo.err")"; fi
net_wait_bg "$hpid" 10 || bad "the held connection was not ended by the server's stop"

net_done "installed tree, exports, three examples built with pkg-config and run"
