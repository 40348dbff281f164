"""llm_judge grades through a backend and returns what grading consumed."""

from __future__ import annotations

from router.backends.base import ChatMessage
from router.backends.scripted import ScriptedBackend
from router.verifiers import VerificationTask
from router.verifiers.llm_judge import LLMJudgeVerifier, parse_score


def test_parse_score() -> None:
    assert parse_score("8") == 0.8
    assert parse_score("Score: 10/10") == 1.0
    assert parse_score("I'd say 7.") == 0.7
    assert parse_score("no idea") is None


async def test_judge_scores_each_candidate_and_charges_its_calls() -> None:
    judge = ScriptedBackend(["9", "2 out of 10", "meh"], price_per_token=0.001)
    verifier = LLMJudgeVerifier(judge)
    task = VerificationTask((ChatMessage("user", "What is 2+2?"),))
    result = await verifier.score(task, ["#### 4", "#### 5", "#### 4"])
    assert result.scores == [0.9, 0.2, 0.0]
    assert result.answers == ["4", "5", "4"]
    assert result.usage.calls == 3 and result.usage.cost_usd > 0
    assert "What is 2+2?" in judge.calls[0].messages[0].content
