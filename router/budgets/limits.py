"""Which meters a request touches: the tenant's and its parents' limits (policy, or a run-time override).

Every tenant in the chain also gets recording-only meters for USD and tokens per day and month where
it has no such limit, so spend is visible for every tenant. Amounts are integers: micro-dollars,
tokens, requests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from router.budgets.config import BudgetLimit
from router.budgets.meters import UNLIMITED, Meter, MeterKind
from router.budgets.windows import window_bucket

__all__ = ["MICRO", "Cost", "LimitBook", "TenantLimits"]

MICRO = 1_000_000
_RECORDED: tuple[tuple[MeterKind, str], ...] = (
    ("usd", "day"), ("usd", "month"), ("tokens", "day"), ("tokens", "month"),
)  # fmt: skip
_KEY_GRACE_S = 60.0  # a window's keys outlive it a little, for settlements that arrive just after it ends


@dataclass(frozen=True)
class Cost:
    """USD and tokens of a request (worst case when reserving, actual when settling)."""

    usd: float = 0.0
    tokens: int = 0

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.usd + other.usd, self.tokens + other.tokens)


@dataclass(frozen=True)
class TenantLimits:
    """A tenant's limits: budgets per window, rate limits, and the parent whose limits also apply."""

    limits: tuple[BudgetLimit, ...] = ()
    rpm: int | None = None
    tpm: int | None = None
    parent: str | None = None

    @classmethod
    def of(cls, tenant: Any) -> TenantLimits:
        """From a policy tenant (any object with ``limits``, ``rpm``, ``tpm``, ``parent``)."""
        return cls(tuple(getattr(tenant, "limits", ())), getattr(tenant, "rpm", None),
                   getattr(tenant, "tpm", None), getattr(tenant, "parent", None))  # fmt: skip


def amount_of(kind: MeterKind, cost: Cost) -> int:
    """A cost in a meter's unit."""
    if kind == "usd":
        return round(cost.usd * MICRO)
    if kind == "requests":
        return 1
    return int(cost.tokens)


@dataclass
class LimitBook:
    """The policy's tenants with run-time overrides (``{"limits": […], "rpm": n, "tpm": n}``, any subset)."""

    prefix: str
    tenants: dict[str, TenantLimits] = field(default_factory=dict)
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)

    def known(self, tenant: str) -> bool:
        return tenant in self.tenants

    def effective(self, tenant: str) -> TenantLimits:
        base = self.tenants.get(tenant, TenantLimits())
        override = self.overrides.get(tenant)
        if not override:
            return base
        changes: dict[str, Any] = {k: override[k] for k in ("rpm", "tpm") if k in override}
        if "limits" in override:
            changes["limits"] = tuple(BudgetLimit.model_validate(x) for x in override["limits"])
        return replace(base, **changes)

    def load_overrides(self, raw: dict[str, str]) -> None:
        self.overrides = {tenant: json.loads(value) for tenant, value in raw.items()}

    def chain(self, tenant: str) -> list[str]:
        """The tenant, its parent, the parent's parent… (cycles cut)."""
        names = [tenant]
        while (parent := self.tenants.get(names[-1], TenantLimits()).parent) and parent not in names:
            names.append(parent)
        return names

    def limited_kinds(self, tenant: str) -> frozenset[MeterKind]:
        """The kinds of the finite meters :meth:`meters` gives ``tenant`` (empty: it only records spend)."""
        kinds: set[MeterKind] = set()
        for name in self.chain(tenant):
            limits = self.effective(name)
            kinds.update(limit.kind for limit in limits.limits)
            if limits.rpm:
                kinds.add("requests")
            if limits.tpm:
                kinds.add("tokens_rate")
        return frozenset(kinds)

    def meters(self, tenant: str, cost: Cost, now: float, *, chain: bool = True) -> list[Meter]:
        """Every meter a request of ``tenant`` costing ``cost`` touches, limits first."""
        out: list[Meter] = []
        for name in self.chain(tenant) if chain else [tenant]:
            limits = self.effective(name)
            for limit in limits.limits:
                scale = MICRO if limit.kind == "usd" else 1
                out.append(self._meter(name, limit.kind, limit.window, round(limit.limit * scale), cost, now))
            rates: tuple[tuple[MeterKind, int | None], ...] = (("requests", limits.rpm), ("tokens_rate", limits.tpm))
            for kind, value in rates:
                if value:
                    out.append(self._meter(name, kind, "minute", int(value), cost, now))
            have = {(limit.kind, limit.window) for limit in limits.limits}
            for kind, window in _RECORDED:
                if (kind, window) not in have:
                    out.append(self._meter(name, kind, window, UNLIMITED, cost, now))
        return out

    def _meter(self, tenant: str, kind: MeterKind, window: str, limit: int, cost: Cost, now: float) -> Meter:
        bucket, left_s = window_bucket(window, now)
        key = f"{self.prefix}:{tenant}:{kind}:{window}:{bucket}"
        return Meter(key, tenant, kind, window, limit, amount_of(kind, cost), left_s + _KEY_GRACE_S)
