"""Structure of the container images: pinned bases, multi-stage, non-root, healthcheck, lean context."""

from __future__ import annotations

import re
from fnmatch import fnmatch

import pytest

from tests.helm.dockerfile import Stage, exec_form, parse
from tests.helm.support import REPO

IMAGES = {"Dockerfile": "router", "Dockerfile.local-backend": "local-backend"}
PINNED = re.compile(r"^[\w./-]+(:[\w.-]*\d+\.\d+(\.\d+)?[\w.-]*)?(@sha256:[0-9a-f]{64})?$")


def stages(name: str) -> list[Stage]:
    return parse(REPO / name)


@pytest.mark.parametrize("name", list(IMAGES))
def test_multi_stage_with_pinned_bases(name: str) -> None:
    found = stages(name)
    assert len(found) >= 2, "build and runtime stages"
    for stage in found:
        assert PINNED.match(stage.base) and (":" in stage.base or "@" in stage.base), stage.base
        assert not stage.base.endswith(":latest")
    runtime = found[-1]
    assert any(copy.startswith("--from=") for copy in runtime.all("COPY")), "runtime copies the build stage's output"


@pytest.mark.parametrize("name", list(IMAGES))
def test_bases_pinned_by_digest(name: str) -> None:
    for stage in stages(name):
        assert re.search(r":\d+\.\d+\.\d+[\w.-]*@sha256:[0-9a-f]{64}$", stage.base), stage.base


@pytest.mark.parametrize("name", list(IMAGES))
def test_runtime_is_non_root_with_healthcheck(name: str) -> None:
    runtime = stages(name)[-1]
    users = runtime.all("USER")
    assert users, "no USER: the image would run as root"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"} and int(user) >= 1000
    (healthcheck,) = runtime.all("HEALTHCHECK")
    assert "CMD" in healthcheck and "--interval" in healthcheck


def test_router_image() -> None:
    found = stages("Dockerfile")
    assert all(re.match(r"python:3\.11\.\d+-slim", s.base) for s in found)
    installs = " ".join(run for s in found for run in s.all("RUN"))
    assert re.search(r"pip install \.(\s|$)", installs), "router installs `pip install .`"
    assert "[local]" not in installs and "torch" not in installs
    runtime = found[-1]
    assert exec_form(runtime.all("ENTRYPOINT")[-1]) == ["thinkroute"]
    assert exec_form(runtime.all("CMD")[-1]) == [
        "serve", "--policy", "/etc/thinkroute/policy.yaml", "--host", "0.0.0.0", "--port", "8080",
    ]  # fmt: skip
    assert "8080" in runtime.all("EXPOSE")
    assert "/healthz" in runtime.all("HEALTHCHECK")[0]


def test_local_backend_image() -> None:
    found = stages("Dockerfile.local-backend")
    assert all(re.match(r"nvidia/cuda:\d+\.\d+\.\d+-[\w-]*runtime", s.base) for s in found)
    installs = " ".join(run for s in found for run in s.all("RUN"))
    assert re.search(r"""pip install "?\.\[local\]"?""", installs)
    pinned = re.search(r"torch==(\d+\.\d+\.\d+)", installs)
    assert pinned, "torch pinned"
    tested = re.search(r"torch==(\d+\.\d+\.\d+)", (REPO / "Makefile").read_text())
    assert tested and pinned[1] == tested[1], "the image's torch is the version `make install` tests with"
    runtime = found[-1]
    assert exec_form(runtime.all("ENTRYPOINT")[-1]) == ["python", "-m", "local_backend"]
    assert exec_form(runtime.all("CMD")[-1]) == ["--host", "0.0.0.0", "--port", "8000"]
    assert "8000" in runtime.all("EXPOSE")


def _ignored(patterns: list[str], path: str) -> bool:
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        bare = pattern.lstrip("!").rstrip("/")
        if fnmatch(path, bare) or fnmatch(path, bare.removeprefix("**/")) or path.startswith(bare + "/"):
            ignored = not negate
    return ignored


def test_dockerignore_keeps_context_lean_and_copies_resolvable() -> None:
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for heavy in (".git", ".venv", "tests", "benchmarks", ".env", "secrets.env", "router/__pycache__/x.pyc"):
        assert _ignored(patterns, heavy), f"{heavy} would be sent to the Docker daemon"
    for name in IMAGES:
        for stage in stages(name):
            for copy in stage.all("COPY"):
                if copy.startswith("--from="):
                    continue
                *sources, _dest = [w for w in copy.split() if not w.startswith("--")]
                for source in sources:
                    assert (REPO / source).exists(), f"{name}: COPY {source} does not exist"
                    assert not _ignored(patterns, source.rstrip("/")), f"{name}: COPY {source} is in .dockerignore"


def test_helm_readme_says_how_to_build() -> None:
    readme = (REPO / "helm" / "README.md").read_text()
    assert "docker build -t" in readme and "-f Dockerfile.local-backend" in readme
    assert "helm install" in readme
