"""llm_judge: an outcome reward model through any backend, scoring 0-1 with a rubric prompt.

Answers are also extracted, so a sampling strategy can run a score-weighted vote. The judge's
calls are ordinary backend calls: their usage is returned so the strategy charges them.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence

from router.backends.base import Backend, ChatMessage, GenerationRequest, Usage
from router.verifiers.answers import extract_answer, normalise_answer
from router.verifiers.base import VerificationTask, VerifierResult

__all__ = ["RUBRIC", "LLMJudgeVerifier", "parse_score"]

RUBRIC = (
    "You are grading an answer. Judge whether it answers the request correctly, completely and clearly.\n\n"
    "Request:\n{question}\n\nAnswer:\n{answer}\n\n"
    "Reply with a single integer score from 0 (wrong or useless) to 10 (correct and complete).\nScore:"
)
_NUM = r"(10(?:\.0+)?|\d(?:\.\d+)?)"
_LABELLED = re.compile(r"(?:score|rating|grade)\s*(?:is|of|:|=)?\s*\**\s*" + _NUM + r"(?!\d)", re.IGNORECASE)
_OUT_OF = re.compile(r"(?<![\d.])" + _NUM + r"\s*(?:/|out of)\s*10(?![\d.])", re.IGNORECASE)
_BARE = re.compile(r"(?<![\d.\-])" + _NUM + r"(?![\d]|\.\d|\s*%)")


def parse_score(text: str) -> float | None:
    """The judge's 0-10 grade scaled to [0, 1]: a labelled score ("Score: 7"), else "7/10" or
    "7 out of 10", else the first bare number from 0 to 10; ``None`` when it gave none."""
    for pattern in (_LABELLED, _OUT_OF, _BARE):
        match = pattern.search(text)
        if match:
            return min(10.0, float(match.group(1))) / 10.0
    return None


class LLMJudgeVerifier:
    """Asks a backend to grade each candidate; an unparsable grade scores 0."""

    name = "llm_judge"

    def __init__(self, backend: Backend, *, max_tokens: int = 8, concurrency: int = 8) -> None:
        self.backend = backend
        self.max_tokens = max_tokens
        self._slots = asyncio.Semaphore(concurrency)

    def _request(self, task: VerificationTask, candidate: str) -> GenerationRequest:
        prompt = RUBRIC.format(question=task.question, answer=candidate)
        return GenerationRequest(messages=(ChatMessage("user", prompt),), max_tokens=self.max_tokens, temperature=0.0)

    async def _grade(self, task: VerificationTask, candidate: str) -> tuple[float, Usage]:
        async with self._slots:
            result = await self.backend.generate(self._request(task, candidate))
        text = result.completions[0].text if result.completions else ""
        parsed = parse_score(text)
        return (0.0 if parsed is None else parsed), result.usage

    async def score(self, task: VerificationTask, candidates: Sequence[str]) -> VerifierResult:
        graded = await asyncio.gather(*(self._grade(task, text) for text in candidates))
        usage = sum((u for _, u in graded), Usage())
        scores: list[float | None] = [s for s, _ in graded]
        answers = [normalise_answer(extract_answer(text)) for text in candidates]
        return VerifierResult(scores=scores, answers=answers, usage=usage)
