#!/usr/bin/env bash
# A thousand malformed HTTP requests against refnet's httpd, in a namespace
# of its own (lib.sh).  The document root holds index.html and a symbolic
# link to the directory above it, where secret.txt lies outside the root.
# http_bad.py sends 1,000 bad requests (seeded), one connection each, from
# 8 threads at once, while 5 slowloris connections trickle a head one byte
# every 0.5 s:
#   - each gets the status apps.h gives its kind: fields over 16 KiB, a
#     field line over 8 KiB, over 100 fields: 431; a target over 8 KiB:
#     414; binary junk, no Host, two Hosts, malformed versions, %00 and bad
#     escapes, space before a colon, line folding, Transfer-Encoding with
#     Content-Length, two Content-Lengths: 400; HTTP/2.0 and 1.9: 505;
#     POST: 405; Transfer-Encoding: 501; a 2 MB body announced: 413; ../
#     and %2e%2e and %2f escapes from the root and the symbolic link: 404,
#     and nothing of secret.txt in any answer;
#   - httpd closes the connection after each error, but keeps it after a
#     404: the same connection then serves /index.html;
#   - every slowloris connection gets 408 10 s after its first byte (the
#     trickle does not extend the deadline) and is closed;
#   - httpd's counters (`refnet svc --json`) agree exactly: requests,
#     answers by class and by status, refused paths;
#   - afterwards a GET of index.html returns its exact bytes, no
#     connection is left, no frame was dropped for want of memory or
#     buffers, the objects are back to the baseline (TIME_WAIT entries
#     aside), and the daemon shuts down cleanly (lib.sh).
. "$(dirname "$0")/lib.sh"
net_setup http_bad
www="$dir/www"
mkdir -p "$www"
printf '<html><body>refnet index</body></html>\n' >"$www/index.html"
printf 'refnet-secret-outside-the-root\n' >"$dir/secret.txt"
ln -s .. "$www/link"
net_start --service httpd=80:"$www"

out=$(nsx ping -n -q -c 1 -W 2 198.18.0.2 2>&1) || bad "ping: $out"
net_objects "$dir/o0.json"
net_svc "$dir/v0.json"
net_stat "$dir/s0.json"

nsx timeout 60 "$py" "$here/http_bad.py" 20240607 1000 5 "$dir/expect.json" "$www/index.html" ||
    bad "malformed requests: see above"
net_alive

out=$(nsx curl -sS --noproxy '*' --max-time 5 -o "$dir/got" -w '%{http_code}' http://198.18.0.2/index.html 2>&1)
[ "$out" = 200 ] && cmp -s "$dir/got" "$www/index.html" ||
    bad "GET /index.html after the malformed requests: '$out', $(head -c 200 "$dir/got")"

net_tcp_idle 10 || bad "connections remain: $(rn netstat)"
net_svc "$dir/v1.json"
net_stat "$dir/s1.json"
net_objects "$dir/o1.json"
"$py" - "$dir/v0.json" "$dir/v1.json" "$dir/expect.json" <<'EOF' || fail=1
import json, sys
v0, v1, x = (json.load(open(p)) for p in sys.argv[1:4])
h0 = [s for s in v0 if s["name"] == "httpd"][0]["counters"]
h1 = [s for s in v1 if s["name"] == "httpd"][0]["counters"]
d = {k: h1[k] - h0[k] for k in h1}
st = x["status"]
n404 = st.get("404", 0)
# Each 404 was followed by a GET of index.html; the final curl is one more.
want = {
    "requests": x["requests"] + n404 + 1,
    "status_2xx": n404 + 1,
    "status_4xx": sum(v for k, v in st.items() if k.startswith("4")),
    "status_5xx": sum(v for k, v in st.items() if k.startswith("5")),
    "refused_paths": x["refused_paths"],
    "header_timeouts": st.get("408", 0),
    "active": 0,
}
for code in ("400", "404", "405", "408", "414", "431", "505"):
    want["status_" + code] = st.get(code, 0)
errs = ["httpd's %s grew by %d, want %d" % (k, d[k] if k != "active" else h1[k], v)
        for k, v in sorted(want.items()) if (d[k] if k != "active" else h1[k]) != v]
for e in errs:
    print("FAIL: " + e)
print("expected statuses: %s" % json.dumps(st, sort_keys=True))
sys.exit(1 if errs else 0)
EOF
drops=$(jq_py "$dir/s1.json" 'drops(j)')
echo "drops: $drops"
for r in no_buffer queue_full tcp_listen_overflow; do
    [ "$(jq_py "$dir/s1.json" "drops(j).get('$r', 0)")" = 0 ] || bad "drops for want of resources: $drops"
done
net_objects_settled "$dir/o0.json" "$dir/o1.json" || fail=1

net_done "http_bad: 1,000 malformed requests and 5 slowloris answered as they should, httpd still serving"
