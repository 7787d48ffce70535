#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Lints charts/flowscope, renders it with the default values and with each tests/chart/*-values.yaml,
# and checks the renderings (check_chart.py), including that the agent accepts the rendered
# flowscope.ini and command line. Also checks that the chart refuses what it must refuse.
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
for case in default kafka minimal; do
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
for case in default kafka minimal; do
	args=()
	[ "$case" = default ] || args=(-f "$here/$case-values.yaml")
	helm template r "$tmp/notes" "${args[@]}" --show-only templates/zz-notes.yaml >/dev/null ||
		fail "NOTES.txt does not render with $case values"
done

# Must not render: secrets in the ConfigMap, half-configured secrets, values outside the agent's
# ranges, misspelt keys.
refuse() {
	local why=$1
	shift
	if helm template r "$chart" "$@" >"$tmp/refused.yaml" 2>"$tmp/refused.log"; then
		fail "rendered although $why: helm template $*"
	fi
	echo "refused ($why): $(grep -m1 -iE 'error|must|not allowed' "$tmp/refused.log")"
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
    if isinstance(n.get("additionalProperties"), dict):
        walk(n["additionalProperties"], path + ".*")
walk(json.load(open(sys.argv[1])), "")
if bad:
    print("objects without additionalProperties:", bad)
    sys.exit(1)
PY
echo "chart ok"
