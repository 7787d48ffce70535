#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Exit codes of the real binary: usage errors exit 2 with one line naming the option on stderr,
# --help and --version exit 0. None of these reach the BPF code, so no root is needed.
# Usage: cli_exit_codes.sh PATH/TO/flowscope
set -u
bin=$1
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
fails=0

# expect CODE NEEDLE ARGS...: exit code CODE; NEEDLE on stderr (code 2) or stdout (code 0)
expect() {
	code=$1 needle=$2
	shift 2
	"$bin" "$@" >"$out" 2>"$err"
	got=$?
	where=$out
	[ "$code" -eq 2 ] && where=$err
	if [ "$got" -ne "$code" ]; then
		echo "FAIL: flowscope $*: exit $got, want $code; stderr: $(cat "$err")"
		fails=$((fails + 1))
	elif ! grep -q -e "$needle" "$where"; then
		echo "FAIL: flowscope $*: '$needle' not in: $(cat "$where")"
		fails=$((fails + 1))
	elif [ "$code" -eq 2 ] && { [ "$(wc -l <"$err")" -ne 1 ] || [ -s "$out" ]; }; then
		echo "FAIL: flowscope $*: want one line on stderr and nothing on stdout"
		fails=$((fails + 1))
	else
		echo "ok: flowscope $* -> $got"
	fi
}

expect 2 -- '--interval' --interval abc
expect 2 -- '--interval' --interval=0
expect 2 -- '--max-flows' --max-flows 1
expect 2 -- '--interval' --duration 1 --interval
expect 2 -- '--bogus' --bogus
expect 2 -- '--kafka-format' --kafka-format xml
expect 2 -- '--config' --config /nonexistent/flowscope.ini
expect 2 -- 'is not a file' --config /tmp
expect 0 'Usage:' --help
expect 0 '^flowscope [0-9]' --version

[ "$fails" -eq 0 ] || { echo "$fails failed"; exit 1; }
