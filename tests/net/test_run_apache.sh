#!/usr/bin/env bash
# Debian's apache2, unmodified, started directly under `refnet run`, with
# mpm_event and with mpm_prefork (fork; children accepting on the listener
# they inherited), against Linux clients in a network namespace:
#   - a parent and its children are refnet processes "apache2" with their
#     pids; the listener is one socket, with a handle in each;
#   - curl fetches 2 MB (sendfile), same sha256; ab sends 1000 requests
#     (and 1000 keep-alive), none failed;
#   - TCP_DEFER_ACCEPT, which refnet lacks, is refused and counted
#     (run.unsupported.tcp.9) and apache goes on without it;
#   - graceful restart (SIGUSR1) with a download in flight: the parent
#     stays, new children serve, the download ends whole, then the old
#     children leave refnet's processes;
#   - graceful stop (SIGWINCH) with a download in flight: it ends whole,
#     apache exits 0, and nothing of it is left in the daemon.
# Adds about 25 s.  Needs root and /dev/net/tun (lib.sh).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run_lib.sh"
net_setup run_apache
net_need apache2 ab curl sha256sum
mods=/usr/lib/apache2/modules
[ -f "$mods/mod_mpm_event.so" ] || die "apache2's modules are not in $mods"

net_start
run_objects_base
# apache's children run as www-data: the files must be readable by it.
chmod 755 "$dir"
mkdir -p "$dir/www" "$dir/ap"
head -c 2000000 /dev/urandom >"$dir/www/big"
head -c 1024 /dev/urandom >"$dir/www/1k"
chmod -R a+rX "$dir/www"
want=$(sha "$dir/www/big")

# ap_children: the pids of apache2's children as refnet lists them.
ap_children() {
    rn objects -t process | sed -n "s/^process apache2 (pid \([0-9]*\)) .*/\1/p" |
        grep -vx "$prog_pid" | tr '\n' ' '
}

# slow_get: a slow reader on Linux's side downloads the 2 MB file in the
# background ($slow), 16 KiB each 40 ms (about 5 s), with a 64 KiB receive
# buffer, so that the server is still sending when the restart or stop
# comes (curl's --limit-rate is no help: the kernel's receive buffer takes
# the whole file at once); the raw stream grows in $dir/slow.raw, the body
# lands in $dir/slow at the end.  Returns once the transfer began.
slow_get() {
    rm -f "$dir/slow" "$dir/slow.raw"
    net_bg "$py" -c '
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.settimeout(30)
s.connect(("198.18.0.2", 8081))
s.sendall(b"GET /big HTTP/1.1\r\nHost: refnet-test\r\nConnection: close\r\n\r\n")
data = bytearray()
with open(sys.argv[1] + ".raw", "wb") as raw:
    while True:
        b = s.recv(16384)
        if not b:
            break
        data += b
        raw.write(b)
        raw.flush()
        time.sleep(0.04)
head, _, body = bytes(data).partition(b"\r\n\r\n")
if not head.startswith(b"HTTP/1.1 200"):
    sys.exit("not a 200: %r" % head[:80])
open(sys.argv[1], "wb").write(body)
' "$dir/slow"
    slow=$bgpid
    net_wait_for 5 test -s "$dir/slow.raw" || bad "$mpm: the slow download did not start"
}

# slow_check WHAT: the slow download ended whole.
slow_check() {
    net_wait_bg "$slow" 20 || bad "$mpm: the download across the $1 failed"
    [ "$(sha "$dir/slow")" = "$want" ] || bad "$mpm: the download across the $1 differs"
}

for mpm in event prefork; do
    conf="$dir/ap/$mpm.conf"
    cat >"$conf" <<CONF
ServerRoot $dir/ap
ServerName refnet-test
LoadModule mpm_${mpm}_module $mods/mod_mpm_${mpm}.so
LoadModule authz_core_module $mods/mod_authz_core.so
Listen 0.0.0.0:8081
PidFile $dir/ap/$mpm.pid
ErrorLog $dir/ap/$mpm.log
LogLevel notice
Mutex file:$dir/ap default
User www-data
Group www-data
DocumentRoot $dir/www
<Directory $dir/www>
    Require all granted
</Directory>
StartServers 2
EnableSendfile On
CONF
    run_setsid=1 run_bg --name apache2 -- apache2 -f "$conf" -DFOREGROUND
    wait_refnet_listen 8081
    net_wait_for 10 sh -c "[ \$('$refnet' objects -t process --ctl '$sock' | grep -c '^process apache2 ') -ge 3 ]" ||
        bad "$mpm: fewer than 3 apache2 processes: $(rn objects -t process | grep '^process')"
    rn objects -t process | grep -q "^process apache2 (pid $prog_pid) " ||
        bad "$mpm: the parent is not listed with its pid $prog_pid"
    nsx curl -sS -o "$dir/got" http://198.18.0.2:8081/big || bad "$mpm: curl failed"
    [ "$(sha "$dir/got")" = "$want" ] || bad "$mpm: the file came back different"
    for k in "" -k; do
        nsx timeout 60 ab -q $k -n 1000 -c 8 http://198.18.0.2:8081/1k >"$dir/ab.out" 2>&1 ||
            bad "$mpm: ab $k failed: $(tail -3 "$dir/ab.out")"
        grep -q "^Complete requests: *1000$" "$dir/ab.out" && grep -q "^Failed requests: *0$" "$dir/ab.out" ||
            bad "$mpm: ab $k: $(grep -E 'requests' "$dir/ab.out")"
    done

    # Graceful restart (SIGUSR1) with a download in flight: the parent
    # stays, new children serve at once, the old ones finish the download
    # and then go, as refnet processes too.
    old=$(ap_children)
    [ -n "$old" ] || bad "$mpm: no children listed"
    slow_get
    kill -USR1 "$run_pid"
    net_wait_for 10 sh -c "[ \$(grep -c 'resuming normal operations' '$dir/ap/$mpm.log') -ge 2 ]" ||
        bad "$mpm: no restart in the log: $(tail -3 "$dir/ap/$mpm.log")"
    if ! kill -0 "$slow" 2>/dev/null; then
        wait "$slow"
        bad "$mpm: the download was not in flight across the restart (the reader exited $?" \
            "after $(wc -c <"$dir/slow.raw") bytes)"
    fi
    nsx timeout 60 ab -q -n 200 -c 4 http://198.18.0.2:8081/1k >"$dir/ab.out" 2>&1 &&
        grep -q "^Failed requests: *0$" "$dir/ab.out" ||
        bad "$mpm: ab after the graceful restart: $(tail -3 "$dir/ab.out")"
    slow_check "graceful restart"
    kill -0 "$prog_pid" || bad "$mpm: the parent went away on a graceful restart"
    net_wait_for 10 sh -c "! '$refnet' objects -t process --ctl '$sock' |
        grep -Eq '^process apache2 \(pid ($(echo $old | tr ' ' '|'))\)'" ||
        bad "$mpm: old children still listed after the restart: $(rn objects -t process | grep '^process')"
    [ -n "$(ap_children)" ] || bad "$mpm: no children after the restart"

    # Graceful stop (SIGWINCH) with a download in flight: apache finishes
    # it, then exits 0, and nothing of it is left.
    slow_get
    kill -WINCH "$run_pid"
    sleep 0.5
    kill -0 "$prog_pid" 2>/dev/null || bad "$mpm: apache2 did not wait for the download"
    slow_check "graceful stop"
    wait "$run_pid"
    rc=$?
    [ "$rc" = 0 ] || bad "$mpm: apache2 exited $rc: $(tail -3 "$dir/ap/$mpm.log")"
    run_settled 10
done
[ "$(run_stat run.unsupported.tcp.9)" -ge 2 ] || bad "TCP_DEFER_ACCEPT was not counted as unsupported"

net_done "apache2 with mpm_event and mpm_prefork on refnet: curl, ab, graceful restart and graceful stop, nothing left behind"
