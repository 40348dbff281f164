"""llm_judge: an outcome reward model through any backend, scoring 0-1 with a rubric prompt.

Answers are also extracted, so a sampling strategy can run a score-weighted vote.

Its calls are ordinary backend calls: their usage is returned so the strategy charges them.
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
    "Reply with a single integer score from 0 (wrong or useless) to 10 (correct and complete)."
)
_SCORE = re.compile(r"(?<![\d.])(10|[0-9])(?:\s*/\s*10)?(?!\d|\.\d)")


def parse_score(text: str) -> float | None:
    """The first 0-10 integer in the judge's reply, scaled to [0, 1]; ``None`` when there is none."""
    match = _SCORE.search(text)
    return None if match is None else int(match.group(1)) / 10.0


class LLMJudgeVerifier:
    """Asks a backend to grade each candidate; unparsable grades score 0."""

    name = "llm_judge"

    def __init__(self, backend: Backend, *, max_tokens: int = 8) -> None:
        self.backend = backend
        self.max_tokens = max_tokens

    async def score(self, task: VerificationTask, candidates: Sequence[str]) -> VerifierResult:
        requests = [
            GenerationRequest(
                messages=(ChatMessage("user", RUBRIC.format(question=task.question, answer=text)),),
                max_tokens=self.max_tokens,
                temperature=0.0,
            )
            for text in candidates
        ]
        results = await asyncio.gather(*(self.backend.generate(r) for r in requests))
        usage = sum((r.usage for r in results), Usage())
        scores: list[float | None] = []
        for result in results:
            parsed = parse_score(result.completions[0].text)
            scores.append(0.0 if parsed is None else parsed)
        answers = [normalise_answer(extract_answer(text)) for text in candidates]
        return VerifierResult(scores=scores, answers=answers, usage=usage)
