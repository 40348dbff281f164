"""A policy made runnable: its backends and strategies, swapped atomically on reload.

Backends are expensive (a loaded model, HTTP pools), so a reload reuses every backend whose
configuration did not change; in-flight requests keep the runtime they started with.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from router.backends.base import Backend
from router.errors import PolicyError
from router.planner.predict import Predictor
from router.policy.schema import Policy
from router.strategies import Strategy, build_strategy

__all__ = ["BACKEND_FACTORIES", "BackendFactory", "BackendPool", "Runtime"]

log = logging.getLogger("thinkroute.runtime")


def _local(name: str, config: Any) -> Backend:
    from router.backends.local import LocalBackend

    return LocalBackend(name, config)


BackendFactory = Callable[[str, Any], Backend]
BACKEND_FACTORIES: dict[str, BackendFactory] = {"local": _local}


@dataclass(frozen=True)
class Runtime:
    """One policy version with everything needed to serve it."""

    policy: Policy
    backends: Mapping[str, Backend]
    strategies: Mapping[str, Strategy]
    predictor: Predictor
    version: int = 1

    @property
    def ready(self) -> bool:
        return all(getattr(b, "ready", True) for b in self.backends.values())


class BackendPool:
    """Creates, starts, reuses and closes backends across policy reloads."""

    def __init__(self, factories: Mapping[str, BackendFactory] | None = None) -> None:
        self._factories = {**BACKEND_FACTORIES, **(factories or {})}
        self._live: dict[str, tuple[Any, Backend]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def build(self, policy: Policy, version: int = 1) -> Runtime:
        backends: dict[str, Backend] = {}
        for name, config in policy.backends.items():
            current = self._live.get(name)
            if current is not None and current[0] == config:
                backends[name] = current[1]
                continue
            factory = self._factories.get(config.type)
            if factory is None:
                raise PolicyError(f"backends.{name}.type: backend type {config.type!r} is not available")
            backends[name] = factory(name, config)
        strategies = {name: build_strategy(cfg) for name, cfg in policy.strategies.items()}
        predictor = Predictor(policy, price_lookup=lambda name: getattr(backends[name], "price", None))
        return Runtime(policy, backends, strategies, predictor, version)

    async def activate(self, runtime: Runtime, *, wait: bool) -> None:
        """Start the runtime's new backends (in the background unless ``wait``); retire replaced ones."""
        starting = []
        for name, backend in runtime.backends.items():
            current = self._live.get(name)
            if current is not None and current[1] is backend:
                continue
            if current is not None:
                self._spawn(self._close_later(current[1]))
            self._live[name] = (runtime.policy.backends[name], backend)
            start = getattr(backend, "start", None)
            if start is not None:
                starting.append(start())
        for name in set(self._live) - set(runtime.backends):
            self._spawn(self._close_later(self._live.pop(name)[1]))
        if wait:
            await asyncio.gather(*starting)
        else:
            for coro in starting:
                self._spawn(self._log_failure(coro))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _log_failure(coro: Any) -> None:
        try:
            await coro
        except Exception:
            log.exception("a backend failed to start")

    @staticmethod
    async def _close_later(backend: Backend, grace_s: float = 30.0) -> None:
        await asyncio.sleep(grace_s)  # in-flight requests finish on the old backend
        close = getattr(backend, "aclose", None)
        if close is not None:
            await close()

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for _, backend in self._live.values():
            close = getattr(backend, "aclose", None)
            if close is not None:
                await close()
        self._live.clear()
