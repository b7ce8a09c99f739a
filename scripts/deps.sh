#!/bin/sh
# Installs the Debian packages refnet needs to build, test, demonstrate and
# benchmark.  Idempotent, and silent when everything is already present.
# README.md says what each package is for.
set -eu

PKGS="gcc clang make cmake pkg-config
libcmocka-dev libpcap-dev libdw-dev libelf-dev libjson-c-dev libclang-rt-14-dev liburing-dev
iproute2 iputils-ping arping netcat-openbsd curl tshark python3 python3-scapy
wrk nginx apache2 apache2-utils iperf3 procps man-db chromium nftables ethtool"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "refnet: missing Debian packages:$missing; run 'make deps' as root, or install them with apt-get" >&2
    exit 1
fi
echo "refnet: installing Debian packages:$missing"
export DEBIAN_FRONTEND=noninteractive
# A fresh machine has no package lists yet; refresh them once.
if ! apt-get install -y -q --no-install-recommends $missing >/dev/null 2>&1; then
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends $missing >/dev/null
fi
