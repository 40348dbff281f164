"""``thinkroute explain``: show how the planner would route a prompt, without running it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any, cast

import typer

from router.errors import PolicyError, RequestError, SLOUnsatisfiable

__all__ = ["explain_command"]

EXIT_UNSATISFIABLE = 3
DEFAULT_POLICY = Path("policies/default.yaml")


async def _decide(policy_path: Path, body: dict[str, Any]) -> dict[str, Any]:
    from router.api.protocol import ChatCompletionRequest
    from router.api.serving import ChatService
    from router.difficulty import DifficultyService
    from router.planner import Predictor
    from router.policy import load_policy
    from router.runtime import Runtime

    policy = load_policy(policy_path)
    runtime = Runtime(policy, {}, {}, Predictor(policy))
    difficulty = DifficultyService.load(policy.classifier.enabled, policy.classifier.model_path)
    service = ChatService(lambda: runtime, difficulty)
    try:
        _, _, _, estimate, decision = await service.decide(ChatCompletionRequest.model_validate(body), {})
    finally:
        await difficulty.aclose()
    payload = decision.to_json()
    payload.update(bucket=estimate.bucket, probabilities=estimate.probabilities, route=body["model"])
    return payload


def _print_table(payload: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"difficulty [bold]{payload['difficulty']:.3f}[/] ({payload.get('bucket')}), SLO {payload['slo']}")
    table = Table("candidate", "quality", "p95 ms", "cost $", "eligible", "why not")
    chosen = payload.get("chosen") or {}
    for c in payload["candidates"]:
        name = c["strategy"] + ("".join(f" {k}={v}" for k, v in c["params"].items()))
        mark = " ◀" if c["strategy"] == chosen.get("strategy") and c["params"] == chosen.get("params") else ""
        table.add_row(
            name + mark,
            f"{c['predicted_quality']:.3f}",
            f"{c['predicted_latency_ms']:.0f}",
            f"{c['predicted_cost_usd']:.6f}",
            "yes" if c["eligible"] else "no",
            "; ".join(c["why_not"]),
        )
    console.print(table)
    console.print(f"rule: [bold]{payload['rule']}[/]" + (f" → {chosen.get('strategy')}" if chosen else ""))
    if "error" in payload:
        console.print(f"[red]{payload['error']['message']}[/]")


def explain_command(
    prompt: Annotated[str, typer.Argument(help="The user prompt to route.")],
    policy: Annotated[Path, typer.Option("--policy", "-p", envvar="THINKROUTE_POLICY")] = DEFAULT_POLICY,
    route: Annotated[str, typer.Option(help="Route (model alias).")] = "auto",
    latency_ms: Annotated[float | None, typer.Option("--latency-ms", help="Latency SLO (p95), ms.")] = None,
    max_cost_usd: Annotated[float | None, typer.Option("--max-cost-usd", help="Cost SLO, USD.")] = None,
    min_quality: Annotated[float | None, typer.Option("--min-quality", help="Quality bar in [0, 1].")] = None,
    strategy: Annotated[str | None, typer.Option(help="Force one of the route's strategies.")] = None,
    max_tokens: Annotated[int | None, typer.Option("--max-tokens", help="Answer token cap.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Explain the planner's decision for PROMPT; exit 3 when the SLO cannot be met."""
    slo = {"latency_ms": latency_ms, "max_cost_usd": max_cost_usd, "min_quality": min_quality, "strategy": strategy}
    body: dict[str, Any] = {"model": route, "messages": [{"role": "user", "content": prompt}],
                            "thinkroute": {k: v for k, v in slo.items() if v is not None}}  # fmt: skip
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    code = 0
    try:
        payload = asyncio.run(_decide(policy, body))
    except SLOUnsatisfiable as exc:
        payload = dict(cast(dict[str, Any], exc.details["decision"]))
        payload["error"] = {"message": exc.message, "code": exc.code}
        code = EXIT_UNSATISFIABLE
    except (PolicyError, RequestError) as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(payload))
    else:
        _print_table(payload)
    raise typer.Exit(code)
