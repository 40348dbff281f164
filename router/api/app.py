"""The FastAPI app factory. Nothing happens at import time; services live on ``app.state``."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from fastapi import FastAPI

from router import __version__
from router.api.admin import admin_router
from router.api.errors import install_error_handlers
from router.api.middleware import BodyLimitMiddleware, RequestIdMiddleware
from router.api.observability import observability_router
from router.api.routes import api_router
from router.api.serving import ChatService
from router.backends.resilience import set_upstream_event_hook
from router.budgets import BudgetService
from router.difficulty import DifficultyService
from router.policy import Policy, load_policy
from router.policy.reload import PolicyReloader
from router.runtime import BackendFactory, BackendPool, Runtime
from router.telemetry import Telemetry, TelemetryMiddleware

__all__ = ["create_app"]

log = logging.getLogger("thinkroute")


def create_app(
    policy: Policy | str | Path,
    *,
    wait_for_backends: bool = False,
    backend_factories: Mapping[str, BackendFactory] | None = None,
    reload_interval_s: float = 1.0,
    telemetry: Telemetry | None = None,
) -> FastAPI:
    """Build the router app for a policy (object or file path; a path enables hot reload).

    With ``wait_for_backends`` the lifespan blocks until models are loaded; otherwise the app
    serves ``/healthz`` at once and ``/readyz`` turns 200 when loading finishes.
    ``backend_factories`` replaces backend constructors by policy type (tests, embedding).
    ``telemetry`` replaces the one built from the policy's ``telemetry`` section (tests inject exporters).
    """
    policy_path = None if isinstance(policy, Policy) else Path(policy)
    initial = policy if isinstance(policy, Policy) else load_policy(policy)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        difficulty = await anyio.to_thread.run_sync(
            DifficultyService.load, initial.classifier.enabled, initial.classifier.model_path
        )
        tel = telemetry or Telemetry.create(initial.telemetry)
        app.state.telemetry = tel
        tel.watch_backends(lambda: app.state.runtime.backends)
        tel.watch_online_feedback(lambda: app.state.runtime.online.snapshot() if app.state.runtime.online else {})
        set_upstream_event_hook(tel.record_upstream)  # retries, cooldowns and fallbacks become metrics
        budgets = BudgetService.create(initial)
        budgets.start()
        tel.redact.add(*_declared_secrets())
        app.state.budgets = budgets
        app.state.chat_service = ChatService(lambda: app.state.runtime, difficulty, tel, budgets)
        pool = BackendPool(backend_factories)
        runtime = pool.build(initial)
        app.state.runtime = runtime
        app.state.pool = pool
        app.state.policy_path = policy_path
        await pool.activate(runtime, wait=wait_for_backends)
        if wait_for_backends:
            log.info("thinkroute ready")
        else:
            pool._spawn(_announce_ready(app))
        reloader = None
        if policy_path is not None:
            reloader = PolicyReloader(policy_path, lambda new: _install(app, pool, new), interval_s=reload_interval_s)
            reloader.start()
        app.state.reloader = reloader
        try:
            yield
        finally:
            if reloader is not None:
                await reloader.stop()
            await difficulty.aclose()
            await budgets.aclose()
            await pool.aclose()
            if telemetry is None:
                tel.shutdown()

    app = FastAPI(title="thinkroute", version=__version__, lifespan=lifespan)
    app.include_router(api_router)
    app.include_router(observability_router)
    app.include_router(admin_router)
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, limit=lambda: _body_limit(app, initial))
    app.add_middleware(TelemetryMiddleware, telemetry=lambda: getattr(app.state, "telemetry", None))
    app.add_middleware(RequestIdMiddleware)
    return app


async def _install(app: FastAPI, pool: BackendPool, policy: Policy) -> int:
    """Build the new runtime (loading new backends first), then swap it in."""
    runtime = pool.build(policy, version=app.state.runtime.version + 1)
    await pool.activate(runtime, wait=True)
    app.state.runtime = runtime
    app.state.budgets.update_policy(policy)
    return runtime.version


def _declared_secrets() -> list[str]:
    admin = os.environ.get("THINKROUTE_ADMIN_KEY")
    return [admin] if admin else []


def _body_limit(app: FastAPI, initial: Policy) -> int:
    runtime: Runtime | None = getattr(app.state, "runtime", None)
    return (runtime.policy if runtime else initial).limits.max_body_bytes


async def _announce_ready(app: FastAPI) -> None:
    import asyncio

    while not app.state.runtime.ready:
        await asyncio.sleep(0.2)
    log.info("thinkroute ready: serving policy version %s", app.state.runtime.version)
