#!/usr/bin/env bash
# The capture filter's files are readable by tshark: the unit test
# test_capture writes ARP, ICMP echo and UDP frames (sent, then looped back)
# through the capture filter; tshark must dissect all 14 with no malformed
# packet, good IPv4/ICMP/UDP checksums, and the injected timestamps.
# Needs no root and no namespace (lib.sh's net_setup_local).
. "$(dirname "$0")/lib.sh"
net_setup_local capture_tshark
net_need tshark
bin="$REFNET_BUILD/tests/unit-link-test_capture"
[ -x "$bin" ] || die "$bin not built"
file="$dir/real.pcap"

REFNET_LINK_KEEP_CAPTURE="$file" "$bin" >"$dir/unit.log" 2>&1 || {
    cat "$dir/unit.log"; die "the capture unit test failed"; }
[ -s "$file" ] || die "no capture was kept at $file"

fields=$(tshark -r "$file" -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE \
    -T fields -E separator='|' -e frame.number -e frame.time_epoch -e frame.protocols \
    -e ip.checksum.status -e icmp.checksum.status -e udp.checksum.status -e _ws.malformed \
    2>"$dir/tshark.err") || { cat "$dir/tshark.err"; die "tshark could not read the file"; }

count=$(printf '%s\n' "$fields" | grep -c .)
if [ "$count" != 14 ]; then echo "FAIL: tshark saw $count frames, want 14"; fail=1; fi
while IFS='|' read -r num ts protos ipc icmpc udpc malformed; do
    if [ -n "$malformed" ]; then echo "FAIL: frame $num malformed ($protos)"; fail=1; fi
    case "$protos" in
    eth:ethertype:arp) ;;
    eth:ethertype:ip:icmp*) [ "$ipc" = 1 ] && [ "$icmpc" = 1 ] ||
        { echo "FAIL: frame $num checksums ip=$ipc icmp=$icmpc"; fail=1; } ;;
    eth:ethertype:ip:udp*) [ "$ipc" = 1 ] && [ "$udpc" = 1 ] ||
        { echo "FAIL: frame $num checksums ip=$ipc udp=$udpc"; fail=1; } ;;
    *) echo "FAIL: frame $num unexpected protocols $protos"; fail=1 ;;
    esac
done <<<"$fields"
# Frame 1 was sent at 1 ms of injected time; the looped-back ones at 11 ms.
first=$(printf '%s\n' "$fields" | head -1 | cut -d'|' -f2)
last=$(printf '%s\n' "$fields" | tail -1 | cut -d'|' -f2)
[ "$first" = 0.001000000 ] || { echo "FAIL: first timestamp $first, want 0.001000000"; fail=1; }
[ "$last" = 0.011000000 ] || { echo "FAIL: last timestamp $last, want 0.011000000"; fail=1; }

[ "$fail" = 0 ] || printf '%s\n' "$fields"
net_done "tshark read $count frames, none malformed, checksums good"
