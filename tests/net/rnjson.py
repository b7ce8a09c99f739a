"""Readers of the daemon's JSON listings, for the network tests' Python
(tests/net/lib.sh puts this folder on PYTHONPATH; jq_py evaluates its
expressions with these in scope)."""


def drops(j):
    """All drops of a `stat --json` listing by reason, the interfaces' and
    the stack-wide ones summed."""
    out = {}
    for src in [i["drops"] for i in j["interfaces"]] + [j["drops"]]:
        for k, v in src.items():
            out[k] = out.get(k, 0) + v
    return out


def proto(j, name):
    """A protocol counter of a `stat --json` listing."""
    return j["protocols"][name]


def iface(j, key):
    """An interface counter of a `stat --json` listing, summed over the
    interfaces."""
    return sum(i[key] for i in j["interfaces"])


def svc(j, name):
    """The counters of service name in a `svc --json` listing."""
    return [s for s in j if s["name"] == name][0]["counters"]


# A request record a process keeps idle for its next request: a bounded
# cache (SPARES_MAX a process), not a request in use.
SPARE = "request idle, kept for reuse"
SPARES_MAX = 32


def types(j):
    """Live objects by type in an `objects --json` listing, sorted by type;
    the spare request records count as "request spare", apart from the
    requests in use."""
    out = {}
    for o in j:
        t = o["type"]
        if t == "request" and o.get("desc", "").startswith(SPARE):
            t = "request spare"
        out[t] = out.get(t, 0) + 1
    return dict(sorted(out.items()))
