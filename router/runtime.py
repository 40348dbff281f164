"""A policy made runnable: its backends and strategies, swapped atomically on reload.

Backends are expensive (a loaded model, HTTP pools), so a reload reuses every backend whose
configuration did not change; in-flight requests keep the runtime they started with, and a
replaced backend is closed once its calls in flight have finished.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from router.backends.base import Backend, GenerationRequest, GenerationResult, StreamChunk
from router.errors import PolicyError
from router.planner.predict import Predictor
from router.policy.schema import Policy
from router.strategies import Strategy, build_strategy

if TYPE_CHECKING:
    from router.calibration.online import OnlineProfiles

__all__ = ["BACKEND_FACTORIES", "BackendFactory", "BackendPool", "InFlightBackend", "Runtime"]

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


class InFlightBackend:
    """A backend that counts its calls in flight, so the pool closes it only once they are done.

    Attribute access falls through to the wrapped backend (``ready``, ``start``, ``queue_depth``...).
    """

    def __init__(self, inner: Backend) -> None:
        self._inner = inner
        self.name = inner.name
        self.capabilities = inner.capabilities
        self.in_flight = 0
        self.started = 0  # calls ever started, to tell a quiet backend from one between two calls
        self._idle = asyncio.Event()
        self._idle.set()

    def __getattr__(self, item: str) -> Any:
        return getattr(self._inner, item)

    @property
    def inner(self) -> Backend:
        return self._inner

    def _enter(self) -> None:
        self.in_flight += 1
        self.started += 1
        self._idle.clear()

    def _exit(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0:
            self._idle.set()

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        self._enter()
        try:
            return await self._inner.generate(request)
        finally:
            self._exit()

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamChunk]:
        self._enter()
        try:
            async for chunk in self._inner.stream(request):
                yield chunk
        finally:
            self._exit()

    async def drained(self, timeout_s: float, quiet_s: float = 0.0) -> bool:
        """Wait until no call has been in flight for ``quiet_s``; ``False`` if ``timeout_s`` passes first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            if self.in_flight:
                try:
                    await asyncio.wait_for(self._idle.wait(), max(0.0, deadline - loop.time()))
                except TimeoutError:
                    return False
            started = self.started
            await asyncio.sleep(max(0.0, min(quiet_s, deadline - loop.time())))
            if self.in_flight == 0 and self.started == started:
                return True
            if loop.time() >= deadline:
                return False


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
    """Creates, starts, reuses and closes backends across policy reloads.

    A backend a reload replaces or drops is closed once its calls in flight have finished and it has
    been quiet for ``retire_quiet_s`` (a request between two calls, e.g. two waves, keeps it), or
    at the latest after the longer of the old and new policy's ``limits.request_timeout_s``.
    """

    def __init__(self, factories: Mapping[str, BackendFactory] | None = None, *, retire_quiet_s: float = 2.0) -> None:
        self._factories = {**BACKEND_FACTORIES, **(factories or {})}
        self._live: dict[str, tuple[Any, Backend]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._online: OnlineProfiles | None = None
        self._retiring: set[Backend] = set()
        self._request_timeout_s: float | None = None
        self.retire_quiet_s = retire_quiet_s

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
            backends[name] = InFlightBackend(factory(name, config))
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
        timeout_s = runtime.policy.limits.request_timeout_s
        cap_s = max(timeout_s, self._request_timeout_s or 0.0)  # requests of the old policy may still run
        self._request_timeout_s = timeout_s
        starting = []
        for name, backend in runtime.backends.items():
            current = self._live.get(name)
            if current is not None and current[1] is backend:
                continue
            if current is not None:
                self._retire(current[1], cap_s)
            self._live[name] = (runtime.policy.backends[name], backend)
            start = getattr(backend, "start", None)
            if start is not None:
                starting.append(start())
        for name in set(self._live) - set(runtime.backends):
            self._retire(self._live.pop(name)[1], cap_s)
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

    def _retire(self, backend: Backend, cap_s: float) -> None:
        self._retiring.add(backend)
        self._spawn(self._close_when_drained(backend, cap_s))

    async def _close_when_drained(self, backend: Backend, cap_s: float) -> None:
        """Close a replaced backend once its calls in flight finish (at most ``cap_s`` from now)."""
        if isinstance(backend, InFlightBackend) and not await backend.drained(cap_s, self.retire_quiet_s):
            log.warning("closing replaced backend %s with %d calls still in flight after %.0f s",
                        backend.name, backend.in_flight, cap_s)  # fmt: skip
        if backend in self._retiring:
            self._retiring.discard(backend)
            await _close(backend)

    async def aclose(self) -> None:
        """Close every backend now, live or retiring."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5.0)
        retiring, self._retiring = list(self._retiring), set()
        for backend in [*retiring, *(b for _, b in self._live.values())]:
            await _close(backend)
        self._live.clear()


async def _close(backend: Backend) -> None:
    close = getattr(backend, "aclose", None)
    if close is not None:
        await close()
