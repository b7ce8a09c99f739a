/*
 * refnet's live view and HTML report: plain JavaScript and SVG, no library.
 *
 * Live (served by `refnet daemon --ui`): four pages, each refreshed once a
 * second from the daemon's JSON (/api/overview, /api/connections,
 * /api/objects, /api/waits).  When the daemon cannot be reached the view
 * says so and keeps asking, so it comes back by itself after a restart.
 *
 * Report (`refnet analyze --html`, or "save report"): the same drawing
 * from the data block in the file (#rn-report); nothing is fetched.
 */
"use strict";

(function () {
  var reportEl = document.getElementById("rn-report");
  var REPORT = reportEl ? JSON.parse(reportEl.textContent) : null;
  var app = document.getElementById("app");
  var state = {
    page: "overview", down: 0, timer: null, conns: {}, gone: {}, sel: null, hist: {},
    query: "", qtype: "", lastWaits: null
  };

  /* ---- helpers ---- */
  function esc(s) {
    return String(s === null || s === undefined ? "" : s).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }
  function fmtAge(ns) {
    var s = ns / 1e9;
    if (s < 1e-3) return (ns / 1e3).toFixed(0) + "us";
    if (s < 1) return (s * 1e3).toFixed(0) + "ms";
    if (s < 60) return s.toFixed(1) + "s";
    var m = Math.floor(s / 60);
    if (m < 60) return m + "m" + Math.floor(s % 60) + "s";
    var h = Math.floor(m / 60);
    if (h < 24) return h + "h" + (m % 60) + "m";
    return Math.floor(h / 24) + "d" + (h % 24) + "h";
  }
  function fmtNum(n) {
    if (n >= 1e9) return (n / 1e9).toFixed(1) + "G";
    if (n >= 1e6) return (n / 1e6).toFixed(1) + "M";
    if (n >= 1e4) return (n / 1e3).toFixed(1) + "k";
    return String(n);
  }
  function el(id) { return document.getElementById(id); }
  function getJSON(path) {
    return fetch(path, {cache: "no-store"}).then(function (r) {
      if (!r.ok) throw new Error(path + ": " + r.status);
      return r.json();
    });
  }
  function holdersText(h) {
    return Object.keys(h || {}).map(function (k) { return k + " " + h[k]; }).join(", ");
  }

  /* ---- frame ---- */
  var PAGES = [["overview", "Overview"], ["connections", "Connections"],
               ["objects", "Objects"], ["waits", "Waits"]];
  function frame() {
    if (REPORT) {
      app.innerHTML = '<header><h1>refnet report</h1><span class="muted">' +
        esc(REPORT.title) + '</span></header><main id="main"></main>';
      return;
    }
    var nav = PAGES.map(function (p) {
      return '<a href="#' + p[0] + '" id="nav-' + p[0] + '">' + p[1] + '</a>';
    }).join("");
    app.innerHTML = '<header><h1>refnet</h1><nav>' + nav + '</nav><span class="spacer"></span>' +
      '<a class="save" href="/report.html" download="refnet-report.html" id="save">save report</a>' +
      '<span class="pill" id="pill">live</span></header>' +
      '<div class="banner hidden" id="banner"></div><main id="main"></main>';
  }
  function setPage(p) {
    state.page = p;
    PAGES.forEach(function (q) { el("nav-" + q[0]).className = q[0] === p ? "on" : ""; });
    el("main").innerHTML = "";
    state.built = null;
    tick();
  }
  function setDown(err) {
    if (err) {
      state.down++;
      el("pill").className = "pill down";
      el("pill").textContent = "unreachable";
      el("banner").className = "banner";
      el("banner").textContent = "The daemon does not answer (" + err.message +
        "); trying again every second (" + state.down + ").";
    } else {
      state.down = 0;
      el("pill").className = "pill";
      el("pill").textContent = "live";
      el("banner").className = "banner hidden";
    }
  }

  /* ---- charts ---- */
  function chart(series, labels, title) {
    var w = 300, h = 90, n = 0, max = 1, i, k;
    for (k = 0; k < series.length; k++) {
      n = Math.max(n, series[k].length);
      for (i = 0; i < series[k].length; i++) max = Math.max(max, series[k][i]);
    }
    var out = '<svg class="chart" viewBox="0 0 ' + w + ' ' + h + '" preserveAspectRatio="none">';
    for (k = 0; k < series.length; k++) {
      /* One sample is a level, drawn across. */
      if (series[k].length === 1) series[k] = [series[k][0], series[k][0]];
      n = Math.max(n, series[k].length);
      var pts = series[k].map(function (v, j) {
        var x = n > 1 ? (j * (w - 2) / (n - 1)) + 1 : 1;
        return x.toFixed(1) + "," + (h - 12 - (v / max) * (h - 24)).toFixed(1);
      }).join(" ");
      out += '<polyline class="' + (k ? "b" : "") + '" points="' + pts + '"/>';
    }
    out += '</svg>';
    return '<div class="legend">' + esc(title) + ', max ' + fmtNum(Math.round(max)) + '</div>' + out +
      '<div class="legend"><span class="key a"></span>' + esc(labels[0]) +
      (labels[1] ? ' <span class="key b"></span>' + esc(labels[1]) : "") + '</div>';
  }
  function rates(hist, key) {
    var r = [], i;
    for (i = 1; i < hist.length; i++) {
      var dt = (hist[i - 1].age_ns - hist[i].age_ns) / 1e9;
      r.push(dt > 0 ? Math.max(0, (hist[i][key] - hist[i - 1][key]) / dt) : 0);
    }
    return r;
  }

  /* ---- overview ---- */
  function overview(d) {
    var st = d.stats || {}, svcs = d.services || [], ifs = d.ifaces || [], hist = d.history || [];
    var h = '<div class="grid"><section class="card"><h2>Daemon</h2><dl class="kv">' +
      '<dt>version</dt><dd>' + esc(d.daemon.version) + '</dd>' +
      '<dt>pid</dt><dd>' + esc(d.daemon.pid) + '</dd>' +
      '<dt>control</dt><dd class="mono">' + esc(d.daemon.control) + '</dd>' +
      '<dt>live objects</dt><dd id="ov-objects">' + esc(d.daemon.objects) + '</dd>' +
      '<dt>watchdog</dt><dd>' + fmtAge(d.daemon.threshold_ns) + '</dd>' +
      '<dt>view</dt><dd class="mono">' + esc(d.web.address) + ', ' + esc(d.web.served) +
      ' served</dd>' +
      (d.daemon.leaked_enum > 0 ? '<dt>lab fault</dt><dd id="ov-leak">' + esc(d.daemon.leaked_enum) +
       " 'enum' holds lost <button data-act=\"clear-leak\">give back</button></dd>" : "") +
      '</dl></section>';
    h += '<section class="card"><h2>Frames per second</h2>' +
      chart([rates(hist, "rx_frames"), rates(hist, "tx_frames")], ["received", "sent"],
            "last " + hist.length + "s") + '</section>';
    h += '<section class="card"><h2>Drops and retransmissions per second</h2>' +
      chart([rates(hist, "drops"), rates(hist, "tcp_retrans")], ["drops", "retransmits"],
            "last " + hist.length + "s") + '</section>';
    h += '<section class="card"><h2>TCP connections</h2>' +
      chart([hist.map(function (e) { return e.tcp_conns; })], ["open"], "last " + hist.length + "s") +
      '</section></div>';
    h += '<section class="card"><h2>Services</h2><table id="services"><thead><tr><th>name</th>' +
      '<th>what</th><th>state</th><th class="num">for</th><th>process</th><th class="num">handles</th>' +
      '<th></th></tr></thead><tbody>';
    svcs.forEach(function (s) {
      h += '<tr data-name="' + esc(s.name) + '" data-state="' + esc(s.state) + '"><td>' + esc(s.name) +
        '</td><td>' + esc(s.what) + '</td><td class="state-' + esc(s.state) + '">' + esc(s.state) +
        (s.state === "STOP_PENDING" ? ' <a href="#waits">why?</a>' : "") + '</td><td class="num">' +
        fmtAge(s.for_ns) + '</td><td>' + (s.pid !== null ? "pid " + esc(s.pid) + " #" + esc(s.process) : "-") +
        '</td><td class="num">' + esc(s.handles) + '</td><td>' +
        (s.state === "RUNNING" ? '<button data-act="svc-stop ' + esc(s.name) + '">stop</button>' :
         s.state === "STOPPED" ? '<button data-act="svc-start ' + esc(s.name) + '">start</button>' : "") +
        '</td></tr>';
    });
    h += '</tbody></table></section>';
    h += '<section class="card"><h2>Processes</h2><table><thead><tr><th class="num">id</th>' +
      '<th>process</th><th>state</th><th class="num">refs</th><th>holders</th></tr></thead><tbody>';
    ((d.processes || {}).objects || []).forEach(function (o) {
      h += '<tr><td class="num">#' + o.id + '</td><td>' + esc(o.desc) + '</td><td>' + esc(o.state) +
        '</td><td class="num">' + o.refs + '</td><td class="mono">' + esc(ledgerText(o)) + '</td></tr>';
    });
    h += '</tbody></table></section>';
    h += '<section class="card"><h2>Interfaces</h2><table><thead><tr><th>name</th><th>address</th>' +
      '<th>mac</th><th class="num">mtu</th><th class="num">rx frames</th><th class="num">tx frames</th>' +
      '<th class="num">drops</th><th class="num">refs</th></tr></thead><tbody>';
    ifs.forEach(function (i) {
      h += '<tr><td>' + esc(i.name) + '</td><td class="mono">' + esc(i.addr) + '</td><td class="mono">' +
        esc(i.mac) + '</td><td class="num">' + i.mtu + '</td><td class="num">' + i.rx_frames +
        '</td><td class="num">' + i.tx_frames + '</td><td class="num">' + i.drops + '</td><td class="num">' +
        i.refs + '</td></tr>';
    });
    h += '</tbody></table></section>';
    var drops = [];
    (st.interfaces || []).forEach(function (i) {
      Object.keys(i.drops || {}).forEach(function (k) { drops.push([i.name, k, i.drops[k]]); });
    });
    Object.keys(st.drops || {}).forEach(function (k) { drops.push(["stack", k, st.drops[k]]); });
    h += '<div class="grid"><section class="card"><h2>Drops by reason</h2><table><tbody>' +
      (drops.length ? drops.map(function (r) {
        return '<tr><td>' + esc(r[0]) + '</td><td class="mono">' + esc(r[1]) + '</td><td class="num">' +
          r[2] + '</td></tr>';
      }).join("") : '<tr><td class="muted">none</td></tr>') + '</tbody></table></section>';
    var ref = d.web.refused || {};
    h += '<section class="card"><h2>Requests this view refused</h2><table id="refused"><tbody>' +
      Object.keys(ref).map(function (k) {
        return '<tr data-reason="' + esc(k) + '"><td class="mono">' + esc(k) + '</td><td class="num">' +
          ref[k] + '</td></tr>';
      }).join("") + '</tbody></table></section>';
    var proto = st.protocols || {};
    h += '<section class="card"><h2>Counters</h2><table><tbody>' + Object.keys(proto).map(function (k) {
      return '<tr><td class="mono">' + esc(k) + '</td><td class="num">' + proto[k] + '</td></tr>';
    }).join("") + '</tbody></table></section></div>';
    el("main").innerHTML = h;
    Array.prototype.forEach.call(document.querySelectorAll("button[data-act]"), function (b) {
      b.onclick = function () { action(b.getAttribute("data-act")); };
    });
  }
  function action(what) {
    var token = sessionStorage.getItem("refnet-token") ||
      window.prompt("The daemon's token (printed when it started):");
    if (!token) return;
    fetch("/api/action", {method: "POST", headers: {"Authorization": "Bearer " + token.trim()},
                          body: what}).then(function (r) {
      if (r.status === 403) sessionStorage.removeItem("refnet-token");
      else sessionStorage.setItem("refnet-token", token.trim());
      return r.text();
    }).then(function (t) { window.alert(t); }).catch(function (e) { window.alert(e.message); });
  }
  function ledgerText(o) {
    return (o.ledger || []).map(function (l) { return l.tag + " " + l.count; }).join(", ");
  }

  /* ---- connections ---- */
  var ROWS_MAX = 300;
  function connKey(r) { return String(r.id); }
  function connections(d) {
    var rows = d.rows || [], now = Date.now(), seen = {}, k;
    /* What is there when the page first looks is not "new". */
    var baseline = !state.connsSeen && d.rows;
    if (d.rows) state.connsSeen = true;
    rows.forEach(function (r) {
      k = connKey(r);
      seen[k] = true;
      if (!state.conns[k]) state.conns[k] = {first: baseline ? 0 : now, hist: []};
      state.conns[k].row = r;
      var hh = state.conns[k].hist;
      if (r.state !== "TIME_WAIT" || state.sel === k) {
        hh.push({t: now, sendq: r.sendq, recvq: r.recvq, refs: r.refs, info: r.info || null});
        if (hh.length > 600) hh.shift();
      }
      delete state.gone[k];
    });
    Object.keys(state.conns).forEach(function (key) {
      if (!seen[key]) {
        /* TIME_WAIT entries come and go by the thousand: not shown going. */
        if (state.conns[key].row.state !== "TIME_WAIT")
          state.gone[key] = {row: state.conns[key].row, at: now};
        delete state.conns[key];
      }
    });
    Object.keys(state.gone).forEach(function (key) {
      if (now - state.gone[key].at > 3000) delete state.gone[key];
    });
    var h = '<section class="card"><h2>Connections <span class="muted">(' + rows.length +
      ' endpoints; new ones green, closed ones red for 3 s; click one for its statistics)</span></h2>' +
      '<div class="scroll"><table id="conns"><thead><tr><th>proto</th><th>local</th><th>remote</th>' +
      '<th>state</th><th>owner</th><th>process</th><th class="num">send-q</th><th class="num">recv-q</th>' +
      '<th class="num">bytes in</th><th class="num">bytes out</th><th class="num">in/s</th>' +
      '<th class="num">out/s</th><th class="num">rtt</th>' +
      '<th class="num">refs</th><th>holders</th><th class="num">id</th></tr></thead><tbody>';
    function line(r, cls) {
      return '<tr class="' + cls + '" data-id="' + r.id + '" data-local="' + esc(r.local) +
        '" data-remote="' + esc(r.remote) + '" data-state="' + esc(r.state) + '"><td>' + esc(r.proto) +
        '</td><td class="mono">' + esc(r.local) + '</td><td class="mono">' + esc(r.remote) + '</td><td>' +
        esc(r.state) + '</td><td>' + esc(r.owner || "-") + '</td><td>' +
        (r.pid !== null && r.pid !== undefined ? esc(r.process) + "[" + r.pid + "]" : "-") +
        '</td><td class="num">' + r.sendq + '</td><td class="num">' + r.recvq + '</td>' +
        infoCells(r) + '<td class="num">' +
        r.refs + '</td><td class="mono">' + esc(holdersText(r.holders)) + '</td><td class="num">#' +
        r.id + '</td></tr>';
    }
    /* Bytes, rates from the last two samples, and the smoothed RTT, where
     * the daemon gave TCP_INFO (connections; not listeners or UDP). */
    function infoCells(r) {
      var i = r.info, c = state.conns[connKey(r)], hh = c ? c.hist : [], rin = "", rout = "";
      if (!i) return '<td></td><td></td><td></td><td></td><td></td>';
      if (hh.length >= 2 && hh[hh.length - 2].info) {
        var p = hh[hh.length - 2], q = hh[hh.length - 1], dt = (q.t - p.t) / 1000;
        if (dt > 0) {
          rin = fmtNum(Math.round((q.info.bytes_received - p.info.bytes_received) / dt));
          rout = fmtNum(Math.round((q.info.bytes_acked - p.info.bytes_acked) / dt));
        }
      }
      return '<td class="num">' + fmtNum(i.bytes_received) + '</td><td class="num">' + fmtNum(i.bytes_acked) +
        '</td><td class="num">' + rin + '</td><td class="num">' + rout + '</td><td class="num">' +
        (i.rtt_ns ? (i.rtt_ns / 1e6).toFixed(2) + "ms" : "-") + '</td>';
    }
    /* A table of thousands of rows helps nobody and slows the page: the
     * first ROWS_MAX, TIME_WAIT entries last, and how many more. */
    var shown = rows.filter(function (r) { return r.state !== "TIME_WAIT"; })
      .concat(rows.filter(function (r) { return r.state === "TIME_WAIT"; }));
    var more = Math.max(0, shown.length - ROWS_MAX);
    shown.slice(0, ROWS_MAX).forEach(function (r) {
      var c = state.conns[connKey(r)];
      var cls = (now - c.first < 3000 ? "new" : "") +
        (state.sel === connKey(r) ? " sel" : "");
      h += line(r, cls);
    });
    if (more)
      h += '<tr><td colspan="16" class="muted">' + more + ' more not shown (' +
        rows.filter(function (r) { return r.state === "TIME_WAIT"; }).length +
        ' in TIME_WAIT in all); refnet netstat lists every one</td></tr>';
    Object.keys(state.gone).forEach(function (key) { h += line(state.gone[key].row, "gone"); });
    h += '</tbody></table></div></section><section class="card" id="detail"></section>';
    el("main").innerHTML = h;
    state.built = "connections";
    Array.prototype.forEach.call(document.querySelectorAll("#conns tbody tr"), function (tr) {
      tr.onclick = function () { state.sel = tr.getAttribute("data-id"); detail(); };
    });
    detail();
  }
  function detail() {
    var box = el("detail"), c = state.sel && state.conns[state.sel];
    if (!box) return;
    if (!c) {
      box.innerHTML = '<h2>Statistics</h2><p class="muted">Click a connection.</p>';
      return;
    }
    var r = c.row, hh = c.hist;
    var h = '<h2>#' + r.id + ' ' + esc(r.proto) + ' ' + esc(r.local) + ' \u2192 ' + esc(r.remote) +
      ' ' + esc(r.state) + '</h2><div class="grid">';
    h += '<div>' + chart([hh.map(function (e) { return e.sendq; }), hh.map(function (e) { return e.recvq; })],
                         ["send-q bytes", "recv-q bytes"], "queues, " + hh.length + " s") + '</div>';
    h += '<div>' + chart([hh.map(function (e) { return e.refs; })], ["references"], "refs") + '</div>';
    /* TCP_INFO's figures, where the daemon reports them (netstat -i). */
    var last = hh.length ? hh[hh.length - 1].info : null;
    function series(f) { return hh.map(function (e) { return e.info ? f(e.info) || 0 : 0; }); }
    function rate(k) {
      return hh.map(function (e, j) {
        var p = hh[j - 1];
        if (!j || !e.info || !p.info) return 0;
        var dt = (e.t - p.t) / 1000;
        return dt > 0 ? Math.max(0, (e.info[k] - p.info[k]) / dt) : 0;
      });
    }
    if (last) {
      h += '<div class="stat-rtt">' + chart([series(function (i) { return i.rtt_ns / 1e6; }),
                                               series(function (i) { return i.rttvar_ns / 1e6; })],
                                              ["rtt ms", "rttvar ms"], "round-trip time") + '</div>';
      h += '<div class="stat-cwnd">' + chart([series(function (i) { return i.snd_cwnd; }),
                                                series(function (i) { return i.snd_ssthresh; })],
                                               ["cwnd segments", "ssthresh"], "congestion window") + '</div>';
      h += '<div class="stat-retrans">' + chart([series(function (i) { return i.total_retrans; })],
                                                  ["retransmitted segments, total"], "retransmissions") + '</div>';
      h += '<div class="stat-rate">' + chart([rate("bytes_received"), rate("bytes_acked")],
                                               ["bytes in/s", "bytes out/s"], "rates") + '</div>';
      h += '<div><dl class="kv"><dt>state</dt><dd>' + esc(last.state) + ' for ' + fmtAge(last.state_age_ns) +
        '</dd><dt>mss</dt><dd>' + last.snd_mss + ' / ' + last.rcv_mss + '</dd><dt>windows</dt><dd>snd ' +
        last.snd_wnd + ', rcv ' + last.rcv_wnd + '</dd><dt>rto</dt><dd>' + fmtAge(last.rto_ns) +
        '</dd><dt>options</dt><dd>' + (last.sack ? "sack " : "") + (last.timestamps ? "ts " : "") +
        (last.wscale ? "wscale" : "") + '</dd><dt>congestion</dt><dd>' + esc(last.congestion) +
        '</dd></dl></div>';
    }
    h += '</div><p class="mono">holders: ' + esc(holdersText(r.holders)) + '</p>';
    box.innerHTML = h;
  }

  /* ---- objects ---- */
  function objectsTable(doc, interactive) {
    var types = doc.types || {};
    var h = '<section class="card"><h2>Objects <span class="muted">(' + doc.total + ' live, ' +
      doc.matched + ' matching)</span></h2>';
    h += '<p>' + Object.keys(types).sort().map(function (t) {
      return '<span class="mono">' + esc(t) + '</span> ' + types[t];
    }).join(" \u00b7 ") + '</p>';
    if (interactive)
      h += '<p><input type="search" id="q" placeholder="id, type or owner (e.g. #12, listener, httpd)" value="' +
        esc(state.query) + '"></p>';
    h += '<div class="scroll"><table id="objects"><thead><tr><th class="num">id</th><th>type</th>' +
      '<th>description</th><th>state</th><th class="num">refs</th><th class="num">age</th>' +
      '<th>holders (count, held for, site)</th></tr></thead><tbody>';
    (doc.objects || []).forEach(function (o) {
      var led = (o.ledger || []).map(function (l) {
        return esc(l.tag) + " " + l.count + " (" + fmtAge(l.held_ns) + (l.last_ref ? ", " + esc(l.last_ref) : "") + ")";
      }).join("<br>");
      var holds = (o.holds || []).map(function (x) {
        return esc(x.tag) + " " + x.count + " at " + esc((x.stack || []).slice(0, 3).join(" <- "));
      }).join("<br>");
      h += '<tr data-id="' + o.id + '"><td class="num">#' + o.id + '</td><td>' + esc(o.type) + '</td><td>' +
        esc(o.desc) + '</td><td class="' + (o.state === "dying" ? "bad" : "") + '">' + esc(o.state) +
        '</td><td class="num">' + o.refs + '</td><td class="num">' + fmtAge(o.age_ns) +
        '</td><td class="mono">' + led + (holds ? "<br>" + holds : "") + '</td></tr>';
    });
    return h + '</tbody></table></div></section>';
  }
  function objects(d) {
    var focus = document.activeElement && document.activeElement.id === "q";
    var pos = focus ? document.activeElement.selectionStart : 0;
    el("main").innerHTML = objectsTable(d, true);
    var q = el("q");
    q.oninput = function () { state.query = q.value; tick(); };
    if (focus) { q.focus(); q.setSelectionRange(pos, pos); }
  }

  /* ---- waits: chains drawn as graphs ---- */
  function chains(doc) {
    var nodes = {}, out = {}, inn = {}, roots = [];
    (doc.nodes || []).forEach(function (n) { nodes[n.id] = n; });
    (doc.waits || []).forEach(function (w, i) {
      var from = w.waiter ? String(w.waiter) : "anon" + i;
      if (!w.waiter) nodes[from] = {id: 0, anon: true, desc: "(no waiter object)"};
      (out[from] = out[from] || []).push(w);
      inn[String(w.waited)] = (inn[String(w.waited)] || 0) + 1;
    });
    Object.keys(out).forEach(function (k) { if (!inn[k]) roots.push(k); });
    roots.sort(function (a, b) {
      return Math.max.apply(null, out[b].map(function (w) { return w.age_ns; })) -
        Math.max.apply(null, out[a].map(function (w) { return w.age_ns; }));
    });
    /* Waits on a cycle have no outermost waiter: start at one of them
     * that no chain drawn so far reached. */
    var reached = {};
    function mark(k) {
      if (reached[k]) return;
      reached[k] = true;
      (out[k] || []).forEach(function (w) { mark(String(w.waited)); });
    }
    roots.forEach(mark);
    Object.keys(out).forEach(function (k) {
      if (!reached[k]) { roots.push(k); mark(k); }
    });
    return roots.map(function (r) { return layout(r, nodes, out); });
  }
  function layout(root, nodes, out) {
    var rows = [], shown = {};
    (function visit(k, depth, via, path) {
      var n = nodes[k] || {id: Number(k), gone: true};
      var row = {n: n, depth: depth, via: via, again: !!shown[k] || !!path[k]};
      rows.push(row);
      if (row.again) return;
      shown[k] = true;
      path[k] = true;
      (out[k] || []).forEach(function (w) { visit(String(w.waited), depth + 1, w, path); });
      delete path[k];
    })(root, 0, null, {});
    return rows;
  }
  function label(n) {
    if (n.anon) return n.desc;
    if (n.gone) return "#" + n.id + " (gone: released after the wait was taken)";
    var d = n.desc || n.type;
    return (d.indexOf("#" + n.id) >= 0 ? d : d + "  #" + n.id);
  }
  function cut(s, n) { return s.length > n ? s.slice(0, n - 1) + "\u2026" : s; }
  function drawChain(rows, threshold) {
    var y = 10, W = 520, HX = 24, parts = [], ys = [], maxX = 0;
    rows.forEach(function (r, i) {
      var x = 10 + r.depth * HX, n = r.n, blocker = n.blocker && !r.again;
      var holders = blocker ? (n.holders || []) : [];
      var h = blocker ? Math.max(44, 28 + 34 * holders.length) : 44;
      ys.push({x: x, y: y, h: h});
      if (r.via) {
        var p = ys[parentIndex(rows, i)];
        var age = r.via.age_ns, over = threshold && age >= threshold;
        parts.push('<path class="edge" d="M' + (p.x + 12) + ' ' + (p.y + p.h) + ' V' + (y + 22) + ' H' + x + '"/>');
        parts.push('<text class="edge" x="' + (p.x + 18) + '" y="' + (y - 3) + '">' + esc(r.via.what) +
          ' pending ' + fmtAge(age) + (over ? " (past the watchdog's " + fmtAge(threshold) + ")" : "") + '</text>');
      }
      parts.push('<g class="node" data-id="' + (n.id || 0) + '"><rect class="node' + (blocker ? " blocker" : "") +
        '" x="' + x + '" y="' + y + '" width="' + W + '" height="' + (blocker ? 44 : h) + '" rx="4"/>' +
        '<text x="' + (x + 8) + '" y="' + (y + 18) + '">' + esc(cut(label(n), 66)) + '</text>' +
        '<text class="small" x="' + (x + 8) + '" y="' + (y + 35) + '">' +
        esc(r.again ? "(shown above)" : n.gone || n.anon ? "" :
            n.state + (n.dying_ns ? " " + fmtAge(n.dying_ns) : "") + ", refs " + n.refs +
            (n.traced ? ", traced" : "")) + '</text></g>');
      if (blocker) {
        holders.forEach(function (hd, j) {
          var hx = x + W + 30, hy = y + j * 34, cls = hd["class"];
          parts.push('<g class="holder-g" data-tag="' + esc(hd.tag) + '" data-class="' + esc(cls) + '">' +
            '<rect class="holder ' + esc(cls) + '" data-tag="' + esc(hd.tag) + '" x="' + hx + '" y="' + hy +
            '" width="640" height="30" rx="3"/>' +
            '<text class="' + (cls === "suspect" ? "suspect" : "") + '" x="' + (hx + 8) + '" y="' + (hy + 13) + '">' +
            esc(hd.tag) + '  ' + hd.count + '  held ' + fmtAge(hd.held_ns) + '  ' +
            esc(cls === "suspect" ? "SUSPECT" : "(" + hd.reason + ")") + '</text>' +
            '<text class="small" x="' + (hx + 8) + '" y="' + (hy + 26) + '">' +
            esc(cut(hd.site ? "at " + hd.site : "no site recorded (trace the type to see where)", 96)) +
            '</text></g>');
          parts.push('<path class="edge" d="M' + (x + W) + ' ' + (y + 22) + ' H' + (x + W + 15) + ' V' +
            (hy + 15) + ' H' + hx + '"/>');
        });
        maxX = Math.max(maxX, x + W + 30 + 640);
        var vy = y + Math.max(h, 44) + 8;
        parts.push('<rect class="verdict" x="' + x + '" y="' + vy + '" width="' + (W + 30 + 640) +
          '" height="24" rx="3"/><text class="verdict" data-verdict="1" x="' + (x + 8) + '" y="' + (vy + 16) +
          '">verdict: ' + esc(cut(n.verdict || "", 150)) + '</text>');
        h += 8 + 24;
        ys[ys.length - 1].h = 44;
      }
      y += h + 26;
      maxX = Math.max(maxX, x + W);
    });
    return '<svg class="chain" width="' + (maxX + 20) + '" height="' + (y + 4) + '">' + parts.join("") + '</svg>';
  }
  function parentIndex(rows, i) {
    for (var j = i - 1; j >= 0; j--) if (rows[j].depth === rows[i].depth - 1) return j;
    return 0;
  }
  function waitsHTML(doc) {
    var cs = chains(doc), th = doc.threshold_ns;
    var h = '<section class="card"><h2>Waits <span class="muted">(' + (doc.waits || []).length +
      ' pending; the watchdog reports those past ' + fmtAge(th) + ')</span></h2>';
    if (!cs.length) h += '<p id="no-waits">No wait is pending.</p>';
    cs.forEach(function (rows, i) {
      var blk = rows.filter(function (r) { return r.n.blocker && !r.again; });
      h += '<div class="chain-box" data-chain="' + i + '">' +
        blk.map(function (r) { return '<p class="verdict-line">' + esc(label(r.n)) + ' \u2014 verdict: ' +
          esc(r.n.verdict) + '</p>'; }).join("") +
        '<div class="scroll">' + drawChain(rows, th) + '</div></div>';
    });
    h += '</section><section class="card"><h2>The same, as <span class="mono">refnet why</span> prints it</h2>' +
      '<pre class="why" id="why">' + esc(doc.why || "no wait pending\n") + '</pre></section>';
    return h;
  }
  function waits(d) {
    el("main").innerHTML = waitsHTML(d);
  }

  /* ---- the report ---- */
  function report() {
    var r = REPORT, w = r.waits, o = r.objects;
    var mis = Object.keys(r.misuse || {}).map(function (k) { return k + " " + r.misuse[k]; }).join(", ");
    var h = '<section class="card"><h2>Snapshot</h2><dl class="kv"><dt>source</dt><dd>' + esc(r.title) +
      '</dd><dt>taken at</dt><dd>' + fmtAge(r.now_ns) + ' on its process clock</dd><dt>watchdog</dt><dd>' +
      (r.threshold_ns ? fmtAge(r.threshold_ns) : "none") + '</dd><dt>objects</dt><dd>' + o.total +
      '</dd><dt>waits</dt><dd>' + (w.waits || []).length + '</dd><dt>misuse</dt><dd>' + esc(mis || "none") +
      '</dd></dl></section>';
    h += waitsHTML(w);
    h += objectsTable(o, false);
    el("main").innerHTML = h;
  }

  /* ---- refresh ---- */
  function tick() {
    clearTimeout(state.timer);
    var p = state.page, path = {
      overview: "/api/overview", connections: "/api/connections",
      objects: "/api/objects?q=" + encodeURIComponent(state.query), waits: "/api/waits"
    }[p];
    getJSON(path).then(function (d) {
      setDown(null);
      if (state.page !== p) return;
      ({overview: overview, connections: connections, objects: objects, waits: waits})[p](d);
    }).catch(function (e) { setDown(e); }).then(function () {
      state.timer = setTimeout(tick, 1000);
    });
  }

  frame();
  if (REPORT) {
    report();
    return;
  }
  function route() {
    var p = (location.hash || "#overview").slice(1);
    setPage(PAGES.some(function (q) { return q[0] === p; }) ? p : "overview");
  }
  window.onhashchange = route;
  route();
})();
