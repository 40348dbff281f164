"""Prompt difficulty for the planner: the ONNX classifier, batched opportunistically, off the event loop.

A single drain task takes whatever prompts are already queued when it wakes (no timed window:
waiting for company would cost every request latency) and scores them in one onnxruntime call in a
worker thread, so the event loop keeps serving while it runs (a typical prompt takes ~60-200 µs;
prompts are truncated before featurizing, so this is bounded). Requests that arrive meanwhile queue
up and form the next batch. With the classifier disabled, every prompt gets the neutral difficulty 0.5.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import anyio

from router.backends.base import ChatMessage
from router.errors import ServiceUnavailable

__all__ = ["DifficultyEstimate", "DifficultyService"]


@dataclass(frozen=True)
class DifficultyEstimate:
    """The classifier's verdict on one prompt."""

    difficulty: float
    bucket: str
    probabilities: dict[str, float]
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"difficulty": round(self.difficulty, 4), "bucket": self.bucket, "probabilities": self.probabilities}


NEUTRAL = DifficultyEstimate(0.5, "medium", {"easy": 1 / 3, "medium": 1 / 3, "hard": 1 / 3})


class DifficultyService:
    """Scores prompts with a :class:`classifiers.DifficultyScorer`, batching concurrent requests."""

    def __init__(self, scorer: Any | None, *, max_batch: int = 64) -> None:
        self._scorer = scorer
        self._max_batch = max_batch
        self._queue: asyncio.Queue[tuple[str, asyncio.Future[DifficultyEstimate]]] | None = None
        self._worker: asyncio.Task[None] | None = None

    @classmethod
    def load(cls, enabled: bool, model_path: str | None = None) -> DifficultyService:
        """Load the committed classifier (or ``model_path``); a disabled classifier scores neutral."""
        if not enabled:
            return cls(None)
        from classifiers import DifficultyScorer

        try:
            scorer = DifficultyScorer.load(model_path) if model_path else DifficultyScorer.load()
        except Exception as exc:  # onnxruntime and file errors become our own type here
            raise ServiceUnavailable(f"difficulty classifier failed to load: {exc}") from exc
        return cls(scorer)

    @property
    def enabled(self) -> bool:
        return self._scorer is not None

    def text_for(self, messages: Sequence[ChatMessage]) -> str:
        """The text the classifier scores for a conversation (its documented choice)."""
        from classifiers import text_for_scoring

        return str(text_for_scoring([{"role": m.role, "content": m.content} for m in messages]))

    async def score(self, messages: Sequence[ChatMessage]) -> DifficultyEstimate:
        """Difficulty of a conversation, batched with concurrent callers."""
        if self._scorer is None:
            return NEUTRAL
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._worker = asyncio.create_task(self._drain())
        future: asyncio.Future[DifficultyEstimate] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((self.text_for(messages), future))  # unbounded queue: never blocks
        return await future

    def score_now(self, messages: Sequence[ChatMessage]) -> DifficultyEstimate:
        """Synchronous single-prompt scoring (CLI)."""
        if self._scorer is None:
            return NEUTRAL
        return self._run_batch([self.text_for(messages)])[0]

    def _run_batch(self, texts: list[str]) -> list[DifficultyEstimate]:
        started = time.perf_counter()
        scores = self._scorer.score_batch(texts)  # type: ignore[union-attr]
        seconds = (time.perf_counter() - started) / max(1, len(texts))
        return [DifficultyEstimate(float(s.difficulty), str(s.bucket), dict(s.probabilities), seconds) for s in scores]

    async def _drain(self) -> None:
        assert self._queue is not None
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            texts = [text for text, _ in batch]
            try:
                results = await anyio.to_thread.run_sync(self._run_batch, texts)
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(ServiceUnavailable(f"difficulty classifier failed: {exc}"))
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)

    async def aclose(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
