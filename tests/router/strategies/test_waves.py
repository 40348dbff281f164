"""WaveSampler: a failed parallel call surfaces as its own BackendError and cancels its siblings."""

from __future__ import annotations

import asyncio

import pytest

from router.backends.base import BackendCapabilities, GenerationRequest, GenerationResult
from router.backends.scripted import ScriptedBackend
from router.errors import BackendError, UpstreamRateLimited, UpstreamTimeout, UpstreamUnavailable
from router.policy.schema import BestOfNConfig
from router.strategies.best_of_n import BestOfN
from tests.router.strategies.helpers import context


class _OneCallFails(ScriptedBackend):
    """One sample per call; the second call fails at once, the others hang until cancelled."""

    capabilities = BackendCapabilities(native_n=False)

    def __init__(self, error: BackendError) -> None:
        super().__init__(["#### 1"])
        self.error = error
        self.cancelled = 0

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        assert request.n == 1
        self.calls.append(request)
        if len(self.calls) == 2:
            raise self.error
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return await super().generate(request)


@pytest.mark.parametrize(
    "error",
    [
        UpstreamRateLimited("upstream said 429", backend="flaky", retry_after=3.0),
        UpstreamUnavailable("upstream 503", backend="flaky"),
        UpstreamTimeout("upstream did not answer", backend="flaky"),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_a_failed_parallel_call_propagates_as_itself_and_cancels_the_others(error: BackendError) -> None:
    backend = _OneCallFails(error)
    config = BestOfNConfig(type="best_of_n", backend="local", n_values=[4], wave_size=4, stopping=[])
    with pytest.raises(BackendError) as raised:
        await asyncio.wait_for(BestOfN().run(context(backend, config, params={"n": 4})), timeout=5)
    assert raised.value is error  # not an ExceptionGroup, so fallbacks and the 429/502/504 mapping apply
    assert len(backend.calls) == 4 and backend.cancelled == 3
