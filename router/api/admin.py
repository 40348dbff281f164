"""``/admin/*``: create, list and revoke keys, set limits, read spend — guarded by ``THINKROUTE_ADMIN_KEY``.

Every call needs ``Authorization: Bearer <admin key>`` (compared in constant time), except that a
tenant's own key may read that tenant's spend. No key or an unknown key is 401; a tenant key on any
other admin call, or on another tenant's spend, is 403. The budget service is ``app.state.budgets``.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable
from typing import Any, TypeVar

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from router.budgets.config import BudgetLimit
from router.budgets.keys import same_secret
from router.budgets.limits import TenantLimits
from router.budgets.meters import StoreUnavailable
from router.budgets.service import BudgetService
from router.errors import AuthenticationFailed, PermissionDenied, ServiceUnavailable

__all__ = ["ADMIN_KEY_ENV", "LimitsUpdate", "admin_router"]

ADMIN_KEY_ENV = "THINKROUTE_ADMIN_KEY"
T = TypeVar("T")
admin_router = APIRouter(prefix="/admin", tags=["admin"])


class LimitsUpdate(BaseModel):
    """New limits for a tenant; fields left out keep the policy's value. Shared by replicas, kept until cleared."""

    model_config = ConfigDict(extra="forbid")
    limits: list[BudgetLimit] | None = Field(None, description="Replaces every budget limit of the tenant.")
    rpm: int | None = Field(None, ge=1, description="Requests per minute; null removes the rate limit.")
    tpm: int | None = Field(None, ge=1, description="Tokens per minute; null removes the rate limit.")


def _budgets(request: Request) -> BudgetService:
    service: BudgetService = request.app.state.budgets
    return service


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization") or ""
    return header[7:].strip() if header[:7].lower() == "bearer " else ""


async def _caller(request: Request) -> str | None:
    """``None`` for the admin; the tenant for a valid tenant key; 401 otherwise."""
    token = _bearer(request)
    if not token:
        raise AuthenticationFailed("Admin API: send Authorization: Bearer <admin key>.")
    expected = os.environ.get(ADMIN_KEY_ENV) or ""
    if expected and same_secret(token, expected):
        return None
    try:
        tenant = await _budgets(request).keys.lookup(token)
    except StoreUnavailable:
        raise ServiceUnavailable("Key store unavailable; try again shortly.", retry_after=2) from None
    if tenant is None:
        raise AuthenticationFailed("Invalid or revoked API key.")
    return tenant


async def _require_admin(request: Request) -> BudgetService:
    if await _caller(request) is not None:
        raise PermissionDenied("This admin operation needs the admin key.")
    return _budgets(request)


def _known(service: BudgetService, tenant: str) -> None:
    if not service.known_tenant(tenant):
        raise HTTPException(404, f"Unknown tenant {tenant!r}: tenants are declared in the policy.")


def _limits_json(tenant: str, limits: TenantLimits) -> dict[str, Any]:
    return {"tenant": tenant, "limits": [limit.model_dump() for limit in limits.limits], "rpm": limits.rpm,
            "tpm": limits.tpm, "parent": limits.parent}  # fmt: skip


async def _keys_call(coro: Awaitable[T]) -> T:
    try:
        return await coro
    except StoreUnavailable:
        raise ServiceUnavailable("Key store unavailable; try again shortly.", retry_after=2) from None


@admin_router.post("/tenants/{tenant}/keys", status_code=201)
async def create_key(tenant: str, request: Request) -> dict[str, str]:
    """A new API key for ``tenant``; the plaintext is in this response only and stored only as a hash."""
    service = await _require_admin(request)
    _known(service, tenant)
    key, kid = await _keys_call(service.keys.create(tenant))
    return {"tenant": tenant, "key": key, "key_id": kid}


@admin_router.get("/tenants/{tenant}/keys")
async def list_keys(tenant: str, request: Request) -> dict[str, Any]:
    """The tenant's keys: ids, whether declared in the policy, whether revoked (never keys or hashes)."""
    service = await _require_admin(request)
    _known(service, tenant)
    return {"tenant": tenant, "keys": await _keys_call(service.keys.list_keys(tenant))}


@admin_router.delete("/keys/{key_id}")
async def revoke_key(key_id: str, request: Request) -> dict[str, Any]:
    """Revoke a key by its id, on every replica; 404 when there is no such key."""
    service = await _require_admin(request)
    if not await _keys_call(service.keys.revoke(key_id)):
        raise HTTPException(404, f"No key with id {key_id!r}.")
    return {"key_id": key_id, "revoked": True}


@admin_router.get("/tenants/{tenant}/limits")
async def read_limits(tenant: str, request: Request) -> dict[str, Any]:
    """The tenant's limits in force (policy, or a run-time override)."""
    service = await _require_admin(request)
    _known(service, tenant)
    return _limits_json(tenant, service.book.effective(tenant))


@admin_router.put("/tenants/{tenant}/limits")
async def set_limits(tenant: str, update: LimitsUpdate, request: Request) -> dict[str, Any]:
    """Override a tenant's budget limits and/or rate limits at run time (every replica within a second)."""
    service = await _require_admin(request)
    _known(service, tenant)
    override = update.model_dump(mode="json", include=update.model_fields_set)
    return _limits_json(tenant, await service.set_limits(tenant, override))


@admin_router.delete("/tenants/{tenant}/limits")
async def clear_limits(tenant: str, request: Request) -> dict[str, Any]:
    """Drop the run-time override: the policy's limits apply again."""
    service = await _require_admin(request)
    _known(service, tenant)
    return _limits_json(tenant, await service.clear_limits(tenant))


@admin_router.get("/tenants/{tenant}/spend")
async def read_spend(tenant: str, request: Request) -> dict[str, Any]:
    """Spend, reserved and remaining per window; a tenant key may read only its own tenant."""
    caller = await _caller(request)
    if caller is not None and caller != tenant:
        raise PermissionDenied("A tenant key may read only its own tenant's spend.")
    service = _budgets(request)
    _known(service, tenant)
    return await service.spend(tenant)


@admin_router.get("/online-profiles")
async def online_profiles(request: Request) -> dict[str, Any]:
    """Online-feedback quality estimates of the serving policy, per candidate and difficulty bucket."""
    await _require_admin(request)
    runtime = request.app.state.runtime
    online = runtime.online
    if online is None:
        return {"enabled": False, "frozen": False, "policy_version": runtime.version, "observations": 0,
                "estimates": {}}  # fmt: skip
    return {"enabled": True, "frozen": online.frozen, "policy_version": runtime.version,
            "observations": online.version, "estimates": online.snapshot()}  # fmt: skip
