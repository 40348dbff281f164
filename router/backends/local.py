"""The in-process local backend: the transformers engine behind the async Backend interface.

Generation runs in one worker thread (torch already uses every core for one batch), so
requests queue FIFO in a bounded queue; a full queue answers 503 with Retry-After instead of
hanging. Several samples of one request share one prefill. Cancelling the awaiting task (client
disconnect, deadline) sets a cancel event that stops generation at the next token.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from router.backends.base import (
    BackendCapabilities,
    Completion,
    GenerationRequest,
    GenerationResult,
    StreamChunk,
    Usage,
)
from router.errors import ServiceUnavailable, UpstreamUnavailable

if TYPE_CHECKING:
    from local_backend.engine import EngineResult, LocalEngine
    from router.policy.schema import LocalBackendConfig

__all__ = ["LocalBackend"]


class LocalBackend:
    """Serves :class:`GenerationRequest` from a :class:`local_backend.engine.LocalEngine`."""

    capabilities = BackendCapabilities(native_n=True)

    def __init__(self, name: str, config: LocalBackendConfig) -> None:
        self.name = name
        self.config = config
        self.engine: LocalEngine | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"local-{name}")
        self._pending = 0
        self._load_error: BaseException | None = None

    @property
    def ready(self) -> bool:
        return self.engine is not None

    @property
    def queue_depth(self) -> int:
        return self._pending

    async def start(self) -> None:
        """Load the model in the worker thread (the event loop keeps serving /healthz)."""
        from local_backend.engine import LocalEngine

        loop = asyncio.get_running_loop()
        cfg = self.config
        self.engine = await loop.run_in_executor(
            self._executor, lambda: LocalEngine.load(cfg.model, cfg.device, cfg.dtype, cfg.threads)
        )

    async def aclose(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _require_engine(self) -> LocalEngine:
        if self.engine is None:
            raise ServiceUnavailable(f"backend {self.name!r} is still loading its model", retry_after=5)
        return self.engine

    def _admit(self) -> None:
        if self._pending >= self.config.max_queue:
            raise ServiceUnavailable(f"backend {self.name!r} queue is full", retry_after=1)
        self._pending += 1

    async def _run(self, request: GenerationRequest, on_text: Any = None) -> EngineResult:
        from local_backend.engine import SamplingParams
        from local_backend.prompting import build_prompt

        engine = self._require_engine()
        prompt = build_prompt(request.messages, engine.tokenizer, request.assistant_prefix)
        params = SamplingParams(
            max_new_tokens=request.max_tokens,
            temperature=request.temperature,
            top_p=request.top_p,
            n=request.n,
            stop=tuple(dict.fromkeys((*prompt.stop, *request.stop))),
            seed=request.seed,
            deadline=request.deadline,
            logprobs=request.logprobs,
        )
        cancel = threading.Event()
        self._admit()
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(
            self._executor, lambda: engine.generate(prompt.text, params, cancel=cancel, on_text=on_text)
        )
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            cancel.set()  # stop the thread at its next token; the slot frees when it returns
            raise
        except (RuntimeError, ValueError) as exc:
            raise UpstreamUnavailable(f"local generation failed: {exc}", backend=self.name) from exc
        finally:
            future.add_done_callback(lambda _: self._release())

    def _release(self) -> None:
        self._pending -= 1

    def _usage(self, result: EngineResult, completions: list[Completion]) -> Usage:
        price = self.config.price
        prompt = result.prompt_tokens
        completion = sum(c.completion_tokens for c in completions)
        cost = 0.0
        if price is not None:
            cost = (prompt * price.input_per_mtok + completion * price.output_per_mtok) / 1e6
            cost += price.gpu_second_usd * result.seconds
        return Usage(prompt, completion, 0, cost, 1)

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        started = time.monotonic()
        result = await self._run(request)
        completions = [
            Completion(
                text=s.text.strip() if not request.assistant_prefix else s.text,
                finish_reason=s.finish_reason,  # type: ignore[arg-type]
                completion_tokens=len(s.token_ids),
                logprobs=s.logprobs,
            )
            for s in result.samples
        ]
        result.seconds = result.seconds or time.monotonic() - started
        return GenerationResult(completions, self._usage(result, completions), self.engine_name)

    @property
    def engine_name(self) -> str:
        return self.engine.name if self.engine else self.name

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamChunk]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        started = [False]

        def on_text(delta: str) -> None:
            if not started[0]:  # the scaffold's answer begins after "A:"; drop the separating space
                delta = delta.lstrip(" ")
                started[0] = bool(delta)
            if delta:
                loop.call_soon_threadsafe(queue.put_nowait, delta)

        task = asyncio.ensure_future(self._run(request.with_(n=1), on_text))
        task.add_done_callback(lambda _: loop.call_soon_threadsafe(queue.put_nowait, None))
        try:
            while (delta := await queue.get()) is not None:
                yield StreamChunk(text=delta)
            result = await task
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        sample = result.samples[0]
        completion = Completion(sample.text, sample.finish_reason, len(sample.token_ids))  # type: ignore[arg-type]
        yield StreamChunk(finish_reason=completion.finish_reason, usage=self._usage(result, [completion]))
