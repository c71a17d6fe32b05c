"""Operations files: alert rules, the Grafana dashboard and the Kubernetes manifests.

Real tools check them: ``promtool`` (built from the Go module proxy, ``ops/prometheus/promtool.sh``)
checks and unit-tests the rules and parses every dashboard query; ``kustomize`` (also built from
the Go module proxy, ``ops/k8s/kustomize.sh``) renders ``ops/k8s`` and ``kubernetes-validate``
(from PyPI, with the Kubernetes JSON schemas inside it) validates the result strictly.  On top,
every metric name they use must be one that ``jackpot.metrics``/``jackpot.sinks.metrics`` define.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest
import yaml

from jackpot.settings import REPO_ROOT, Settings

OPS = REPO_ROOT / "ops"
RULES = OPS / "prometheus" / "alerts.yaml"
RULE_TESTS = OPS / "prometheus" / "alerts.test.yaml"
DASHBOARD = OPS / "grafana" / "jackpot-dashboard.json"
K8S = OPS / "k8s"
NAME = re.compile(r"\b((?:jackpot|process)_[a-z0-9_]+)\b")
# Settings that only the local stack or a developer's machine use: not set in a cluster.
LOCAL_ONLY = {"JACKPOT_STACK_DIR", "JACKPOT_CACHE_DIR", "JACKPOT_KAFKA_VERSION", "JACKPOT_STACK",
              "JACKPOT_REGISTRY_PORT", "JACKPOT_WALLET_PORT", "JACKPOT_STACK_KAFKA_SECURITY",
              "JACKPOT_CAMPAIGN_RECEIVER_PORT"}
# The process kinds: (kind, name) of their workload and the Kafka principal they log in as.
PROCESSES = {("StatefulSet", "jackpot-worker"): "worker", ("Deployment", "jackpot-gateway"): "gateway",
             ("Deployment", "jackpot-admin"): "admin", ("Deployment", "jackpot-sinks"): "sinks",
             ("Deployment", "jackpot-campaigns"): "campaigns"}
CREDENTIALS = {"DATABASE_URL", "REDIS_URL", "JACKPOT_AUDIT_KEY", "JACKPOT_KAFKA_USERNAME", "JACKPOT_KAFKA_PASSWORD",
               "JACKPOT_STATE_KEY", "JACKPOT_STATE_OLD_KEYS", "JACKPOT_CAMPAIGN_SECRET"}
# Secrets a process kind must not hold (README "Security"): the public gateway reads, nothing more.
NOT_FOR = {"JACKPOT_AUDIT_KEY": {"worker", "gateway", "campaigns"},
           "JACKPOT_STATE_KEY": {"sinks", "admin", "gateway", "campaigns"},
           "JACKPOT_STATE_OLD_KEYS": {"sinks", "admin", "gateway", "campaigns"},
           "JACKPOT_PLAYER_TOKEN_SECRET": {"worker", "sinks", "admin", "campaigns"},
           "JACKPOT_CAMPAIGN_SECRET": {"worker", "sinks", "admin", "gateway"},
           # campaigns reach neither: the bus and their receivers only
           "DATABASE_URL": {"campaigns"}, "REDIS_URL": {"campaigns"}}


@lru_cache(maxsize=1)
def exposed_names() -> frozenset[str]:
    """Every sample name the shared metrics can expose (label sets not created yet included)."""
    import jackpot.metrics  # noqa: F401  (registers the metrics)
    from prometheus_client import REGISTRY

    suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum", "_created"),
                "gauge": ("",), "info": ("_info",), "summary": ("", "_count", "_sum", "_created")}
    out = set()
    for fam in REGISTRY.collect():
        out.update(fam.name + s for s in suffixes.get(fam.type, ("",)))
    return frozenset(out)


def metric_names(expr: str) -> set[str]:
    """Metric names of a PromQL expression (label matchers and grouping labels left out)."""
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    return set(NAME.findall(expr))


@lru_cache(maxsize=1)
def tool(script: str) -> str:
    res = subprocess.run([str(OPS / script)], capture_output=True, text=True, timeout=1500)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip().splitlines()[-1]


# ------------------------------------------------------------------ alert rules
def rules() -> list[dict]:
    doc = yaml.safe_load(RULES.read_text())
    return [r for g in doc["groups"] for r in g["rules"]]


def test_alert_rules_cover_the_issue_and_use_only_defined_metrics():
    rs = rules()
    used = {name for r in rs for name in metric_names(r["expr"])}
    assert used <= exposed_names(), f"unknown metrics: {sorted(used - exposed_names())}"
    for required in ("jackpot_consumer_lag_messages", "jackpot_sink_lag_seconds", "jackpot_reconciliation_differences",
                     "jackpot_pool_at_win_max", "jackpot_wallet_calls_total"):
        assert required in used, required
    for r in rs:
        assert r["labels"]["severity"] in ("page", "ticket"), r["alert"]
        assert r["annotations"]["summary"], r["alert"]
    assert len({r["alert"] for r in rs}) == len(rs)


def test_promtool_checks_the_rules_and_their_unit_tests_pass():
    promtool = tool("prometheus/promtool.sh")
    check = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    tested = subprocess.run([promtool, "test", "rules", str(RULE_TESTS)], capture_output=True, text=True,
                            cwd=RULE_TESTS.parent)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    # every alert has at least one test that expects it to fire
    doc = yaml.safe_load(RULE_TESTS.read_text())
    fired = {t["alertname"] for case in doc["tests"] for t in case["alert_rule_test"] if t["exp_alerts"]}
    missing = {r["alert"] for r in rules()} - fired
    assert not missing, f"alerts without a test that fires them: {sorted(missing)}"


# -------------------------------------------------------------------- dashboard
def dashboard_targets() -> list[tuple[str, str]]:
    doc = json.loads(DASHBOARD.read_text())
    out = []
    for p in doc["panels"]:
        for t in p.get("targets", []):
            out.append((p["title"], t["expr"]))
    return out


def test_dashboard_is_grafana_json_with_unique_panels_on_a_datasource_variable():
    doc = json.loads(DASHBOARD.read_text())
    assert doc["uid"] and doc["title"] and doc["schemaVersion"] >= 36
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids))
    variables = {v["name"]: v for v in doc["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    for p in doc["panels"]:
        if p["type"] == "row":
            continue
        assert p["datasource"]["uid"] == "${datasource}", p["title"]
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24, p["title"]
        assert p["targets"], p["title"]


def test_dashboard_shows_every_shared_metric_including_the_sink_metrics():
    used = {name for _, expr in dashboard_targets() for name in metric_names(expr)}
    assert used <= exposed_names(), f"unknown metrics: {sorted(used - exposed_names())}"
    import jackpot.metrics as M

    families = {m._name for m in vars(M).values() if hasattr(m, "_name") and hasattr(m, "_type")}
    shown = {n.removesuffix("_bucket").removesuffix("_total").removesuffix("_info") for n in used}
    assert families - shown == set(), f"metrics not on the dashboard: {sorted(families - shown)}"


def test_promtool_parses_every_dashboard_query():
    promtool = tool("prometheus/promtool.sh")
    for title, expr in dashboard_targets():
        concrete = expr.replace("$__rate_interval", "5m").replace("$job", ".*")
        res = subprocess.run([promtool, "--experimental", "promql", "format", concrete],
                             capture_output=True, text=True)
        assert res.returncode == 0, f"{title}: {expr}\n{res.stderr}"


# ------------------------------------------------------------------- kubernetes
@lru_cache(maxsize=1)
def rendered() -> str:
    kustomize = tool("k8s/kustomize.sh")
    res = subprocess.run([kustomize, "build", str(K8S)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return res.stdout


def objects() -> dict[tuple[str, str], dict]:
    return {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(rendered()) if d}


def test_kubernetes_manifests_validate_strictly_against_the_schemas(tmp_path):
    out = tmp_path / "rendered.yaml"
    out.write_text(rendered())
    validator = Path(sys.executable).with_name("kubernetes-validate")
    res = subprocess.run([str(validator), "--strict", "--quiet", str(out), str(K8S / "secret.example.yaml")],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_workers_are_a_statefulset_with_a_volume_per_pod_and_probes():
    objs = objects()
    sts = objs[("StatefulSet", "jackpot-worker")]
    cfg = objs[("ConfigMap", "jackpot-config")]["data"]
    assert sts["metadata"]["namespace"] == "jackpot"
    assert sts["spec"]["replicas"] <= int(cfg["JACKPOT_PARTITIONS"]), "more workers than partitions sit idle"
    [claim] = sts["spec"]["volumeClaimTemplates"]
    [c] = sts["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in c["env"]}
    # static membership under the StatefulSet's stable pod name (restarts in place: no rebalance)
    [instance] = [e for e in c["env"] if e["name"] == "JACKPOT_GROUP_INSTANCE_ID"]
    assert instance["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == env["JACKPOT_DATA_DIR"]
    assert c["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert c["livenessProbe"]["httpGet"]["path"] == "/health"
    port = {p["name"]: p["containerPort"] for p in c["ports"]}[c["readinessProbe"]["httpGet"]["port"]]
    assert str(port) == env["JACKPOT_WORKER_WEB_PORT"]
    assert objs[("Service", "jackpot-worker")]["spec"]["clusterIP"] == "None"
    pdb = objs[("PodDisruptionBudget", "jackpot-worker")]
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"].items() <= sts["spec"]["template"]["metadata"]["labels"].items()


def test_the_sinks_are_a_deployment_of_their_own_and_the_workers_leave_them_to_it():
    objs = objects()
    dep = objs[("Deployment", "jackpot-sinks")]
    [c] = dep["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e["value"] for e in c["env"]}
    assert c["args"] == ["sinks"]
    assert objs[("ConfigMap", "jackpot-config")]["data"]["JACKPOT_WORKER_SINKS"] == "false"
    port = {p["name"]: p["containerPort"] for p in c["ports"]}[c["readinessProbe"]["httpGet"]["port"]]
    assert str(port) == env["JACKPOT_SINKS_WEB_PORT"]
    assert c["livenessProbe"]["httpGet"]["path"] == "/health"
    assert objs[("PodDisruptionBudget", "jackpot-sinks")]["spec"]["minAvailable"] == 1


@pytest.mark.parametrize("name,args", [("jackpot-gateway", ["gateway"]), ("jackpot-admin", ["admin", "serve"])])
def test_gateway_and_admin_are_deployments_behind_services(name, args):
    objs = objects()
    dep = objs[("Deployment", name)]
    [c] = dep["spec"]["template"]["spec"]["containers"]
    assert c["args"] == args
    assert c["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert c["livenessProbe"]["httpGet"]["path"] == "/health"
    svc = objs[("Service", name)]
    assert svc["spec"]["selector"].items() <= dep["spec"]["template"]["metadata"]["labels"].items()
    assert svc["spec"]["ports"][0]["targetPort"] in {p["name"] for p in c["ports"]}
    assert (("PodDisruptionBudget", name)) in objs


def example_secrets() -> dict[str, dict]:
    """The example Secrets (and the CA ConfigMap) by name."""
    docs = [d for d in yaml.safe_load_all((K8S / "secret.example.yaml").read_text()) if d]
    return {d["metadata"]["name"]: d for d in docs}


def test_every_process_gets_every_production_setting():
    """ConfigMap, its own Secret (example) and per-container env together name every settings variable."""
    objs = objects()
    cfg = set(objs[("ConfigMap", "jackpot-config")]["data"])
    secrets = example_secrets()
    wanted = {(info.alias or name).upper() for name, info in Settings.model_fields.items()} - LOCAL_ONLY
    for (kind, name), principal in PROCESSES.items():
        spec = objs[(kind, name)]["spec"]["template"]["spec"]
        [c] = spec["containers"]
        refs = {r.get("configMapRef", r.get("secretRef"))["name"] for r in c["envFrom"]}
        assert refs == {"jackpot-config", f"{name}-secrets"}, name
        secret = set(secrets[f"{name}-secrets"]["stringData"])
        have = cfg | secret | {e["name"] for e in c.get("env", [])}
        unset = {w for w in wanted - have
                 if not (w.startswith("JACKPOT_GATEWAY_") and name != "jackpot-gateway")
                 and not (w.startswith("JACKPOT_ADMIN_") and name != "jackpot-admin")
                 and not (w == "JACKPOT_WORKER_WEB_PORT" and name != "jackpot-worker")
                 and not (w == "JACKPOT_GROUP_INSTANCE_ID" and name != "jackpot-worker")
                 and not (w == "JACKPOT_WORKER_WEB_HOST" and name not in ("jackpot-worker", "jackpot-sinks"))
                 and not (w == "JACKPOT_SINKS_WEB_PORT" and name != "jackpot-sinks")
                 and not (w == "JACKPOT_DATA_DIR" and name != "jackpot-worker")
                 and principal not in NOT_FOR.get(w, ())}
        assert not unset, f"{name} does not set {sorted(unset)}"
        held = {w for w in secret if principal in NOT_FOR.get(w, ())}
        assert not held, f"{name} must not hold {sorted(held)}"
    assert not (CREDENTIALS & cfg), "credentials belong in the Secrets"


def test_each_process_kind_logs_in_to_kafka_as_its_own_principal_over_tls():
    from jackpot.ops.kafka_auth import PRINCIPALS

    objs = objects()
    cfg = objs[("ConfigMap", "jackpot-config")]["data"]
    assert cfg["JACKPOT_ENV"] == "production" and cfg["JACKPOT_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert cfg["JACKPOT_KAFKA_SASL_MECHANISM"].startswith("SCRAM-")
    secrets = example_secrets()
    users = []
    for (kind, name), principal in PROCESSES.items():
        creds = secrets[f"{name}-secrets"]["stringData"]
        assert creds["JACKPOT_KAFKA_USERNAME"] == principal and principal in PRINCIPALS
        users.append(creds["JACKPOT_KAFKA_USERNAME"])
        # the CA file is in a read-only volume of the CA ConfigMap
        spec = objs[(kind, name)]["spec"]["template"]["spec"]
        [c] = spec["containers"]
        ca_volumes = {v["name"] for v in spec["volumes"] if v.get("configMap", {}).get("name") == "jackpot-kafka-ca"}
        mounts = [m for m in c["volumeMounts"] if m["name"] in ca_volumes]
        assert any(cfg["JACKPOT_KAFKA_CA_FILE"].startswith(m["mountPath"] + "/") and m.get("readOnly")
                   for m in mounts), name
    assert len(set(users)) == len(users)
    assert secrets["jackpot-kafka-ca"]["kind"] == "ConfigMap" and "ca.crt" in secrets["jackpot-kafka-ca"]["data"]


def test_the_public_gateway_holds_read_only_credentials_only():
    from urllib.parse import urlsplit

    gateway = example_secrets()["jackpot-gateway-secrets"]["stringData"]
    # the player token secret verifies players' journeys: it reads one player's aggregates, writes nothing
    assert set(gateway) == {"JACKPOT_KAFKA_USERNAME", "JACKPOT_KAFKA_PASSWORD", "DATABASE_URL", "REDIS_URL",
                            "JACKPOT_PLAYER_TOKEN_SECRET"}
    assert urlsplit(gateway["DATABASE_URL"]).username == "jackpot_gateway"
    migration = (REPO_ROOT / "sinks" / "migrations" / "0011_readonly_role.sql").read_text()
    assert "jackpot_readonly" in migration and "NOLOGIN" in migration
