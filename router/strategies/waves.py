"""Draw samples in waves under a deadline and a token cap; shared by the sampling strategies.

A wave asks the backend for ``k`` samples at once (one call with ``n=k`` where the backend
supports it, ``k`` parallel calls otherwise). Before each wave the sampler checks that the
deadline has not passed and that a full wave still fits under the plan's token cap; a wave cut
off by the deadline is cancelled, so it stops consuming compute. A failed parallel call cancels
its siblings and propagates as its own :class:`~router.errors.BackendError` (429/502/504), not as
an ``ExceptionGroup``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from router.backends.base import Backend, Completion, GenerationRequest, GenerationResult, Usage
from router.errors import BackendError, UpstreamTimeout
from router.stopping.base import StopReason
from router.strategies.base import Plan
from router.telemetry.context import span

__all__ = ["WaveSampler"]


@dataclass
class WaveSampler:
    """Accumulates samples and usage across waves for one request."""

    backend: Backend
    request: GenerationRequest
    plan: Plan
    samples: list[Completion] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    waves: int = 0
    stop_reason: str | None = None

    @property
    def tokens_used(self) -> int:
        return self.usage.completion_tokens

    def can_draw(self, k: int) -> bool:
        """Whether a wave of ``k`` more samples fits the deadline and the token cap; sets ``stop_reason``."""
        remaining = self.plan.remaining_s()
        if remaining is not None and remaining <= 0:
            self.stop_reason = "deadline"
            return False
        if self.tokens_used + k * self.request.max_tokens > self.plan.token_cap:
            self.stop_reason = "token_cap"
            return False
        return True

    async def draw(self, k: int) -> list[Completion]:
        """One wave of ``k`` samples; returns [] (and sets ``stop_reason``) if the deadline cuts it off.

        The deadline shows as our own timeout or as a backend's :class:`UpstreamTimeout`; the latter
        propagates when no sample exists yet, as there is no anytime answer to return."""
        # sample i of a request seeded s uses s + i, so the next wave starts after the samples drawn so far
        seed = None if self.request.seed is None else self.request.seed + len(self.samples)
        request = self.request.with_(n=k, seed=seed, deadline=self.plan.deadline)
        remaining = self.plan.remaining_s()
        with span("wave", {"thinkroute.wave.index": self.waves, "thinkroute.wave.size": k}) as wave:
            try:
                async with asyncio.timeout(remaining):
                    results = await self._call(request, k)
            except (TimeoutError, UpstreamTimeout) as exc:
                if isinstance(exc, UpstreamTimeout) and not self.samples:
                    raise
                self.stop_reason = StopReason.DEADLINE
                wave.set_attribute("thinkroute.stop_reason", StopReason.DEADLINE.value)
                return []
        self.waves += 1
        new: list[Completion] = []
        for result in results:
            self.usage = self.usage + result.usage
            new.extend(result.completions)
        if any(c.finish_reason == "deadline" for c in new):
            self.stop_reason = "deadline"
        self.samples.extend(new)
        return new

    async def _call(self, request: GenerationRequest, k: int) -> list[GenerationResult]:
        if self.backend.capabilities.native_n or k == 1:
            return [await self.backend.generate(request)]
        single = request.with_(n=1)
        seeds = [None if single.seed is None else single.seed + i for i in range(k)]
        try:
            async with asyncio.TaskGroup() as group:  # the first failure cancels the other calls
                tasks = [group.create_task(self.backend.generate(single.with_(seed=seed))) for seed in seeds]
        except BaseExceptionGroup as failed:
            error = _first_backend_error(failed)
            if error is None:
                raise
            raise error from None
        return [t.result() for t in tasks]


def _first_backend_error(group: BaseExceptionGroup[BaseException]) -> BackendError | None:
    """The first :class:`BackendError` in ``group`` (in the order the calls failed), nested groups included."""
    for error in group.exceptions:
        found = _first_backend_error(error) if isinstance(error, BaseExceptionGroup) else error
        if isinstance(found, BackendError):
            return found
    return None
