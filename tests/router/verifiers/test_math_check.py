"""math_check clusters mathematically equal answers, safely and off the event loop."""

from __future__ import annotations

import pytest

from router.backends.base import ChatMessage
from router.verifiers import MathCheckVerifier, VerificationTask
from router.verifiers.math_check import equivalent, parse_math

TASK = VerificationTask((ChatMessage("user", "Simplify."),))


@pytest.mark.parametrize(
    ("a", "b"),
    [("x^2+2x+1", "(x+1)^2"), ("2(x+1)", "2x+2"), ("sqrt(8)", "2sqrt(2)"), ("1/sqrt(2)", "sqrt(2)/2"), ("0.5", "1/2")],
)
def test_equal_expressions(a: str, b: str) -> None:
    assert equivalent(a, b)


@pytest.mark.parametrize(("a", "b"), [("x+1", "x+2"), ("x^2", "x^3"), ("2", "3"), ("paris", "london"), ("x", "y")])
def test_different_expressions(a: str, b: str) -> None:
    assert not equivalent(a, b)


@pytest.mark.parametrize(
    "unsafe",
    [
        "__import__('os').system('true')",
        "x.evalf()",
        "lambda: 1",
        "9^9^9^9^9",
        "10^100000",
        "factorial(100000)",
        "a" * 200,
    ],
)
def test_unsafe_or_huge_input_is_not_parsed(unsafe: str) -> None:
    assert parse_math(unsafe) is None
    assert not equivalent(unsafe, "1")


async def test_clusters_persist_across_waves() -> None:
    verifier = MathCheckVerifier()
    first = await verifier.score(TASK, ["\\boxed{x^2 + 2x + 1}", "\\boxed{2}", "no idea"])
    second = await verifier.score(TASK, ["\\boxed{(x+1)^2}", "\\boxed{4/2}", "\\boxed{x}"])
    assert first.answers == ["x^2+2x+1", "2", "no idea"]
    assert second.answers == ["x^2+2x+1", "2", "x"]
    assert second.scores == [None, None, None]
