"""DifficultyService batching: prompts are scored off the event loop, concurrent ones in one call."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from router.backends.base import ChatMessage
from router.difficulty import NEUTRAL, DifficultyService
from router.errors import ServiceUnavailable


@dataclass
class _Score:
    difficulty: float
    bucket: str
    probabilities: dict[str, float]


class _RecordingScorer:
    """Scores by text length; records each call's batch and the thread it ran on."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[list[str], int]] = []
        self.fail = fail

    def score_batch(self, texts: Sequence[str]) -> list[_Score]:
        self.calls.append((list(texts), threading.get_ident()))
        if self.fail:
            raise RuntimeError("onnxruntime exploded")
        return [_Score(len(t) / 100, "easy", {"easy": 1.0, "medium": 0.0, "hard": 0.0}) for t in texts]


def _chat(text: str) -> list[ChatMessage]:
    return [ChatMessage("user", text)]


async def test_a_lone_prompt_is_scored_off_the_event_loop() -> None:
    scorer = _RecordingScorer()
    service = DifficultyService(scorer)
    estimate = await service.score(_chat("x" * 10))
    assert estimate.difficulty == pytest.approx(0.1)
    assert len(scorer.calls) == 1 and scorer.calls[0][1] != threading.get_ident()
    await service.aclose()


async def test_concurrent_prompts_are_scored_in_one_call_off_the_event_loop() -> None:
    scorer = _RecordingScorer()
    service = DifficultyService(scorer)
    texts = ["a" * 10, "b" * 20, "c" * 30]
    estimates = await asyncio.gather(*(service.score(_chat(t)) for t in texts))
    assert [e.difficulty for e in estimates] == pytest.approx([0.1, 0.2, 0.3])  # each caller gets its own
    assert len(scorer.calls) == 1 and len(scorer.calls[0][0]) == 3
    assert scorer.calls[0][1] != threading.get_ident()
    await service.aclose()


async def test_batches_are_capped_at_max_batch() -> None:
    scorer = _RecordingScorer()
    service = DifficultyService(scorer, max_batch=2)
    await asyncio.gather(*(service.score(_chat(str(i))) for i in range(5)))
    assert sorted(len(texts) for texts, _ in scorer.calls) == [1, 2, 2]
    await service.aclose()


@pytest.mark.parametrize("concurrent", [1, 3])
async def test_a_failing_classifier_fails_every_caller_with_service_unavailable(concurrent: int) -> None:
    scorer = _RecordingScorer(fail=True)
    service = DifficultyService(scorer)
    results = await asyncio.gather(*(service.score(_chat("q")) for _ in range(concurrent)), return_exceptions=True)
    assert len(results) == concurrent
    assert all(isinstance(r, ServiceUnavailable) and "onnxruntime exploded" in str(r) for r in results)
    scorer.fail = False  # the drain task survives a failed batch
    assert (await service.score(_chat("x" * 50))).difficulty == pytest.approx(0.5)
    await service.aclose()


async def test_a_disabled_classifier_scores_neutral_without_a_worker() -> None:
    service = DifficultyService(None)
    assert await service.score(_chat("anything")) is NEUTRAL
    assert service._worker is None
    await service.aclose()
