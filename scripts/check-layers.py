#!/usr/bin/env python3
"""The layer check: every #include in refnet's sources must point down.

refnet's code is cut into units, each a folder (or, for the lab, the
lab's files in the simulator's folder), listed below from the bottom up.
A file may include:
  - the headers of its own unit;
  - the shared (not *_priv.h) headers of a unit below its own;
  - the public headers (include/refnet/), each of which belongs to the unit
    that implements it (PUBLIC_HEADERS), so the same order applies.
The product (the built-in services and clients, the control plane, the lab
and the tool) is built on the library's public API alone: it may include
public headers and product headers, never a library unit's own headers.
A public header may include only public headers of its unit or below.

Usage: scripts/check-layers.py [SOURCE_DIR]
Prints one line per violation (file:line: what and why) and exits 1 if
there was any, 0 otherwise.
"""
import os
import re
import sys

# The library, bottom up.
LIBRARY = [
    "base",       # error codes, drop reasons, reports, text buffers
    "runtime",    # clock, timers, the loop, the stack's runtime
    "object",     # the object manager and its ledger
    "diag",       # waits' chains, verdicts, watchdog, dumps
    "wire",       # parsing and emitting headers, no state
    "link",       # packet buffers, link drivers and filters
    "net",        # interfaces, ARP, routes, IPv4, ICMP; rn_stack_create()
    "filter",     # the filtering platform and its callouts
    "transport",  # UDP, TCP, the port tables
    "socket",     # processes, handles, sockets, requests; netstat's walk
    "svc",        # the service controller
    "sim",        # the simulator
]
# The product, bottom up: programs on the library's public API.
PRODUCT = [
    "apps",       # built-in services and clients
    "ctl",        # the control protocol, server, client, commands
    "lab",        # the case staged in the simulator
    "run",        # the daemon's side of `refnet run`: channels, socket pairs
    "tools",      # the refnet tool and its daemon
    "preload",    # the shim `refnet run` preloads: talks to the daemon over
                  # a UNIX socket, links nothing of refnet
]
# Units that may include nothing of refnet but these headers (and the C
# library's): the shim speaks only the run channel's protocol, and reads
# programs' addresses with its pure conversions.
ISOLATED = {"preload": {"run/run_proto.h", "run/run_addr.h"}}
ORDER = {u: i for i, u in enumerate(LIBRARY + PRODUCT)}

# Which unit each public header belongs to.
PUBLIC_HEADERS = {
    "error.h": "base", "drop.h": "base", "report.h": "base",
    "strbuf.h": "base",
    "clock.h": "runtime", "timer.h": "runtime", "loop.h": "runtime",
    "runtime.h": "runtime", "heap.h": "runtime",
    "object.h": "object", "snapshot.h": "object",
    "diag.h": "diag", "value.h": "base",
    "addr.h": "wire",
    "netbuf.h": "link", "link.h": "link", "rss.h": "link",
    "stack.h": "net", "rows.h": "net",
    "filter.h": "filter",
    "plugin.h": "filter",
    "transport.h": "transport", "tcp.h": "transport",
    "socket.h": "socket", "netstat_walk.h": "socket", "readiness.h": "socket",
    "service.h": "svc",
    "sim.h": "sim",
    "refnet.h": "sim",  # the umbrella: everything public
    "version.h": "base",
}

INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def unit_of(rel):
    """The unit a source file belongs to, or None if the check skips it."""
    parts = rel.split("/")
    if parts[0] == "src" and len(parts) >= 3:
        if parts[1] == "sim" and parts[2].startswith("lab"):
            return "lab"
        return parts[1] if parts[1] in ORDER else "?" + parts[1]
    if parts[0] in ("apps", "tools", "preload") and len(parts) == 2:
        return parts[0]
    if rel.startswith("include/refnet/"):
        return PUBLIC_HEADERS.get(parts[-1], "?public")
    return None


def target_of(inc, rel):
    """(unit, private, public) of an included header, resolved as the
    build does: include/, src/, the repository root, the file's folder."""
    parts = inc.split("/")
    if parts[0] == "refnet" and len(parts) == 2:
        return PUBLIC_HEADERS.get(parts[1], "?public"), False, True
    if len(parts) == 1:
        # A bare name resolves next to the including file.
        folder = os.path.dirname(rel)
        return unit_of(os.path.join(folder, inc)), inc.endswith("_priv.h"), False
    if parts[0] in ("apps", "tools"):
        return parts[0], inc.endswith("_priv.h"), False
    if parts[0] == "sim" and parts[1].startswith("lab"):
        return "lab", inc.endswith("_priv.h"), False
    return parts[0] if parts[0] in ORDER else "?" + parts[0], inc.endswith("_priv.h"), False


def check_file(root, rel, problems):
    unit = unit_of(rel)
    if unit is None:
        return
    if unit.startswith("?"):
        problems.append(f"{rel}: folder '{unit[1:]}' is in no layer (add it to scripts/check-layers.py)")
        return
    is_public = rel.startswith("include/refnet/")
    with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, 1):
            m = INCLUDE_RE.match(line)
            if not m:
                continue
            inc = m.group(1)
            tunit, private, public = target_of(inc, rel)
            where = f"{rel}:{lineno}"
            if unit in ISOLATED:
                if inc not in ISOLATED[unit]:
                    problems.append(f"{where}: {unit} includes \"{inc}\"; it may include only "
                                    f"{', '.join(sorted(ISOLATED[unit]))} of refnet")
                continue
            if tunit is None or tunit.startswith("?"):
                problems.append(f"{where}: includes \"{inc}\", which belongs to no layer")
                continue
            if is_public and not public:
                problems.append(f"{where}: a public header includes \"{inc}\", which is not public")
                continue
            if unit in PRODUCT and not public and tunit not in PRODUCT:
                problems.append(f"{where}: product code ({unit}) includes \"{inc}\" of the "
                                f"library's {tunit}; the product uses the public API only")
                continue
            if private and tunit != unit:
                problems.append(f"{where}: includes \"{inc}\", a private header of {tunit}")
                continue
            if ORDER[tunit] > ORDER[unit]:
                problems.append(f"{where}: {unit} includes \"{inc}\" of {tunit}, a higher layer")


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    problems = []
    for top in ("src", "apps", "tools", "preload", "include/refnet"):
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            for name in sorted(files):
                if name.endswith((".c", ".h")):
                    rel = os.path.relpath(os.path.join(dirpath, name), root)
                    check_file(root, rel, problems)
    for p in sorted(problems):
        print(p)
    if problems:
        print(f"layer check: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
