"""llm_judge grades through any backend and returns what grading consumed."""

from __future__ import annotations

import pytest

from router.backends.base import ChatMessage, GenerationRequest
from router.backends.scripted import ScriptedBackend
from router.verifiers import LLMJudgeVerifier, VerificationTask


@pytest.mark.parametrize(
    ("reply", "score"),
    [
        ("8", 0.8),
        ("Score: 10/10", 1.0),
        ("7.5/10", 0.75),
        ("**Score:** 6", 0.6),
        ("I'd give it a 7.", 0.7),
        ("3 out of 10", 0.3),
        ("The answer 42 is wrong. Score: 2", 0.2),
        ("Rating = 9", 0.9),
        ("no idea", None),
        ("", None),
    ],
)
def test_parse_score(reply: str, score: float | None) -> None:
    from router.verifiers.llm_judge import parse_score

    assert parse_score(reply) == score


async def test_judge_scores_each_candidate_and_charges_its_calls() -> None:
    judge = ScriptedBackend(["9", "2 out of 10", "meh"], price_per_token=0.001)
    verifier = LLMJudgeVerifier(judge)
    task = VerificationTask((ChatMessage("system", "Be brief."), ChatMessage("user", "What is 2+2?")))
    result = await verifier.score(task, ["#### 4", "#### 5", "#### 4"])
    assert result.scores == [0.9, 0.2, 0.0]  # unparsable grade scores 0
    assert result.answers == ["4", "5", "4"]
    assert result.usage.calls == 3
    assert result.usage.total_tokens > 0
    assert result.usage.cost_usd == pytest.approx(result.usage.total_tokens * 0.001)
    prompts = [c.messages[0].content for c in judge.calls]
    assert all("What is 2+2?" in p and "0 (wrong" in p for p in prompts)
    assert {c.temperature for c in judge.calls} == {0.0}


async def test_judge_sees_each_candidate() -> None:
    def grade(request: GenerationRequest, index: int) -> str:
        return "10" if "#### 4" in request.messages[0].content else "1"

    result = await LLMJudgeVerifier(ScriptedBackend(grade)).score(
        VerificationTask((ChatMessage("user", "2+2?"),)), ["#### 5", "#### 4"]
    )
    assert result.scores == [0.1, 1.0]
