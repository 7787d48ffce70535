#!/bin/bash
# kafka_mock_cluster works for outside clients: kcat produces to it and consumes back, and
# "down all"/"up all" are answered. Usage: mock_cluster_kcat.sh PATH_TO_kafka_mock_cluster
set -euo pipefail
helper=$1
command -v kcat >/dev/null || { echo "kcat missing (apt-get install kcat)"; exit 1; }
coproc MOCK { "$helper" -b 3 -p 4; }
trap 'echo quit >&"${MOCK[1]}" 2>/dev/null || true; wait "$MOCK_PID" 2>/dev/null || true' EXIT
read -r -t 10 -u "${MOCK[0]}" boot
[[ $boot == 127.0.0.1:* ]] || { echo "bad bootstrap line: $boot"; exit 1; }

cmd() {
	local reply
	echo "$1" >&"${MOCK[1]}"
	read -r -t 10 -u "${MOCK[0]}" reply
	[[ $reply == "$2" ]] || { echo "'$1' answered '$reply', want '$2'"; exit 1; }
}

seq 1 50 | sed 's/.*/{"n":&}/' | kcat -P -b "$boot" -t flowscope.flows -k key1
cmd "down all" ok
cmd "up all" ok
cmd "down 4" "error: expected down N|all, up N|all or quit"
got=$(kcat -C -b "$boot" -t flowscope.flows -o beginning -e -q | wc -l)
[[ $got == 50 ]] || { echo "consumed $got messages, want 50"; exit 1; }
echo "ok: 50 messages through kcat, broker commands answered"
