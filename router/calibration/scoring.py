"""Is a reply correct? One check per :data:`~router.calibration.datasets.ScorerKind`.

Answers are extracted and normalised exactly as the ``vote`` verifier does
(:mod:`router.verifiers.answers`), so calibration measures the same notion of "the same answer"
that best-of-N votes on. ``math`` also accepts mathematically equivalent answers
(:func:`router.verifiers.math_check.equivalent`); ``contains`` is NQ-style (lower-cased, without
punctuation or articles, a gold answer inside the reply); ``code`` runs the item's asserts in the
``code_tests`` sandbox and needs every one to pass.
"""

from __future__ import annotations

import re
import string

from router.calibration.datasets import EvalItem
from router.verifiers.answers import extract_answer, normalise_answer
from router.verifiers.code_tests import extract_code
from router.verifiers.math_check import equivalent
from router.verifiers.sandbox import run_sandboxed

__all__ = ["answer_matches", "normalise_text", "score_reply"]

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalise_text(text: str) -> str:
    """SQuAD/NQ normalisation: lower case, no punctuation, no articles, single spaces."""
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCTUATION)).split())


def _numbers_equal(a: str, b: str) -> bool:
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    return abs(x - y) <= 1e-6 * max(1.0, abs(x), abs(y))


def answer_matches(item: EvalItem, reply: str) -> bool:
    """Whether ``reply`` answers ``item`` correctly (every scorer except ``code``)."""
    if item.scorer == "contains":
        text = f" {normalise_text(reply)} "
        golds = [normalise_text(g) for g in item.reference]
        return any(g and f" {g} " in text for g in golds)
    predicted = normalise_answer(extract_answer(reply))
    if predicted is None:
        return False
    for gold in item.reference:
        expected = normalise_answer(gold)
        if expected is None:
            continue
        if predicted == expected or _numbers_equal(predicted, expected):
            return True
        if item.scorer == "math" and equivalent(predicted, expected):
            return True
    return False


async def score_reply(item: EvalItem, reply: str) -> bool:
    """Whether ``reply`` is correct; code runs in the sandbox (every assert must pass)."""
    if item.scorer != "code":
        return answer_matches(item, reply)
    tests = [line for line in (item.tests or "").splitlines() if line.strip()]
    if not tests:
        return False
    code = extract_code(reply)
    if item.entry_point and f"def {item.entry_point}" not in code:
        code = item.code_prefix + code
    passed = await run_sandboxed(code, tests)
    return all(passed)
