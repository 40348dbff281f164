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

CLASSIFIER_GRACE_S = 10.0  # a classifier a reload replaced is closed this long after, once its requests are scored


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
        app.state.telemetry_config = initial.telemetry  # what ``tel`` was built from; reloads cannot change it
        tel.watch_backends(lambda: app.state.runtime.backends)
        tel.watch_online_feedback(lambda: app.state.runtime.online.snapshot() if app.state.runtime.online else {})
        set_upstream_event_hook(tel.record_upstream)  # retries, cooldowns and fallbacks become metrics
        budgets = BudgetService.create(initial)
        budgets.listener = tel.record_budget_event  # outages, queued settlements... become metrics
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
            await app.state.chat_service.difficulty.aclose()  # the classifier of the last reload
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
    """Build the new runtime (loading new backends and a changed classifier first), then swap it in.

    The ``telemetry`` section is applied at start only: a reload that changes it logs a warning.
    """
    service: ChatService = app.state.chat_service
    current: Policy = app.state.runtime.policy
    difficulty = None
    if policy.classifier != current.classifier:
        difficulty = await anyio.to_thread.run_sync(
            DifficultyService.load, policy.classifier.enabled, policy.classifier.model_path
        )
    try:
        runtime = pool.build(policy, version=app.state.runtime.version + 1)
        await pool.activate(runtime, wait=True)
    except BaseException:
        if difficulty is not None:
            await difficulty.aclose()
        raise
    if policy.telemetry != app.state.telemetry_config:
        log.warning("policy reload: the telemetry section changed; it takes effect only after a restart "
                    "(still using the one loaded at start)")  # fmt: skip
    app.state.runtime = runtime
    app.state.budgets.update_policy(policy)
    if difficulty is not None:
        previous, service.difficulty = service.difficulty, difficulty
        pool._spawn(_close_later(previous, CLASSIFIER_GRACE_S))  # requests being scored finish on it
        log.info("policy reload: classifier reloaded (%s)", "enabled" if difficulty.enabled else "disabled")
    return runtime.version


async def _close_later(difficulty: DifficultyService, delay_s: float) -> None:
    import asyncio

    try:
        await asyncio.sleep(delay_s)
    finally:
        await difficulty.aclose()


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
