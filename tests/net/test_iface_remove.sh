#!/usr/bin/env bash
# Removing an interface that a plug-in's stale route cache keeps: the
# daemon loads the deliberately leaking test plug-in with "routes" (it
# holds every route under "callout:leaky");
#   - `refnet ifconfig rn0 remove` takes rn0 out at once (ifconfig no
#     longer lists it, Linux's pings go unanswered) and, the removal not
#     complete after 5 s, exits 3 with the chain: the removal, the
#     interface, the deleted route it waits for, the plug-in's hold and the
#     site in leaky.c that took it; with receive-side scaling, one such
#     chain per loop (each loop's stack has its rn0);
#   - `refnet why ID`, the watchdog (threshold 3 s) and `refnet analyze`
#     of a dump print the same chain and verdict;
#   - the example link filter loaded at start (--plugin plugin-filter.so:rn0)
#     sits on rn0's chain and counts frames; the removal closes it;
#   - `refnet plugin unload leaky` lets go of the routes: the removal
#     completes (the interface's object is gone), and the daemon shuts
#     down cleanly, nothing leaked.
# Takes about 8 s.
. "$(dirname "$0")/lib.sh"
net_setup iface_remove
leaky="$REFNET_BUILD/tests/plugins/refnet-leaky.so"
[ -f "$leaky" ] || die "$leaky is not built"
# The plug-in's file name is in the watchdog's report: only real leaks count.
net_leak_re="objects? leaked at shutdown|still held"

ageless() {
    sed -E 's/\b[0-9][0-9.]*(ns|us|ms|s|m|h|d)([0-9][0-9.]*(ns|us|ms|s|m|h|d))*\b/AGE/g'
}

net_start --watchdog 3 --plugin "$REFNET_BUILD/tests/plugins/plugin-filter.so:rn0"
rn plugin load "$leaky:routes" >"$dir/load.txt" 2>&1 || die "plugin load: $(cat "$dir/load.txt")"
nsx ping -c 1 -W 2 198.18.0.2 >/dev/null || bad "no answer to ping before the removal"
rn route | grep -q "198.18.0.0/15" || bad "no connected route: $(rn route)"
# The example link filter, loaded at start on rn0: on top of its chain,
# counting the ping.
rn ifconfig >"$dir/if.txt"
echo "---- refnet ifconfig:"; cat "$dir/if.txt"
grep -q "ethcount" "$dir/if.txt" && grep -Eq "rx_ipv4[ =:]+[1-9]" "$dir/if.txt" ||
    bad "ifconfig does not show the plug-in's link filter and its counters"

rn ifconfig nosuch remove >/dev/null 2>"$dir/e1"; [ $? = 1 ] && grep -q "no interface 'nosuch'" "$dir/e1" ||
    bad "ifconfig nosuch remove: $(cat "$dir/e1")"
rn ifconfig rn0 frob >/dev/null 2>"$dir/e2"; [ $? = 2 ] || bad "ifconfig rn0 frob: $(cat "$dir/e2")"

"$refnet" ifconfig rn0 remove --ctl "$sock" >"$dir/rm.out" 2>&1
rc=$?
echo "---- refnet ifconfig rn0 remove (exit $rc):"
cat "$dir/rm.out"
echo "----"
[ "$rc" = 3 ] || bad "ifconfig rn0 remove exited $rc, want 3"
grep -Eq "^refnet ifconfig: rn0 is still being removed after [0-9.]+s: something holds interface #" "$dir/rm.out" || bad "no first line"
grep -q "remove pending" "$dir/rm.out" && grep -q "route delete pending" "$dir/rm.out" &&
    grep -q "route 198.18.0.0/15 dev rn0" "$dir/rm.out" && grep -q "callout:leaky" "$dir/rm.out" &&
    grep -q "last ref cache_route (tests/plugins/leaky.c:" "$dir/rm.out" ||
    bad "the chain does not name the route, the plug-in's hold and its site"
grep -q "verdict: 'callout:leaky' a third party's hold on a dying route" "$dir/rm.out" ||
    bad "the verdict does not name the plug-in's hold"
grep -q "route delete pending" "$dlog" &&
    grep -q "verdict: 'callout:leaky' a third party's hold on a dying route" "$dlog" ||
    bad "the watchdog did not report the same chain: $(cat "$dlog")"
ifid=$(sed -nE 's/.*something holds interface #([0-9]+).*/\1/p' "$dir/rm.out")
[ -n "$ifid" ] || die "no interface id in the answer"
rn ifconfig | grep -q "^rn0:" && bad "ifconfig still lists rn0: $(rn ifconfig)"
rn status | grep -q "interface rn0 .* (removed)$" || bad "status does not say rn0 was removed: $(rn status)"
nsx ping -c 1 -W 1 198.18.0.2 >/dev/null 2>&1 && bad "a ping was answered after the removal"

# The same chain from why and from a dump.
rn why "$ifid" >"$dir/why.txt" 2>&1 || bad "why $ifid failed: $(cat "$dir/why.txt")"
rn dump "$dir/rm.dump" >/dev/null || bad "dump failed"
"$refnet" analyze "$dir/rm.dump" --object "$ifid" | sed '1d' >"$dir/analyze.txt"
if ! diff <(ageless <"$dir/why.txt") <(ageless <"$dir/analyze.txt") >"$dir/diff.txt"; then
    bad "analyze of the dump differs from why $ifid:"
    cat "$dir/diff.txt"
fi
# The first chain is the first loop's; with receive-side scaling each
# further loop's interface follows under "and interface #N (loop K's)",
# its chain as `refnet why N` prints it.
sed '1d; /^and interface #/,$d' "$dir/rm.out" | ageless >"$dir/rm.chain"
diff "$dir/rm.chain" <(ageless <"$dir/why.txt") >"$dir/diff2.txt" ||
    { bad "ifconfig remove's chain differs from why $ifid:"; cat "$dir/diff2.txt"; }
loops=$(rn status --json | "$py" -c 'import json, sys; print(json.load(sys.stdin).get("rss_queues", 1))')
more=$(sed -nE 's/^and interface #([0-9]+) \(loop ([0-9]+)'"'"'s\)\. Why:$/\1/p' "$dir/rm.out")
[ "$(echo $more | wc -w)" = $((loops - 1)) ] ||
    bad "$loops loops, but the answer explains $((1 + $(echo $more | wc -w))) interfaces"
for id in $more; do
    awk -v id="$id" '$0 ~ "^and interface #" id " " { on = 1; next } /^and interface #/ { on = 0 } on' \
        "$dir/rm.out" | ageless >"$dir/rm.$id"
    rn why "$id" 2>&1 | ageless >"$dir/why.$id"
    diff "$dir/rm.$id" "$dir/why.$id" >"$dir/diff.$id" ||
        { bad "ifconfig remove's chain of #$id differs from why $id:"; cat "$dir/diff.$id"; }
    grep -q "callout:leaky" "$dir/rm.$id" || bad "#$id's chain does not name the plug-in's hold"
done

# The removal closed the link filter with the interface's chain.
rn plugin list --json | "$py" -c '
import json, sys
rows = {r["name"]: r for r in json.load(sys.stdin)}
sys.exit(0 if rows["ethcount"]["link_filters"] == 0 else 1)' ||
    bad "the removed interface's link filter is still counted: $(rn plugin list)"

# The plug-in lets go: the removal completes.
rn plugin unload leaky >"$dir/unload.txt" 2>&1 || bad "plugin unload leaky: $(cat "$dir/unload.txt")"
for id in $ifid $more; do
    net_wait_for 3 sh -c "! '$refnet' why '$id' --ctl '$sock' >/dev/null 2>&1" ||
        bad "interface #$id still exists after the plug-in let go: $(rn why "$id")"
done
rn why "$ifid" >/dev/null 2>"$dir/gone.txt"; grep -q "no object #$ifid" "$dir/gone.txt" ||
    bad "why $ifid after the removal: $(cat "$dir/gone.txt")"

net_done "an interface removal blocked by a plug-in's held route is explained, the same by ifconfig, why and analyze, and completes once the route is let go"
