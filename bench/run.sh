#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Builds and runs every benchmark: each executable under BUILD/bench/*/ whose name ends in
# _bench (bpf_bench, dns_bench, ct_bench, kafka_bench, ...), one after another, output as is,
# then tracer_bench's sustained rate through the agent, and the end-to-end benchmark
# bench/e2e/e2e_bench.py (about 7 minutes).
# Needs root for the kernel ones. Usage: bash bench/run.sh [BUILD_DIR]   (default: build)
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
mkdir -p "$build" && build=$(cd "$build" && pwd) || exit 1

cmake -S "$root" -B "$build" -DFLOWSCOPE_TESTS=ON -DFLOWSCOPE_BENCH=ON >/dev/null || exit 1
cmake --build "$build" -j"$(nproc)" || exit 1

status=0
found=0
for exe in "$build"/bench/*/*_bench; do
	[ -f "$exe" ] && [ -x "$exe" ] || continue
	found=1
	name=$(basename "$exe")
	echo "=== $name"
	# each benchmark runs from its own directory, so relative inputs resolve
	(cd "$(dirname "$exe")" && "$exe")
	rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "=== $name failed: exit $rc"
		status=1
	fi
	echo
done
[ "$found" -eq 1 ] || { echo "no benchmark executables under $build/bench/"; exit 1; }

# the tracer's sustained no-loss rate goes through the built agent (about 30 seconds)
echo "=== tracer_bench --sustained"
"$build/bench/tracer/tracer_bench" --sustained "$build/agent/flowscope" ||
	{ echo "=== tracer_bench --sustained failed"; status=1; }
echo

# the end-to-end benchmark is a script over the built agent and load generator
echo "=== e2e_bench.py"
FLOWSCOPE=$build/agent/flowscope E2E_LOAD=$build/bench/e2e/e2e_load \
	python3 "$root/bench/e2e/e2e_bench.py" || { echo "=== e2e_bench.py failed"; status=1; }
exit $status
