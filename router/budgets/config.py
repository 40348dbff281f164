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
    store: Literal["memory", "redis"] = "memory"
    redis_url: str | None = Field(None, description="redis://…; THINKROUTE_REDIS_URL overrides it.")
    fail_mode: Literal["fail_open", "fail_closed"] = "fail_closed"
    reservation_ttl_s: float = Field(900.0, gt=0, description="Unsettled reservations expire after this.")
    key_prefix: str = "thinkroute"
    allow_anonymous: bool = True
    anonymous_tenant: str = "anonymous"
    downgrade_on_budget: bool = Field(True, description="Plan a cheaper strategy rather than refuse.")
