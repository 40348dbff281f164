"""Router overhead: what thinkroute and LiteLLM's proxy add in front of an upstream that answers at once.

One run, same machine, same fast upstream (``benchmarks/fast_upstream.py``), four paths:

- ``direct``: client → upstream
- ``lean``: client → ``thinkroute serve`` (route ``fast``: single_pass on an ``openai_compatible``
  backend, classifier and planner in the path) → upstream
- ``litellm_path``: the same through a ``litellm`` backend (``openai/fast-model``), in its own server
- ``litellm_proxy``: client → LiteLLM's proxy server (``litellm --config``, one worker, installed
  with ``litellm[proxy]`` in its own venv under ``.bench/``) → upstream

The client is one pooled ``httpx.AsyncClient`` per path sending non-streaming chat completions at
concurrency 1, 16 and 64 (warm-up first). The paths are interleaved in rounds so that other work on
the machine hits each alike. Added latency = a path's p50/p99 minus ``direct``'s at the same
concurrency; max throughput = requests/s at concurrency 64 (client, server and upstream share the
machine). Each server's CPU time per request is read from /proc, a figure that load on the machine
disturbs less than latency. Finally the LiteLLM SDK's own cost is timed in-process:
``litellm.acompletion`` against a raw pooled httpx call to the same upstream.

    .venv/bin/python benchmarks/overhead.py [--quick]

The last line printed is JSON with the headline figures.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from overhead_procs import MachineCpu, Server, free_port, process_tree_cpu_s

REPO = Path(__file__).resolve().parent.parent
PROXY_VENV = REPO / ".bench" / "litellm-proxy"
# The newest litellm whose `proxy` extra resolves from the package index this project uses
# (1.110.x pins a `litellm-proxy` wheel that is not published).
PROXY_LITELLM_VERSION = "1.108.7"
PROXY_CONFIG = Path(__file__).resolve().parent / "litellm_proxy" / "config.yaml"
UPSTREAM_KEY, MASTER_KEY = "sk-bench-upstream", "sk-bench-master"
MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]
PATHS = ("direct", "lean", "litellm_path", "litellm_proxy")
BASE_ENV = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "BENCH_UPSTREAM_KEY": UPSTREAM_KEY,
    "LITELLM_MASTER_KEY": MASTER_KEY,
}

POLICY = """\
version: 1
backends:
  upstream:
    type: {type}
    model: {model}
    api_base: {api_base}
    api_key_env: BENCH_UPSTREAM_KEY
    price: {{input_per_mtok: 0.15, output_per_mtok: 0.6}}
    max_concurrency: 256
    timeout_s: 30
strategies:
  fast: {{type: single_pass, backend: upstream, max_tokens: 16}}
routes:
  fast: {{strategies: [fast], default_max_tokens: 16}}
classifier: {{enabled: true}}
telemetry: {{log_level: warning}}
"""


@dataclass
class Target:
    """One way to reach the upstream: URL, model name, headers, and the server processes behind it."""

    name: str
    url: str
    model: str
    headers: dict[str, str] = field(default_factory=dict)
    pids: list[int] = field(default_factory=list)


@dataclass
class Sample:
    """Everything measured for one path at one concurrency."""

    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    server_cpu_s: float = 0.0

    def percentile_ms(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.wall_s if self.wall_s else 0.0

    @property
    def cpu_ms_per_request(self) -> float:
        return self.server_cpu_s / len(self.latencies) * 1000 if self.latencies else 0.0


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def ensure_proxy_venv() -> Path:
    """The ``litellm`` executable of a venv with ``litellm[proxy]``, created on first use."""
    marker = PROXY_VENV / f".installed-{PROXY_LITELLM_VERSION}"
    executable = PROXY_VENV / "bin" / "litellm"
    if not marker.exists():
        _log(f"installing litellm[proxy]=={PROXY_LITELLM_VERSION} into {PROXY_VENV.relative_to(REPO)} (first run)")
        if not (PROXY_VENV / "bin" / "python").exists():
            subprocess.run([sys.executable, "-m", "venv", str(PROXY_VENV)], check=True)
        subprocess.run([str(PROXY_VENV / "bin" / "python"), "-m", "pip", "install", "-q",
                        f"litellm[proxy]=={PROXY_LITELLM_VERSION}"], check=True)  # fmt: skip
        marker.touch()
    return executable


def start_servers(work: Path, skip: set[str]) -> tuple[list[Server], list[Target], str]:
    """Upstream, the two thinkroute servers and LiteLLM's proxy, started together, then awaited."""
    env = {**os.environ, **BASE_ENV}
    up_port = free_port()
    upstream_base = f"http://127.0.0.1:{up_port}/v1"
    env["BENCH_UPSTREAM_API_BASE"] = upstream_base
    upstream = Server("upstream", [sys.executable, str(Path(__file__).with_name("fast_upstream.py")),
                                   "--port", str(up_port)], env, work, REPO)  # fmt: skip
    servers, paths = [upstream], [Target("direct", f"{upstream_base}/chat/completions", "fast-model")]
    waits: list[tuple[Server, str, dict[str, str]]] = [(upstream, f"http://127.0.0.1:{up_port}/health", {})]
    for name, backend_type, model in (("lean", "openai_compatible", "fast-model"),
                                      ("litellm_path", "litellm", "openai/fast-model")):  # fmt: skip
        if name in skip:
            continue
        policy = work / f"{name}.yaml"
        policy.write_text(POLICY.format(type=backend_type, model=model, api_base=upstream_base))
        port = free_port()
        server = Server(name, [sys.executable, "-m", "router", "serve", "--policy", str(policy), "--port", str(port),
                               "--log-level", "warning"], env, work, REPO)  # fmt: skip
        servers.append(server)
        paths.append(Target(name, f"http://127.0.0.1:{port}/v1/chat/completions", "fast", pids=[server.pid]))
        waits.append((server, f"http://127.0.0.1:{port}/readyz", {}))
    if "litellm_proxy" not in skip:
        port = free_port()
        argv = [str(ensure_proxy_venv()), "--config", str(PROXY_CONFIG), "--host", "127.0.0.1", "--port", str(port),
                "--num_workers", "1"]  # fmt: skip
        server = Server("litellm_proxy", argv, env, work, REPO)
        servers.append(server)
        auth = {"authorization": f"Bearer {MASTER_KEY}"}
        paths.append(Target("litellm_proxy", f"http://127.0.0.1:{port}/v1/chat/completions", "fast", auth,
                           [server.pid]))  # fmt: skip
        waits.append((server, f"http://127.0.0.1:{port}/health/liveliness", auth))
    for server, url, headers in waits:
        _log(f"{server.name}: ready in {server.wait_http(url, 180, headers):.1f} s")
    return servers, paths, upstream_base


def _body(model: str) -> bytes:
    return json.dumps({"model": model, "messages": MESSAGES, "max_tokens": 16}).encode()


async def _window(client: httpx.AsyncClient, path: Target, count: int, concurrency: int, sample: Sample) -> None:
    """``count`` requests from ``concurrency`` workers; latencies, wall time and server CPU into ``sample``."""
    body = _body(path.model)
    headers = {"content-type": "application/json", **path.headers}
    remaining = count

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            try:
                response = await client.post(path.url, content=body, headers=headers)
            except httpx.TransportError as exc:
                sample.errors.append(f"{type(exc).__name__}: {exc}")
                continue
            if response.status_code != 200:
                sample.errors.append(f"HTTP {response.status_code}: {response.text[:300]}")
                continue
            sample.latencies.append(time.perf_counter() - started)

    cpu_before = process_tree_cpu_s(path.pids) if path.pids else 0.0
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    sample.wall_s += time.perf_counter() - started
    if path.pids:
        await _quiesce(path.pids)
        sample.server_cpu_s += process_tree_cpu_s(path.pids) - cpu_before


async def _quiesce(pids: Sequence[int], idle_share: float = 0.05, limit_s: float = 15.0) -> None:
    """Wait until the servers finish work they deferred (LiteLLM logs and counts after answering).

    That work is charged to their CPU per request, and does not slow down the next path's window.
    """
    deadline = time.monotonic() + limit_s
    before = process_tree_cpu_s(pids)
    while time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        now = process_tree_cpu_s(pids)
        if now - before < idle_share * 0.1:
            return
        before = now


async def _check_answer(client: httpx.AsyncClient, path: Target) -> None:
    response = await client.post(path.url, content=_body(path.model),
                                 headers={"content-type": "application/json", **path.headers})  # fmt: skip
    response.raise_for_status()
    content = response.json()["choices"][0]["message"]["content"]
    if content != "Paris.":
        raise RuntimeError(f"{path.name}: unexpected answer {content!r}")


async def measure(paths: Sequence[Target], levels: Sequence[int], requests: int, rounds: int) -> dict[int, dict]:
    """Interleaved rounds per concurrency level: {level: {path: Sample}}."""
    results: dict[int, dict[str, Sample]] = {}
    for level in levels:
        # uvicorn closes connections idle for 5 s: expire ours first, and reconnect before each measured window
        limits = httpx.Limits(max_connections=level, max_keepalive_connections=level, keepalive_expiry=4.0)
        clients = {p.name: httpx.AsyncClient(limits=limits, timeout=60) for p in paths}
        try:
            for path in paths:
                await _check_answer(clients[path.name], path)
                await _window(clients[path.name], path, max(100, 4 * level), level, Sample())  # warm-up
            samples = {p.name: Sample() for p in paths}
            level_rounds = rounds if level == 1 else min(rounds, 2)  # long windows: concurrency must build up
            per_round = max(4 * level, requests // level_rounds)
            for r in range(level_rounds):
                for path in paths[r % len(paths) :] + paths[: r % len(paths)]:
                    await _window(clients[path.name], path, 2 * level, level, Sample())  # reconnect, unmeasured
                    await _window(clients[path.name], path, per_round, level, samples[path.name])
            for name, sample in samples.items():
                if len(sample.errors) > 0.01 * (len(sample.errors) + len(sample.latencies)):
                    raise RuntimeError(f"{name}: {len(sample.errors)} failed requests, e.g. {sample.errors[0]}")
            results[level] = samples
            _log(f"concurrency {level}: " + ", ".join(
                f"{n} p50 {s.percentile_ms(0.5):.2f} ms {s.rps:.0f} rps" for n, s in samples.items()))  # fmt: skip
        finally:
            for client in clients.values():
                await client.aclose()
    return results


async def sdk_cost(upstream_base: str, requests: int) -> dict[str, float]:
    """``litellm.acompletion`` vs a raw pooled httpx call to the same upstream, in-process, in alternating blocks."""
    import litellm

    raw_times: list[float] = []
    sdk_times: list[float] = []
    headers = {"content-type": "application/json", "authorization": f"Bearer {UPSTREAM_KEY}"}
    body = _body("fast-model")
    async with httpx.AsyncClient(timeout=30) as client:

        async def raw() -> None:
            response = await client.post(f"{upstream_base}/chat/completions", content=body, headers=headers)
            response.raise_for_status()
            response.json()

        async def sdk() -> None:
            await litellm.acompletion(model="openai/fast-model", api_base=upstream_base, api_key=UPSTREAM_KEY,
                                      messages=MESSAGES, max_tokens=16)  # fmt: skip

        for _ in range(50):
            await raw()
            await sdk()
        await asyncio.sleep(0.5)
        cpu = {"raw": 0.0, "sdk": 0.0}
        rounds = 4  # blocks alternate so load changes hit both alike; LiteLLM's deferred logging stays in its block
        for _ in range(rounds):
            for name, call, times in (("raw", raw, raw_times), ("sdk", sdk, sdk_times)):
                cpu_started = time.process_time()
                for _ in range(max(1, requests // rounds)):
                    started = time.perf_counter()
                    await call()
                    times.append(time.perf_counter() - started)
                await asyncio.sleep(0.3)  # let deferred work finish inside this block (sleeping costs no CPU)
                cpu[name] += time.process_time() - cpu_started  # all threads: LiteLLM's background work counts
        requests = max(1, requests // rounds) * rounds
    raw_p50, sdk_p50 = statistics.median(raw_times) * 1000, statistics.median(sdk_times) * 1000
    return {"raw_httpx_p50_ms": round(raw_p50, 3), "litellm_acompletion_p50_ms": round(sdk_p50, 3),
            "sdk_cost_p50_ms": round(sdk_p50 - raw_p50, 3),
            "sdk_cost_cpu_ms_per_call": round((cpu["sdk"] - cpu["raw"]) / requests * 1000, 3)}  # fmt: skip


def _table(results: dict[int, dict[str, Sample]]) -> list[str]:
    lines = ["| concurrency | path | p50 ms | p99 ms | added p50 ms | added p99 ms | req/s | server CPU ms/req "
             "| errors |", "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for level, samples in results.items():
        base = samples["direct"]
        for name, s in samples.items():
            p50, p99 = s.percentile_ms(0.5), s.percentile_ms(0.99)
            added = "— | —"
            if name != "direct":
                added = f"{p50 - base.percentile_ms(0.5):.2f} | {p99 - base.percentile_ms(0.99):.2f}"
            cpu = f"{s.cpu_ms_per_request:.2f}" if s.server_cpu_s else "—"
            lines.append(
                f"| {level} | {name} | {p50:.2f} | {p99:.2f} | {added} | {s.rps:.0f} | {cpu} | {len(s.errors)} |"
            )
    return lines


def _headline(results: dict[int, dict[str, Sample]], sdk: dict[str, float], load: dict[str, float],
              quick: bool) -> dict[str, Any]:  # fmt: skip
    low, high = min(results), max(results)
    base = results[low]["direct"]
    out: dict[str, Any] = {"direct_p50_ms": round(base.percentile_ms(0.5), 3)}
    for name in PATHS[1:]:
        if name not in results[low]:
            continue
        sample = results[low][name]
        out[f"{name}_added_p50_ms"] = round(sample.percentile_ms(0.5) - base.percentile_ms(0.5), 3)
        out[f"{name}_added_p99_ms"] = round(sample.percentile_ms(0.99) - base.percentile_ms(0.99), 3)
        out[f"{name}_cpu_ms_per_req"] = round(sample.cpu_ms_per_request, 3)
    for name, sample in results[high].items():
        out[f"{name}_max_rps"] = round(sample.rps, 1)
    out.update(sdk)
    if "lean_added_p50_ms" in out:
        out["lean_meets_2ms"] = out["lean_added_p50_ms"] <= 2.0
    if "litellm_path_added_p50_ms" in out and "sdk_cost_p50_ms" in out:
        # literally: the LiteLLM path adds at most the SDK's own cost + 1 ms; and, counting the router's own
        # work (the lean path's overhead) as given: at most lean + SDK + 1 ms
        added = out["litellm_path_added_p50_ms"]
        below_proxy = added < out.get("litellm_proxy_added_p50_ms", float("inf"))
        out["litellm_path_meets_target"] = added <= out["sdk_cost_p50_ms"] + 1.0 and below_proxy
        if "lean_added_p50_ms" in out:
            beyond = added - out["lean_added_p50_ms"] - out["sdk_cost_p50_ms"]
            out["litellm_path_beyond_lean_and_sdk_ms"] = round(beyond, 3)
            out["litellm_path_meets_target_over_lean"] = beyond <= 1.0 and below_proxy
    out.update({"concurrency_for_latency": low, "concurrency_for_rps": high, "quick": quick,
                "litellm_sdk_version": importlib.metadata.version("litellm"),
                "litellm_proxy_version": PROXY_LITELLM_VERSION, **{f"load_{k}": v for k, v in load.items()},
                "loadavg_1m_end": round(os.getloadavg()[0], 2)})  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests (finishes in under three minutes)")
    parser.add_argument("--requests", type=int, help="requests per path and concurrency (default 3000, quick 400)")
    parser.add_argument("--rounds", type=int, default=6, help="interleaved rounds per concurrency level")
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 16, 64], help="concurrency levels")
    parser.add_argument("--skip", nargs="*", default=[], choices=PATHS[1:], help="paths to leave out")
    args = parser.parse_args()
    requests = args.requests or (400 if args.quick else 3000)
    os.environ.update(BASE_ENV)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="thinkroute-overhead-") as tmp:
        servers: list[Server] = []
        try:
            servers, paths, upstream_base = start_servers(Path(tmp), set(args.skip))
            cpu = MachineCpu([s.pid for s in servers])
            cpu.start()
            try:
                results = asyncio.run(measure(paths, sorted(args.levels), requests, args.rounds))
            except Exception:
                for server in servers:
                    _log(f"--- {server.name} log (tail) ---\n{server.log_tail()}")
                raise
            load = cpu.stop()
            for server in servers[1:]:
                server.stop()
            sdk = asyncio.run(sdk_cost(upstream_base, 200 if args.quick else 1000))
        finally:
            for server in servers:
                server.stop()
    print("\n".join(_table(results)))
    print(f"SDK in-process: raw httpx p50 {sdk['raw_httpx_p50_ms']:.2f} ms, litellm.acompletion p50 "
          f"{sdk['litellm_acompletion_p50_ms']:.2f} ms, SDK's own cost {sdk['sdk_cost_p50_ms']:.2f} ms")  # fmt: skip
    print(
        f"machine during the measurement: {load['busy_cores']} of {os.cpu_count()} cores busy on average, "
        f"{load['our_cores']} ours, {load['other_cores']} other work; total run {time.monotonic() - started:.0f} s"
    )
    print(json.dumps(_headline(results, sdk, load, args.quick)))


if __name__ == "__main__":
    main()
