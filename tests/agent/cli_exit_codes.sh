#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Exit codes of the real binary: usage errors exit 2 with one line naming the option once on
# stderr, before any probing or info line; --help, --version and a valid --policy-check exit 0.
# None of these reach the BPF code, so no root is needed.
# Usage: cli_exit_codes.sh PATH/TO/flowscope
set -u
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
out=$(mktemp) err=$(mktemp) dir=$(mktemp -d)
trap 'rm -rf "$out" "$err" "$dir"' EXIT
chmod 755 "$dir"
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

# exact CODE STDOUT STDERR ARGS...: exit code CODE, stdout and stderr exactly these (in $dir,
# so file names are relative). The "ts" of a JSON log line reads as "T". As root, each runs
# once more as uid 65534 without any capability: a usage error must still come first (exit 2,
# not 1 for the missing privileges), and --policy-check needs none.
exact() {
	code=$1 want_out=$2 want_err=$3
	shift 3
	for how in plain unprivileged; do
		if [ $how = plain ]; then
			(cd "$dir" && "$bin" "$@") >"$out" 2>"$err"
		elif [ "$(id -u)" -eq 0 ]; then
			(cd "$dir" && setpriv --reuid=65534 --regid=65534 --clear-groups \
				--inh-caps=-all --bounding-set=-all -- "$bin" "$@") >"$out" 2>"$err"
		else
			continue
		fi
		got=$?
		got_err=$(sed 's/^{"ts":"[^"]*"/{"ts":"T"/' "$err")
		if [ "$got" -ne "$code" ] || [ "$(cat "$out")" != "$want_out" ] ||
			[ "$got_err" != "$want_err" ]; then
			echo "FAIL ($how): flowscope $*: exit $got, want $code"
			echo "  stdout: $(cat "$out")"
			echo "    want: $want_out"
			echo "  stderr: $got_err"
			echo "    want: $want_err"
			fails=$((fails + 1))
		else
			echo "ok ($how): flowscope $* -> $got"
		fi
	done
}

printf 'policy-check = good.yaml\n' >"$dir/check.ini"
cat >"$dir/good.yaml" <<'EOF'
events:
  - name: tcp_connect
    rate_limit: {per_second: 5, burst: 1}
  - name: sched_process_exec
    filters: {comm: [curl, wget], cgroup_path_prefix: /kubepods, uid: [0]}
  - oom_kill
EOF
printf 'events:\n  - name: sched_process_exit\n    rate_limit: {per_second: 5}\n' >"$dir/bad.yaml"
printf 'events: []\n' >"$dir/off.yaml"
chmod 644 "$dir"/*

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

# each option error names its option once
unknown="--events: unknown event 'bogus' (docs/tracer.md lists the events)"
exact 2 '' "flowscope: error: $unknown" --events bogus
exact 2 '' "flowscope: error: $unknown" --events sched_process_exec,bogus
exact 2 '' '{"ts":"T","level":"error","msg":"'"$unknown"'"}' --log-format json --events bogus
exact 2 '' \
	"flowscope: error: invalid value for --cgroup-mode: 'v3' (expected auto, v2 or v1) (see --help)" \
	--cgroup-mode v3
exact 2 '' 'flowscope: error: --events and --policy: give one of them' \
	--events none --policy good.yaml

# --policy and --policy-check read a policy file the same way
never='events[0]: sched_process_exit is never rate limited (it ends a lifetime: dropping one would leak every cache that tracks the start); remove rate_limit'
exact 0 'good.yaml: ok: 3 events (sched_process_exec, tcp_connect, oom_kill); programs: tr_sched_process_exec, tr_inet_sock_set_state, tr_mark_victim; optional: tr_cgroup_rmdir, tr_iter_task' '' \
	--policy-check good.yaml
exact 0 'off.yaml: ok: no events, the tracer is off' '' --policy-check off.yaml
exact 2 '' "flowscope: error: --policy-check: bad.yaml:3:5: $never" --policy-check bad.yaml
exact 2 '' "flowscope: error: --policy: bad.yaml:3:5: $never" --policy bad.yaml
exact 2 '' "flowscope: error: --policy: bad.yaml:3:5: $never" --interval 5 --policy=bad.yaml
exact 2 '' 'flowscope: error: --policy: missing.yaml: cannot open: No such file or directory' \
	--policy missing.yaml
exact 2 '' 'flowscope: error: --policy-check checks one file: give no --events or --policy with it' \
	--policy-check good.yaml --events tcp_close
exact 2 '' 'flowscope: error: check.ini:1: --policy-check cannot be set here (see --help)' \
	--config check.ini

[ "$fails" -eq 0 ] || { echo "$fails failed"; exit 1; }
