#!/usr/bin/env bash
# How connections between refnet and Linux end, in a namespace of its own
# (lib.sh): each side's final state is the one RFC 9293 (3.6, figure 5)
# gives it, watched on refnet through `refnet netstat --json` and on Linux
# through `ss -tan` in the namespace.  Linux's side of a connection is
# tcp_peer.py, driven step by step; refnet's is `refnet send` reading a
# FIFO (its end of input is refnet's close) or a service.
#   1. Linux closes first, refnet later (refnet send to tcp_peer.py):
#      after Linux's shutdown refnet is CLOSE_WAIT and Linux FIN_WAIT_2;
#      refnet still sends in CLOSE_WAIT and Linux reads it; refnet's close
#      then ends its side (LAST_ACK, then gone: CLOSED) and Linux's in
#      TIME_WAIT; send exits 0;
#   2. Linux closes first against the echo service (`nc -N`): the data is
#      echoed, Linux ends in TIME_WAIT, refnet in CLOSED (no entry);
#   3. refnet closes first (refnet send's input ends): refnet FIN_WAIT_2,
#      Linux CLOSE_WAIT; Linux still sends and refnet send prints it; Linux
#      closes: refnet ends in TIME_WAIT (the 4-tuple in netstat, a "tcp
#      timewait" object), Linux in CLOSED (no entry);
#   4. refnet closes first as a server: httpd answers a request with
#      Connection: close and closes; Linux reads to EOF (CLOSE_WAIT while
#      refnet is FIN_WAIT_2), closes; refnet ends in TIME_WAIT, Linux in
#      CLOSED;
#   5. both close at once: the daemon is restarted with a fault filter
#      delaying every frame from Linux to refnet by 1 s
#      (--fault delay=1s,dir=rx), so Linux's FIN is in flight when
#      refnet's leaves: Linux shuts down, and as soon as ss shows it in
#      FIN_WAIT_1 refnet send's input ends.  Refnet's FIN reaches Linux
#      first (Linux: CLOSING, seen by ss; refnet: FIN_WAIT_1), then Linux's
#      reaches refnet, and both end in TIME_WAIT.  The 1 s leaves a wide
#      margin, even on a loaded machine where one look at both states may
#      take 300 ms: refnet's FIN leaves a few ms after Linux's shutdown.  The
#      simulator checks the same crossing of FINs in virtual time
#      (tests/unit/transport/test_tcp.c, test_simultaneous_close);
#   - after each case refnet has no connection left, tcp.timewait counts
#     exactly the TIME_WAIT entries expected, and each daemon shuts down
#     cleanly (lib.sh: net_restart checks the first one as net_done does
#     the second).
. "$(dirname "$0")/lib.sh"
net_setup close
net_start --service echo --service httpd=80:"$here"

mkfifo "$dir/p.cmd" "$dir/p.ack"
exec {pcmd}<>"$dir/p.cmd" {pack}<>"$dir/p.ack"
reply=

# peer_start MODE ADDR PORT: starts tcp_peer.py (listen or connect); waits
# for its first line ("ok listening" / "ok connected").
peer_start() {
    net_bg "$py" "$here/tcp_peer.py" "$@" "$dir/p.cmd" "$dir/p.ack"
    peer_pid=$bgpid
    peer_ack || die "tcp_peer.py $*: $reply"
}
# peer_ack: reads its next answer into $reply (10 s at most); 0 if "ok".
peer_ack() {
    reply=
    read -r -t 10 reply <&"$pack"
    [[ $reply == ok* ]]
}
# peer CMD...: sends a command and waits for its answer.
peer() {
    echo "$*" >&"$pcmd"
    peer_ack || bad "tcp_peer.py: $*: '$reply'"
}

# lstate RPORT [LPORT]: Linux's state of its connection to
# 198.18.0.2:RPORT (from local port LPORT if given), as ss names it
# (ESTAB, FIN-WAIT-1, TIME-WAIT...), or "none".
lstate() {
    local f="dst 198.18.0.2:$1"
    [ -n "${2:-}" ] && f="$f and sport = :$2"
    nsx ss -Htan "$f" | awk 'NR == 1 { s = $1 } END { print s ? s : "none" }'
}
# rstate LPORT RPORT: refnet's state of 198.18.0.2:LPORT to
# 198.18.0.1:RPORT (netstat's names), or "none".
rstate() {
    rn netstat --json >"$dir/ns.json" 2>/dev/null || { echo "no-netstat"; return; }
    "$py" - "$dir/ns.json" "198.18.0.2:$1" "198.18.0.1:$2" <<'EOF'
import json, sys
rows = [r for r in json.load(open(sys.argv[1]))
        if r["proto"] == "tcp" and r["local"] == sys.argv[2] and r["remote"] == sys.argv[3]]
print(rows[0]["state"] if rows else "none")
EOF
}
# rport RPORT: refnet's local port of its connection to 198.18.0.1:RPORT.
rport() {
    rn netstat --json | "$py" -c '
import json, sys
rows = [r for r in json.load(sys.stdin) if r["proto"] == "tcp" and r["remote"] == "198.18.0.1:" + sys.argv[1]]
print(rows[0]["local"].split(":")[1] if rows else "")' "$1"
}
# states WHAT RL RR LWANT RWANT [SECS]: waits (2 s by default) until Linux
# and refnet are in the states wanted for the connection between refnet's
# port RL and Linux's port RR, then reports them; bad otherwise.
states() {
    local what=$1 rl=$2 rr=$3 lw=$4 rw=$5 secs=${6:-2} l r end
    end=$((SECONDS + secs))
    while :; do
        l=$(lstate "$rl" "$rr")
        r=$(rstate "$rl" "$rr")
        [ "$l" = "$lw" ] && [ "$r" = "$rw" ] && break
        if [ "$SECONDS" -ge "$end" ]; then
            bad "$what: Linux $l, refnet $r; want Linux $lw, refnet $rw"
            return 1
        fi
        sleep 0.05
    done
    echo "$what: Linux $l, refnet $r"
}
# tw_count: refnet's TIME_WAIT entries.
tw_count() {
    net_stat "$dir/tw.json"
    jq_py "$dir/tw.json" 'proto(j,"tcp.timewait")'
}
# send_start PORT: refnet send 198.18.0.1 PORT reading the FIFO $dir/in
# and writing $dir/send.out; sets $spid.  The test holds the FIFO's
# writing end on fd $fin; closing it is the end of send's input.  Send
# opens the FIFO itself (through sh), before the test does: a child
# started while $fin is open would inherit it and hold the FIFO open.
send_start() {
    rm -f "$dir/in"
    mkfifo "$dir/in"
    net_bg sh -c 'exec "$0" send 198.18.0.1 "$1" --ctl "$2" <"$3" >"$4" 2>"$5"' \
        "$refnet" "$1" "$sock" "$dir/in" "$dir/send.out" "$dir/send.err"
    spid=$bgpid
    exec {fin}>"$dir/in"
}
send_end() {
    net_wait_bg "$spid" 5
    local rc=$?
    [ "$rc" = 0 ] || bad "$1: refnet send exited $rc: $(cat "$dir/send.err")"
}

[ "$(tw_count)" = 0 ] || bad "premise: TIME_WAIT entries at the start"

# ---- 1. Linux closes first; refnet still sends, then closes ----
peer_start listen 198.18.0.1 5001
send_start 5001
peer_ack || die "case 1: Linux did not get refnet's connection: $reply"
head -c 1000 /dev/urandom >&"$fin"
peer readn 1000
p=$(rport 5001)
[ -n "$p" ] || die "case 1: refnet's connection to 5001 is not in netstat"
states "1. open" "$p" 5001 ESTAB ESTABLISHED
peer shut
states "1. Linux shut down" "$p" 5001 FIN-WAIT-2 CLOSE_WAIT
head -c 5000 /dev/urandom >"$dir/more"
cat "$dir/more" >&"$fin"
peer readn 5000
[ "${reply#ok }" = "$(sha256sum <"$dir/more" | cut -d' ' -f1)" ] ||
    bad "case 1: what refnet sent in CLOSE_WAIT reached Linux altered"
exec {fin}>&-
states "1. refnet closed" "$p" 5001 TIME-WAIT none
send_end "case 1"
peer read
[ "$reply" = "ok 0 $(sha256sum </dev/null | cut -d' ' -f1)" ] || bad "case 1: Linux read more before EOF: $reply"
peer exit
net_wait_bg "$peer_pid" 5 >/dev/null
[ "$(tw_count)" = 0 ] || bad "case 1: refnet, the passive closer, has a TIME_WAIT entry"

# ---- 2. Linux closes first against echo (nc -N) ----
out=$(printf 'hello, echo\n' | nsx timeout 5 nc -N -p 5002 198.18.0.2 7 2>&1)
[ "$out" = "hello, echo" ] || bad "case 2: nc -N to echo got '$out'"
states "2. nc -N to echo done" 7 5002 TIME-WAIT none
[ "$(tw_count)" = 0 ] || bad "case 2: refnet, the passive closer, has a TIME_WAIT entry"

# ---- 3. refnet closes first; Linux still sends, then closes ----
peer_start listen 198.18.0.1 5003
send_start 5003
peer_ack || die "case 3: Linux did not get refnet's connection: $reply"
head -c 1000 /dev/urandom >&"$fin"
peer readn 1000
p=$(rport 5003)
[ -n "$p" ] || die "case 3: refnet's connection to 5003 is not in netstat"
exec {fin}>&-
peer read
[ "${reply%% *}" = ok ] && [ "$(cut -d' ' -f2 <<<"$reply")" = 0 ] || bad "case 3: Linux's read to EOF: $reply"
states "3. refnet closed" "$p" 5003 CLOSE-WAIT FIN_WAIT_2
peer send 3000
sha=${reply#ok }
net_wait_for 2 eval '[ "$(stat -c %s "$dir/send.out")" = 3000 ]' ||
    bad "case 3: refnet send printed $(stat -c %s "$dir/send.out") of the 3000 bytes Linux sent in CLOSE_WAIT"
peer close
states "3. Linux closed" "$p" 5003 none TIME_WAIT
send_end "case 3"
[ "$(sha256sum <"$dir/send.out" | cut -d' ' -f1)" = "$sha" ] ||
    bad "case 3: what Linux sent in CLOSE_WAIT reached refnet send altered"
peer exit
[ "$(tw_count)" = 1 ] || bad "case 3: refnet has $(tw_count) TIME_WAIT entries, want 1"
rn objects --type "tcp timewait" | grep -q "tcp timewait 198.18.0.2:$p 198.18.0.1:5003 TIME_WAIT" ||
    bad "case 3: no tcp timewait object for the connection: $(rn objects --type 'tcp timewait')"

# ---- 4. httpd closes first: Connection: close ----
peer_start connect 198.18.0.2 80
peer port
lp=${reply#ok }
peer sendtext 'GET /lib.sh HTTP/1.1\r\nHost: 198.18.0.2\r\nConnection: close\r\n\r\n'
peer read
n=$(cut -d' ' -f2 <<<"$reply")
[ "${reply%% *}" = ok ] && [ "$n" -gt "$(stat -c %s "$here/lib.sh")" ] ||
    bad "case 4: the response read to EOF: $reply"
states "4. httpd closed" 80 "$lp" CLOSE-WAIT FIN_WAIT_2
peer close
states "4. Linux closed" 80 "$lp" none TIME_WAIT
peer exit
[ "$(tw_count)" = 2 ] || bad "case 4: refnet has $(tw_count) TIME_WAIT entries, want 2"
net_tcp_idle 2 || bad "refnet still has TCP connections: $(rn netstat)"

# ---- 5. both at once ----
# Refnet's TIME_WAIT entries go with this daemon: its clean shutdown is
# checked here.
net_restart --fault delay=1s,dir=rx
[ "$(tw_count)" = 0 ] || bad "premise: TIME_WAIT entries in the new daemon"
peer_start listen 198.18.0.1 5005
send_start 5005
peer_ack || die "case 5: Linux did not get refnet's connection: $reply"
head -c 1000 /dev/urandom >&"$fin"
peer readn 1000
p=$(rport 5005)
[ -n "$p" ] || die "case 5: refnet's connection to 5005 is not in netstat"
# Wait until refnet has every byte acknowledged (its ACKs to Linux are not
# delayed; Linux's to refnet are), so that only the FINs are in flight.
net_wait_for 4 eval '[ "$(rstate "$p" 5005)" = ESTABLISHED ] && rn netstat --json | grep -q "\"sendq\": *0"' ||
    bad "case 5: refnet's data was not acknowledged"
peer shut
net_wait_for 1 eval '[ "$(lstate "$p" 5005)" = FIN-WAIT-1 ]' || bad "case 5: Linux is not in FIN_WAIT_1 after its shutdown: $(lstate "$p" 5005)"
exec {fin}>&-
t0=$(date +%s%N)
seen=
while [ $((($(date +%s%N) - t0) / 1000000)) -lt 900 ]; do
    l=$(lstate "$p" 5005)
    r=$(rstate "$p" 5005)
    if [ "$l" = CLOSING ]; then
        seen="Linux CLOSING, refnet $r after $((($(date +%s%N) - t0) / 1000000)) ms"
        break
    fi
    sleep 0.01
done
[ -n "$seen" ] || bad "case 5: Linux never was in CLOSING (refnet's FIN did not cross Linux's): Linux $l, refnet $r"
echo "5. both closed: $seen"
[ "${r:-}" = FIN_WAIT_1 ] || bad "case 5: refnet was $r while Linux was CLOSING, want FIN_WAIT_1"
states "5. both closed, settled" "$p" 5005 TIME-WAIT TIME_WAIT 3
send_end "case 5"
peer exit
[ "$(tw_count)" = 1 ] || bad "case 5: refnet has $(tw_count) TIME_WAIT entries, want 1"
net_tcp_idle 2 || bad "refnet still has TCP connections: $(rn netstat)"
exec {pcmd}>&- {pack}>&-

net_done "close: Linux first, refnet first (client and server), and both at once end as RFC 9293 says"
