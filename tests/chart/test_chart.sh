#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Lints charts/flowscope, renders it with the default values and with each tests/chart/*-values.yaml,
# and checks the renderings (check_chart.py), including that the agent accepts the rendered
# flowscope.ini, tracer policy and command line (and refuses badpolicy's). Also checks that the
# chart refuses what it must refuse, and that a changed policy rolls the pods.
# usage: test_chart.sh CHART_DIR FLOWSCOPE_BIN
set -euo pipefail

chart=$1
bin=$2
here=$(cd "$(dirname "$0")" && pwd)

fail() {
	echo "FAIL: $*" >&2
	exit 1
}
command -v helm >/dev/null || fail "helm not on PATH (scripts/install-helm.sh installs it)"
# Debian's python3, where scripts/setup.sh installs python3-yaml (another python3 may be first
# on PATH)
py=/usr/bin/python3
$py -c 'import yaml' 2>/dev/null || fail "$py has no yaml module (apt-get install python3-yaml)"
[ -x "$bin" ] || fail "$bin is not an executable"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --strict turns lint warnings into failures; values.schema.json is applied too.
helm lint --strict "$chart" >"$tmp/lint.log" 2>&1 || { cat "$tmp/lint.log"; fail "helm lint --strict"; }
cases="default kafka minimal tracer badpolicy"
for case in $cases; do
	args=()
	[ "$case" = default ] || args=(-f "$here/$case-values.yaml")
	helm lint --strict "$chart" "${args[@]}" >"$tmp/lint.log" 2>&1 ||
		{ cat "$tmp/lint.log"; fail "helm lint --strict with $case values"; }
	helm template fs-chart-test "$chart" --namespace fs-chart-test "${args[@]}" >"$tmp/$case.yaml" ||
		fail "helm template with $case values"
	$py "$here/check_chart.py" "$case" "$tmp/$case.yaml" "$bin" "$chart" || fail "$case"
done

# NOTES.txt is rendered only by install/upgrade, which need a cluster: render it as a template.
cp -r "$chart" "$tmp/notes"
{
	echo 'notes: |'
	sed 's/^/  /' "$chart/templates/NOTES.txt"
} >"$tmp/notes/templates/zz-notes.yaml"
for case in $cases; do
	args=()
	[ "$case" = default ] || args=(-f "$here/$case-values.yaml")
	helm template r "$tmp/notes" "${args[@]}" --show-only templates/zz-notes.yaml >/dev/null ||
		fail "NOTES.txt does not render with $case values"
done

# A changed policy rolls the pods (checksum/policy); flowscope.ini, which only names the file,
# keeps its checksum.
annotation() {
	$py -c 'import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d["kind"] == "DaemonSet":
        print(d["spec"]["template"]["metadata"]["annotations"].get(sys.argv[2], ""))' "$@"
}
printf 'tracer:\n  policy:\n    events: [oom_kill]\n' >"$tmp/other-policy.yaml"
helm template fs-chart-test "$chart" --namespace fs-chart-test -f "$here/tracer-values.yaml" \
	-f "$tmp/other-policy.yaml" \
	>"$tmp/other.yaml" || fail "helm template with another policy"
[ -n "$(annotation "$tmp/tracer.yaml" checksum/policy)" ] || fail "no checksum/policy"
[ "$(annotation "$tmp/tracer.yaml" checksum/policy)" != "$(annotation "$tmp/other.yaml" checksum/policy)" ] ||
	fail "checksum/policy did not change with the policy"
[ "$(annotation "$tmp/tracer.yaml" checksum/config)" = "$(annotation "$tmp/other.yaml" checksum/config)" ] ||
	fail "checksum/config changed with the policy alone"
echo "a changed policy changes checksum/policy only"

# Must not render: secrets in the ConfigMap, half-configured secrets, values outside the agent's
# ranges, misspelt keys. refuse: helm template fails (a schema error or the chart's own fail);
# refuse_schema: values.schema.json refuses, so helm lint --strict fails too (helm lint reports
# a template's fail only as [INFO]).
refuse() {
	local why=$1
	shift
	if helm template r "$chart" "$@" >"$tmp/refused.yaml" 2>"$tmp/refused.log"; then
		fail "rendered although $why: helm template $*"
	fi
	echo "refused ($why): $(grep -m1 -iE 'error|must|not allowed' "$tmp/refused.log")"
}
# refuse_schema WHY WHERE ARGS...: WHERE is the start of the schema's complaint, the value's
# path and what is wrong ("- cgroupMode: cgroupMode must be one of"), so a refusal for another
# reason does not count.
refuse_schema() {
	local why=$1 where=$2
	shift 2
	if helm lint --strict "$chart" "$@" >"$tmp/refused.log" 2>&1; then
		fail "helm lint --strict passed although $why: $*"
	fi
	grep -qF -- "$where" "$tmp/refused.log" ||
		{ cat "$tmp/refused.log"; fail "helm lint --strict failed, but not with '$where': $why"; }
	if helm template r "$chart" "$@" >"$tmp/refused.yaml" 2>"$tmp/refused.log"; then
		fail "rendered although $why: helm template $*"
	fi
	grep -qF -- "$where" "$tmp/refused.log" ||
		{ cat "$tmp/refused.log"; fail "helm template failed, but not with '$where': $why"; }
	echo "refused ($why): $(grep -m1 -F -- "$where" "$tmp/refused.log")"
}
# refuse_fail WHY MESSAGE ARGS...: the chart's own fail with MESSAGE
refuse_fail() {
	local why=$1 msg=$2
	shift 2
	refuse "$why" "$@"
	grep -qF -- "$msg" "$tmp/refused.log" ||
		{ cat "$tmp/refused.log"; fail "helm template failed, but not with '$msg': $why"; }
}
refuse "a password in kafka.options" --set 'kafka.brokers[0]=k:9092' --set 'kafka.options.sasl\.password=x'
refuse "a token in kafka.options" --set 'kafka.brokers[0]=k:9092' \
	--set 'kafka.options.sasl\.oauthbearer\.config=principal=x'
refuse "existingSecret without keys" --set 'kafka.brokers[0]=k:9092' --set kafka.existingSecret=s
refuse "secret keys without brokers" --set kafka.existingSecret=s --set 'kafka.existingSecretKeys[0]=sasl.password'
refuse "interval 0" --set interval=0
refuse "maxFlows below 16" --set maxFlows=8
refuse "an unknown format" --set 'kafka.brokers[0]=k:9092' --set kafka.format=avro
refuse "a misspelt key" --set maxflows=1000
refuse "17 DNS ports" --set 'dnsPorts={1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17}'
refuse "an INI comment in a value" --set 'kafka.brokers[0]=k:9092' --set 'kafka.options.client\.rack=a ;b'
refuse "a misspelt metrics key" --set metrics.prot=1
refuse "a misspelt kafka key" --set 'kafka.brokerz[0]=k:9092'
refuse "a misspelt conntrack key" --set conntrack.enabld=false
refuse "a misspelt securityContext key" --set securityContext.privilegd=true
refuse "an unknown logFormat" --set logFormat=xml
refuse_schema "cgroupMode v3" '- cgroupMode: cgroupMode must be one of the following: "auto", "v2", "v1"' \
	--set cgroupMode=v3
refuse_schema "a negative cgroupCleanupDelay" '- cgroupCleanupDelay: Must be greater than or equal to 0' \
	--set cgroupCleanupDelay=-1
refuse_schema "a cgroupCleanupDelay over a day" '- cgroupCleanupDelay: Must be less than or equal to 86400' \
	--set cgroupCleanupDelay=86401
refuse_schema "a misspelt identity key" '- identity: Additional property enabld is not allowed' \
	--set identity.enabld=false
refuse_schema "a relative identity.podLogsDir" '- identity.podLogsDir: Does not match pattern' \
	--set identity.podLogsDir=var/log/pods
refuse_fail "the same directory for pod and container logs" \
	'identity.podLogsDir and identity.containerLogsDir must be two directories' \
	--set identity.podLogsDir=/var/log/pods --set identity.containerLogsDir=/var/log/pods/
refuse_schema "an unknown key under tracer" '- tracer: Additional property evnts is not allowed' \
	--set tracer.evnts=tcp_close
refuse_schema "an unknown event in tracer.events" '- tracer.events.0: tracer.events.0 must be one of the following: "sched_process_exec"' \
	--set 'tracer.events={tcp_conect}'
refuse_schema "none in tracer.events (tracer.enabled: false turns it off)" \
	'- tracer.events.0: tracer.events.0 must be one of the following:' --set 'tracer.events={none}'
refuse_schema "an event twice in tracer.events" '- tracer.events: array items[0,1] must be unique' \
	--set 'tracer.events={tcp_close,tcp_close}'
refuse_schema "a ring buffer that is no power of two" \
	'- tracer.ringbufBytes: tracer.ringbufBytes must be one of the following: 4096, 8192' \
	--set tracer.ringbufBytes=5000
refuse_schema "a ring buffer below a page" '- tracer.ringbufBytes: tracer.ringbufBytes must be one of' \
	--set tracer.ringbufBytes=2048
refuse_schema "a string for tracer.debug" '- tracer.debug: Invalid type. Expected: boolean, given: string' \
	--set-string tracer.debug=yes
refuse_schema "an unknown key in tracer.policy" '- tracer.policy: Additional property evnts is not allowed' \
	--set-json 'tracer.policy={"evnts":[]}'
refuse_schema "an unknown key in a policy event" \
	'- tracer.policy.events.0: Additional property filterz is not allowed' \
	--set-json 'tracer.policy={"events":[{"name":"tcp_connect","filterz":{}}]}'
refuse_schema "an unknown filter" '- tracer.policy.events.0.filters: Additional property pid is not allowed' \
	--set-json 'tracer.policy={"events":[{"name":"tcp_connect","filters":{"pid":[1]}}]}'
refuse_schema "an unknown event in the policy" \
	'- tracer.policy.events.0: tracer.policy.events.0 must be one of the following:' \
	--set-json 'tracer.policy={"events":["tcp_conect"]}'
refuse_schema "an event without a name" '- tracer.policy.events.0: name is required' \
	--set-json 'tracer.policy={"events":[{"env":true}]}'
refuse_schema "per_second 0" \
	'- tracer.policy.events.0.rate_limit.per_second: Must be greater than or equal to 1' \
	--set-json 'tracer.policy={"events":[{"name":"tcp_connect","rate_limit":{"per_second":0}}]}'
refuse_schema "a rate_limit without per_second" '- tracer.policy.events.0.rate_limit: per_second is required' \
	--set-json 'tracer.policy={"events":[{"name":"tcp_connect","rate_limit":{"burst":5}}]}'
refuse_schema "a comm over 15 bytes" \
	'- tracer.policy.events.0.filters.comm.0: String length must be less than or equal to 15' \
	--set-json 'tracer.policy={"events":[{"name":"tcp_connect","filters":{"comm":["sixteen-bytes-xx"]}}]}'
refuse_schema "an empty comm list" '- tracer.policy.events.0.filters.comm: Array must have at least 1 items' \
	--set-json 'tracer.policy={"events":[{"name":"tcp_connect","filters":{"comm":[]}}]}'
refuse_schema "a uid over 4294967294" '- tracer.policy.events.0.filters.uid: Must be less than or equal to' \
	--set-json 'tracer.policy={"events":[{"name":"tcp_connect","filters":{"uid":4294967295}}]}'
refuse_schema "a relative cgroup_path_prefix" \
	"- tracer.policy.events.0.filters.cgroup_path_prefix: Does not match pattern '^/'" \
	--set-json 'tracer.policy={"events":[{"name":"tcp_connect","filters":{"cgroup_path_prefix":"kubepods"}}]}'
refuse_schema "argv_max_bytes over 64 KiB" \
	'- tracer.policy.events.0.argv_max_bytes: Must be less than or equal to 65536' \
	--set-json 'tracer.policy={"events":[{"name":"sched_process_exec","argv_max_bytes":65537}]}'
refuse_fail "tracer.events and tracer.policy both" 'tracer.events and tracer.policy: give one of them' \
	--set 'tracer.events={tcp_close}' --set-json 'tracer.policy={"events":["oom_kill"]}'
refuse_fail "tracer.events with the tracer off" 'tracer.enabled is false: leave tracer.events' \
	--set tracer.enabled=false --set 'tracer.events={tcp_close}'

# Every object of the chart's own values rejects unknown keys; only Kubernetes objects passed
# through as they are (and helm's global) stay open.
$py - "$chart/values.schema.json" <<'PY' || fail "values.schema.json: an object accepts unknown keys"
import json, sys
open_ok = {".global", ".securityContext.seccompProfile", ".resources", ".affinity",
           ".updateStrategy"}
bad = []
def walk(n, path):
    t = n.get("type")
    if (t == "object" or (isinstance(t, list) and "object" in t)) and \
            "additionalProperties" not in n and path not in open_ok:
        bad.append(path or "(top)")
    for k, v in n.get("properties", {}).items():
        walk(v, path + "." + k)
    for k, v in n.get("definitions", {}).items():
        walk(v, "#" + k)
    if isinstance(n.get("additionalProperties"), dict):
        walk(n["additionalProperties"], path + ".*")
    if isinstance(n.get("items"), dict):
        walk(n["items"], path + "[]")
    for k in ("oneOf", "anyOf", "allOf"):
        for i, v in enumerate(n.get(k, [])):
            walk(v, f"{path}({k}{i})")
walk(json.load(open(sys.argv[1])), "")
if bad:
    print("objects without additionalProperties:", bad)
    sys.exit(1)
PY
echo "chart ok"
