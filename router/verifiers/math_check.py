"""math_check: cluster answers that are mathematically equal (``0.5``, ``1/2``, ``\\frac{1}{2}``,
``2(x+1)`` and ``2x+2``).

Normalised answers are parsed with sympy only when they pass a strict whitelist (digits, single-
letter variables, a few function names, operators; at most 120 characters), without evaluation,
and rejected when they hold huge numbers or exponents. Two parsed answers are equal when their
difference vanishes at a few random points (exact for numbers). The work runs in a worker thread
under a time limit, so the event loop never waits on sympy. It clusters votes; it is not an oracle
and gives no scores.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Sequence
from typing import Any

from router.verifiers.answers import extract_answer, normalise_answer
from router.verifiers.base import VerificationTask, VerifierResult

__all__ = ["MathCheckVerifier", "equivalent", "parse_math"]

_MAX_CHARS = 120
_ALLOWED = re.compile(r"[0-9A-Za-z\s+\-*/^().,=]*")
_NAMES = {"sqrt", "pi", "e", "sin", "cos", "tan", "log", "ln", "exp", "i"}
_MAX_INTEGER = 10**40
_MAX_EXPONENT = 200
_POINTS = (0.7319, 1.3187, 2.4391)


def _has_tower(exponent: Any) -> bool:
    """Whether an exponent holds a power of its own (other than the ``x^-1`` that division parses to)."""
    import sympy

    return any(isinstance(node, sympy.Pow) and node.exp != -1 for node in sympy.preorder_traversal(exponent))


def _guarded(expr: Any) -> bool:
    """No huge literals or exponents anywhere in the (unevaluated) tree."""
    import sympy

    for node in sympy.preorder_traversal(expr):
        if isinstance(node, sympy.Integer) and abs(int(node)) > _MAX_INTEGER:
            return False
        if isinstance(node, sympy.Pow) and node.exp.is_number:
            if _has_tower(node.exp):  # 9^9^9^9: even a float of the exponent would not finish
                return False
            try:
                if abs(float(node.exp)) > _MAX_EXPONENT:
                    return False
            except (TypeError, ValueError):
                return False
        if isinstance(node, sympy.Function) and node.func.__name__ not in {"sqrt", "sin", "cos", "tan", "log", "exp"}:
            return False
    return True


def parse_math(text: str) -> Any | None:
    """A sympy expression for a normalised answer, or ``None`` when it is not safe or not maths."""
    if len(text) > _MAX_CHARS or not _ALLOWED.fullmatch(text) or "**" in text or re.search(r"\.\s*[A-Za-z]", text):
        return None
    if any(word not in _NAMES for word in re.findall(r"[A-Za-z]{2,}", text)):
        return None
    from sympy import Symbol, parse_expr
    from sympy.parsing.sympy_parser import (
        convert_xor,
        implicit_multiplication_application,
        standard_transformations,
    )

    cleaned = text.replace(",", "").replace("ln", "log")
    local = {name: Symbol(name) for name in "abcdfghjklmnopqrstuvwxyzABCDEFGHJKLMNOPQRSTUVWXYZ"}
    transformations = (*standard_transformations, implicit_multiplication_application, convert_xor)
    try:
        expr = parse_expr(cleaned, local_dict=local, transformations=transformations, evaluate=False)
    except Exception:  # sympy's parser raises many unrelated types on bad input; unparsable is the answer
        return None
    return expr if _guarded(expr) else None


def _close(x: Any, y: Any) -> bool:
    a, b = complex(x), complex(y)
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def equivalent(a: str, b: str) -> bool:
    """Whether two normalised answers are equal as numbers or expressions (never raises)."""
    if a == b:
        return True
    left, right = parse_math(a), parse_math(b)
    if left is None or right is None:
        return False
    try:
        symbols = sorted(left.free_symbols | right.free_symbols, key=str)
        if not symbols:
            return _close(left.evalf(30), right.evalf(30))
        rng = random.Random(0)
        for point in _POINTS:
            values = {s: point + rng.random() for s in symbols}
            if not _close(left.evalf(30, subs=values), right.evalf(30, subs=values)):
                return False
        return True
    except Exception:  # relations, non-numeric values, overflow: not provably equal
        return False


class MathCheckVerifier:
    """Vote classes merged by mathematical equivalence; labels persist across the waves of one request."""

    name = "math_check"

    def __init__(self, *, timeout_s: float = 2.0) -> None:
        self.timeout_s = timeout_s
        self._labels: list[str] = []

    def _label(self, answer: str) -> str:
        for known in self._labels:
            if equivalent(known, answer):
                return known
        self._labels.append(answer)
        return answer

    async def _label_within_limit(self, answer: str) -> str:
        try:
            return await asyncio.wait_for(asyncio.to_thread(self._label, answer), self.timeout_s)
        except TimeoutError:  # give up on clustering it: it votes on its own
            return answer

    async def score(self, task: VerificationTask, candidates: Sequence[str]) -> VerifierResult:
        normalised = [normalise_answer(extract_answer(text)) for text in candidates]
        answers: list[str | None] = []
        for answer in normalised:  # sequential: each label may join a class created just before
            answers.append(None if answer is None else await self._label_within_limit(answer))
        return VerifierResult(scores=[None] * len(answers), answers=answers)
