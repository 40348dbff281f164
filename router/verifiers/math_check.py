"""math_check: cluster answers that are mathematically equal (``0.5``, ``1/2``, ``\\frac{1}{2}``).

Answers are parsed with sympy (guarded by size limits) and grouped by symbolic equality; each
group is labelled by its first member. It clusters votes, it is not an oracle: it never scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from router.verifiers.answers import extract_answer, normalise_answer
from router.verifiers.base import VerificationTask, VerifierResult

__all__ = ["MathCheckVerifier", "equivalent"]

_MAX_CHARS = 200


def _parse(text: str) -> Any | None:
    from sympy.parsing.sympy_parser import (
        convert_xor,
        implicit_multiplication_application,
        parse_expr,
        standard_transformations,
    )

    if len(text) > _MAX_CHARS or any(bad in text for bad in ("__", "import", "lambda", "**" * 2)):
        return None
    cleaned = text.replace("\\cdot", "*").replace("\\times", "*").replace("{", "(").replace("}", ")")
    cleaned = cleaned.replace("\\left", "").replace("\\right", "").replace("\\", "")
    try:
        transformations = (*standard_transformations, implicit_multiplication_application, convert_xor)
        return parse_expr(cleaned, transformations=transformations, evaluate=True)
    except Exception:  # sympy's parser raises many unrelated types on bad input; unparsable is the answer
        return None


def equivalent(a: str, b: str) -> bool:
    """Whether two answers are equal as numbers or expressions."""
    if a == b:
        return True
    import sympy

    left, right = _parse(a), _parse(b)
    if left is None or right is None:
        return False
    try:
        return bool(sympy.simplify(left - right) == 0)
    except Exception:  # e.g. comparing a relation with a number
        return False


class MathCheckVerifier:
    """Vote classes merged by mathematical equivalence; labels persist across waves of one request."""

    name = "math_check"

    def __init__(self) -> None:
        self._labels: list[str] = []

    async def score(self, task: VerificationTask, candidates: Sequence[str]) -> VerifierResult:
        normalised = [normalise_answer(extract_answer(text)) for text in candidates]
        labels = self._labels
        answers: list[str | None] = []
        for answer in normalised:
            if answer is None:
                answers.append(None)
                continue
            label = next((known for known in labels if equivalent(known, answer)), None)
            if label is None:
                labels.append(answer)
                label = answer
            answers.append(label)
        return VerifierResult(scores=[None] * len(answers), answers=answers)
