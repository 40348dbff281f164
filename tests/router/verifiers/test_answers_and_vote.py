"""Answer extraction, normalisation, voting and mathematical clustering."""

from __future__ import annotations

import pytest

from router.backends.base import ChatMessage
from router.verifiers import VerificationTask, build_verifier
from router.verifiers.answers import extract_answer, normalise_answer
from router.verifiers.math_check import equivalent
from router.verifiers.vote import vote_shares

TASK = VerificationTask((ChatMessage("user", "q"),))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Janet has 16 - 3 - 4 = 9 eggs.\n#### 9", "9"),
        ("so the result is \\boxed{\\frac{3}{4}}.", "0.75"),
        ("The answer is 1,234.", "1234"),
        ("The final answer is $12.50", "12.5"),
        ("Answer: (B)", "B"),
        ("It costs 40%", "40"),
        ("Thinking...\nParis.", "paris"),
        ("  ", None),
        ("x = 3/6", "0.5"),
        ("\\boxed{x^2 + 1}", "x^2+1"),
    ],
)
def test_extract_and_normalise(text: str, expected: str | None) -> None:
    assert normalise_answer(extract_answer(text)) == expected


async def test_vote_groups_equal_answers_and_shares_sum_to_one() -> None:
    result = await build_verifier("vote", None).score(TASK, ["#### 12", "the answer is 12.0", "13", "", "12"])  # type: ignore[arg-type]
    assert result.answers == ["12", "12", "13", None, "12"]
    assert result.scores == [None] * 5
    shares = vote_shares(result.answers)
    assert shares == {"12": 0.75, "13": 0.25}


async def test_math_check_clusters_equivalent_expressions_across_waves() -> None:
    verifier = build_verifier("math_check", None)  # type: ignore[arg-type]
    first = await verifier.score(TASK, ["\\boxed{x^2 + 2x + 1}", "\\boxed{2}"])
    second = await verifier.score(TASK, ["\\boxed{(x+1)^2}", "\\boxed{4/2}"])
    assert second.answers[0] == first.answers[0]
    assert second.answers[1] == first.answers[1]
    assert equivalent("1/2", "0.5") and not equivalent("x+1", "x+2")


def test_unknown_verifier_name_is_an_error() -> None:
    with pytest.raises(KeyError, match="known"):
        build_verifier("oracle", None)  # type: ignore[arg-type]
