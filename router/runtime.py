"""A policy made runnable: its backends and strategies, swapped atomically on reload.

Backends are expensive (a loaded model, HTTP pools), so a reload reuses every backend whose
configuration did not change; in-flight requests keep the runtime they started with.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from router.backends.base import Backend
from router.errors import PolicyError
from router.planner.predict import Predictor
from router.policy.schema import Policy
from router.strategies import Strategy, build_strategy

if TYPE_CHECKING:
    from router.calibration.online import OnlineProfiles

__all__ = ["BACKEND_FACTORIES", "BackendFactory", "BackendPool", "Runtime"]

log = logging.getLogger("thinkroute.runtime")


def _local(name: str, config: Any) -> Backend:
    from router.backends.local import LocalBackend

    return LocalBackend(name, config)


def _openai_compatible(name: str, config: Any) -> Backend:
    from router.backends.openai_compatible import OpenAICompatibleBackend

    return OpenAICompatibleBackend(name, config)


def _litellm(name: str, config: Any) -> Backend:
    from router.backends.litellm_backend import LiteLLMBackend

    return LiteLLMBackend(name, config)


BackendFactory = Callable[[str, Any], Backend]
BACKEND_FACTORIES: dict[str, BackendFactory] = {
    "local": _local,
    "openai_compatible": _openai_compatible,
    "litellm": _litellm,
}


def with_fallbacks(policy: Policy, backends: Mapping[str, Backend]) -> dict[str, Backend]:
    """The backend strategies call, by name: wrapped in a :class:`FallbackBackend` when it has fallbacks."""
    from router.backends.fallback import FallbackBackend

    routed: dict[str, Backend] = dict(backends)
    for name, config in policy.backends.items():
        fallbacks = getattr(config, "fallbacks", [])
        if fallbacks:
            routed[name] = FallbackBackend(backends[name], [backends[f] for f in fallbacks])
    return routed


@dataclass(frozen=True)
class Runtime:
    """One policy version with everything needed to serve it."""

    policy: Policy
    backends: Mapping[str, Backend]
    strategies: Mapping[str, Strategy]
    predictor: Predictor
    version: int = 1
    online: OnlineProfiles | None = None  # online feedback (``policy.online_feedback.enabled``)
    routed: Mapping[str, Backend] | None = None  # backends with their fallback chains (``with_fallbacks``)

    def backend_for(self, name: str) -> Backend:
        """The backend a strategy calls: with its fallbacks when the policy gives any."""
        return (self.routed or self.backends)[name]

    @property
    def ready(self) -> bool:
        return all(getattr(b, "ready", True) for b in self.backends.values())

    def planner(self) -> Predictor:
        """The predictor to plan with: over the online-feedback profiles once anything was observed."""
        if self.online is None:
            return self.predictor
        return self.online.predictor(self.policy, self._predictor_for) or self.predictor

    def _predictor_for(self, policy: Policy) -> Predictor:
        return Predictor(policy, price_lookup=lambda name: getattr(self.backends[name], "price", None))


class BackendPool:
    """Creates, starts, reuses and closes backends across policy reloads."""

    def __init__(self, factories: Mapping[str, BackendFactory] | None = None) -> None:
        self._factories = {**BACKEND_FACTORIES, **(factories or {})}
        self._live: dict[str, tuple[Any, Backend]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._online: OnlineProfiles | None = None

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
        online = self._online_feedback(policy)
        return Runtime(policy, backends, strategies, predictor, version, online, with_fallbacks(policy, backends))

    def _online_feedback(self, policy: Policy) -> OnlineProfiles | None:
        """A tracker for the policy's profiles, keeping the previous version's estimates where still valid."""
        if not policy.online_feedback.enabled:
            self._online = None
            return None
        from router.calibration.online import OnlineProfiles

        tracker = OnlineProfiles(policy.profiles, policy.online_feedback)
        if self._online is not None:
            tracker.carry_over(self._online)
        self._online = tracker
        return tracker

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
