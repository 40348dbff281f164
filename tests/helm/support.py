"""Render the thinkroute chart with the real Helm engine (helm-python-sdk) and parse the manifests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "thinkroute"
EXAMPLES = sorted((REPO / "helm" / "values-examples").glob("*.yaml"))
KUBE_VERSION = "1.33.0"
RELEASE, NAMESPACE = "demo", "ai"


def load_values(path: Path) -> dict[str, Any]:
    """A values file as Helm parses it (``-f``)."""
    return helm_python.values_from_yaml(path.read_text())


def render(values: dict[str, Any] | None = None) -> dict[str, str]:
    """Template path -> rendered text, as `helm template demo -n ai` would produce."""
    with helm_python.Chart.load(CHART) as chart:
        return chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)


def objects(rendered: dict[str, str]) -> list[dict[str, Any]]:
    """Every Kubernetes object in the rendered manifests (NOTES.txt excluded)."""
    found: list[dict[str, Any]] = []
    for path, text in rendered.items():
        if path.endswith("NOTES.txt"):
            continue
        found.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return found


def by_kind(objs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objs if o["kind"] == kind]


def one(objs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} found"
    return matches[0]


def containers(obj: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Containers of a workload's pod template."""
    spec = obj["spec"]["template"]["spec"]
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job")


def router_container(objs: list[dict[str, Any]]) -> dict[str, Any]:
    """The router container of the chart's router Deployment."""
    (router,) = [
        d
        for d in objs
        if d["kind"] == "Deployment" and d["metadata"]["labels"]["app.kubernetes.io/component"] == "router"
    ]
    (container,) = router["spec"]["template"]["spec"]["containers"]
    return container


def router_env(objs: list[dict[str, Any]]) -> dict[str, Any]:
    """The router container's env entries by name (value or valueFrom)."""
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in router_container(objs)["env"]}


def rendered_policy(objs: list[dict[str, Any]]) -> Any:
    """The policy.yaml of the policy ConfigMap, parsed."""
    (cm,) = [o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith("-policy")]
    return yaml.safe_load(cm["data"]["policy.yaml"])
