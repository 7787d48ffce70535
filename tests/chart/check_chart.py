#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Checks one `helm template` rendering of charts/flowscope.

usage: check_chart.py CASE RENDERED.yaml FLOWSCOPE_BIN CHART_DIR

CASE is default, kafka or minimal (tests/chart/<case>-values.yaml). Besides the pod spec, the
rendered flowscope.ini and the container's arguments are handed to the real agent, which must
accept them: it has no dry run, so it runs unprivileged, where it validates its whole
configuration (Kafka options included, against librdkafka) and then exits 1 on the missing
privileges. A configuration error would be exit 2.
"""
import math
import os
import re
import subprocess
import sys
import tempfile

import yaml

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
    return cond


def parse_ini(text):
    """The subset of inih the agent relies on: sections prefix keys with 'section-'."""
    keys = []
    section = ""
    for n, raw in enumerate(text.splitlines(), 1):
        if not raw.strip() or raw.lstrip()[0] in ";#":
            continue
        # inih joins a line that starts with white space to the previous value
        check(not raw[0].isspace(), f"flowscope.ini:{n}: starts with white space: {raw!r}")
        line = raw.strip()
        if line.startswith("["):
            check(line.endswith("]"), f"flowscope.ini:{n}: bad section {line!r}")
            section = line[1:-1].strip()
            continue
        check("=" in line, f"flowscope.ini:{n}: no '=': {line!r}")
        k, v = (s.strip() for s in line.split("=", 1))
        keys.append((f"{section}-{k}" if section else k, v))
    return keys


def agent_options(binary):
    out = subprocess.run([binary, "--help"], capture_output=True, text=True, check=True).stdout
    return set(re.findall(r"^\s+--([a-z][a-z0-9-]*)", out, re.M))


def run_agent(binary, args, ini_path, env_values):
    """Runs the container's command line against the rendered file, without privileges."""
    argv = [binary]
    for a in args:
        a = a.replace("/etc/flowscope/flowscope.ini", ini_path)
        # what the kubelet does with $(VAR) in args
        a = re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env_values[m.group(1)], a)
        argv.append(a)
    if os.geteuid() == 0:
        argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"] + argv
    p = subprocess.run(argv, capture_output=True, text=True, timeout=30,
                       env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    return p.returncode, p.stderr


def main():
    case, rendered, binary, chart_dir = sys.argv[1:5]
    docs = [d for d in yaml.safe_load_all(open(rendered)) if d]
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    chart = yaml.safe_load(open(os.path.join(chart_dir, "Chart.yaml")))

    # --- the objects a release creates -------------------------------------------------------
    check(len(by_kind.get("DaemonSet", [])) == 1, "exactly one DaemonSet")
    check(len(by_kind.get("ConfigMap", [])) == 1, "exactly one ConfigMap")
    check("Secret" not in by_kind, "the chart renders no Secret (secrets come from existingSecret)")
    ds = by_kind["DaemonSet"][0]
    cm = by_kind["ConfigMap"][0]
    pod = ds["spec"]["template"]["spec"]
    pod_labels = ds["spec"]["template"]["metadata"]["labels"]
    check(all(pod_labels.get(k) == v for k, v in ds["spec"]["selector"]["matchLabels"].items()),
          "DaemonSet selector matches its pod labels")
    (c,) = pod["containers"]

    # --- node-level access ----------------------------------------------------------------------
    check(pod.get("hostNetwork") is True, "hostNetwork: true (conntrack of the node)")
    check(pod.get("dnsPolicy") == "ClusterFirstWithHostNet", "dnsPolicy ClusterFirstWithHostNet")
    check(not pod.get("hostPID"), "hostPID off: the agent learns its kernel tgid itself")
    check(pod.get("automountServiceAccountToken") is False, "pod mounts no API token")
    for sa in by_kind.get("ServiceAccount", []):
        check(sa.get("automountServiceAccountToken") is False, "ServiceAccount: no API token")
    check({"operator": "Exists"} in pod.get("tolerations", []), "tolerates every taint")
    us = ds["spec"]["updateStrategy"]
    check(us.get("type") == "RollingUpdate" and us["rollingUpdate"]["maxUnavailable"] == 1,
          "RollingUpdate, maxUnavailable 1")

    # --- container ------------------------------------------------------------------------------
    check(c["command"] == ["flowscope"], "command is flowscope")
    check(c["args"][:2] == ["--config", "/etc/flowscope/flowscope.ini"], "args start with --config")
    env = {e["name"]: e for e in c.get("env", [])}
    check(env.get("NODE_NAME", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
          == "spec.nodeName", "NODE_NAME from spec.nodeName")
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    vols = {v["name"]: v for v in pod["volumes"]}
    cfg_mount = mounts.get("/etc/flowscope")
    check(cfg_mount and vols[cfg_mount["name"]].get("configMap", {}).get("name")
          == cm["metadata"]["name"], "/etc/flowscope is the chart's ConfigMap")
    for path in ("/sys/fs/cgroup", "/sys/kernel/btf"):
        m = mounts.get(path)
        check(m and m.get("readOnly") is True
              and vols[m["name"]].get("hostPath", {}).get("path") == path,
              f"{path}: the node's, read-only")
    sc = c["securityContext"]
    check(sc.get("runAsUser") == 0, "runAsUser 0 (the agent checks euid 0)")
    caps = set(sc.get("capabilities", {}).get("add", []))
    if case == "minimal":
        check(sc.get("privileged") is True, "privileged fallback")
    else:
        check(sc.get("privileged") is False, "not privileged")
        check(sc["capabilities"].get("drop") == ["ALL"], "every other capability dropped")
        need = {"BPF", "PERFMON", "NET_ADMIN", "SYS_RESOURCE", "DAC_READ_SEARCH"}
        check(need <= caps, f"capabilities {sorted(need - caps)} missing")
        if "SYS_ADMIN" in caps:
            check("allowPrivilegeEscalation" not in sc,
                  "no allowPrivilegeEscalation: false next to SYS_ADMIN (the API refuses it)")
        else:
            check(sc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation false")
    check(sc.get("readOnlyRootFilesystem") is True, "read-only root filesystem")

    # --- flowscope.ini ------------------------------------------------------------------------
    ini_text = cm["data"]["flowscope.ini"]
    ini = parse_ini(ini_text)
    ini_map = dict(ini)
    known = agent_options(binary)
    for k, _ in ini:
        check(k in known, f"flowscope.ini key {k!r} is no option of flowscope --help")
    for secretish in ("password", "secret", "token"):
        check(secretish not in ini_text.lower(), f"{secretish!r} in the ConfigMap")

    # --- grace period covers the Kafka flush ----------------------------------------------------
    flush_ms = int(ini_map.get("kafka-flush-timeout", "10000")) if "kafka-brokers" in ini_map else 0
    grace = pod.get("terminationGracePeriodSeconds", 30)
    check(grace >= math.ceil(flush_ms / 1000) + 5,
          f"terminationGracePeriodSeconds {grace} < kafka-flush-timeout {flush_ms} ms + 5 s")

    # --- metrics and probes ---------------------------------------------------------------------
    ports = {p["name"]: p for p in c.get("ports", [])}
    if case == "minimal":
        check(not ports and "livenessProbe" not in c and "readinessProbe" not in c,
              "metrics off: no port, no probes")
        check("metrics-addr" not in ini_map, "metrics off: no metrics-addr")
        check("Service" not in by_kind and "ServiceMonitor" not in by_kind,
              "metrics off: no Service/ServiceMonitor")
    else:
        check(ports.get("metrics", {}).get("containerPort") == 9464, "containerPort 9464 metrics")
        check(ini_map.get("metrics-addr", "").endswith(":9464"), "metrics-addr on :9464")
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            g = c.get(probe, {}).get("httpGet", {})
            check(g.get("path") == path and g.get("port") == "metrics",
                  f"{probe} on {path}")

    if case == "default":
        check(c["image"] == f"ghcr.io/flowscope/flowscope:{chart['appVersion']}",
              "image tag defaults to appVersion")
        r = c["resources"]
        check(r["requests"] == {"cpu": "50m", "memory": "64Mi"} and r["limits"]["memory"]
              == "256Mi", "default resources")
        check(not any(k.startswith("kafka-") for k in ini_map), "no Kafka by default")
        check(grace == 30, "default grace period 30 s")
        check(ini_map.get("log-format") == "text", "log-format text by default")
        check("SYS_ADMIN" not in caps, "no CAP_SYS_ADMIN by default")
        check("Service" not in by_kind and "ServiceMonitor" not in by_kind,
              "no ServiceMonitor by default")
    if case == "kafka":
        check(ini_map.get("kafka-buffer-bytes") == "1099511627776", "large integers printed whole")
        check(("kafka-option", "linger.ms=500000") in ini, "option numbers printed whole")
        check(("kafka-option", "security.protocol=SASL_SSL") in ini, "plain options in the INI")
        check(ini_map.get("dns-ports") == "53,5353", "dns-ports joined")
        check(grace == 35, f"grace {grace}: 30 s flush + 5 s")
        check("SYS_ADMIN" in caps, "conntrack.netns adds CAP_SYS_ADMIN for setns()")
        check(pod.get("priorityClassName") == "system-node-critical", "priorityClassName")
        for key in ("sasl.username", "sasl.password"):
            var = "FLOWSCOPE_KAFKA_" + key.upper().replace(".", "_")
            ref = env.get(var, {}).get("valueFrom", {}).get("secretKeyRef", {})
            check(ref == {"name": "kafka-credentials", "key": key},
                  f"{var} from secret kafka-credentials/{key}")
            check(f"{key}=$({var})" in c["args"], f"--kafka-option {key}=$({var}) in args")
            check(key not in ini_text, f"{key} not in the ConfigMap")
        svc = by_kind.get("Service", [None])[0]
        sm = by_kind.get("ServiceMonitor", [None])[0]
        if check(svc and sm, "Service and ServiceMonitor rendered"):
            check(sm["apiVersion"] == "monitoring.coreos.com/v1", "ServiceMonitor apiVersion")
            check(sm["metadata"]["labels"].get("release") == "prometheus",
                  "serviceMonitor.labels applied")
            check(all(svc["metadata"]["labels"].get(k) == v
                      for k, v in sm["spec"]["selector"]["matchLabels"].items()),
                  "ServiceMonitor selects the Service")
            check(all(pod_labels.get(k) == v for k, v in svc["spec"]["selector"].items()),
                  "Service selects the agent pods")
            check(sm["spec"]["endpoints"][0]["port"] == "metrics"
                  and svc["spec"]["ports"][0]["name"] == "metrics", "scrape port 'metrics'")
    if case == "minimal":
        check(ini_map.get("no-conntrack") == "true" and "conntrack-max-entries" not in ini_map,
              "conntrack off")

    # --- the agent itself accepts the file and the command line --------------------------------
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "flowscope.ini")
        with open(path, "w") as f:
            f.write(ini_text)
        os.chmod(tmp, 0o755)
        os.chmod(path, 0o644)
        dummies = {name: f"dummy-{name.lower()}" for name in env}
        rc, err = run_agent(binary, c["args"], path, dummies)
        check(rc == 1 and "see --help" not in err,
              f"agent rejected the rendered configuration (exit {rc}, 1 expected): {err.strip()}")

    for f in failures:
        print(f"FAIL [{case}] {f}")
    print(f"[{case}] {'FAILED' if failures else 'ok'}: {len(docs)} objects checked")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
