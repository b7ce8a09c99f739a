#!/usr/bin/env bash
# Debian's nginx, unmodified, on refnet through `refnet run`, against
# Linux clients in a network namespace; and wrk and ab, on refnet, as
# clients of a Linux nginx:
#   - nginx with a master and two workers, epoll and sendfile: three refnet
#     processes "nginx", the listener one socket with a handle in each;
#     curl fetches 3 MB (sendfile), same sha256; wrk keep-alive and with
#     "Connection: close" for 2 s each, no socket error, no non-2xx;
#   - the same with `listen ... reuseport`: a listener per worker;
#   - `listen [::]:8080 ipv6only=off`: one dual-stack AF_INET6 listener on
#     refnet; curl -6 and curl -4 from Linux fetch the 3 MB file, same
#     sha256, and nginx's access log has the IPv4 client as
#     ::ffff:198.18.0.1; wrk over IPv6 for 2 s, no error;
#   - `listen 8080; listen [::]:8080` (nginx sets IPV6_V6ONLY on the
#     second): two listeners, tcp and tcp6, each serving its family;
#   - SIGTERM: nginx exits 0 and nothing of it is left in the daemon;
#   - wrk and ab under refnet run against nginx on Linux: every request
#     answered, none failed.
# Adds about 25 s.  Needs root and /dev/net/tun (lib.sh).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/run_lib.sh"
net_setup run_nginx
net_need nginx wrk ab curl sha256sum

net_v6=1
net_start
net_wait_dad
run_objects_base
# nginx's workers run as nobody: the files must be readable by it.
chmod 755 "$dir"
mkdir -p "$dir/www" "$dir/ng"
head -c 3000000 /dev/urandom >"$dir/www/big"
head -c 1024 /dev/urandom >"$dir/www/1k"
chmod -R a+rX "$dir/www"
want=$(sha "$dir/www/big")

# ng_conf FILE LISTEN: an nginx configuration in the test's directory;
# LISTEN may hold more than one ("8080; listen [::]:8080").  The access
# log is FILE.access.
ng_conf() {
    cat >"$1" <<CONF
worker_processes 2;
daemon off;
master_process on;
pid $1.pid;
error_log $1.log notice;
events { use epoll; worker_connections 256; }
http {
    access_log $1.access;
    sendfile on;
    client_body_temp_path $dir/ng/body;
    proxy_temp_path $dir/ng/proxy;
    fastcgi_temp_path $dir/ng/fcgi;
    uwsgi_temp_path $dir/ng/uwsgi;
    scgi_temp_path $dir/ng/scgi;
    server {
        listen $2;
        root $dir/www;
    }
}
CONF
}

# wrk_ok ARGS...: wrk from Linux for 2 s: some requests, no error.
wrk_ok() {
    nsx timeout 20 wrk -t1 -c8 -d2s "$@" >"$dir/wrk.out" 2>&1 || { bad "wrk $* failed"; return; }
    grep -q "requests in" "$dir/wrk.out" || bad "wrk $*: $(cat "$dir/wrk.out")"
    ! grep -Eq "Socket errors|Non-2xx" "$dir/wrk.out" || bad "wrk $*: $(grep -E 'Socket|Non-2xx' "$dir/wrk.out")"
}

for mode in plain reuseport dual both; do
    case $mode in
    plain) listen=8080 ;;
    reuseport) listen="8080 reuseport" ;;
    dual) listen="[::]:8080 ipv6only=off" ;;
    both) listen="8080; listen [::]:8080" ;;
    esac
    ng_conf "$dir/ng/$mode.conf" "$listen"
    run_bg --name nginx -- nginx -c "$dir/ng/$mode.conf"
    if [ "$mode" = dual ]; then wait_refnet_listen6 8080; else wait_refnet_listen 8080; fi
    net_wait_for 5 sh -c "[ \$('$refnet' objects -t process --ctl '$sock' | grep -c '^process nginx ') = 3 ]" ||
        bad "$mode: not 3 nginx processes: $(rn objects -t process | grep '^process')"
    rn netstat -a >"$dir/ns.out"
    listeners=$(grep -Ec "^tcp +0\.0\.0\.0:8080 .* LISTEN " "$dir/ns.out")
    listeners6=$(grep -Ec "^tcp6 +\[::\]:8080 .* LISTEN " "$dir/ns.out")
    case $mode in
    plain) want_l="1 0" ;;
    reuseport) want_l="2 0" ;;
    dual) want_l="0 1" ;;
    both) want_l="1 1" ;;
    esac
    [ "$listeners $listeners6" = "$want_l" ] ||
        bad "$mode: $listeners tcp and $listeners6 tcp6 listeners on 8080, not $want_l"
    nsx curl -4 -sS -o "$dir/got" http://198.18.0.2:8080/big || bad "$mode: curl failed"
    [ "$(sha "$dir/got")" = "$want" ] || bad "$mode: the file came back different"
    case $mode in
    plain | reuseport)
        wrk_ok http://198.18.0.2:8080/1k
        wrk_ok -H "Connection: close" http://198.18.0.2:8080/1k
        ;;
    *)
        nsx curl -6 -sS -o "$dir/got6" "http://[2001:2::2]:8080/big" || bad "$mode: curl -6 failed"
        [ "$(sha "$dir/got6")" = "$want" ] || bad "$mode: the file came back different over IPv6"
        # The IPv4 client as the listener saw it: mapped on a dual-stack
        # one, plain on an AF_INET one.
        v4peer="198.18.0.1"
        [ "$mode" = dual ] && v4peer="::ffff:198.18.0.1"
        grep -q "^$v4peer - .*GET /big" "$dir/ng/$mode.conf.access" ||
            bad "$mode: the IPv4 client is not $v4peer in the access log: $(head -3 "$dir/ng/$mode.conf.access")"
        grep -q "^2001:2::1 - .*GET /big" "$dir/ng/$mode.conf.access" ||
            bad "$mode: the IPv6 client is not in the access log: $(head -3 "$dir/ng/$mode.conf.access")"
        [ "$mode" = dual ] && wrk_ok "http://[2001:2::2]:8080/1k"
        ;;
    esac
    kill -TERM "$run_pid"
    wait "$run_pid"
    rc=$?
    [ "$rc" = 0 ] || bad "$mode: nginx exited $rc: $(tail -3 "$dir/ng/$mode.conf.log")"
    run_settled 10
done

# ---- wrk and ab as clients on refnet ------------------------------------------------
ng_conf "$dir/ng/linux.conf" "198.18.0.1:8088"
net_bg nginx -c "$dir/ng/linux.conf"
wait_linux_listen 8088
runx -- wrk -t1 -c4 -d2s http://198.18.0.1:8088/1k >"$dir/cw.out" 2>&1 || bad "wrk on refnet failed"
grep -q "requests in" "$dir/cw.out" && ! grep -Eq "Socket errors|Non-2xx" "$dir/cw.out" ||
    bad "wrk on refnet: $(cat "$dir/cw.out")"
for k in "" -k; do
    runx -- ab -q $k -n 1000 -c 8 http://198.18.0.1:8088/1k >"$dir/ab.out" 2>&1 ||
        bad "ab $k on refnet failed: $(tail -3 "$dir/ab.out")"
    grep -q "^Complete requests: *1000$" "$dir/ab.out" && grep -q "^Failed requests: *0$" "$dir/ab.out" ||
        bad "ab $k on refnet: $(grep -E 'requests' "$dir/ab.out")"
done
run_settled 10

net_done "nginx (master, 2 workers, epoll, sendfile; with and without reuseport; on [::] dual-stack and beside an AF_INET listener, serving IPv4 and IPv6) on refnet; wrk and ab on refnet as clients"
