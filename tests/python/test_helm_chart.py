"""Offline checks of the Helm chart in deploy/helm/gouji.

helm lint (helm-python-sdk, Helm v4) -> render with several value sets -> write each render to a file ->
`kubernetes-validate --strict -k 1.32.0`, plus structural assertions on the rendered manifests.
Needs no cluster and no cargo build.
"""

from __future__ import annotations

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
        assert c["ports"] == [{"name": "grpc", "containerPort": port, "protocol": "TCP"}]
        (svc_port,) = services[f"gouji-{component}"]["spec"]["ports"]
        assert svc_port["name"] == "grpc" and svc_port["targetPort"] == "grpc" and svc_port["port"] == port
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
            assert c[probe]["grpc"]["port"] == port, (name, probe)
        assert c["readinessProbe"]["grpc"]["service"] == grpc_service
        assert c["startupProbe"]["grpc"]["service"] == grpc_service
        assert c["livenessProbe"]["grpc"]["service"] == ""


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
    url = {c: f"http://gouji-{c}.{NAMESPACE}.svc:{port}" for c, (_, port) in COMPONENTS.items()}
    ingestion = container(deployments["gouji-ingestion"])["args"]
    aggregation = container(deployments["gouji-aggregation"])["args"]
    assert flag(ingestion, "--validation-url") == url["validation"]
    assert flag(aggregation, "--validation-url") == url["validation"]
    assert flag(aggregation, "--ingestion-url") == url["ingestion"]
    assert "--validation-url" not in container(deployments["gouji-validation"])["args"]


def database_env(docs: list[dict]) -> dict:
    c = container(of_kind(docs, "Deployment")["gouji-ingestion"])
    (env,) = [e for e in c["env"] if e["name"] == "GOUJI_DATABASE_URL"]
    assert flag(c["args"], "--database-url") == "$(GOUJI_DATABASE_URL)"
    assert "value" not in env, "the database URL must not be inlined in the pod spec"
    return env["valueFrom"]["secretKeyRef"]


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
    assert "GOUJI_CPU_WORKERS" not in env["gouji-ingestion"]
    assert "GOUJI_CPU_WORKERS" not in env["gouji-aggregation"]


def test_render_fails_without_any_database():
    with pytest.raises(helm.HelmError, match="database.url"):
        render({"database": {"url": "", "existingSecret": ""}})


def test_notes_render():
    notes = render({})["gouji/templates/NOTES.txt"]
    assert f"gouji-validation.{NAMESPACE}.svc:50051" in notes
    assert "grpcurl -plaintext" in notes
    assert "SQLite" in notes
    assert "SQLite" not in render(production_values())["gouji/templates/NOTES.txt"]
