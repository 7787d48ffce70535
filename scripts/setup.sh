#!/usr/bin/env bash
# Installs every Debian package flowscope needs to build, run and test.
# Used by both README quickstart commands and by .ci/run; safe to run again.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
	echo "setup.sh: run as root (apt-get install needs it)" >&2
	exit 1
fi

build_pkgs=(
	build-essential cmake pkg-config clang llvm bpftool
	libbpf-dev libelf-dev zlib1g-dev
	libinih-dev libcmocka-dev uthash-dev
	libnetfilter-conntrack-dev libmnl-dev
	libc-ares-dev
	librdkafka-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler
	libmicrohttpd-dev libjansson-dev
)
test_pkgs=(
	python3 iproute2 nftables conntrack ethtool socat
	dnsmasq-base bind9-dnsutils kcat libldns-dev clang-format
	libclang-rt-14-dev python3-yaml
)

missing=()
for p in "${build_pkgs[@]}" "${test_pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	echo "setup.sh: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# tracefs and bpffs are not always mounted on a fresh host.
if ! grep -q ' /sys/kernel/tracing tracefs' /proc/mounts && [ -d /sys/kernel/tracing ]; then
	mount -t tracefs nodev /sys/kernel/tracing || true
fi
if ! grep -q ' /sys/fs/bpf bpf' /proc/mounts && [ -d /sys/fs/bpf ]; then
	mount -t bpf bpf /sys/fs/bpf || true
fi
bash "$(dirname "$0")/install-helm.sh"
