#!/usr/bin/env bash
# refnet lab apache: the case for real, with Debian's apache2.  `refnet lab
# apache` runs this script (installed as share/refnet/lab-apache.sh) as
#     lab-apache.sh REFNET [--threshold S] [--mpm event|prefork] [--fixed]
#                          [--dump FILE]
# REFNET being the refnet binary to use.
#
# In a network namespace of its own (198.18.0.0/15 only), with a TAP device
# whose Linux side is 198.18.0.1, it runs a refnet daemon with the lab's
# fault (--inject enum-leak: netstat's enumeration loses references on
# listeners, as in the case) and apache2 as a service of its controller:
# its own configuration in a temporary directory (mpm_event unless --mpm
# prefork, Listen 198.18.0.2:80, a document root with a test page), run
# under `refnet run`, stopped gracefully with SIGWINCH to its master alone
# (which stops its children; SIGKILL to the whole group after 10 s).  Then:
#   1. Linux curl fetches the test page from apache2, through refnet;
#   2. curl load from Linux while `refnet netstat -a --refs` runs in a loop:
#      the listener collects leaked 'enum' holds;
#   3. `refnet svc stop apache2` stays STOP_PENDING; the watchdog's report
#      names the 'enum' holder within the threshold + 1 s, and the stop's
#      diagnosis is the chain service -> real process -> refnet process ->
#      socket -> listener -> holders and verdict;
#   4. a restart fails with "address in use" naming the holder;
#   5. `refnet lab clear-leak` gives the holds back: the stop completes and
#      the restart succeeds (curl again);
#   6. apache2 stops cleanly, the daemon shuts down with nothing leaked, and
#      no process of apache2 and no namespace is left behind.
# --fixed runs the same without the fault: the stop completes at once.
# Exit status: 3 the hang was reproduced and diagnosed, and everything was
# cleaned up; 0 with --fixed and a clean stop; 1 a step failed; 2 bad usage.
set -u

refnet=${1:?usage: lab-apache.sh REFNET [--threshold S] [--mpm event|prefork] [--fixed] [--dump FILE]}
shift
threshold=3
mpm=event
fixed=0
dump=
usage() { echo "refnet: lab apache: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case $1 in
    --threshold) [ $# -ge 2 ] || usage "--threshold needs seconds"; threshold=$2; shift 2 ;;
    --mpm) [ $# -ge 2 ] || usage "--mpm needs event or prefork"; mpm=$2; shift 2 ;;
    --fixed) fixed=1; shift ;;
    --dump) [ $# -ge 2 ] || usage "--dump needs a file name"; dump=$2; shift 2 ;;
    *) usage "unexpected argument '$1'" ;;
    esac
done
case $threshold in
''|*[!0-9]*) usage "--threshold: '$threshold': whole seconds, 1 to 60" ;;
esac
[ "$threshold" -ge 1 ] && [ "$threshold" -le 60 ] || usage "--threshold: '$threshold': whole seconds, 1 to 60"
case $mpm in event|prefork) ;; *) usage "--mpm: '$mpm': event or prefork" ;; esac

fail() { echo "refnet: lab apache: $*" >&2; failed=1; }
die() { echo "refnet: lab apache: $*" >&2; exit 1; }
step() { printf '\n\033[1m### %s\033[0m\n' "$*"; }
say() { printf '\033[2m$ %s\033[0m\n' "$*"; }

apache=/usr/sbin/apache2
mods=/usr/lib/apache2/modules
[ "$(id -u)" = 0 ] || die "needs root (a network namespace, a TAP device)"
[ -c /dev/net/tun ] || die "/dev/net/tun is missing"
command -v ip >/dev/null || die "ip (iproute2) is missing"
command -v curl >/dev/null || die "curl is missing"
[ -x "$apache" ] && [ -f "$mods/mod_mpm_$mpm.so" ] ||
    die "Debian's apache2 is not installed (apt-get install apache2; scripts/deps.sh does)"
id www-data >/dev/null 2>&1 || die "the user www-data (apache2's) is missing"
[ -x "$refnet" ] || die "$refnet: not an executable"

ns=rn-lab-apache-$$
dir=$(mktemp -d /tmp/refnet-lab-apache.XXXXXX) || die "mktemp failed"
chmod 755 "$dir"
ctl=$dir/ctl.sock
dlog=$dir/daemon.log
daemon_pid=
load_pid=
failed=0
hang=0

rnc() { "$refnet" "$@" --ctl "$ctl"; }

# The processes of apache2's configuration still running (there should be
# none at the end).
leftovers() {
    ps -eo pid=,args= | grep -F -- "$dir/apache2.conf" | grep -v -F "grep" || true
}

cleanup() {
    local i
    if [ -n "$load_pid" ] && kill -0 "$load_pid" 2>/dev/null; then
        kill -TERM "$load_pid" 2>/dev/null
        wait "$load_pid" 2>/dev/null
    fi
    if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
        kill -TERM "$daemon_pid" 2>/dev/null
        for i in $(seq 200); do
            kill -0 "$daemon_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$daemon_pid" 2>/dev/null
        wait "$daemon_pid" 2>/dev/null
    fi
    ip netns del "$ns" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- apache2's configuration -------------------------------------------------
mkdir -p "$dir/www" "$dir/run" "$dir/logs" "$dir/dumps"
printf '<!doctype html>\n<title>apache2 on refnet</title>\n<h1>Hello from apache2 on refnet</h1>\n' \
    >"$dir/www/index.html"
chmod 755 "$dir/www" "$dir/run" "$dir/logs"
chmod 644 "$dir/www/index.html"
cat >"$dir/apache2.conf" <<EOF
# apache2 for refnet's lab: its own files, mpm_$mpm, port 80 of refnet's address.
ServerRoot $dir
ServerName refnet.lab
Listen 198.18.0.2:80
PidFile $dir/run/apache2.pid
DefaultRuntimeDir $dir/run
ErrorLog $dir/logs/error.log
LogLevel info
LoadModule mpm_${mpm}_module $mods/mod_mpm_$mpm.so
LoadModule authz_core_module $mods/mod_authz_core.so
LoadModule dir_module $mods/mod_dir.so
User www-data
Group www-data
DocumentRoot $dir/www
<Directory $dir/www>
    Require all granted
</Directory>
DirectoryIndex index.html
EOF
"$apache" -t -f "$dir/apache2.conf" >"$dir/configtest" 2>&1 ||
    die "apache2 rejects its configuration: $(cat "$dir/configtest")"

# ---- 1. apache2 under the service controller ----------------------------------------
step "1. apache2 ($mpm) as a service of refnet's controller, its sockets on refnet"
ip netns add "$ns" || die "cannot create namespace $ns"
ip -n "$ns" link set lo up
ip -n "$ns" tuntap add rn0 mode tap multi_queue || die "cannot create a TAP device in $ns"
ip netns exec "$ns" sysctl -qw net.ipv6.conf.rn0.disable_ipv6=1
ip -n "$ns" addr add 198.18.0.1/15 dev rn0
ip -n "$ns" link set rn0 up
inject=(--inject enum-leak)
[ "$fixed" = 1 ] && inject=()
daemon_args=(--tap rn0 --addr 198.18.0.2/15 --ctl "$ctl" "${inject[@]}" --watchdog "$threshold"
    --dump-dir "$dir/dumps" --run-allow-uid 0 --run-allow-uid "$(id -u www-data)"
    --service-exec "apache2=$apache -f $dir/apache2.conf -DFOREGROUND"
    --stop-signal apache2=WINCH --stop-main apache2 --stop-grace apache2=10)
say "refnet daemon ${daemon_args[*]}"
ip netns exec "$ns" "$refnet" daemon "${daemon_args[@]}" 2>"$dlog" &
daemon_pid=$!
for _ in $(seq 100); do
    rnc netstat -a 2>/dev/null | grep -Eq '^tcp +198\.18\.0\.2:80 .* LISTEN' && break
    kill -0 "$daemon_pid" 2>/dev/null || break
    sleep 0.1
done
rnc netstat -a 2>/dev/null | grep -Eq '^tcp +198\.18\.0\.2:80 .* LISTEN' || {
    cat "$dlog" >&2
    die "apache2 does not listen on refnet's port 80"
}
say "refnet svc status apache2"
rnc svc status apache2
pgid=$(rnc svc status apache2 --json | sed -n 's/.*"pid":\([0-9]*\).*/\1/p')
say "ps -o pid,ppid,user,args -g $pgid    # its process group: refnet run, apache2 and its children"
ps -eo pid=,ppid=,pgid=,user=,args= | awk -v g="$pgid" '$3 == g { $3 = ""; print }'
say "ip netns exec $ns curl http://198.18.0.2/    # Linux, through refnet's TCP"
ip netns exec "$ns" curl -s -m 5 http://198.18.0.2/ | tee "$dir/page1" | sed -n 3p
grep -q "Hello from apache2 on refnet" "$dir/page1" || fail "curl did not get the test page"

# ---- 2. Load and netstat --------------------------------------------------------
what="2. curl load from Linux, and \`refnet netstat -a --refs\` in a loop"
[ "$fixed" = 0 ] && what="$what, with the enumeration's fault injected"
step "$what"
# A bounded load: rounds of 40 requests, 8 at a time, a new connection
# each, for 4 s, or up to 12 s until the fault has fired (it needs the
# table to change under a listing).
ip netns exec "$ns" bash -c '
    end=$((SECONDS + 12)); ok=0; bad=0
    while [ $SECONDS -lt $end ] && [ ! -e "$1" ]; do
        out=$(curl -s --no-progress-meter -m 5 -Z --parallel-max 8 -H "Connection: close" \
            -o /dev/null -w "%{http_code}\n" "http://198.18.0.2/?[1-40]" 2>/dev/null)
        ok=$((ok + $(grep -c "^200$" <<<"$out"))); bad=$((bad + $(grep -vc "^200$" <<<"$out")))
    done
    echo "$ok $bad $SECONDS"' load "$dir/load-stop" >"$dir/load" 2>&1 &
load_pid=$!
n=0
start=$SECONDS
while [ $((SECONDS - start)) -lt 12 ]; do
    rnc netstat -a --refs >"$dir/netstat" 2>&1 || { fail "netstat failed: $(cat "$dir/netstat")"; break; }
    n=$((n + 1))
    [ $((SECONDS - start)) -ge 4 ] || continue
    [ "$fixed" = 1 ] && break
    grep -Eq 'LISTEN .*enum [0-9]+' "$dir/netstat" && break
done
touch "$dir/load-stop"
wait "$load_pid"
load_pid=
read -r ok bad secs <"$dir/load"
echo "curl: ${ok:-0} pages in ${secs:-?} s (${bad:-?} failed); refnet netstat -a --refs: $n listings"
[ "${ok:-0}" -gt 0 ] 2>/dev/null || fail "the load got no page"
say "refnet netstat -a --refs | grep LISTEN"
rnc netstat -a --refs | sed -n '1p; /LISTEN/p'
if [ "$fixed" = 0 ]; then
    grep -Eq 'LISTEN .*enum [0-9]+' <(rnc netstat -a --refs) ||
        fail "the listener collected no 'enum' hold: the fault did not fire"
fi

# ---- 3. The stop --------------------------------------------------------------------
stop_timeout=$((threshold + 2))
if [ "$fixed" = 1 ]; then
    step "3. refnet svc stop apache2: SIGWINCH, apache2 stops gracefully, refnet's cleanups complete"
else
    step "3. refnet svc stop apache2: apache2 exits, but the stop stays STOP_PENDING; the watchdog says why"
fi
say "refnet svc stop apache2 --timeout $stop_timeout"
rnc svc stop apache2 --timeout "$stop_timeout" >"$dir/stop.out" 2>&1 &
stop_pid=$!
dumped=
while kill -0 "$stop_pid" 2>/dev/null; do
    if [ -n "$dump" ] && [ -z "$dumped" ] && grep -q "verdict: 'enum' holds past its bound" "$dlog"; then
        dumped=1
        rnc dump "$dump" >/dev/null || fail "refnet dump $dump failed"
    fi
    sleep 0.05
done
wait "$stop_pid"
stop_rc=$?
cat "$dir/stop.out"
if [ "$fixed" = 1 ]; then
    [ "$stop_rc" = 0 ] || fail "the stop exited $stop_rc, want 0"
else
    [ "$stop_rc" = 3 ] || fail "the stop exited $stop_rc, want 3 (still STOP_PENDING)"
    for want in "service apache2 STOP_PENDING" "real process apache2 (pid $pgid) exited" \
        "terminating" "tcp 198.18.0.2:80 close pending" "tcp listener 198.18.0.2:80 CLOSED" \
        "verdict: 'enum' holds past its bound"; do
        grep -qF "$want" "$dir/stop.out" || fail "the stop's diagnosis lacks '$want'"
    done
    echo
    echo "The watchdog's report, on the daemon's stderr:"
    # Its first report that names the holder, and the age of the stop in
    # it: when the watchdog took the snapshot it reported.
    awk '/^refnet watchdog: / { blk = "" } { blk = blk $0 "\n" }
         /verdict: .enum. holds past its bound/ { printf "%s", blk; exit }' "$dlog" >"$dir/report"
    cat "$dir/report"
    age=$(grep -o "stop pending [0-9.]*[a-z]*" "$dir/report" | head -n 1 | cut -d' ' -f3)
    ms=$(awk -v a="$age" 'BEGIN {
        v = a + 0; u = a; sub(/^[0-9.]+/, "", u)
        if (u == "ms") v = v; else if (u == "s") v *= 1000; else if (u == "m") v *= 60000; else v = -1
        printf "%d", v }')
    if [ -z "$age" ] || [ "$ms" -lt 0 ]; then
        fail "the watchdog never named the 'enum' holder"
    else
        echo "(the watchdog named the 'enum' holder when the stop had been pending $age; its threshold is ${threshold}s)"
        [ "$ms" -le $(((threshold + 1) * 1000)) ] ||
            fail "the 'enum' holder was named when the stop had been pending $age, more than the threshold + 1 s"
    fi
    [ -n "$dump" ] && echo "(a dump of that moment is in $dump: refnet analyze $dump)"
fi

# ---- 4. and 5. The restart, the leak cleared -------------------------------------------
if [ "$fixed" = 0 ]; then
    step "4. A restart fails: port 80 is still held, and refnet names the holder"
    say "refnet svc start apache2"
    rnc svc start apache2 >"$dir/start.out" 2>&1
    start_rc=$?
    cat "$dir/start.out"
    [ "$start_rc" = 1 ] || fail "the restart exited $start_rc, want 1"
    grep -q "TCP port 80: address in use: held by #[0-9]* tcp listener 198.18.0.2:80 CLOSED.*enum [0-9]* held.*owner service apache2" \
        "$dir/start.out" || fail "the restart's error does not name the holder"
    ip netns exec "$ns" curl -s -m 2 http://198.18.0.2/ >/dev/null &&
        fail "port 80 answered while apache2 is stopped"

    step "5. refnet lab clear-leak: the leaked holds go back, the stop completes, apache2 restarts"
    say "refnet lab clear-leak"
    rnc lab clear-leak || fail "lab clear-leak failed"
    for _ in $(seq 50); do
        rnc svc status apache2 | grep -q ": STOPPED" && break
        sleep 0.1
    done
    say "refnet svc status apache2"
    rnc svc status apache2
    rnc svc status apache2 | grep -q ": STOPPED" || fail "apache2 did not reach STOPPED"
    say "refnet svc start apache2"
    rnc svc start apache2 || fail "the restart failed"
    for _ in $(seq 100); do
        rnc netstat -a | grep -Eq '^tcp +198\.18\.0\.2:80 .* LISTEN' && break
        sleep 0.1
    done
    say "ip netns exec $ns curl http://198.18.0.2/"
    ip netns exec "$ns" curl -s -m 5 http://198.18.0.2/ | tee "$dir/page2" | sed -n 3p
    grep -q "Hello from apache2 on refnet" "$dir/page2" || fail "the restarted apache2 did not serve the page"
    hang=1
fi

# ---- 6. Clean stop, shutdown, nothing left ---------------------------------------
step "6. apache2 stops cleanly, refnet shuts down, nothing is left behind"
if rnc svc status apache2 | grep -q ": RUNNING"; then
    say "refnet svc stop apache2"
    rnc svc stop apache2 --timeout 15 || fail "the last stop did not complete"
fi
say "kill -TERM <daemon>"
kill -TERM "$daemon_pid"
wait "$daemon_pid"
drc=$?
daemon_pid=
tail -n 1 "$dlog"
[ "$drc" = 0 ] && grep -q "^refnet daemon: shut down cleanly$" "$dlog" ||
    fail "the daemon did not shut down cleanly (exit $drc): $(tail -n 5 "$dlog")"
left=$(leftovers)
[ -z "$left" ] || fail "processes of apache2 left behind: $left"
ip netns del "$ns" && echo "namespace $ns removed; no process of apache2 left"

if [ "$failed" != 0 ]; then
    echo "refnet: lab apache: failed; apache2's log:" >&2
    tail -n 20 "$dir/logs/error.log" >&2
    exit 1
fi
if [ "$hang" = 1 ]; then
    echo
    echo "(exit status 3: the hang reproduced with apache2 and diagnosed; \`refnet lab apache --fixed\` stops cleanly)"
    exit 3
fi
exit 0
