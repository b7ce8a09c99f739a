#!/usr/bin/env bash
# refnet's httpd (--service httpd=80:DIR) against Linux's curl, in a
# namespace of its own (lib.sh).  The document root holds a 1 KiB and a
# 50 MiB file of random bytes and an index.html.
#   - GET of each: 200, the exact size, and the same SHA-256 as the file;
#     the 50 MiB one is timed;
#   - GET / serves index.html as text/html;
#   - HEAD: curl -I sees 200 and Content-Length: 1024; the same request
#     sent raw with Connection: close gets a head only: not one byte after
#     the blank line before the server closes;
#   - a missing file: 404, and the connection stays open (curl fetches a
#     missing then an existing file over one connection);
#   - keep-alive: `curl URL URL` makes one connection for two requests
#     (num_connects 1 then 0), and refnet's httpd accepted one connection
#     for them;
#   - refnet's counters agree with what was sent: `refnet svc --json`
#     counts the requests, 2xx and 404 answers, the file bytes sent, and the
#     connections accepted; all of them ended gracefully (no reset either
#     way), and no frame was dropped (but Linux's resent copies: lib.sh,
#     net_unexpected_drops);
#   - once curl is gone, refnet holds no TCP connection, and its objects
#     are back to those it had before (TIME_WAIT and Linux's ARP entry
#     aside); the daemon then shuts down cleanly (lib.sh).
. "$(dirname "$0")/lib.sh"
net_setup http
net_need curl

www="$dir/www"
mkdir -p "$www"
head -c 1024 /dev/urandom >"$www/small.bin"
head -c $((50 << 20)) /dev/urandom >"$www/big.bin"
printf '<html><body>refnet</body></html>\n' >"$www/index.html"
net_start --service httpd=80:"$www"

url=http://198.18.0.2
# -sS: quiet but for errors; no proxy from the environment; bounded.
curl_=(curl -sS --noproxy '*' --max-time 30)

net_objects "$dir/o0.json"
net_svc "$dir/v0.json"
net_stat "$dir/s0.json"

# GET: code, size, connections made; then the bytes.
for f in small.bin big.bin; do
    t0=$(date +%s%N)
    out=$(nsx "${curl_[@]}" -o "$dir/got.$f" -w '%{http_code} %{size_download} %{content_type}' \
        "$url/$f" 2>&1)
    rc=$?
    ms=$((($(date +%s%N) - t0) / 1000000))
    want="200 $(stat -c %s "$www/$f") application/octet-stream"
    [ "$rc" = 0 ] && [ "$out" = "$want" ] || bad "GET /$f: curl exited $rc, '$out', want '$want'"
    a=$(sha256sum <"$www/$f")
    b=$(sha256sum <"$dir/got.$f" 2>/dev/null)
    [ "$a" = "$b" ] || bad "GET /$f: SHA-256 differs from the file's"
    echo "GET /$f: $out in $ms ms"
    rm -f "$dir/got.$f"
done

out=$(nsx "${curl_[@]}" -o "$dir/index" -w '%{http_code} %{content_type}' "$url/" 2>&1)
[ "$out" = "200 text/html; charset=utf-8" ] && cmp -s "$dir/index" "$www/index.html" ||
    bad "GET /: '$out', $(head -c 200 "$dir/index")"

# HEAD through curl.
out=$(nsx "${curl_[@]}" -I "$url/small.bin" 2>&1 | tr -d '\r')
grep -q '^HTTP/1.1 200 ' <<<"$out" && grep -qi '^Content-Length: 1024$' <<<"$out" ||
    bad "HEAD /small.bin: $out"
# HEAD raw: everything up to the server's close must be the head alone.
nsx "$py" - <<'EOF' || bad "raw HEAD"
import socket, sys
s = socket.create_connection(("198.18.0.2", 80), timeout=5)
s.sendall(b"HEAD /small.bin HTTP/1.1\r\nHost: 198.18.0.2\r\nConnection: close\r\n\r\n")
data = b""
while len(data) < 65536:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
head, sep, rest = data.partition(b"\r\n\r\n")
lines = head.split(b"\r\n")
errs = []
if lines[0] != b"HTTP/1.1 200 OK":
    errs.append("status line %r" % lines[0])
if b"content-length: 1024" not in [l.lower() for l in lines]:
    errs.append("no Content-Length: 1024 in %r" % lines)
if not sep or rest:
    errs.append("%d bytes after the head (want none)" % len(rest))
for e in errs:
    print("FAIL: HEAD: " + e)
sys.exit(1 if errs else 0)
EOF

# 404, and the connection survives it: the second request reuses it.
out=$(nsx "${curl_[@]}" -o /dev/null -o "$dir/after404" -w '%{http_code} %{num_connects}\n' \
    "$url/no-such-file" "$url/small.bin" 2>&1)
[ "$out" = "404 1
200 0" ] || bad "GET /no-such-file then /small.bin on one connection: '$out', want 404 1 / 200 0"
cmp -s "$dir/after404" "$www/small.bin" || bad "/small.bin after the 404 is not the file"

# Keep-alive: two URLs, one connection.
net_svc "$dir/v1.json"
out=$(nsx "${curl_[@]}" -o "$dir/ka1" -o "$dir/ka2" -w '%{http_code} %{num_connects}\n' \
    "$url/small.bin" "$url/small.bin" 2>&1)
[ "$out" = "200 1
200 0" ] || bad "curl URL URL: '$out', want 200 1 / 200 0 (the second over the first's connection)"
cmp -s "$dir/ka1" "$www/small.bin" && cmp -s "$dir/ka2" "$www/small.bin" ||
    bad "the keep-alive responses are not the file"
net_svc "$dir/v2.json"
dv() { echo $(( $(jq_py "$3" "svc(j,'httpd')['$1']") - $(jq_py "$2" "svc(j,'httpd')['$1']") )); }
[ "$(dv accepted "$dir/v1.json" "$dir/v2.json")" = 1 ] ||
    bad "httpd accepted $(dv accepted "$dir/v1.json" "$dir/v2.json") connections for curl URL URL, want 1"
[ "$(dv requests "$dir/v1.json" "$dir/v2.json")" = 2 ] ||
    bad "httpd answered $(dv requests "$dir/v1.json" "$dir/v2.json") requests for curl URL URL, want 2"

# curl has exited: its connections close, refnet's last (LAST_ACK) too.
net_tcp_idle 5 || bad "refnet still has TCP connections: $(rn objects --type 'tcp connection')"
net_svc "$dir/v3.json"
net_stat "$dir/s1.json"
net_objects "$dir/o1.json"

# What went: GET small, big, /, HEAD x2, 404 + small, small x2.
small=1024 big=$((50 << 20)) index=$(stat -c %s "$www/index.html")
d() { dv "$1" "$dir/v0.json" "$dir/v3.json"; }
check() {
    local got
    got=$(d "$1")
    [ "$got" = "$2" ] || bad "httpd's $1 grew by $got, want $2"
}
check requests 9
check status_2xx 8
check status_404 1
check status_4xx 1
check status_5xx 0
check accepted 7
check closed 7
check aborted 0
check resets 0
check file_bytes $((small * 4 + big + index))
check active 0
[ "$(d bytes_out)" -gt "$((small * 4 + big + index))" ] || bad "httpd's bytes_out: $(d bytes_out)"
ds() { echo $(( $(jq_py "$dir/s1.json" "$1") - $(jq_py "$dir/s0.json" "$1") )); }
[ "$(ds 'proto(j,"tcp.rst_in")')" = 0 ] || bad "refnet received $(ds 'proto(j,"tcp.rst_in")') resets"
[ "$(ds 'proto(j,"tcp.rst_out")')" = 0 ] || bad "refnet sent $(ds 'proto(j,"tcp.rst_out")') resets"
[ "$(ds 'proto(j,"tcp.passive_opens")')" = 7 ] ||
    bad "tcp.passive_opens grew by $(ds 'proto(j,"tcp.passive_opens")'), want 7"
drops=$(net_unexpected_drops "$dir/s1.json")
[ "$drops" = "{}" ] || bad "frames were dropped: $drops"
net_objects_settled "$dir/o0.json" "$dir/o1.json" || fail=1

net_done "http: 1 KiB and 50 MiB by SHA-256, HEAD, 404 on a kept connection, keep-alive, counters agree"
