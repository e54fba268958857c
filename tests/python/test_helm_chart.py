"""Offline checks of the Helm chart in deploy/helm/gouji.

helm lint (helm-python-sdk, Helm v4) -> render with several value sets -> write each render to a file ->
`kubernetes-validate --strict -k 1.32.0`, plus structural assertions on the rendered manifests.
Needs no cluster and no cargo build.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from gouji_support import REPO_ROOT, find_tool

helm = pytest.importorskip("helm_python", reason="helm-python-sdk not installed (pip install -r tests/python/requirements.txt)")

pytestmark = pytest.mark.helm

CHART = REPO_ROOT / "deploy" / "helm" / "gouji"
KUBE_VERSION = "1.32.0"
RELEASE = "gouji"
NAMESPACE = "budget"
METRICS_PORT = 9090
HEALTH_PORT = 8086
COMPONENTS = {
    "validation": ("gouji.validation.v1.ValidationService", 50051),
    "ingestion": ("gouji.ingestion.v1.IngestionService", 50052),
    "aggregation": ("gouji.aggregation.v1.AggregationService", 50053),
}


def production_values() -> dict:
    return helm.values_from_yaml((CHART / "values-production.yaml").read_text(encoding="utf-8"))


# name -> values passed on top of the chart's values.yaml
VALUE_SETS = {
    "default": lambda: {},
    "production": production_values,
    "overrides": lambda: {
        "otel": {"endpoint": "http://otel-collector.observability.svc:4317"},
        "image": {"repository": "registry.example/gouji", "tag": "1.2.3"},
        "aggregation": {"image": {"repository": "registry.example/gouji-aggregation"}},
        "podDisruptionBudget": {"enabled": True, "maxUnavailable": 1},
        "serviceAccount": {"create": False, "name": "budget-sa"},
    },
}


def render(values: dict) -> dict[str, str]:
    with helm.Chart.load(str(CHART)) as chart:
        return chart.render(values, name=RELEASE, namespace=NAMESPACE)


def manifests(rendered: dict[str, str]) -> list[dict]:
    docs = []
    for path, text in sorted(rendered.items()):
        if path.endswith(".yaml"):
            docs.extend(d for d in yaml.safe_load_all(text) if d)
    return docs


def of_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def container(deployment: dict) -> dict:
    (c,) = deployment["spec"]["template"]["spec"]["containers"]
    return c


def flag(args: list[str], name: str) -> str:
    """Value of `--name VALUE` (or `--name=VALUE`) in a container's args."""
    for i, arg in enumerate(args):
        if arg == name:
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    raise AssertionError(f"{name} not in args {args}")


@pytest.fixture(scope="module", params=sorted(VALUE_SETS))
def rendered(request) -> tuple[str, dict[str, str]]:
    return request.param, render(VALUE_SETS[request.param]())


@pytest.fixture(scope="module")
def default_docs() -> list[dict]:
    return manifests(render({}))


@pytest.fixture(scope="module")
def production_docs() -> list[dict]:
    return manifests(render(production_values()))


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_lint_has_no_errors_or_warnings(value_set):
    result = helm.lint(str(CHART), VALUE_SETS[value_set](), kube_version=f"v{KUBE_VERSION}")
    assert not result["errors"], result
    problems = [m for m in result["messages"] if m["severity"] >= 2]
    assert not problems, problems


def test_render_passes_strict_kubernetes_schema(rendered, tmp_path):
    name, files = rendered
    validator = find_tool("kubernetes-validate")
    if validator is None:
        pytest.skip("kubernetes-validate not installed (pip install -r tests/python/requirements.txt)")
    out = tmp_path / f"{name}.yaml"
    out.write_text(
        "\n---\n".join(text for path, text in sorted(files.items()) if path.endswith(".yaml")),
        encoding="utf-8",
    )
    proc = subprocess.run(
        [validator, "--strict", "-k", KUBE_VERSION, str(out)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, f"{name}: kubernetes-validate failed\n{proc.stdout}\n{proc.stderr}"
    assert "passed for resource deployment/" in proc.stdout + proc.stderr


def test_renders_three_deployments_and_services(rendered):
    name, files = rendered
    docs = manifests(files)
    deployments, services = of_kind(docs, "Deployment"), of_kind(docs, "Service")
    assert set(deployments) == {f"gouji-{c}" for c in COMPONENTS}, name
    assert set(services) == set(deployments), name
    for component, (_, port) in COMPONENTS.items():
        c = container(deployments[f"gouji-{component}"])
        assert c["command"] == [f"gouji-{component}"]
        assert flag(c["args"], "--listen") == f"0.0.0.0:{port}"
        assert c["ports"] == [
            {"name": "grpc", "containerPort": port, "protocol": "TCP"},
            {"name": "health", "containerPort": HEALTH_PORT, "protocol": "TCP"},
            {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"},
        ]
        assert flag(c["args"], "--health-listen") == f"0.0.0.0:{HEALTH_PORT}"
        assert flag(c["args"], "--metrics-listen") == f"0.0.0.0:{METRICS_PORT}"
        svc_ports = {p["name"]: p for p in services[f"gouji-{component}"]["spec"]["ports"]}
        assert set(svc_ports) == {"grpc", "metrics"}
        svc_port = svc_ports["grpc"]
        assert svc_port["name"] == "grpc" and svc_port["targetPort"] == "grpc" and svc_port["port"] == port
        assert svc_ports["metrics"]["targetPort"] == "metrics"
        assert services[f"gouji-{component}"]["spec"]["selector"] == (
            deployments[f"gouji-{component}"]["spec"]["selector"]["matchLabels"]
        )


def test_probes_are_grpc_health_checks(rendered):
    _, files = rendered
    for name, deployment in of_kind(manifests(files), "Deployment").items():
        component = name.removeprefix("gouji-")
        grpc_service, port = COMPONENTS[component]
        c = container(deployment)
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert set(c[probe]) & {"httpGet", "tcpSocket", "exec"} == set(), (name, probe)
            # Kubelet gRPC probes cannot speak TLS: they use the plaintext health-only port.
            assert c[probe]["grpc"]["port"] == HEALTH_PORT, (name, probe)
        assert c["readinessProbe"]["grpc"]["service"] == grpc_service
        assert c["startupProbe"]["grpc"]["service"] == grpc_service
        # Ingestion's liveness follows its store probe; the others' the server's overall health.
        assert c["livenessProbe"]["grpc"]["service"] == ("liveness" if component == "ingestion" else "")


def test_pods_are_locked_down(rendered):
    _, files = rendered
    for name, deployment in of_kind(manifests(files), "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        sc = container(deployment)["securityContext"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert sc["runAsNonRoot"] is True and sc["readOnlyRootFilesystem"] is True, name
        assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"]["drop"] == ["ALL"], name
        assert pod["automountServiceAccountToken"] is False, name
        mounts = {m["mountPath"] for m in container(deployment)["volumeMounts"]}
        assert "/tmp" in mounts, name


def test_services_are_wired_by_cluster_dns(default_docs):
    deployments = of_kind(default_docs, "Deployment")
    url = {c: f"https://gouji-{c}.{NAMESPACE}.svc:{port}" for c, (_, port) in COMPONENTS.items()}
    ingestion = container(deployments["gouji-ingestion"])["args"]
    aggregation = container(deployments["gouji-aggregation"])["args"]
    assert flag(ingestion, "--validation-url") == url["validation"]
    assert flag(aggregation, "--validation-url") == url["validation"]
    assert flag(aggregation, "--ingestion-url") == url["ingestion"]
    assert "--validation-url" not in container(deployments["gouji-validation"])["args"]


def database_env(docs: list[dict]) -> dict:
    """The Secret reference the database URL comes from (mounted file by default, or env)."""
    deployment = of_kind(docs, "Deployment")["gouji-ingestion"]
    c = container(deployment)
    assert not any(a.startswith("--database-url") for a in c["args"]), c["args"]
    env = {e["name"]: e for e in c["env"]}
    if "GOUJI_DATABASE_URL_FILE" in env:
        path = env["GOUJI_DATABASE_URL_FILE"]["value"]
        (mount,) = [m for m in c["volumeMounts"] if path.startswith(m["mountPath"] + "/")]
        assert mount["readOnly"] is True
        (volume,) = [v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"]]
        (item,) = volume["secret"]["items"]
        assert path == f"{mount['mountPath']}/{item['path']}"
        assert volume["secret"]["defaultMode"] == 0o440
        return {"name": volume["secret"]["secretName"], "key": item["key"]}
    db = env["GOUJI_DATABASE_URL"]
    assert "value" not in db, "the database URL must not be inlined in the pod spec"
    return db["valueFrom"]["secretKeyRef"]


def test_ingestion_database_url_from_chart_secret(default_docs):
    ref = database_env(default_docs)
    secrets = of_kind(default_docs, "Secret")
    assert ref["name"] in secrets
    assert secrets[ref["name"]]["stringData"][ref["key"]].startswith("sqlite:")
    pod = of_kind(default_docs, "Deployment")["gouji-ingestion"]["spec"]["template"]
    assert "checksum/database" in pod["metadata"]["annotations"]
    for name in ("gouji-validation", "gouji-aggregation"):
        env = container(of_kind(default_docs, "Deployment")[name])["env"]
        assert all(e["name"] != "GOUJI_DATABASE_URL" for e in env), name


def test_production_uses_existing_postgres_secret(production_docs):
    ref = database_env(production_docs)
    values = production_values()
    assert ref == {"name": values["database"]["existingSecret"], "key": values["database"]["secretKey"]}
    assert of_kind(production_docs, "Secret") == {}, "no chart-made Secret with an existing one"


def test_production_has_two_replicas_and_pdbs(production_docs):
    deployments = of_kind(production_docs, "Deployment")
    pdbs = of_kind(production_docs, "PodDisruptionBudget")
    assert set(pdbs) == set(deployments)
    for name, deployment in deployments.items():
        assert deployment["spec"]["replicas"] == 2, name
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        selector = pdbs[name]["spec"]["selector"]["matchLabels"]
        assert selector.items() <= labels.items(), name
        assert pdbs[name]["spec"]["minAvailable"] == 1
        spread = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
        assert spread[0]["labelSelector"]["matchLabels"] == selector


def test_defaults_have_no_pdb_and_no_otel(default_docs):
    assert of_kind(default_docs, "PodDisruptionBudget") == {}
    for name, deployment in of_kind(default_docs, "Deployment").items():
        env = {e["name"] for e in container(deployment)["env"]}
        assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in env, name
        assert deployment["spec"]["replicas"] == 1
        assert container(deployment)["image"] == "gouji/gouji:0.1.0"


def test_overrides_reach_every_service():
    docs = manifests(render(VALUE_SETS["overrides"]()))
    deployments = of_kind(docs, "Deployment")
    for name, deployment in deployments.items():
        c = container(deployment)
        env = {e["name"]: e.get("value") for e in c["env"]}
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector.observability.svc:4317", name
        assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "budget-sa"
    assert container(deployments["gouji-validation"])["image"] == "registry.example/gouji:1.2.3"
    assert container(deployments["gouji-aggregation"])["image"] == "registry.example/gouji-aggregation:1.2.3"
    assert all(p["spec"].get("maxUnavailable") == 1 for p in of_kind(docs, "PodDisruptionBudget").values())
    assert of_kind(docs, "ServiceAccount") == {}


def test_cpu_workers_reach_only_the_service_they_are_set_for():
    docs = manifests(render({"validation": {"cpuWorkers": 3}}))
    env = {
        name: {e["name"]: e.get("value") for e in container(d)["env"]}
        for name, d in of_kind(docs, "Deployment").items()
    }
    assert env["gouji-validation"]["GOUJI_CPU_WORKERS"] == "3"
    # The others keep the default the memory limits are computed for.
    assert env["gouji-ingestion"]["GOUJI_CPU_WORKERS"] == "2"
    assert env["gouji-aggregation"]["GOUJI_CPU_WORKERS"] == "2"


def test_render_fails_without_any_database():
    with pytest.raises(helm.HelmError, match="database.url"):
        render({"database": {"url": "", "existingSecret": ""}})


def test_notes_render():
    notes = render({})["gouji/templates/NOTES.txt"]
    assert f"gouji-validation.{NAMESPACE}.svc:50051" in notes
    assert "grpcurl -cacert" in notes and "-plaintext" not in notes
    assert "SQLite" in notes
    assert "SQLite" not in render(production_values())["gouji/templates/NOTES.txt"]


# ---- issue 12: limits, NetworkPolicy, secrets, liveness, metrics and the dashboard ------------------------------

# Memory limits (MiB) below which maximal requests can get a service OOM-killed: measured peak RSS on 16 MiB
# documents times the CPU workers, the other calls in flight and the admission queue, plus headroom (arithmetic in
# deploy/helm/gouji/README.md, "Memory limits", measured 2026-12-02 after the caps and again after the CPU pool).
MIN_MEMORY_MI = {"validation": 889, "ingestion": 1340, "aggregation": 808}
# The calls in flight the limits are computed for (validation and ingestion).
MAX_IN_FLIGHT = "16"


def mebibytes(quantity: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return float(quantity[: -len(suffix)]) * factor
    return float(quantity) / (1 << 20)


def test_memory_limits_hold_the_worst_case(rendered):
    name, files = rendered
    for dname, deployment in of_kind(manifests(files), "Deployment").items():
        component = dname.removeprefix("gouji-")
        c = container(deployment)
        limit = mebibytes(c["resources"]["limits"]["memory"])
        assert limit >= MIN_MEMORY_MI[component], (name, dname, limit)
        assert mebibytes(c["resources"]["requests"]["memory"]) <= limit, (name, dname)
        env = {e["name"]: e.get("value") for e in c["env"]}
        # The limits are sized for a fixed number of CPU workers: it must be pinned, not "the node's cores".
        assert env.get("GOUJI_CPU_WORKERS") == "2", (name, dname, env)
        if component in ("validation", "ingestion"):
            # ... and so is the number of calls in flight, each holding up to a maximal request.
            assert env.get("GOUJI_MAX_IN_FLIGHT") == MAX_IN_FLIGHT, (name, dname, env)


def test_no_secret_reaches_the_command_line(rendered):
    name, files = rendered
    docs = manifests(files)
    secret_values = [v for s in of_kind(docs, "Secret").values() for v in s.get("stringData", {}).values()]
    for dname, deployment in of_kind(docs, "Deployment").items():
        c = container(deployment)
        words = c.get("command", []) + c["args"]
        for word in words:
            assert "$(" not in word, (name, dname, word)
            assert "://" not in word or word.startswith("https://gouji-"), (name, dname, word)
            assert all(v not in word for v in secret_values), (name, dname)
        for e in c["env"]:
            assert all(v != e.get("value") for v in secret_values), (name, dname, e["name"])


def test_database_url_can_come_from_env_instead_of_a_file():
    docs = manifests(render({"database": {"urlFrom": "env"}}))
    ref = database_env(docs)
    assert ref["name"] in of_kind(docs, "Secret")
    c = container(of_kind(docs, "Deployment")["gouji-ingestion"])
    assert "GOUJI_DATABASE_URL_FILE" not in {e["name"] for e in c["env"]}
    with pytest.raises(helm.HelmError, match="urlFrom"):
        render({"database": {"urlFrom": "args"}})


def selector_of(component: str) -> dict:
    return {
        "app.kubernetes.io/name": "gouji",
        "app.kubernetes.io/instance": RELEASE,
        "app.kubernetes.io/component": component,
    }


def rule_ports(rule: dict) -> set:
    return {(p["port"], p.get("protocol", "TCP")) for p in rule["ports"]}


def test_network_policies_allow_only_the_call_graph(rendered):
    name, files = rendered
    docs = manifests(files)
    policies = of_kind(docs, "NetworkPolicy")
    assert set(policies) == {f"gouji-{c}" for c in COMPONENTS}, name
    callers = {"validation": {"ingestion", "aggregation"}, "ingestion": {"aggregation"}, "aggregation": set()}
    callees = {"validation": set(), "ingestion": {"validation"}, "aggregation": {"ingestion", "validation"}}
    exposed = {"ingestion", "aggregation"}
    for component in COMPONENTS:
        spec = policies[f"gouji-{component}"]["spec"]
        assert spec["podSelector"]["matchLabels"] == selector_of(component)
        assert spec["policyTypes"] == ["Ingress", "Egress"]
        grpc_rules = [r for r in spec["ingress"] if rule_ports(r) == {("grpc", "TCP")}]
        metrics_rules = [r for r in spec["ingress"] if rule_ports(r) == {("metrics", "TCP")}]
        assert len(grpc_rules) + len(metrics_rules) == len(spec["ingress"]), (name, component)
        peers = [p for r in grpc_rules for p in r["from"]]
        pod_callers = {p["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for p in peers if "podSelector" in p and "namespaceSelector" not in p}
        assert pod_callers == callers[component], (name, component)
        for p in peers:
            if "podSelector" in p and "namespaceSelector" not in p:
                assert p["podSelector"]["matchLabels"] == selector_of(p["podSelector"]["matchLabels"]["app.kubernetes.io/component"])
        ingress_peers = [p for p in peers if "namespaceSelector" in p]
        if component in exposed:
            assert ingress_peers == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}]
        else:
            assert ingress_peers == [], (name, component, "validation is internal")
        (metrics_rule,) = metrics_rules
        (scraper,) = metrics_rule["from"]
        assert scraper["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
        egress = spec["egress"]
        dns = [r for r in egress if rule_ports(r) == {(53, "UDP"), (53, "TCP")}]
        assert len(dns) == 1, (name, component)
        called = set()
        for r in egress:
            for peer in r.get("to", []):
                labels = peer.get("podSelector", {}).get("matchLabels", {})
                if labels.get("app.kubernetes.io/instance") == RELEASE:
                    callee = labels["app.kubernetes.io/component"]
                    called.add(callee)
                    assert rule_ports(r) == {(COMPONENTS[callee][1], "TCP")}
        assert called == callees[component], (name, component)
        db_rules = [r for r in egress if rule_ports(r) == {(5432, "TCP")}]
        assert len(db_rules) == (1 if component == "ingestion" else 0), (name, component)


def test_network_policy_follows_its_values():
    docs = manifests(
        render(
            {
                "otel": {"endpoint": "http://otel-collector.observability.svc:4317"},
                "networkPolicy": {
                    "exposed": ["validation"],
                    "ingressFrom": [{"namespaceSelector": {"matchLabels": {"team": "edge"}}}],
                    "database": {"to": [{"ipBlock": {"cidr": "10.20.0.5/32"}}], "port": 6432},
                    "monitoring": {"podSelector": {"matchLabels": {"app": "prometheus"}}},
                },
            }
        )
    )
    policies = of_kind(docs, "NetworkPolicy")
    validation_peers = [p for r in policies["gouji-validation"]["spec"]["ingress"] for p in r["from"]]
    assert {"namespaceSelector": {"matchLabels": {"team": "edge"}}} in validation_peers
    ingestion = policies["gouji-ingestion"]["spec"]
    (db,) = [r for r in ingestion["egress"] if rule_ports(r) == {(6432, "TCP")}]
    assert db["to"] == [{"ipBlock": {"cidr": "10.20.0.5/32"}}]
    for policy in policies.values():
        assert any(rule_ports(r) == {(4317, "TCP")} for r in policy["spec"]["egress"]), "OTLP egress"
        (metrics,) = [r for r in policy["spec"]["ingress"] if rule_ports(r) == {("metrics", "TCP")}]
        assert metrics["from"][0]["podSelector"] == {"matchLabels": {"app": "prometheus"}}
    assert of_kind(manifests(render({"networkPolicy": {"enabled": False}})), "NetworkPolicy") == {}


def test_metrics_can_be_turned_off():
    docs = manifests(render({"metrics": {"enabled": False}}))
    for dname, deployment in of_kind(docs, "Deployment").items():
        c = container(deployment)
        assert "--metrics-listen" not in c["args"], dname
        assert [p["name"] for p in c["ports"]] == ["grpc", "health"], dname
        annotations = deployment["spec"]["template"]["metadata"].get("annotations", {})
        assert "prometheus.io/scrape" not in annotations, dname
    for policy in of_kind(docs, "NetworkPolicy").values():
        assert all(rule_ports(r) != {("metrics", "TCP")} for r in policy["spec"]["ingress"])


def test_pods_announce_their_metrics_port(default_docs):
    for dname, deployment in of_kind(default_docs, "Deployment").items():
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true", dname
        assert annotations["prometheus.io/port"] == str(METRICS_PORT), dname
        assert annotations["prometheus.io/path"] == "/metrics", dname


def test_dashboard_configmap_holds_the_shipped_dashboards(rendered):
    name, files = rendered
    maps = {n: m for n, m in of_kind(manifests(files), "ConfigMap").items() if "dashboard" in n}
    shipped = sorted((CHART / "dashboards").glob("*.json"))
    assert shipped, "no dashboard in the chart"
    assert len(maps) == len(shipped), (name, sorted(maps))
    for cm in maps.values():
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        ((key, text),) = cm["data"].items()
        original = (CHART / "dashboards" / key).read_text(encoding="utf-8")
        dashboard = json.loads(text)
        assert dashboard == json.loads(original)
        assert dashboard["uid"] and dashboard["panels"]
        exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
        assert exprs and all("gouji_" in e for e in exprs), "every panel queries a Gouji metric"


def test_dashboards_can_be_turned_off_or_moved():
    docs = manifests(render({"dashboards": {"enabled": False}}))
    assert not [n for n in of_kind(docs, "ConfigMap") if "dashboard" in n]
    docs = manifests(render({"dashboards": {"namespace": "grafana", "label": "grafana_dashboard", "labelValue": "gouji"}}))
    (cm,) = [m for n, m in of_kind(docs, "ConfigMap").items() if "dashboard" in n]
    assert cm["metadata"]["namespace"] == "grafana"
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "gouji"


# ---- issue 14: TLS, tokens and development mode --------------------------------------------------------------


def test_tls_and_token_key_are_mounted_from_secrets(rendered):
    name, files = rendered
    docs = manifests(files)
    for dname, deployment in of_kind(docs, "Deployment").items():
        c = container(deployment)
        env = {e["name"]: e.get("value") for e in c["env"]}
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
        for var in ("GOUJI_TLS_CERT", "GOUJI_TLS_KEY", "GOUJI_TLS_CLIENT_CA", "GOUJI_TLS_CA", "GOUJI_TOKEN_PUBLIC_KEY"):
            path = env[var]
            (mount,) = [m for p, m in mounts.items() if path.startswith(p + "/")]
            assert mount["readOnly"] is True, (name, dname, var)
            secret = volumes[mount["name"]]["secret"]
            assert secret["defaultMode"] == 0o440, (name, dname, var)
            assert path.rsplit("/", 1)[1] in {i["path"] for i in secret["items"]}, (name, dname, var)
        assert volumes["tls"]["secret"]["secretName"] == "gouji-tls"
        assert volumes["token"]["secret"]["secretName"] == "gouji-token"
        assert "--dev-insecure" not in c["args"] and "GOUJI_DEV_INSECURE" not in env
    # The chart itself holds no key material: no Secret it makes carries a certificate or key.
    for secret in of_kind(docs, "Secret").values():
        assert not any("BEGIN" in v for v in secret.get("stringData", {}).values())


def test_secret_names_follow_values():
    docs = manifests(render({"security": {"tls": {"secretName": "certs"}, "tokens": {"publicKeySecret": "jwt", "publicKeyKey": "k"}}}))
    for deployment in of_kind(docs, "Deployment").values():
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        assert volumes["tls"]["secret"]["secretName"] == "certs"
        assert volumes["token"]["secret"]["secretName"] == "jwt"
        assert volumes["token"]["secret"]["items"] == [{"key": "k", "path": "public.pem"}]


@pytest.mark.parametrize(
    "values",
    [
        {"security": {"devInsecure": True}},
        {"validation": {"extraArgs": ["--dev-insecure"]}},
        {"ingestion": {"extraArgs": ["--dev-insecure=true"]}},
        {"aggregation": {"extraEnv": [{"name": "GOUJI_DEV_INSECURE", "value": "1"}]}},
    ],
    ids=["value", "extra-arg", "extra-arg-equals", "extra-env"],
)
def test_development_mode_is_never_rendered(values):
    with pytest.raises(helm.HelmError, match="never deployed"):
        render(values)
