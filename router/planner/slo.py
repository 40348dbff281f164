"""Resolve a request's SLO: headers, then the body's ``thinkroute`` object, then tenant, then route defaults."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from router.errors import InvalidRequest
from router.policy.schema import SLODefaults

__all__ = ["SLO", "SLO_HEADERS", "resolve_slo"]

SLO_HEADERS = {
    "latency_ms": "x-thinkroute-latency-ms",
    "max_cost_usd": "x-thinkroute-max-cost-usd",
    "min_quality": "x-thinkroute-min-quality",
    "strategy": "x-thinkroute-strategy",
}


@dataclass(frozen=True)
class SLO:
    """The objectives one request is planned under; ``None`` means unconstrained."""

    latency_ms: float | None = None
    max_cost_usd: float | None = None
    min_quality: float | None = None
    strategy: str | None = None

    def as_dict(self) -> dict[str, float | str | None]:
        return {
            "latency_ms": self.latency_ms,
            "max_cost_usd": self.max_cost_usd,
            "min_quality": self.min_quality,
            "strategy": self.strategy,
        }


def _number(header: str, raw: str, *, minimum: float, maximum: float | None, strict_min: bool) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise InvalidRequest(f"{header} must be a number, got {raw!r}.", param=header) from None
    too_low = value <= minimum if strict_min else value < minimum
    if not math.isfinite(value) or too_low or (maximum is not None and value > maximum):
        bound = f"> {minimum:g}" if strict_min else f">= {minimum:g}"
        upper = f" and <= {maximum:g}" if maximum is not None else ""
        raise InvalidRequest(f"{header} must be {bound}{upper}, got {raw!r}.", param=header)
    return value


def _from_headers(headers: Mapping[str, str]) -> dict[str, float | str]:
    found: dict[str, float | str] = {}
    if (raw := headers.get(SLO_HEADERS["latency_ms"])) is not None:
        found["latency_ms"] = _number(SLO_HEADERS["latency_ms"], raw, minimum=0, maximum=None, strict_min=True)
    if (raw := headers.get(SLO_HEADERS["max_cost_usd"])) is not None:
        found["max_cost_usd"] = _number(SLO_HEADERS["max_cost_usd"], raw, minimum=0, maximum=None, strict_min=False)
    if (raw := headers.get(SLO_HEADERS["min_quality"])) is not None:
        found["min_quality"] = _number(SLO_HEADERS["min_quality"], raw, minimum=0, maximum=1, strict_min=False)
    if (raw := headers.get(SLO_HEADERS["strategy"])) is not None:
        if not raw.strip():
            raise InvalidRequest(f"{SLO_HEADERS['strategy']} must name a strategy.", param=SLO_HEADERS["strategy"])
        found["strategy"] = raw.strip()
    return found


def resolve_slo(
    headers: Mapping[str, str],
    body: Mapping[str, float | str | None] | None,
    tenant: SLODefaults | None,
    route: SLODefaults,
) -> SLO:
    """Merge the SLO sources field by field, highest precedence first."""
    layers: list[Mapping[str, float | str | None]] = [_from_headers(headers)]
    if body:
        layers.append(body)
    if tenant is not None:
        layers.append(tenant.model_dump())
    layers.append(route.model_dump())
    merged: dict[str, float | str | None] = {}
    for field in ("latency_ms", "max_cost_usd", "min_quality", "strategy"):
        merged[field] = next((layer[field] for layer in layers if layer.get(field) is not None), None)
    return SLO(**merged)  # type: ignore[arg-type]
