"""The Helm chart, rendered offline by the real Helm engine and validated against Kubernetes schemas."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import helm_python
import kubernetes_validate
import pytest

from router.policy import parse_policy
from tests.helm.support import (
    CHART,
    EXAMPLES,
    KUBE_VERSION,
    REPO,
    WORKLOADS,
    by_kind,
    containers,
    load_values,
    objects,
    one,
    render,
    rendered_policy,
    router_container,
    router_env,
)

EVERYTHING_ON: dict[str, Any] = {
    "redis": {"enabled": True},
    "localBackend": {"enabled": True, "model": {"existingClaim": "models"}, "extraArgs": ["--model", "/models/m"]},
    "autoscaling": {"enabled": True, "customMetric": {"enabled": True}},
    "ingress": {"enabled": True, "tls": [{"hosts": ["thinkroute.example.com"], "secretName": "tls"}]},
    "metrics": {"serviceMonitor": {"enabled": True}},
    "otel": {"endpoint": "http://otel-collector:4317"},
    "adminKey": {"existingSecret": "admin"},
    "providerKeys": {"existingSecret": "providers"},
}
CASES: dict[str, dict[str, Any] | None] = {
    "defaults": None,
    "everything-on": EVERYTHING_ON,
    **{f"example-{p.stem}": load_values(p) for p in EXAMPLES},
}


@pytest.fixture(scope="module", params=list(CASES), ids=list(CASES))
def rendered(request: pytest.FixtureRequest) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    values = CASES[request.param]
    return values, objects(render(values))


def test_examples_exist() -> None:
    assert {p.stem for p in EXAMPLES} >= {"production", "trial-redis", "gpu-local-backend"}


@pytest.mark.parametrize("case", list(CASES))
def test_lint_passes_strict(case: str) -> None:
    report = helm_python.lint(CHART, CASES[case], strict=True, kube_version=f"v{KUBE_VERSION}")
    problems = [m for m in report["messages"] if m["severity"] >= 2 and "icon is recommended" not in m["error"]]
    assert report["errors"] == [] and problems == []


def test_manifests_are_valid_kubernetes(rendered: tuple[Any, list[dict[str, Any]]]) -> None:
    _, objs = rendered
    for obj in objs:
        if obj["apiVersion"].startswith("monitoring.coreos.com/"):
            continue  # CRD: checked structurally in test_service_monitor
        kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)


def test_names_are_unique_and_labelled(rendered: tuple[Any, list[dict[str, Any]]]) -> None:
    _, objs = rendered
    keys = [(o["kind"], o["metadata"]["name"]) for o in objs]
    assert len(keys) == len(set(keys))
    for obj in objs:
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "Helm" and labels["app.kubernetes.io/instance"] == "demo"
    for obj in objs:
        if obj["kind"] in WORKLOADS:
            selector = obj["spec"]["selector"]["matchLabels"]
            pod_labels = obj["spec"]["template"]["metadata"]["labels"]
            assert selector.items() <= pod_labels.items()


def test_every_container_is_non_root_read_only_with_probes(rendered: tuple[Any, list[dict[str, Any]]]) -> None:
    _, objs = rendered
    for obj in objs:
        if obj["kind"] not in WORKLOADS:
            continue
        pod = obj["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        for c in containers(obj):
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"]["drop"] == ["ALL"]
            assert c["livenessProbe"] and c["readinessProbe"], c["name"]
            assert "resources" in c
            mounts = {m["mountPath"] for m in c["volumeMounts"]}
            assert "/tmp" in mounts, f"{c['name']} has no writable /tmp"


def test_router_deployment(rendered: tuple[Any, list[dict[str, Any]]]) -> None:
    _, objs = rendered
    (router,) = [
        d for d in by_kind(objs, "Deployment") if d["metadata"]["labels"]["app.kubernetes.io/component"] == "router"
    ]
    pod = router["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert c["args"] == ["serve", "--policy", "/etc/thinkroute/policy.yaml", "--host", "0.0.0.0", "--port", "8080"]
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert c["lifecycle"]["preStop"]["exec"]["command"][0] == "sleep"
    assert pod["terminationGracePeriodSeconds"] > int(c["lifecycle"]["preStop"]["exec"]["command"][1])
    assert "podAntiAffinity" in pod["affinity"]
    assert re.fullmatch(r"[0-9a-f]{64}", router["spec"]["template"]["metadata"]["annotations"]["checksum/policy"])
    policy_volume = next(v for v in pod["volumes"] if v["name"] == "policy")
    assert policy_volume["configMap"]["name"].endswith("-policy")
    mount = next(m for m in c["volumeMounts"] if m["name"] == "policy")
    assert mount["mountPath"] == "/etc/thinkroute" and "subPath" not in mount  # subPath mounts never update
    tmp = next(v for v in pod["volumes"] if v["name"] == "tmp")
    assert "emptyDir" in tmp
    hpa = by_kind(objs, "HorizontalPodAutoscaler")
    assert ("replicas" in router["spec"]) == (not hpa)


def test_policy_configmap_equals_values_policy_and_is_valid(rendered: tuple[Any, list[dict[str, Any]]]) -> None:
    values, objs = rendered
    with helm_python.Chart.load(CHART) as chart:
        merged = chart.merge_values(values)
    if merged["policy"]:
        expected = copy.deepcopy(merged["policy"])  # a given policy, never merged with the defaults
    elif merged["localBackend"]["enabled"]:
        expected = copy.deepcopy(merged["localBackendPolicy"])
        name = f"{merged.get('fullnameOverride') or 'demo-thinkroute'}-local-backend"
        expected["backends"]["local"]["api_base"] = f"http://{name}:8000/v1"
        expected["backends"]["local"]["model"] = merged["localBackend"]["model"]["name"]
    else:
        expected = copy.deepcopy(merged["defaultPolicy"])
    if merged["otel"]["endpoint"]:
        expected["telemetry"] = {"otlp": True, "traces": True, **expected.get("telemetry", {})}
    policy = rendered_policy(objs)
    assert policy == expected
    parse_policy(policy, source="values.policy")  # the router's own strict schema accepts it


def test_local_backend_default_policy_reaches_the_in_chart_server() -> None:
    values = {"localBackend": {"enabled": True, "model": {"path": "/models/m", "name": "m", "hostPath": "/srv/models"}}}
    objs = objects(render(values))
    for obj in objs:
        kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
    backend = rendered_policy(objs)["backends"]["local"]
    service = one(objs, "Service", "demo-thinkroute-local-backend")
    assert backend["api_base"] == f"http://{service['metadata']['name']}:{service['spec']['ports'][0]['port']}/v1"
    assert backend["model"] == "m" and backend["type"] == "openai_compatible"
    (c,) = one(objs, "Deployment", "demo-thinkroute-local-backend")["spec"]["template"]["spec"]["containers"]
    assert c["args"] == ["--host", "0.0.0.0", "--port", "8000", "--model", "/models/m", "--served-model-name", "m"]
    assert c["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    pod = one(objs, "Deployment", "demo-thinkroute-local-backend")["spec"]["template"]["spec"]
    model = next(v for v in pod["volumes"] if v["name"] == "model")
    assert model["hostPath"] == {"path": "/srv/models", "type": "Directory"}
    assert {"name": "model", "mountPath": "/models", "readOnly": True} in c["volumeMounts"]


def test_given_policy_replaces_the_default_whole() -> None:
    policy = {
        "version": 1,
        "backends": {"gpu": {"type": "openai_compatible", "api_base": "http://gpu:8000/v1", "model": "m"}},
        "strategies": {"one": {"type": "single_pass", "backend": "gpu"}},
        "routes": {"chat": {"strategies": ["one"]}},
    }
    assert rendered_policy(objects(render({"policy": policy}))) == policy
    parse_policy(policy)


def test_otel_endpoint_turns_on_otlp_export() -> None:
    endpoint = {"otel": {"endpoint": "http://otel-collector:4317"}}
    assert "telemetry" not in rendered_policy(objects(render(None)))
    for values in (endpoint, {**endpoint, "localBackend": {"enabled": True}}):
        policy = parse_policy(rendered_policy(objects(render(values))))
        assert policy.telemetry.otlp and policy.telemetry.traces
    given = {
        "version": 1,
        "backends": {"gpu": {"type": "openai_compatible", "api_base": "http://gpu:8000/v1", "model": "m"}},
        "strategies": {"one": {"type": "single_pass", "backend": "gpu"}},
        "routes": {"chat": {"strategies": ["one"]}},
        "telemetry": {"traces": False, "sample_ratio": 0.1},
    }
    telemetry = rendered_policy(objects(render({**endpoint, "policy": given})))["telemetry"]
    assert telemetry == {"otlp": True, "traces": False, "sample_ratio": 0.1}  # keys the policy sets win
    opted_out = copy.deepcopy(given)
    opted_out["telemetry"] = {"otlp": False}
    assert rendered_policy(objects(render({**endpoint, "policy": opted_out})))["telemetry"]["otlp"] is False


def test_local_backend_accepts_the_chart_arguments() -> None:
    values = {
        "localBackend": {
            "enabled": True,
            "model": {"path": "/models/m", "name": "qwen"},
            "extraArgs": ["--max-batch-size", "16"],
        }
    }
    (c,) = one(objects(render(values)), "Deployment", "demo-thinkroute-local-backend")["spec"]["template"]["spec"][
        "containers"
    ]
    assert c["command"] == ["python", "-m", "local_backend"]
    # --help must neither load a model nor need a GPU, and must list every flag the chart passes.
    done = subprocess.run(
        [sys.executable, "-m", "local_backend", "--help"], capture_output=True, text=True, timeout=120, cwd=REPO
    )
    assert done.returncode == 0, done.stderr
    for flag in (a for a in c["args"] if a.startswith("--")):
        assert flag in done.stdout, flag
    from local_backend.__main__ import parse_args, settings_from

    settings = settings_from(parse_args(c["args"]))
    assert settings.model == "/models/m" and settings.max_batch_size == 16
    assert settings.served_model_names == ("qwen",)  # /v1/models lists the name the router's policy sends
    assert rendered_policy(objects(render(values)))["backends"]["local"]["model"] == "qwen"


def test_policy_change_rolls_pods() -> None:
    def checksum(values: dict[str, Any] | None) -> str:
        deployment = one(objects(render(values)), "Deployment", "demo-thinkroute")
        return str(deployment["spec"]["template"]["metadata"]["annotations"]["checksum/policy"])

    with helm_python.Chart.load(CHART) as chart:
        policy = copy.deepcopy(chart.values["defaultPolicy"])
    policy["strategies"]["fast"]["max_tokens"] = 512
    assert checksum(None) == checksum(None)
    assert checksum({"policy": policy}) != checksum(None)


def test_gpu_limits_only_with_local_backend(rendered: tuple[Any, list[dict[str, Any]]]) -> None:
    values, objs = rendered
    enabled = bool((values or {}).get("localBackend", {}).get("enabled"))
    gpu_containers = [
        (obj["metadata"]["name"], c)
        for obj in objs
        if obj["kind"] in WORKLOADS
        for c in containers(obj)
        if "nvidia.com/gpu" in c.get("resources", {}).get("limits", {})
    ]
    if not enabled:
        assert gpu_containers == []
        assert not [o for o in objs if "local-backend" in o["metadata"]["name"]]
        return
    fullname = (values or {}).get("fullnameOverride") or "demo-thinkroute"
    assert [name for name, _ in gpu_containers] == [f"{fullname}-local-backend"]
    name, c = gpu_containers[0]
    assert c["resources"]["limits"]["nvidia.com/gpu"] >= 1
    assert c["command"] == ["python", "-m", "local_backend"]
    assert c["args"][:4] == ["--host", "0.0.0.0", "--port", "8000"]
    deployment = one(objs, "Deployment", name)
    pod = deployment["spec"]["template"]["spec"]
    assert any(t.get("key") == "nvidia.com/gpu" for t in pod["tolerations"])
    model = next(v for v in pod["volumes"] if v["name"] == "model")
    assert model["persistentVolumeClaim"]["readOnly"] is True
    service = one(objs, "Service", name)
    assert service["spec"]["ports"][0]["port"] == 8000


def test_no_secret_values_in_output() -> None:
    values = copy.deepcopy(EVERYTHING_ON)
    values["redis"] = {"existingSecret": "redis-creds", "existingSecretKey": "url"}
    text = "\n".join(render(values).values())
    objs = objects(render(values))
    assert by_kind(objs, "Secret") == []
    assert not re.search(r"sk-[A-Za-z0-9]{8,}|password|BEGIN [A-Z ]*PRIVATE KEY", text, re.IGNORECASE)
    env = router_env(objs)
    assert env["THINKROUTE_ADMIN_KEY"]["secretKeyRef"] == {"name": "admin", "key": "admin-key"}
    assert env["THINKROUTE_REDIS_URL"]["secretKeyRef"] == {"name": "redis-creds", "key": "url"}
    assert router_container(objs)["envFrom"] == [{"secretRef": {"name": "providers"}}]
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4317"
    assert env["OTEL_SERVICE_NAME"] == "thinkroute"


def test_redis_wiring() -> None:
    in_chart = objects(render({"redis": {"enabled": True}}))
    sts = one(in_chart, "StatefulSet", "demo-thinkroute-redis")
    image = sts["spec"]["template"]["spec"]["containers"][0]["image"]
    assert re.fullmatch(r"[\w./-]+:\d+\.\d+\.\d+[\w.-]*", image), image  # pinned, not latest
    assert router_env(in_chart)["THINKROUTE_REDIS_URL"] == "redis://demo-thinkroute-redis:6379/0"
    external = objects(render({"redis": {"url": "redis://redis.shared:6379/2", "enabled": True}}))
    assert by_kind(external, "StatefulSet") == []
    assert router_env(external)["THINKROUTE_REDIS_URL"] == "redis://redis.shared:6379/2"
    assert "THINKROUTE_REDIS_URL" not in router_env(objects(render(None)))


def test_service_monitor_and_dashboard() -> None:
    objs = objects(render({"metrics": {"serviceMonitor": {"enabled": True}}}))
    (sm,) = by_kind(objs, "ServiceMonitor")
    assert sm["apiVersion"] == "monitoring.coreos.com/v1"
    assert sm["spec"]["endpoints"][0]["port"] == "http" and sm["spec"]["endpoints"][0]["path"] == "/metrics"
    service = one(objs, "Service", "demo-thinkroute")
    assert sm["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert any(p["name"] == "http" for p in service["spec"]["ports"])
    dashboard = one(objs, "ConfigMap", "demo-thinkroute-dashboard")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    shipped = json.loads((CHART / "dashboards" / "thinkroute.json").read_text())
    assert json.loads(dashboard["data"]["thinkroute.json"]) == shipped
    assert by_kind(objects(render({"dashboard": {"enabled": False}})), "ConfigMap")[0]["metadata"]["name"].endswith(
        "-policy"
    )


def test_hpa_custom_metric_and_pdb() -> None:
    objs = objects(render({"autoscaling": {"enabled": True, "customMetric": {"enabled": True}}}))
    (hpa,) = by_kind(objs, "HorizontalPodAutoscaler")
    kinds = [m["type"] for m in hpa["spec"]["metrics"]]
    assert kinds == ["Resource", "Pods"]
    assert hpa["spec"]["metrics"][1]["pods"]["metric"]["name"] == "thinkroute_requests_in_flight"
    (pdb,) = by_kind(objs, "PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == "router"
    plain = objects(render({"autoscaling": {"enabled": True}}))
    assert [m["type"] for m in by_kind(plain, "HorizontalPodAutoscaler")[0]["spec"]["metrics"]] == ["Resource"]


def test_notes_tell_how_to_call_the_service() -> None:
    notes = render(None)["thinkroute/templates/NOTES.txt"]
    assert "port-forward svc/demo-thinkroute" in notes and "/v1/chat/completions" in notes
    host = {"host": "llm.example.com", "paths": [{"path": "/", "pathType": "Prefix"}]}
    with_ingress = render({"ingress": {"enabled": True, "hosts": [host]}})
    assert "http://llm.example.com/v1/models" in with_ingress["thinkroute/templates/NOTES.txt"]
    local_only = render({"localBackend": {"enabled": True}})["thinkroute/templates/NOTES.txt"]
    assert "no model to load" in local_only and "providerKeys" not in local_only  # its policy needs no provider key
    with_model = render({"localBackend": {"enabled": True, "model": {"path": "bundled"}}})
    assert "no model to load" not in with_model["thinkroute/templates/NOTES.txt"]


@pytest.mark.parametrize(
    "bad",
    [
        {"replicaCount": "three"},
        {"replicaCuont": 3},
        {"image": {"pullPolicy": "Sometimes"}},
        {"redis": {"url": "redis://admin:hunter2@redis:6379/0"}},
        {"service": {"port": 70000}},
        {"podAntiAffinity": "maybe"},
        {"localBackend": {"gpus": 0}},
        {"localBackend": {"model": {"existingClaim": "models", "hostPath": "/srv/models"}}},
        {"policy": {"version": 1}},
        {"policy": {"version": 1, "backends": {}, "strategies": {"s": {}}, "routes": {"auto": {}}}},
    ],
    ids=lambda v: json.dumps(v),
)
def test_schema_rejects_invalid_values(bad: dict[str, Any]) -> None:
    with helm_python.Chart.load(CHART) as chart, pytest.raises(helm_python.HelmValuesError):
        chart.render(bad, name="demo", namespace="ai")


def test_schema_rejects_an_invalid_values_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("replicaCount: three\nservice:\n  port: 8080\n")
    report = helm_python.lint(CHART, load_values(bad))
    assert any("replicaCount" in e for e in report["errors"])
