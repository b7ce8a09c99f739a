"""The live view in a real browser (test_ui.sh drives it): headless Chromium
in the test's namespace, through cdp.py.

    ui_browser.py --url URL --ns NS --refnet BIN --ctl SOCK --dir DIR --art ART
                  --threshold S

Phases, in order; each prints "ok: ..." or "FAIL: ..." and the script exits
1 if any failed.  Screenshots go to ART.
  1. overview: the page loads and lists httpd RUNNING;
  2. connections: a Linux client connects to httpd: a row with its
     address appears; it closes: the row goes;
  3. waits: (the shell has made the leak and traced the listener) `svc stop
     httpd` hangs; the waits page shows the chain service -> process ->
     socket -> tcp listener with the `enum` holder highlighted and the
     verdict, within the watchdog's threshold + 1 s of the stop;
  4. report: the dump the shell wrote during the hang, rendered by
     `refnet analyze --html`, opens from the file with the network off and
     shows the same chain, suspect and verdict;
  5. action: the overview's button that gives back the lab's leaked holds
     asks for the token: a wrong one is refused and changes nothing; the
     one the daemon printed gives them back, and the stop that hung ends;
  6. restart: the shell restarts the daemon (DIR/ready-restart ->
     DIR/restarted); the page says the daemon is unreachable, then comes
     back by itself.
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cdp  # noqa: E402

fail = 0


def ok(msg):
    print("ok: " + msg, flush=True)


def bad(msg):
    global fail
    print("FAIL: " + msg, flush=True)
    fail = 1


def handshake(d, mine, theirs, timeout=60):
    open(os.path.join(d, mine), "w").close()
    t0 = time.monotonic()
    while not os.path.exists(os.path.join(d, theirs)):
        if time.monotonic() - t0 > timeout:
            raise cdp.Failure("the shell did not answer %s" % mine)
        time.sleep(0.05)


def main():
    ap = argparse.ArgumentParser()
    for a in ("url", "ns", "refnet", "ctl", "dir", "art"):
        ap.add_argument("--" + a, required=True)
    ap.add_argument("--threshold", type=float, required=True)
    ap.add_argument("--token", required=True)
    a = ap.parse_args()
    os.makedirs(a.art, exist_ok=True)
    url = a.url.rstrip("/")
    nsx = ["ip", "netns", "exec", a.ns]

    def rn(*args, **kw):
        return subprocess.run([a.refnet, *args, "--ctl", a.ctl, "--timeout", "30"],
                              capture_output=True, text=True, **kw)

    b = cdp.Browser(netns=a.ns)
    try:
        p = b.page(1400, 1000)

        # 1. Overview.
        p.goto(url + "/#overview")
        _, t = p.wait_for("(function(){var r=document.querySelector('#services tr[data-name=\"httpd\"]');"
                          "return r && r.getAttribute('data-state')==='RUNNING';})()", 10,
                          "the overview listing httpd RUNNING")
        p.wait_for("document.querySelectorAll('svg.chart polyline').length >= 3 && "
                   "document.querySelector('svg.chart polyline').getAttribute('points').split(' ').length > 2",
                   10, "the overview's charts with a few seconds of history")
        p.screenshot(os.path.join(a.art, "overview.png"))
        ok("overview: httpd RUNNING after %.2fs; interfaces %s" %
           (t, p.eval("document.querySelectorAll('main table')[2].rows.length - 1")))

        # 2. Connections: a Linux client comes and goes.
        p.goto(url + "/#connections")
        p.wait_for("document.querySelector('#conns tr[data-local=\"0.0.0.0:80\"]') !== null", 10,
                   "the listener's row")
        client = subprocess.Popen(nsx + ["python3", "-c", """
import socket, sys, time
s = socket.create_connection(("198.18.0.2", 80), timeout=5)
for i in range(3):
    s.sendall(b"GET / HTTP/1.1\\r\\nHost: refnet\\r\\n\\r\\n")
    got = b""
    while b"hello from refnet" not in got:
        got += s.recv(4096)
print(s.getsockname()[1], flush=True)
sys.stdin.readline()
s.close()
"""], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        port = client.stdout.readline().strip()
        if not port.isdigit():
            raise cdp.Failure("the Linux client could not connect")
        remote = "198.18.0.1:" + port
        sel = "#conns tr[data-remote=\"%s\"]" % remote
        _, t = p.wait_for("(function(){var r=document.querySelector('%s');"
                          "return r && !r.classList.contains('gone') && r.getAttribute('data-state')==='ESTABLISHED';})()"
                          % sel, 5, "a row for Linux's connection from " + remote)
        ok("connections: a row for %s ESTABLISHED %.2fs after the connect" % (remote, t))
        p.eval("document.querySelector('%s').click()" % sel)
        p.wait_for("document.querySelector('#detail .stat-rtt svg.chart') !== null && "
                   "document.querySelector('#detail .stat-cwnd svg.chart') !== null", 5,
                   "the connection's charts of RTT and cwnd (TCP_INFO)")
        # The page shows the sample of each second: the row may have come
        # from one taken between the client's requests, so the count is
        # given the next samples (at most 5 s) to show all three.
        want = "(function(){var v=document.querySelector('%s').cells[8].textContent;" \
               "return /^[0-9]+$/.test(v) && +v >= 3 * 30;})()" % sel
        try:
            p.wait_for(want, 5, "the client's 3 requests in its bytes in")
        except cdp.Failure:
            bytes_in = p.eval("document.querySelector('%s').cells[8].textContent" % sel)
            bad("connections: bytes in of the client's connection is %r, want its 3 requests" % bytes_in)
        time.sleep(3)  # a few samples in its charts, for the picture
        p.screenshot(os.path.join(a.art, "connections.png"))
        client.stdin.write("\n")
        client.stdin.flush()
        client.wait(timeout=10)
        _, t = p.wait_for("(function(){var r=document.querySelector('%s');"
                          "return !r || r.classList.contains('gone');})()" % sel, 5,
                          "the row of the closed connection to go")
        ok("connections: the row went %.2fs after Linux closed" % t)

        # 3. Waits during the stop that hangs.
        p.goto(url + "/#waits")
        p.wait_for("document.getElementById('why') !== null", 10, "the waits page")
        handshake(a.dir, "ready-stop", "leaked")
        t0 = time.monotonic()
        stop = subprocess.Popen([a.refnet, "svc", "stop", "httpd", "--timeout", "20", "--ctl", a.ctl],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # The chain as the stop made it (a snapshot taken while the stop
        # begins may still show the service RUNNING), its enum holder
        # highlighted, and the verdict.
        expr = ("(function(){var h=document.querySelector('rect.holder.suspect[data-tag=\"enum\"]');"
                "var v=document.querySelector('text.verdict');"
                "var n=document.querySelector('.chain-box g.node text');"
                "return h && v && n && n.textContent.indexOf('service httpd STOP_PENDING')===0 &&"
                " v.textContent.indexOf(\"'enum' holds past its bound\")>=0 ? v.textContent : null;})()")
        verdict, _ = p.wait_for(expr, a.threshold + 5, "the enum holder highlighted on the waits page")
        t = time.monotonic() - t0
        labels = p.eval("Array.prototype.map.call(document.querySelectorAll('.chain-box')[0]"
                        ".querySelectorAll('g.node text:first-of-type'), function(e){return e.textContent;})")
        ok("waits: enum highlighted %.2fs after svc stop began (bound: threshold %.0fs + 1s); %s"
           % (t, a.threshold, verdict))
        if t > a.threshold + 1:
            bad("waits: the enum holder took %.2fs to show, more than %.1fs" % (t, a.threshold + 1))
        want = ["service httpd STOP_PENDING", "process httpd", "socket #", "tcp listener 0.0.0.0:80"]
        for i, w in enumerate(want):
            if i >= len(labels) or not labels[i].startswith(w):
                bad("waits: chain node %d is %r, want %r (chain %r)" % (i, labels[i] if i < len(labels) else None, w, labels))
        why = p.eval("document.getElementById('why').textContent")
        if "verdict: " + verdict[len("verdict: "):] not in why and verdict[len("verdict: "):] not in why:
            bad("waits: the graph's verdict is not the words of refnet why:\n%s\n%s" % (verdict, why))
        # Let the ages pass the threshold before the picture.
        time.sleep(max(0, a.threshold + 0.5 - (time.monotonic() - t0)))
        p.wait_for("document.querySelector('.chain-box').textContent.indexOf(\"past the watchdog's\") >= 0",
                   5, "the chain's waits marked past the watchdog's threshold")
        p.screenshot(os.path.join(a.art, "waits.png"))
        p.screenshot(os.path.join(a.art, "waits-chain.png"), ".chain-box")
        # The chain once settled, to hold the report to.
        live_verdict, _ = p.wait_for(expr, 5, "the chain, settled")
        live_labels = p.eval("Array.prototype.map.call(document.querySelectorAll('.chain-box')[0]"
                             ".querySelectorAll('g.node text:first-of-type'), function(e){return e.textContent;})")
        # The overview meanwhile: the load's traffic, httpd STOP_PENDING.
        p.goto(url + "/#overview")
        p.wait_for("(function(){var r=document.querySelector('#services tr[data-name=\"httpd\"]');"
                   "return r && r.getAttribute('data-state')==='STOP_PENDING';})()", 10,
                   "the overview listing httpd STOP_PENDING")
        p.screenshot(os.path.join(a.art, "overview-stuck.png"))
        # The objects page, searched for the listener: its holders.
        p.goto(url + "/#objects")
        p.wait_for("document.getElementById('q') !== null", 10, "the objects page")
        p.eval("(function(){var q=document.getElementById('q');q.value='listener';"
               "q.dispatchEvent(new Event('input'));})()")
        _, t = p.wait_for("(function(){var r=document.querySelectorAll('#objects tbody tr');"
                          "return r.length >= 1 && Array.prototype.every.call(r, function(x){"
                          "return x.textContent.indexOf('listener') >= 0;}) && "
                          "document.querySelector('#objects tbody').textContent.indexOf('enum') >= 0;})()",
                          10, "the objects page to list the listener with its enum holders")
        p.screenshot(os.path.join(a.art, "objects.png"))
        ok("objects: the search for 'listener' lists it with its 'enum' holders (%.2fs)" % t)
        handshake(a.dir, "hang-seen", "dumped")

        # 4. The report of the dump, from a file, network off.
        rep = os.path.join(a.dir, "report.html")
        r = subprocess.run([a.refnet, "analyze", "--html", os.path.join(a.dir, "hang.dump")],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise cdp.Failure("analyze --html: %s" % r.stderr)
        with open(rep, "w") as f:
            f.write(r.stdout)
        q = b.page(1400, 1000, offline=True)
        q.goto("file://" + rep)
        rverdict, _ = q.wait_for(expr, 10, "the report's enum holder highlighted")
        rlabels = q.eval("Array.prototype.map.call(document.querySelectorAll('.chain-box')[0]"
                         ".querySelectorAll('g.node text:first-of-type'), function(e){return e.textContent;})")
        if rlabels != live_labels:
            bad("report: chain %r, the live view showed %r" % (rlabels, live_labels))
        if rverdict != live_verdict:
            bad("report: verdict %r, the live view showed %r" % (rverdict, live_verdict))
        others = [u for u in q.requests() if not u.startswith("file://")]
        if others:
            bad("report: it asked the network for %r" % others)
        q.screenshot(os.path.join(a.art, "report.png"))
        ok("report: opened offline from %s (%d bytes), same chain (%d nodes) and verdict, no request"
           % (os.path.basename(rep), os.path.getsize(rep), len(rlabels)))

        # 5. The action: give back the leak from the overview's button; the
        # page asks for the token (its prompt answered here), and says
        # what the daemon answered (its alert, recorded).
        p.goto(url + "/#overview")
        btn = "document.querySelector('button[data-act=\"clear-leak\"]')"
        p.wait_for(btn + " !== null", 10, "the overview's button to give back the leak")
        leak0 = p.eval("document.getElementById('ov-leak').textContent")

        def click(token):
            p.eval("(function(){sessionStorage.clear(); window.__said = [];"
                   "window.prompt = function(){return %s;};"
                   "window.alert = function(t){window.__said.push(String(t));};"
                   "%s.click();})()" % (json.dumps(token), btn))
            said, _ = p.wait_for("window.__said.length ? window.__said[0] : null", 10,
                                 "the page to say what the action got")
            return said

        said_wrong = click("0" * 32)
        if "token" not in said_wrong:
            bad("action: a wrong token: the page said %r" % said_wrong)
        time.sleep(1.2)
        leak1 = p.eval("(document.getElementById('ov-leak') || {}).textContent")
        if leak1 is None or int(leak1.split()[0]) < int(leak0.split()[0]):
            bad("action: the leak changed with a wrong token: %r, then %r" % (leak0, leak1))
        said = click(a.token)
        if not said.startswith("gave back ") or said.startswith("gave back 0 "):
            bad("action: with the token the page said %r" % said)
        _, t = p.wait_for("(function(){var r=document.querySelector('#services tr[data-name=\"httpd\"]');"
                          "return r && r.getAttribute('data-state')==='STOPPED' && %s === null;})()" % btn,
                          10, "httpd STOPPED and the button gone after the leak was given back")
        ok("action: a wrong token refused (%s), the leak kept (%s); with the daemon's: %s;"
           " httpd STOPPED %.2fs later" % (said_wrong.strip(), leak1, said.strip(), t))

        # 6. The daemon restarts; the view comes back by itself.
        p.wait_for("document.getElementById('pill').textContent === 'live' && "
                   "document.querySelector('#services tr') !== null", 10, "the overview")
        handshake(a.dir, "ready-restart", "stopped")
        _, t = p.wait_for("document.getElementById('pill').textContent === 'unreachable'", 10,
                          "the page to say the daemon is unreachable")
        ok("restart: the page said 'unreachable' %.2fs after the daemon stopped" % t)
        p.screenshot(os.path.join(a.art, "unreachable.png"))
        handshake(a.dir, "seen-down", "restarted")
        _, t = p.wait_for("document.getElementById('pill').textContent === 'live' && "
                          "(function(){var r=document.querySelector('#services tr[data-name=\"echo\"]');"
                          "return r !== null;})()", 10, "the page to come back to the new daemon")
        ok("restart: the page came back %.2fs after the new daemon answered" % t)
    except cdp.Failure as e:
        bad(str(e))
    finally:
        b.close()
    return fail


if __name__ == "__main__":
    sys.exit(main())
