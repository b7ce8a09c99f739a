"""A headless Chromium driven through its DevTools protocol, for the tests of
the live view (test_ui.sh), with the standard library alone.

Chromium is started with --remote-debugging-pipe: it reads commands on its
fd 3 and writes answers and events on its fd 4, each message one JSON text
ending in a NUL byte.  A page is a target we attach to ("flatten" mode: the
page's commands carry its sessionId).

    b = Browser(netns="rn-net-ui-123")        # runs chromium in that namespace
    p = b.page(width=1400, height=900)
    p.goto("http://127.0.0.1:8080/#overview")
    p.wait_for("document.querySelector('#services tr[data-name=httpd]') !== null")
    p.screenshot("overview.png")
    b.close()

Every wait is bounded; a failure raises Failure with what was awaited.
"""
import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time


class Failure(Exception):
    pass


def chromium_path():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


def _pipe_above_9():
    fds = os.pipe()
    moved = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in fds]
    for fd in fds:
        os.close(fd)
    return moved


class Browser:
    def __init__(self, netns=None, timeout=30.0):
        exe = chromium_path()
        if exe is None:
            raise Failure("no chromium (Debian package chromium)")
        self.profile = tempfile.mkdtemp(prefix="refnet-chromium.")
        # Our ends: we write commands to to_c[1], read answers from from_c[0].
        # Moved above 9, so that putting them on 3 and 4 in the child is a
        # real dup2 (which clears close-on-exec), never a no-op.
        to_c = _pipe_above_9()
        from_c = _pipe_above_9()
        args = [exe, "--headless=new", "--no-sandbox", "--disable-gpu",
                "--remote-debugging-pipe", "--user-data-dir=" + self.profile,
                "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--metrics-recording-only", "--mute-audio",
                "--disable-dev-shm-usage", "about:blank"]
        if netns:
            args = ["ip", "netns", "exec", netns] + args

        def child_fds():
            os.dup2(to_c[0], 3)
            os.dup2(from_c[1], 4)

        self.proc = subprocess.Popen(args, preexec_fn=child_fds, close_fds=False,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_c[0])
        os.close(from_c[1])
        self.wfd = to_c[1]
        self.rfd = from_c[0]
        self.buf = b""
        self.next_id = 0
        self.events = []
        self.timeout = timeout
        self.call("Browser.getVersion")

    # ---- the pipe ----
    def _send(self, msg):
        data = json.dumps(msg).encode() + b"\0"
        while data:
            n = os.write(self.wfd, data)
            data = data[n:]

    def _recv(self, deadline):
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failure("chromium did not answer in time")
            r, _, _ = select.select([self.rfd], [], [], left)
            if not r:
                continue
            chunk = os.read(self.rfd, 1 << 20)
            if not chunk:
                raise Failure("chromium closed its pipe (it exited: %s)" % self.proc.poll())
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, session=None, timeout=None):
        self.next_id += 1
        mid = self.next_id
        msg = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self._send(msg)
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            m = self._recv(deadline)
            if m.get("id") == mid:
                if "error" in m:
                    raise Failure("%s: %s" % (method, m["error"]))
                return m.get("result", {})
            if "method" in m:
                self.events.append(m)

    def page(self, width=1400, height=900, offline=False):
        tid = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        sid = self.call("Target.attachToTarget", {"targetId": tid, "flatten": True})["sessionId"]
        return Page(self, sid, width, height, offline)

    def close(self):
        try:
            self.call("Browser.close", timeout=5)
        except Failure:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.wfd)
        os.close(self.rfd)
        shutil.rmtree(self.profile, ignore_errors=True)


class Page:
    def __init__(self, browser, session, width, height, offline):
        self.b = browser
        self.sid = session
        self.call("Page.enable")
        self.call("Network.enable")
        self.call("Runtime.enable")
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        if offline:
            self.call("Network.emulateNetworkConditions",
                      {"offline": True, "latency": 0, "downloadThroughput": 0,
                       "uploadThroughput": 0})

    def call(self, method, params=None, timeout=None):
        return self.b.call(method, params, self.sid, timeout)

    def goto(self, url):
        self.call("Page.navigate", {"url": url})

    def eval(self, expr):
        r = self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True})
        if "exceptionDetails" in r:
            raise Failure("%s: %s" % (expr, r["exceptionDetails"].get("text")))
        return r.get("result", {}).get("value")

    def wait_for(self, expr, timeout=10.0, what=None):
        """Polls expr (JavaScript) every 50 ms until it is truthy; returns its
        value and the seconds it took."""
        t0 = time.monotonic()
        while True:
            try:
                v = self.eval(expr)
            except Failure:
                v = None
            if v:
                return v, time.monotonic() - t0
            if time.monotonic() - t0 > timeout:
                raise Failure("waited %.1fs for %s" % (timeout, what or expr))
            time.sleep(0.05)

    def screenshot(self, path, selector=None):
        """The page as PNG; with selector, only that element's box."""
        params = {"format": "png", "captureBeyondViewport": False}
        if selector:
            box = self.eval("(function(){var r=document.querySelector(%s).getBoundingClientRect();"
                            "return [r.left + window.scrollX, r.top + window.scrollY, r.width, r.height];})()"
                            % json.dumps(selector))
            params["clip"] = {"x": box[0], "y": box[1], "width": box[2], "height": box[3], "scale": 1}
            params["captureBeyondViewport"] = True
        data = self.call("Page.captureScreenshot", params)
        with open(path, "wb") as f:
            f.write(base64.b64decode(data["data"]))

    def requests(self):
        """URLs this page asked the network for (Network.requestWillBeSent)."""
        return [e["params"]["request"]["url"] for e in self.b.events
                if e.get("method") == "Network.requestWillBeSent" and e.get("sessionId") == self.sid]
