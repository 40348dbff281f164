"""Two real router processes (``thinkroute serve``) sharing one Redis, 500 concurrent HTTP requests.

Three tenants call both replicas through their virtual keys; the upstream is the test's own
OpenAI-compatible server on loopback with known token counts and policy prices. Every cost a
client was told (``x-thinkroute-cost-usd``) must add up, to the micro-dollar, to the spend Redis
recorded, with no reservation left over and no tenant past its limit.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from router.budgets import BudgetService
from router.budgets.keys import hash_key
from router.policy import load_policy
from tests.router.budgets.conftest import delete_prefix
from tests.support import free_port

pytestmark = pytest.mark.redis
REPO = Path(__file__).resolve().parents[3]
TENANTS = ("red", "green", "blue")
LIMIT_USD = {"red": 0.6, "green": 1.2, "blue": 100.0}  # red and green run out, blue never does
REQUESTS = 500


def _key(tenant: str) -> str:
    return f"tr-replica-test-{tenant}"


POLICY = """\
version: 1
backends:
  upstream:
    type: openai_compatible
    api_base: {api_base}
    model: fake-model
    api_key_env: REPLICA_TEST_UPSTREAM_KEY
    price: {{input_per_mtok: 1000, output_per_mtok: 3000}}
    max_concurrency: 256
strategies:
  single: {{type: single_pass, backend: upstream, max_tokens: 12}}
routes:
  fast: {{strategies: [single], default_max_tokens: 12}}
classifier: {{enabled: false}}
telemetry: {{log_level: warning}}
budgets:
  store: redis
  redis_url: {redis_url}
  key_prefix: {prefix}
  allow_anonymous: false
  downgrade_on_budget: false
tenants:
{tenants}
"""


def _policy_text(api_base: str, redis_url: str, prefix: str) -> str:
    tenants = "\n".join(
        f"  {t}:\n    api_key_hashes: ['{hash_key(_key(t))}']\n"
        f"    limits: [{{kind: usd, window: day, limit: {LIMIT_USD[t]}}}]"
        for t in TENANTS
    )
    return POLICY.format(api_base=api_base, redis_url=redis_url, prefix=prefix, tenants=tenants)


@pytest.fixture
def replicas(tmp_path: Path, upstream_url: str, redis_url: str, prefix: str) -> Iterator[tuple[list[str], Path]]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(_policy_text(upstream_url, redis_url, prefix))
    env = {**os.environ, "PYTHONPATH": str(REPO), "REPLICA_TEST_UPSTREAM_KEY": "sk-upstream-test"}
    env.pop("THINKROUTE_REDIS_URL", None)
    env.pop("THINKROUTE_KEY_PEPPER", None)
    ports = [free_port(), free_port()]
    command = [sys.executable, "-c", "from router.cli import main; main()", "serve", "--policy", str(policy)]
    processes = [
        subprocess.Popen(
            [*command, "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for port in ports
    ]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        deadline = time.monotonic() + 120
        for url, process in zip(urls, processes, strict=True):
            while True:
                assert process.poll() is None, process.stderr.read() if process.stderr else "replica exited"
                try:
                    if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "replica did not become ready"
                time.sleep(0.2)
        yield urls, policy
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        delete_prefix(redis_url, prefix)


async def _send_all(urls: list[str]) -> list[tuple[str, int, float]]:
    """(tenant, status, cost the client was told) for every request, all in flight together."""
    async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=600)) as client:

        async def one(i: int) -> tuple[str, int, float]:
            tenant = TENANTS[i % len(TENANTS)]
            response = await client.post(
                f"{urls[i % len(urls)]}/v1/chat/completions",
                headers={"authorization": f"Bearer {_key(tenant)}"},
                json={"model": "fast", "messages": [{"role": "user", "content": f"question number {i} please"}]},
            )
            cost = float(response.headers.get("x-thinkroute-cost-usd", "0")) if response.status_code == 200 else 0.0
            return tenant, response.status_code, cost

        return await asyncio.gather(*(one(i) for i in range(REQUESTS)))


async def test_replicas_sharing_redis_charge_exactly_what_clients_were_told(
    replicas: tuple[list[str], Path], upstream: object
) -> None:
    urls, policy_file = replicas
    results = await _send_all(urls)
    statuses = {status for _, status, _ in results}
    assert statuses <= {200, 402}, statuses
    refused = {t: sum(1 for r in results if r[0] == t and r[1] == 402) for t in TENANTS}
    assert refused["red"] > 0 and refused["green"] > 0, "the small budgets must run out under this load"
    assert refused["blue"] == 0

    service = BudgetService.create(load_policy(policy_file))
    try:
        for tenant in TENANTS:
            told = sum(cost for t, status, cost in results if t == tenant and status == 200)
            view = await service.spend(tenant)
            window = next(w for w in view["windows"] if w["kind"] == "usd" and w["window"] == "day")
            assert round(window["spent"] * 1e6) == round(told * 1e6), f"{tenant}: spend equals what clients were told"
            assert window["reserved"] == 0, f"{tenant}: no reservation left behind"
            assert window["spent"] <= LIMIT_USD[tenant] + 1e-9, f"{tenant}: never past its limit"
    finally:
        await service.aclose()
