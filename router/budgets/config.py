"""Budget and tenant settings of a policy (the ``budgets`` section and each tenant's limits)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["BudgetLimit", "BudgetsConfig"]


class BudgetLimit(BaseModel):
    """A cap on spend per aligned UTC window: USD or tokens per minute, day or month."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["usd", "tokens"]
    window: Literal["minute", "day", "month"]
    limit: float = Field(ge=0)


class BudgetsConfig(BaseModel):
    """Where budgets live and how the router behaves when that store fails."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    store: Literal["memory", "redis"] = Field(
        "memory", description="memory: one replica; redis: shared by replicas (also chosen by THINKROUTE_REDIS_URL)."
    )
    redis_url: str | None = Field(None, description="redis://…; THINKROUTE_REDIS_URL overrides it.")
    fail_mode: Literal["fail_open", "fail_closed"] = Field(
        "fail_closed", description="Store unreachable: serve and record later (fail_open) or answer 503 (fail_closed)."
    )
    reservation_ttl_s: float = Field(900.0, gt=0, description="Unsettled reservations expire after this.")
    expired_reservations: Literal["charge", "release"] = Field(
        "charge",
        description="An expired reservation (its process died mid-request) is charged its worst case, or released.",
    )
    key_prefix: str = Field("thinkroute", pattern=r"^[A-Za-z0-9_.-]+$")
    allow_anonymous: bool = True
    anonymous_tenant: str = "anonymous"
    downgrade_on_budget: bool = Field(True, description="Plan a cheaper strategy rather than refuse.")
