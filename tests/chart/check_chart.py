#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Checks one `helm template` rendering of charts/flowscope.

usage: check_chart.py CASE RENDERED.yaml FLOWSCOPE_BIN CHART_DIR

CASE is default, kafka, minimal, tracer or badpolicy (tests/chart/<case>-values.yaml). Besides
the pod spec, the rendered flowscope.ini, the tracer policy and the container's arguments are
handed to the real agent, which must accept them: it runs unprivileged, where it validates its
whole configuration (Kafka options against librdkafka, the tracer's events and policy against
its catalogue) and then exits 1 on the missing privileges; a configuration error is exit 2,
reported before the privilege check. The rendered policy also goes through
`flowscope --policy-check`, which needs no privileges. badpolicy is a policy the schema lets
through and the agent must refuse, with its exact message.
"""
import json
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


def unprivileged(argv):
    if os.geteuid() == 0:
        return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"] + argv
    return argv


def run(argv):
    p = subprocess.run(unprivileged(argv), capture_output=True, text=True, timeout=30,
                       env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    return p.returncode, p.stdout, p.stderr


def run_agent(binary, args, ini_path, env_values):
    """Runs the container's command line against the rendered file, without privileges."""
    argv = [binary]
    for a in args:
        a = a.replace("/etc/flowscope/flowscope.ini", ini_path)
        # what the kubelet does with $(VAR) in args
        a = re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env_values[m.group(1)], a)
        argv.append(a)
    rc, _, err = run(argv)
    return rc, err


def catalogue_events(tracer_md):
    """Names of the events a policy may name: the first table of docs/tracer.md's catalogue
    (generated from policy/event_catalog.c, kept current by the policy_docs test), internal
    events left out."""
    names, in_table = [], False
    text = open(tracer_md).read()
    for line in text[text.index("<!-- catalogue:begin -->"):].splitlines():
        if line.startswith("| event | default |"):
            in_table = True
            continue
        if in_table and not line.startswith("|"):
            break
        if in_table and not line.startswith("| ---"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if not cells[2].startswith("internal:"):
                names.append(re.match(r"`([a-z0-9_]+)`", cells[0]).group(1))
    return names


def main():
    case, rendered, binary, chart_dir = sys.argv[1:5]
    docs = [d for d in yaml.safe_load_all(open(rendered)) if d]
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    chart = yaml.safe_load(open(os.path.join(chart_dir, "Chart.yaml")))

    # --- the objects a release creates -------------------------------------------------------
    with_policy = case in ("tracer", "badpolicy")
    check(len(by_kind.get("DaemonSet", [])) == 1, "exactly one DaemonSet")
    cms = {c["metadata"]["name"]: c for c in by_kind.get("ConfigMap", [])}
    check(sorted(cms) == sorted(["fs-chart-test-flowscope"]
                                + (["fs-chart-test-flowscope-policy"] if with_policy else [])),
          f"ConfigMaps {sorted(cms)}: flowscope.ini's, and the policy's only with tracer.policy")
    check("Secret" not in by_kind, "the chart renders no Secret (secrets come from existingSecret)")
    ds = by_kind["DaemonSet"][0]
    cm = cms["fs-chart-test-flowscope"]
    pod = ds["spec"]["template"]["spec"]
    pod_labels = ds["spec"]["template"]["metadata"]["labels"]
    check(all(pod_labels.get(k) == v for k, v in ds["spec"]["selector"]["matchLabels"].items()),
          "DaemonSet selector matches its pod labels")
    (c,) = pod["containers"]

    # --- node-level access ----------------------------------------------------------------------
    check(pod.get("hostNetwork") is True, "hostNetwork: true (conntrack of the node)")
    check(pod.get("dnsPolicy") == "ClusterFirstWithHostNet", "dnsPolicy ClusterFirstWithHostNet")
    # the node's process table only for the start-up walks of open sockets (tracer values)
    walk = case == "tracer"
    check(pod.get("hostPID") is walk, f"hostPID {walk}: socketOwnerWalk.nodeProcesses")
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
    for m in c["volumeMounts"]:
        v = vols.get(m["name"], {})
        check(v, f"mount {m['mountPath']}: volume {m['name']} exists")
        if "hostPath" in v or "configMap" in v:
            check(m.get("readOnly") is True, f"{m['mountPath']} (hostPath/configMap) is read-only")
        if "configMap" in v:
            check(v["configMap"]["name"] in cms,
                  f"{m['mountPath']}: ConfigMap {v['configMap']['name']} is rendered")
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
        check(("SYS_PTRACE" in caps) is walk,
              f"CAP_SYS_PTRACE {'with' if walk else 'without'} socketOwnerWalk.nodeProcesses")
        if walk:
            check("SYS_ADMIN" in caps, "socketOwnerWalk.nodeProcesses adds CAP_SYS_ADMIN")
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

    # --- identity: cgroup attribution, the kubelet's log directories ---------------------------
    want_mode, want_delay = {"kafka": ("v2", "0"), "tracer": ("v1", "300")}.get(case, ("auto", "60"))
    check(ini_map.get("cgroup-mode") == want_mode, f"cgroup-mode {want_mode}")
    check(ini_map.get("cgroup-cleanup-delay") == want_delay, f"cgroup-cleanup-delay {want_delay}")
    logs = {"minimal": None,
            "tracer": ("/srv/kubelet/pods", "/srv/kubelet/containers")}.get(
                case, ("/var/log/pods", "/var/log/containers"))
    if logs is None:
        check("pod-logs-dir" not in ini_map and "container-logs-dir" not in ini_map,
              "identity off: no log directory options")
        check(not any(m["mountPath"].startswith("/var/log") for m in c["volumeMounts"]),
              "identity off: no log directory mounts")
    else:
        for key, path in zip(("pod-logs-dir", "container-logs-dir"), logs):
            check(ini_map.get(key) == path, f"{key} = {path}")
            m = mounts.get(path)
            # at the node's own path: the container links' targets name the pod directory
            check(m and m.get("readOnly") is True
                  and vols[m["name"]].get("hostPath") == {"path": path, "type": "Directory"},
                  f"{path}: the node's directory, mounted read-only at the same path")

    # --- tracer ---------------------------------------------------------------------------------
    want_events = {"kafka": "default,tcp_close,connect", "minimal": "none"}.get(case)
    check(ini_map.get("events") == want_events, f"events = {want_events}")
    if case == "minimal":
        check(not {"policy", "events-ringbuf-bytes", "debug"} & set(ini_map),
              "tracer off: no policy, ring buffer or debug option")
    else:
        want_ring = {"kafka": "4096", "tracer": "16777216"}.get(case, "8388608")
        check(ini_map.get("events-ringbuf-bytes") == want_ring, f"events-ringbuf-bytes {want_ring}")
    check(ini_map.get("debug") == ("true" if case == "tracer" else None),
          "debug only where tracer.debug is set")
    annotations = ds["spec"]["template"]["metadata"].get("annotations", {})
    policy_text = None
    if with_policy:
        check(ini_map.get("policy") == "/etc/flowscope-policy/policy.yaml",
              "policy = /etc/flowscope-policy/policy.yaml")
        pcm = cms.get("fs-chart-test-flowscope-policy", {})
        policy_text = pcm.get("data", {}).get("policy.yaml")
        check(list(pcm.get("data", {})) == ["policy.yaml"], "policy ConfigMap holds policy.yaml")
        m = mounts.get("/etc/flowscope-policy")
        check(m and m.get("readOnly") is True
              and vols[m["name"]].get("configMap", {}).get("name") == pcm["metadata"]["name"],
              "/etc/flowscope-policy is the policy ConfigMap, read-only")
        check(re.fullmatch(r"[0-9a-f]{64}", annotations.get("checksum/policy", "")),
              "checksum/policy annotation on the pod template")
        values = yaml.safe_load(open(os.path.join(os.path.dirname(__file__),
                                                  f"{case}-values.yaml")))
        check(yaml.safe_load(policy_text) == values["tracer"]["policy"],
              "the ConfigMap's policy.yaml is tracer.policy, as YAML")
    else:
        check("policy" not in ini_map and "checksum/policy" not in annotations
              and "/etc/flowscope-policy" not in mounts, "no policy: no option, mount, checksum")
    if case == "tracer":
        for quoted in ('"123"', '"yes"'):
            check(quoted in policy_text, f"comm {quoted} stays a string (quoted)")

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
    if case == "default":
        schema = json.load(open(os.path.join(chart_dir, "values.schema.json")))
        enum = schema["definitions"]["eventName"]["enum"]
        catalogue = catalogue_events(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "..", "..", "docs", "tracer.md"))
        check(len(catalogue) > 20 and enum == catalogue,
              f"schema eventName enum {enum} is not the catalogue's events {catalogue}")
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
        os.chmod(tmp, 0o755)
        policy_path = os.path.join(tmp, "policy.yaml")
        if policy_text is not None:
            # the file where the pod has it, here
            ini_text = ini_text.replace("/etc/flowscope-policy/policy.yaml", policy_path)
            with open(policy_path, "w") as f:
                f.write(policy_text)
            os.chmod(policy_path, 0o644)
        path = os.path.join(tmp, "flowscope.ini")
        with open(path, "w") as f:
            f.write(ini_text)
        os.chmod(path, 0o644)
        dummies = {name: f"dummy-{name.lower()}" for name in env}
        rc, err = run_agent(binary, c["args"], path, dummies)
        if case == "badpolicy":
            never = ("events[1]: sched_process_exit is never rate limited (it ends a lifetime: "
                     "dropping one would leak every cache that tracks the start); remove "
                     "rate_limit")
            want = f"flowscope: error: --policy: {policy_path}:4:3: {never}\n"
            check(rc == 2 and err == want,
                  f"agent accepted a policy it must refuse: exit {rc} (2), {err!r} ({want!r})")
            rc, out, err = run([binary, "--policy-check", policy_path])
            want = f"flowscope: error: --policy-check: {policy_path}:4:3: {never}\n"
            check(rc == 2 and out == "" and err == want,
                  f"--policy-check: exit {rc} (2), {out!r}, {err!r} ({want!r})")
        else:
            # 1: past every option check, stopped by the missing capabilities
            check(rc == 1 and "missing capability CAP_BPF" in err,
                  f"agent rejected the rendered configuration (exit {rc}, 1 expected): "
                  f"{err.strip()}")
        if case == "tracer":
            rc, out, err = run([binary, "--policy-check", policy_path])
            want = (f"{policy_path}: ok: 5 events (sched_process_exec, sched_process_exit, "
                    "tcp_connect, oom_kill, openat); programs: tr_sched_process_exec, "
                    "tr_sched_process_exit, tr_sys_exit, tr_inet_sock_set_state, tr_cgroup_mkdir, "
                    "tr_mark_victim; "
                    "optional: tr_cgroup_rmdir, tr_iter_task\n")
            check(rc == 0 and out == want and err == "",
                  f"--policy-check of the rendered policy: exit {rc}, {out!r}, {err!r}; "
                  f"want 0, {want!r}")
        if case == "default":
            # every name the schema lets through is one the agent takes
            with open(policy_path, "w") as f:
                yaml.safe_dump({"events": enum}, f)
            os.chmod(policy_path, 0o644)
            rc, out, err = run([binary, "--policy-check", policy_path])
            check(rc == 0 and f": ok: {len(enum)} events (" in out,
                  f"--policy-check of every schema event: exit {rc}, {out!r}, {err!r}")

    for f in failures:
        print(f"FAIL [{case}] {f}")
    print(f"[{case}] {'FAILED' if failures else 'ok'}: {len(docs)} objects checked")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
