"""The in-process local backend: the transformers engine behind the async Backend interface.

Requests become engine jobs that a :class:`local_backend.batching.BatchScheduler` batches across
concurrent callers (a small wait window, ``max_batch_size`` sequences per batch) and decodes in one
worker thread, so the event loop never blocks. The queue is bounded: a full queue answers 503 with
Retry-After instead of hanging. The ``n`` samples of one request share one prefill. Cancelling the
awaiting task (client disconnect, deadline) frees the request's slot: a queued job leaves the queue,
a running one's sequences leave the batch at the next token.

Beyond :class:`~router.backends.base.Backend`: a :class:`ThinkingBudget` on the request turns on
s1 budget forcing (the completion's ``reasoning`` holds the thinking); :meth:`LocalBackend.step`
continues partial solutions up to a step delimiter for search; ``thought_switch`` enables the TIP
thought-switch penalty for every request of this backend.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from router.backends.base import (
    BackendCapabilities,
    Completion,
    FinishReason,
    GenerationRequest,
    GenerationResult,
    StreamChunk,
    Usage,
)
from router.errors import ServiceUnavailable, UpstreamUnavailable

if TYPE_CHECKING:
    from local_backend.batching import BatchScheduler
    from local_backend.engine import EngineResult, LocalEngine, SampleOutput
    from local_backend.jobs import Job
    from local_backend.stepwise import StepResult
    from local_backend.tip import ThoughtSwitchConfig
    from router.policy.schema import LocalBackendConfig

__all__ = ["LocalBackend"]


class LocalBackend:
    """Serves :class:`GenerationRequest` from a :class:`local_backend.engine.LocalEngine`.

    ``engine`` skips loading (an engine already in memory); ``thought_switch`` opts this backend's
    requests into the TIP penalty.
    """

    capabilities = BackendCapabilities(native_n=True, budget_forcing=True, stepwise=True)

    def __init__(
        self,
        name: str,
        config: LocalBackendConfig,
        *,
        engine: LocalEngine | None = None,
        thought_switch: ThoughtSwitchConfig | None = None,
    ) -> None:
        self.name = name
        self.config = config
        self.thought_switch = thought_switch
        self.engine: LocalEngine | None = None
        self._scheduler: BatchScheduler | None = None
        self._batch_listener: Callable[[int], None] | None = None
        self._loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"load-{name}")
        if engine is not None:
            self._attach(engine)

    @property
    def ready(self) -> bool:
        return self.engine is not None

    @property
    def queue_depth(self) -> int:
        return self._scheduler.depth if self._scheduler is not None else 0

    @property
    def scheduler(self) -> BatchScheduler | None:
        """The batch scheduler (None until the model is loaded)."""
        return self._scheduler

    @property
    def batch_listener(self) -> Callable[[int], None] | None:
        """Told the sequences of every batch the scheduler runs (telemetry's batch-size histogram)."""
        return self._batch_listener

    @batch_listener.setter
    def batch_listener(self, listener: Callable[[int], None] | None) -> None:
        self.set_batch_listener(listener)

    def set_batch_listener(self, listener: Callable[[int], None] | None) -> None:
        """Set :attr:`batch_listener` (a method, so that it reaches this backend through wrappers)."""
        self._batch_listener = listener
        if self._scheduler is not None:
            self._scheduler.on_batch = listener

    async def start(self) -> None:
        """Load the model in a worker thread (the event loop keeps serving /healthz)."""
        if self.engine is not None:
            return
        from local_backend.engine import LocalEngine

        cfg = self.config
        loop = asyncio.get_running_loop()
        engine = await loop.run_in_executor(
            self._loader, lambda: LocalEngine.load(cfg.model, cfg.device, cfg.dtype, cfg.threads)
        )
        self._attach(engine)

    def _attach(self, engine: LocalEngine) -> None:
        from local_backend.batching import BatchScheduler

        cfg = self.config
        self._scheduler = BatchScheduler(
            engine.run,
            max_rows=cfg.max_batch_size,
            wait_s=cfg.batch_wait_ms / 1000,
            max_queue=cfg.max_queue,
            name=self.name,
        )
        self._scheduler.on_batch = self._batch_listener
        self.engine = engine

    async def aclose(self) -> None:
        if self._scheduler is not None:
            self._scheduler.close()
            await asyncio.to_thread(self._scheduler.join, 30.0)
        self._loader.shutdown(wait=False, cancel_futures=True)

    @property
    def engine_name(self) -> str:
        return self.engine.name if self.engine else self.name

    def _require(self) -> tuple[LocalEngine, BatchScheduler]:
        if self.engine is None or self._scheduler is None:
            raise ServiceUnavailable(f"backend {self.name!r} is still loading its model", retry_after=5)
        return self.engine, self._scheduler

    async def _submit(self, job: Job) -> EngineResult:
        from local_backend.batching import QueueFull, run_job

        _, scheduler = self._require()
        try:
            return await run_job(scheduler, job)
        except QueueFull as exc:
            raise ServiceUnavailable(f"backend {self.name!r} queue is full", retry_after=exc.retry_after) from exc
        except (RuntimeError, ValueError) as exc:
            raise UpstreamUnavailable(f"local generation failed: {exc}", backend=self.name) from exc

    def _job(
        self,
        request: GenerationRequest,
        on_text: Callable[[str], None] | None = None,
        on_reasoning: Callable[[str], None] | None = None,
    ) -> Job:
        from local_backend.chat import chat_job
        from local_backend.engine import SamplingParams

        engine, _ = self._require()
        params = SamplingParams(
            max_new_tokens=request.max_tokens,
            temperature=request.temperature,
            top_p=request.top_p,
            n=request.n,
            stop=request.stop,
            seed=request.seed,
            deadline=request.deadline,
            logprobs=request.logprobs,
            thought_switch=self.thought_switch,
        )
        budget = request.thinking
        return chat_job(
            request.messages,
            engine.tokenizer,
            params,
            assistant_prefix=request.assistant_prefix,
            thinking_max=budget.max_tokens if budget is not None else None,
            thinking_min=budget.min_tokens if budget is not None else 0,
            max_waits=getattr(budget, "max_waits", None),  # when ThinkingBudget carries them
            wait_text=getattr(budget, "wait_token", None),
            on_text=on_text,
            on_reasoning=on_reasoning,
        )

    def _completion(self, sample: SampleOutput, request: GenerationRequest) -> Completion:
        keep_spacing = bool(request.assistant_prefix) and request.thinking is None
        return Completion(
            text=sample.text if keep_spacing else sample.text.strip(),
            finish_reason=_finish(sample.finish_reason),
            completion_tokens=len(sample.token_ids),
            reasoning=sample.reasoning or None,
            reasoning_tokens=sample.reasoning_tokens,
            logprobs=sample.logprobs,
        )

    def _usage(self, result: EngineResult, completions: list[Completion]) -> Usage:
        price = self.config.price
        prompt = result.prompt_tokens
        completion = sum(c.completion_tokens for c in completions)
        reasoning = sum(c.reasoning_tokens for c in completions)
        cost = 0.0
        if price is not None:
            cost = (prompt * price.input_per_mtok + completion * price.output_per_mtok) / 1e6
            share = len(completions) / result.batch_rows if result.batch_rows else 1.0
            cost += price.gpu_second_usd * result.seconds * share  # the batch's time, split by sequences
        return Usage(prompt, completion, reasoning, cost, 1)

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        result = await self._submit(self._job(request))
        completions = [self._completion(s, request) for s in result.samples]
        return GenerationResult(completions, self._usage(result, completions), self.engine_name)

    async def step(
        self,
        request: GenerationRequest,
        k: int,
        delimiter: str = "\n\n",
        prefixes: Sequence[str] | None = None,
    ) -> list[StepResult]:
        """Continue the request's prompt (plus each of ``prefixes``) ``k`` times up to ``delimiter``.

        ``request.max_tokens`` caps each step; temperature, top_p, seed, stop and deadline apply.
        Each :class:`~local_backend.stepwise.StepResult` carries text, token ids, logprobs and why it ended.
        """
        from local_backend.chat import step_prompt
        from local_backend.stepwise import step_job, step_results

        engine, _ = self._require()
        text, stops = step_prompt(request.messages, engine.tokenizer, assistant_prefix=request.assistant_prefix,
                                  stop=request.stop, delimiter=delimiter)  # fmt: skip
        job = step_job(
            text,
            tuple(prefixes) if prefixes else ("",),
            k=k,
            delimiter=delimiter,
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            top_p=request.top_p,
            seed=request.seed,
            stop=stops,
            deadline=request.deadline,
        )
        return step_results(job, await self._submit(job), delimiter)

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamChunk]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[StreamChunk | None] = asyncio.Queue()
        started = {"text": False, "reasoning": False}

        def emitter(kind: str) -> Callable[[str], None]:
            def emit(delta: str) -> None:
                if not started[kind]:  # the scaffold's text begins after "A:" / "Reasoning:"; drop the space
                    delta = delta.lstrip(" ")
                    started[kind] = bool(delta)
                if delta:
                    chunk = StreamChunk(text=delta) if kind == "text" else StreamChunk(reasoning=delta)
                    loop.call_soon_threadsafe(queue.put_nowait, chunk)

            return emit

        job = self._job(request.with_(n=1), emitter("text"), emitter("reasoning"))
        task = asyncio.ensure_future(self._submit(job))
        task.add_done_callback(lambda _: loop.call_soon_threadsafe(queue.put_nowait, None))
        try:
            while (chunk := await queue.get()) is not None:
                yield chunk
            result = await task
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        completion = self._completion(result.samples[0], request)
        yield StreamChunk(finish_reason=completion.finish_reason, usage=self._usage(result, [completion]))


def _finish(reason: str) -> FinishReason:
    if reason in ("stop", "length", "deadline", "cancelled"):
        return reason  # type: ignore[return-value]
    return "stop"
