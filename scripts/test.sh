#!/usr/bin/env bash
# Quickstart 2: install what is needed, build everything, and run the whole test suite (CTest).
# Needs root: the kernel and end-to-end tests load BPF programs and build network namespaces.
#
# The build matrix (what .ci/run checks): Debug, Release and RelWithDebInfo, each built whole
# (agent, tests, benchmarks) with -DFLOWSCOPE_WERROR=ON, so a warning in any build type fails.
# Only the RelWithDebInfo build (build/, the project's tested type) runs the suite: the tests
# exercise behaviour, which the build type does not change, and running it three times would
# triple the time on a 2-core machine. FLOWSCOPE_BUILD_TYPES overrides the list (the last one
# runs the suite), e.g. FLOWSCOPE_BUILD_TYPES=RelWithDebInfo for a quick local run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

launcher=()
if command -v ccache >/dev/null; then
	launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi
read -r -a types <<<"${FLOWSCOPE_BUILD_TYPES:-Debug Release RelWithDebInfo}"
for type in "${types[@]}"; do
	if [ "$type" = RelWithDebInfo ]; then
		dir=build
	else
		dir=build-${type,,}
	fi
	echo "test.sh: building $type in $dir" >&2
	cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="$type" -DFLOWSCOPE_WERROR=ON "${launcher[@]}"
	cmake --build "$dir" -j"$(nproc)"
done
cd "$dir"
ctest --output-on-failure --timeout 900 "$@"
