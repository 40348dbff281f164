"""Retries with jittered backoff inside the plan's deadline, and a cooldown for failing backends.

Retried: upstream 429 (after its ``Retry-After`` when given), 5xx, timeouts, connection errors
and malformed replies. Never retried: the upstream rejecting the request (400-class), or a retry
that could not finish before the deadline. After ``cooldown_after`` consecutive failed calls a
backend is skipped for ``cooldown_s`` (calls fail at once with :class:`BackendCoolingDown`, so
fallbacks take over without waiting on a dead upstream); one success ends the cooldown.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from router.errors import BackendError, UpstreamRateLimited, UpstreamTimeout, UpstreamUnavailable

__all__ = [
    "RETRYABLE",
    "BackendCoolingDown",
    "Cooldown",
    "RetryPolicy",
    "call_with_retries",
    "report_upstream_event",
    "set_upstream_event_hook",
    "time_left",
]

T = TypeVar("T")
UpstreamEventHook = Callable[[str, str, "int | str | None"], None]
_hook: UpstreamEventHook | None = None


def set_upstream_event_hook(hook: UpstreamEventHook | None) -> None:
    """Where retries, cooldowns and fallbacks are reported (``backend, event, status``): telemetry's counter."""
    global _hook
    _hook = hook


def report_upstream_event(backend: str, event: str, status: int | str | None = None) -> None:
    """Report one upstream event (``retry``, ``cooldown``, ``fallback``, ``error``) to the installed hook."""
    if _hook is not None:
        _hook(backend, event, status)


RETRYABLE: tuple[type[BackendError], ...] = (UpstreamRateLimited, UpstreamUnavailable, UpstreamTimeout)


class BackendCoolingDown(UpstreamUnavailable):
    """The backend failed repeatedly and is skipped until its cooldown ends (502, ``Retry-After``)."""

    code = "upstream_cooling_down"


@dataclass(frozen=True)
class RetryPolicy:
    """How many times to retry and how long to wait between tries (exponential, full jitter)."""

    max_retries: int = 2
    backoff_s: float = 0.25
    backoff_max_s: float = 8.0

    def delay(self, retry: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds before retry number ``retry`` (0-based): the upstream's ``Retry-After`` when it gave one."""
        if retry_after is not None:
            return max(0.0, retry_after)
        return rng.uniform(0.0, min(self.backoff_max_s, self.backoff_s * 2**retry))


def time_left(deadline: float | None, timeout_s: float, *, backend: str) -> float:
    """The timeout for the next upstream call: the backend's own, cut to what the deadline leaves."""
    if deadline is None:
        return timeout_s
    left = deadline - time.monotonic()
    if left <= 0:
        raise UpstreamTimeout("the deadline passed before the upstream answered", backend=backend)
    return min(timeout_s, left)


class Cooldown:
    """Consecutive-failure counter that opens a cooldown window (a simple circuit breaker)."""

    def __init__(
        self, after: int, seconds: float, clock: Callable[[], float] = time.monotonic, *, backend: str = ""
    ) -> None:
        self.backend = backend
        self.after = after
        self.seconds = seconds
        self._clock = clock
        self._failures = 0
        self._until = 0.0

    def remaining(self) -> float:
        """Seconds left in the cooldown (0 when the backend may be called)."""
        return max(0.0, self._until - self._clock())

    def check(self, backend: str) -> None:
        """Raise :class:`BackendCoolingDown` while cooling down."""
        left = self.remaining()
        if left > 0:
            raise BackendCoolingDown(f"backend {backend!r} is cooling down after repeated failures",
                                     backend=backend, retry_after=left)  # fmt: skip

    def record(self, ok: bool) -> None:
        """Count a call's outcome; the ``after``-th consecutive failure starts a cooldown."""
        if ok:
            self._failures = 0
            return
        self._failures += 1
        if self._failures >= self.after and self.seconds > 0:
            self._until = self._clock() + self.seconds
            self._failures = 0
            report_upstream_event(self.backend, "cooldown")


async def call_with_retries(
    attempt: Callable[[float], Awaitable[T]],
    *,
    policy: RetryPolicy,
    deadline: float | None,
    timeout_s: float,
    backend: str,
    rng: random.Random | None = None,
    on_retry: Callable[[BackendError, float], None] | None = None,
) -> T:
    """Run ``attempt(timeout)`` until it succeeds, retrying retryable errors while the deadline allows."""
    rng = rng or random.Random()
    retry = 0
    while True:
        timeout = time_left(deadline, timeout_s, backend=backend)
        try:
            return await attempt(timeout)
        except RETRYABLE as exc:
            if retry >= policy.max_retries or isinstance(exc, BackendCoolingDown):
                raise
            delay = policy.delay(retry, exc.retry_after, rng)
            if deadline is not None and time.monotonic() + delay >= deadline:
                raise  # the retry could not finish in time: fail now with the upstream's own error
            status = exc.details.get("upstream_status", exc.status_code)
            report_upstream_event(backend, "retry", status if isinstance(status, int | str) else None)
            if on_retry is not None:
                on_retry(exc, delay)
            await asyncio.sleep(delay)
            retry += 1
