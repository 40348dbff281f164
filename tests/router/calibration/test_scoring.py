"""Correctness per scorer kind: the vote verifier's answer extraction, NQ containment, code in the sandbox."""

from __future__ import annotations

from router.backends.base import ChatMessage
from router.calibration.datasets import EvalItem, ScorerKind, humaneval_tests
from router.calibration.scoring import answer_matches, score_reply


def _item(scorer: ScorerKind, *reference: str, **extra: object) -> EvalItem:
    return EvalItem("x", (ChatMessage("user", "q"),), tuple(reference), scorer, "test", **extra)  # type: ignore[arg-type]


def test_numeric_answers_match_in_any_stated_form() -> None:
    item = _item("numeric", "1,200")
    assert answer_matches(item, "1200")
    assert answer_matches(item, "She makes $1,200 in total.\n#### 1200")
    assert answer_matches(item, "The answer is 1200.00")
    assert not answer_matches(item, "1201")
    assert not answer_matches(item, "")
    assert answer_matches(_item("numeric", "0.5"), "1/2")


def test_math_answers_match_when_equivalent() -> None:
    item = _item("math", "\\frac{1}{2}")
    assert answer_matches(item, "so the result is \\boxed{0.5}")
    assert answer_matches(_item("math", "2x+2"), "\\boxed{2(x+1)}")
    assert not answer_matches(_item("math", "2x+2"), "\\boxed{2x+3}")


def test_nq_answers_match_by_normalised_containment() -> None:
    item = _item("contains", "The Beatles", "Beatles")
    assert answer_matches(item, "It was the beatles.")
    assert not answer_matches(item, "The Rolling Stones")
    assert not answer_matches(_item("contains", "1972"), "19725")  # whole tokens only


async def test_code_passes_only_when_every_assert_does() -> None:
    tests = humaneval_tests("def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(0, 0) == 0\n",
                            "add")  # fmt: skip
    item = _item("code", tests=tests, code_prefix="def add(a, b):\n", entry_point="add")
    assert await score_reply(item, "```python\ndef add(a, b):\n    return a + b\n```")
    assert await score_reply(item, "    return a + b\n")  # a body only: completed with the prompt's signature
    assert not await score_reply(item, "def add(a, b):\n    return 3\n")
    assert await score_reply(_item("numeric", "7"), "7")
