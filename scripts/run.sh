#!/usr/bin/env bash
# Quickstart 1: install what is needed, build, and run the agent on this node (NDJSON on stdout).
# Extra arguments go to flowscope, e.g. scripts/run.sh --interval 5
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target flowscope >/dev/null
exec build/agent/flowscope "$@"
