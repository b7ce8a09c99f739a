#!/usr/bin/env bash
# Services that are commands (refnet svc add, refnet daemon --service-exec),
# against Linux clients in a namespace of its own (lib.sh):
#   - a command that ignores its stop signal, started with the daemon: in a
#     process group of its own with REFNET_OWNER set; its stop stays
#     STOP_PENDING (exit 3, the real process in the diagnosis, SIGTERM sent,
#     SIGKILL due) until SIGKILL after its grace; nothing of its group is
#     left; svc remove forgets it;
#   - a command that exits on its own: the service stops, with its status;
#   - apache2 added at run time with svc add, for each MPM (prefork: children
#     accepting on the listener they inherited; event): it serves Linux's
#     curl, from several processes (its access log's %P) that are refnet
#     processes owned by the service; a graceful restart (SIGUSR1 to its
#     master) keeps the service RUNNING and the listener the same object,
#     and serves again; its graceful stop (svc stop, SIGWINCH to its master
#     alone, --stop-main) completes after a download in flight finished
#     whole, and leaves no process and no refnet process behind;
#   - the daemon shuts down with two commands running (one ends on SIGTERM,
#     one is killed after its grace): cleanly, nothing leaked, no process
#     of either left.
. "$(dirname "$0")/lib.sh"
net_setup svc_exec
net_need curl /usr/sbin/apache2
[ -f /usr/lib/apache2/modules/mod_mpm_prefork.so ] || die "apache2's modules are missing"
www=$(id -u www-data) || die "no user www-data"
chmod 755 "$dir"

# group_left PGID: the processes of group PGID still there (none wanted).
group_left() {
    ps -eo pid=,pgid=,stat=,args= | awk -v g="$1" '$2 == g && $3 !~ /^Z/'
}

# svc_add ARGS...: refnet svc add on this test's daemon (what follows its
# -- is the command's: rn's options would be too).
svc_add() {
    "$refnet" svc add --ctl "$sock" "$@"
}

# svc_json NAME EXPR: EXPR in Python with s the service's `svc status --json`.
svc_json() {
    rn svc status "$1" --json | "$py" -c "import json,sys; s=json.load(sys.stdin); print($2)"
}

net_start --watchdog 3 --run-allow-uid 0 --run-allow-uid "$www" \
    --service-exec "stubborn=sh -c 'trap \"\" TERM; exec sleep 60'" --stop-grace stubborn=1.5
net_alive

# ---- A command that ignores its stop signal ----------------------------------------
pid=$(svc_json stubborn 's["pid"]')
[ -n "$pid" ] && [ "$pid" != None ] || die "stubborn has no pid: $(rn svc status stubborn)"
[ "$(ps -o pgid= -p "$pid" | tr -d ' ')" = "$pid" ] || bad "stubborn is not the leader of a process group of its own"
net_wait_for 3 grep -qz "^REFNET_OWNER=service stubborn$" "/proc/$pid/environ" ||
    bad "stubborn's environment lacks REFNET_OWNER"
rn svc status stubborn | grep -q "^stubborn (command: sh -c 'trap \"\" TERM; exec sleep 60'): RUNNING" ||
    bad "svc status stubborn: $(rn svc status stubborn)"
t0=$SECONDS
"$refnet" svc stop stubborn --timeout 0.5 --ctl "$sock" >"$dir/stop1" 2>&1
rc=$?
echo "---- svc stop stubborn --timeout 0.5 (exit $rc):"; cat "$dir/stop1"; echo "----"
[ "$rc" = 3 ] || bad "the stop of a command that ignores SIGTERM exited $rc, want 3"
for want in "service stubborn STOP_PENDING" "real process stubborn (pid $pid) running for" \
    "SIGTERM sent" "SIGKILL in"; do
    grep -qF "$want" "$dir/stop1" || bad "the diagnosis lacks '$want'"
done
net_wait_for 4 sh -c "'$refnet' svc status stubborn --ctl '$sock' | grep -q ': STOPPED'" ||
    bad "stubborn did not stop after SIGKILL: $(rn svc status stubborn)"
rn svc status stubborn | grep -q "last run: exited .* ago, killed by SIGKILL" ||
    bad "svc status after SIGKILL: $(rn svc status stubborn)"
[ -z "$(group_left "$pid")" ] || bad "processes of stubborn's group left: $(group_left "$pid")"
rn svc remove stubborn | grep -q "^service stubborn removed$" || bad "svc remove stubborn failed"
rn svc status stubborn >/dev/null 2>&1 && bad "stubborn is still listed after svc remove"

# ---- A command that exits on its own ------------------------------------------------
svc_add oneshot -- sh -c 'sleep 0.3; exit 5' | grep -q "^service oneshot added, STOPPED" ||
    bad "svc add oneshot failed"
rn svc start oneshot >/dev/null || bad "svc start oneshot failed"
net_wait_for 3 sh -c "'$refnet' svc status oneshot --ctl '$sock' | grep -q ': STOPPED'" ||
    bad "oneshot did not stop by itself"
rn svc status oneshot | grep -q "last run: exited .* ago, exit status 5" ||
    bad "svc status oneshot: $(rn svc status oneshot)"
grep -q "^service oneshot: its command (pid [0-9]*) exited on its own, exit status 5; the service stops$" \
    "$dlog" || bad "no line on the daemon's stderr for oneshot's exit"
out=$(svc_add oneshot -- true 2>&1)
[ $? = 1 ] && grep -q "^refnet svc: cannot add oneshot: service oneshot is configured already$" <<<"$out" ||
    bad "a second svc add of one name was not refused: $out"

# ---- apache2, each MPM -------------------------------------------------------------------
head -c 24000000 /dev/urandom >"$dir/big"
for mpm in prefork event; do
    a=$dir/apache-$mpm
    mkdir -p "$a/www" "$a/run" "$a/logs"
    echo "hello from apache2 $mpm" >"$a/www/index.html"
    cp "$dir/big" "$a/www/big"
    chmod -R a+rX "$a"
    cat >"$a/apache2.conf" <<EOF
ServerRoot $a
ServerName refnet.test
Listen 198.18.0.2:80
PidFile $a/run/apache2.pid
DefaultRuntimeDir $a/run
ErrorLog $a/logs/error.log
LogLevel info
LoadModule mpm_${mpm}_module /usr/lib/apache2/modules/mod_mpm_$mpm.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule dir_module /usr/lib/apache2/modules/mod_dir.so
LogFormat "%P %U %>s" pids
CustomLog $a/logs/access.log pids
StartServers 3
User www-data
Group www-data
DocumentRoot $a/www
<Directory $a/www>
    Require all granted
</Directory>
DirectoryIndex index.html
EOF
    name=apache-$mpm
    svc_add "$name" --stop-signal WINCH --stop-main --stop-grace 10 -- \
        /usr/sbin/apache2 -f "$a/apache2.conf" -DFOREGROUND >/dev/null || bad "svc add $name failed"
    rn svc start "$name" >/dev/null || bad "svc start $name failed"
    net_wait_for 10 sh -c "'$refnet' netstat -a --ctl '$sock' | grep -Eq '^tcp +198\.18\.0\.2:80 .* LISTEN'" ||
        { bad "$name does not listen: $(tail -5 "$a/logs/error.log")"; continue; }
    pgid=$(svc_json "$name" 's["pid"]')
    [ "$(nsx curl -s -m 5 http://198.18.0.2/)" = "hello from apache2 $mpm" ] ||
        bad "$name: curl did not get the page"
    # Parallel load: several of its processes accept.
    nsx curl -s --no-progress-meter -m 10 -Z --parallel-max 8 -H "Connection: close" \
        -o /dev/null -w "%{http_code}\n" "http://198.18.0.2/?[1-80]" >"$dir/codes" 2>&1
    [ "$(grep -c '^200$' "$dir/codes")" = 80 ] || bad "$name: $(grep -vc '^200$' "$dir/codes") of 80 requests failed"
    net_wait_for 3 sh -c "[ \$(wc -l <'$a/logs/access.log') -ge 81 ]"
    served=$(awk '{print $1}' "$a/logs/access.log" | sort -u | wc -l)
    procs=$(rn objects --json | "$py" -c '
import json, sys
print(sum(1 for o in json.load(sys.stdin) if o["type"] == "process" and " (pid " in o["desc"]))')
    owned=$(rn netstat -a --refs | grep -Ec "^tcp +198\.18\.0\.2:80 .* LISTEN .* $name\[")
    echo "$name: 80 requests served by $served processes; $procs refnet processes; listener owned: $owned"
    [ "$served" -ge 2 ] || bad "$name: only $served process served the load"
    [ "$owned" = 1 ] || bad "$name: the listener's owner is not the service: $(rn netstat -a --refs | grep LISTEN)"
    [ "$procs" -ge 2 ] || bad "$name: $procs refnet processes, want its master and children"

    # Graceful restart: SIGUSR1 to its master.
    lid=$(rn netstat -a --json | "$py" -c '
import json, sys
print([r["id"] for r in json.load(sys.stdin) if r["local"] == "198.18.0.2:80" and r["state"] == "LISTEN"][0])')
    master=$(cat "$a/run/apache2.pid")
    kill -USR1 "$master"
    net_wait_for 5 grep -qi "graceful restart" "$a/logs/error.log" ||
        bad "$name: no graceful restart in its log"
    sleep 0.5
    [ "$(nsx curl -s -m 5 http://198.18.0.2/)" = "hello from apache2 $mpm" ] ||
        bad "$name: no page after the graceful restart"
    rn svc status "$name" | grep -q ": RUNNING" || bad "$name is not RUNNING after its graceful restart"
    lid2=$(rn netstat -a --json | "$py" -c '
import json, sys
print([r["id"] for r in json.load(sys.stdin) if r["local"] == "198.18.0.2:80" and r["state"] == "LISTEN"][0])')
    [ "$lid" = "$lid2" ] || bad "$name: the listener changed across the graceful restart ($lid, $lid2)"

    # Graceful stop with a download in flight: it finishes whole first.
    # (The prefork child serving it closes its listener in its SIGWINCH
    # handler, maybe while it waits for the daemon's answer to a call.)
    nsx curl -s -m 30 --limit-rate 6000k -o "$dir/got-$mpm" http://198.18.0.2/big &
    cpid=$!
    net_track "$cpid"
    sleep 0.7
    t0=$(date +%s%N)
    "$refnet" svc stop "$name" --timeout 15 --ctl "$sock" >"$dir/stop-$mpm" 2>&1 || bad "$name: svc stop: $(cat "$dir/stop-$mpm")"
    took=$((($(date +%s%N) - t0) / 1000000))
    grep -q "^service $name STOPPED" "$dir/stop-$mpm" || bad "$name: $(cat "$dir/stop-$mpm")"
    wait "$cpid"
    crc=$?
    echo "$name: graceful stop took $took ms with a download in flight (curl exit $crc)"
    [ "$crc" = 0 ] && cmp -s "$dir/big" "$dir/got-$mpm" || bad "$name: the download in flight did not finish whole"
    # 24 MB at 6 MB/s: far more than the buffers on the way hold, so the
    # stop completes only after the child has written most of it; well
    # before the grace (10 s) ends in SIGKILL.
    [ "$took" -ge 2000 ] || bad "$name: the graceful stop did not wait for the download ($took ms)"
    [ "$took" -lt 9000 ] || bad "$name: the graceful stop took $took ms: SIGKILL ended it, not apache2"
    grep -q "^service $name: .*SIGKILL" "$dlog" && bad "$name: SIGKILL was needed: $(grep "^service $name: .*SIGKILL" "$dlog")"
    grep -q "caught SIGWINCH, shutting down gracefully" "$a/logs/error.log" || bad "$name: not stopped with SIGWINCH"
    rn svc status "$name" | grep -q "last run: exited .* ago, exit status 0" ||
        bad "$name: $(rn svc status "$name")"
    [ -z "$(group_left "$pgid")" ] || bad "$name: processes left: $(group_left "$pgid")"
    left=$(rn objects | grep -Ec "^(process|socket|real process) ")
    [ "$left" = 0 ] || bad "$name: refnet processes or sockets left: $(rn objects | grep -E '^(process|socket|real process) ')"
    rn svc remove "$name" >/dev/null || bad "svc remove $name failed"
done

# ---- The daemon shuts down with commands running ---------------------------------
# One ends on its stop signal, one ignores it and is killed after its grace;
# the shutdown completes both stops, leaks nothing, and leaves no process.
svc_add sleeper -- sleep 60 >/dev/null || bad "svc add sleeper failed"
svc_add stubborn2 --stop-grace 1 -- sh -c 'trap "" TERM; sleep 60; sleep 60' >/dev/null ||
    bad "svc add stubborn2 failed"
rn svc start sleeper >/dev/null || bad "svc start sleeper failed"
rn svc start stubborn2 >/dev/null || bad "svc start stubborn2 failed"
spid=$(svc_json sleeper 's["pid"]')
tpid=$(svc_json stubborn2 's["pid"]')
sleep 0.3
t0=$(date +%s%N)
net_stop
took=$((($(date +%s%N) - t0) / 1000000))
echo "shutdown with two commands running took $took ms"
[ "$took" -ge 900 ] || bad "the shutdown did not give stubborn2 its grace ($took ms)"
for g in "$spid" "$tpid"; do
    [ -z "$(group_left "$g")" ] || bad "processes of group $g left after the shutdown: $(group_left "$g")"
done
grep -q "service stubborn2: .*SIGKILL" "$dlog" || bad "no line on the daemon's stderr for stubborn2's SIGKILL"

net_done "svc_exec: stop signal then SIGKILL after the grace, exit on its own, apache2 prefork and event under svc add: served by several processes, graceful restart, graceful stop (event: with a download in flight), nothing left; the daemon shuts down with commands running"
