#!/usr/bin/env bash
# Quickstart 2: install what is needed, build everything, and run the whole test suite (CTest).
# Needs root: the kernel and end-to-end tests load BPF programs and build network namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$(nproc)"
cd build
ctest --output-on-failure --timeout 900 "$@"
