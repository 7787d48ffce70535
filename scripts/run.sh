#!/usr/bin/env bash
# Quickstart 1: install what is needed, build, and run the agent on this node (NDJSON on stdout).
# Extra arguments go to flowscope, e.g. scripts/run.sh --interval 5
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "run.sh: building the agent in build/ (a minute or two the first time)" >&2
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFLOWSCOPE_TESTS=OFF \
	-DFLOWSCOPE_BENCH=OFF >/dev/null
cmake --build build -j"$(nproc)" --target flowscope >/dev/null
echo "run.sh: starting build/agent/flowscope $*" >&2
exec build/agent/flowscope "$@"
