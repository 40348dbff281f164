"""``/admin/*``: create and revoke keys, set budgets, read spend — guarded by ``THINKROUTE_ADMIN_KEY``.

A tenant's own key may read that tenant's spend; any other admin call with a tenant key is 403,
and a call without a valid key is 401.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from router.budgets.config import BudgetLimit
from router.budgets.keys import same_secret
from router.budgets.service import BudgetService
from router.errors import AuthenticationFailed, PermissionDenied

__all__ = ["admin_router"]

admin_router = APIRouter(prefix="/admin")


class LimitsUpdate(BaseModel):
    """New limits for a tenant (replacing the policy's until the next restart)."""

    model_config = ConfigDict(extra="forbid")
    limits: list[BudgetLimit] = Field(default_factory=list)


def _budgets(request: Request) -> BudgetService:
    service: BudgetService = request.app.state.budgets
    return service


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization") or ""
    return header[7:].strip() if header.lower().startswith("bearer ") else ""


def _is_admin(request: Request) -> bool:
    expected = os.environ.get("THINKROUTE_ADMIN_KEY") or ""
    given = _bearer(request)
    return bool(expected) and bool(given) and same_secret(given, expected)


async def _caller(request: Request) -> str | None:
    """``None`` for the admin; the tenant for a tenant key; 401 otherwise."""
    if _is_admin(request):
        return None
    token = _bearer(request)
    if not token:
        raise AuthenticationFailed("Admin API: send Authorization: Bearer <admin key>.")
    tenant = await _budgets(request).keys.lookup(token)
    if tenant is None:
        raise AuthenticationFailed("Invalid or revoked API key.")
    return tenant


async def _require_admin(request: Request) -> None:
    if await _caller(request) is not None:
        raise PermissionDenied("This admin operation needs the admin key.")


@admin_router.post("/tenants/{tenant}/keys", status_code=201)
async def create_key(tenant: str, request: Request) -> dict[str, str]:
    """A new API key for ``tenant``; the plaintext is returned once and stored only as a hash."""
    await _require_admin(request)
    key, kid = await _budgets(request).keys.create(tenant)
    return {"tenant": tenant, "key": key, "key_id": kid}


@admin_router.delete("/keys/{key_id}")
async def revoke_key(key_id: str, request: Request) -> dict[str, Any]:
    """Revoke a key by its id."""
    await _require_admin(request)
    return {"key_id": key_id, "revoked": await _budgets(request).keys.revoke(key_id)}


@admin_router.put("/tenants/{tenant}/limits")
async def set_limits(tenant: str, update: LimitsUpdate, request: Request) -> dict[str, Any]:
    """Replace a tenant's budget limits at run time."""
    await _require_admin(request)
    _budgets(request).overrides[tenant] = list(update.limits)
    return {"tenant": tenant, "limits": [limit.model_dump() for limit in update.limits]}


@admin_router.get("/tenants/{tenant}/spend")
async def read_spend(tenant: str, request: Request) -> dict[str, Any]:
    """Spend, reserved and remaining per window; a tenant key may read only its own tenant."""
    caller = await _caller(request)
    if caller is not None and caller != tenant:
        raise PermissionDenied("A tenant key may read only its own tenant's spend.")
    return await _budgets(request).spend(tenant)
