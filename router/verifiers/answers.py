"""Extract and normalise final answers so that equal answers vote together.

Handles GSM8K's ``#### N``, LaTeX ``\\boxed{...}``, "the answer is X", multiple-choice letters,
numbers with thousands separators, units, currency and percent signs, simple fractions, and
otherwise the final non-empty line.
"""

from __future__ import annotations

import re
from fractions import Fraction

__all__ = ["extract_answer", "normalise_answer"]

_BOXED = re.compile(r"\\boxed\s*\{")
_HASHES = re.compile(r"####\s*(.+)")
_ANSWER_IS = re.compile(r"(?:final answer|answer)\s*(?:is|:|=)\s*(.+)", re.IGNORECASE)
_CHOICE = re.compile(r"^\(?([A-Ea-e])\)?(?:[.):]|\s|$)")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:\s*/\s*\d+)?")
_EXPRESSION = re.compile(r"[A-Za-z0-9)]\s*[\^*/+\-]\s*[A-Za-z0-9(]")
_VARIABLE = re.compile(r"(?<![A-Za-z])[a-z](?![A-Za-z])")
_LATEX_FRAC = re.compile(r"\\d?frac\s*\{([^{}]+)\}\s*\{([^{}]+)\}")


def _boxed(text: str) -> str | None:
    matches = list(_BOXED.finditer(text))
    if not matches:
        return None
    match = matches[-1]
    depth, start = 1, match.end()
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[start:i]
    return None


def extract_answer(text: str) -> str | None:
    """The final answer a completion states, before normalisation; ``None`` when it states nothing."""
    if not text or not text.strip():
        return None
    boxed = _boxed(text)
    if boxed is not None:
        return boxed
    hashes = _HASHES.findall(text)
    if hashes:
        return str(hashes[-1]).strip()
    answer_is = _ANSWER_IS.findall(text)
    if answer_is:
        return str(answer_is[-1]).strip()
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else None


def _number(text: str) -> str | None:
    numbers = _NUMBER.findall(text)
    if not numbers:
        return None
    raw = numbers[-1].replace(",", "").replace(" ", "")
    try:
        value = Fraction(raw)
    except (ValueError, ZeroDivisionError):
        return None
    if value.denominator == 1:
        return str(value.numerator)
    as_float = float(value)
    return f"{as_float:.6g}"


def normalise_answer(answer: str | None) -> str | None:
    """A canonical form: numbers as reduced values, choices as a letter, text lower-cased and trimmed."""
    if answer is None:
        return None
    text = _LATEX_FRAC.sub(r"(\1)/(\2)", answer.strip())
    text = text.replace("\\%", "%").replace("$", "").replace("\\!", "").strip().rstrip(".")
    choice = _CHOICE.match(text)
    if choice and len(text) <= 3:
        return choice.group(1).upper()
    simple_fraction = re.fullmatch(r"\(?(-?\d+)\)?\s*/\s*\(?(\d+)\)?", text)
    if simple_fraction:
        value = Fraction(int(simple_fraction.group(1)), int(simple_fraction.group(2)))
        return str(value.numerator) if value.denominator == 1 else f"{float(value):.6g}"
    assignment = re.fullmatch(r"[a-zA-Z]\s*=\s*(.+)", text)
    if assignment:
        text = assignment.group(1).strip()
    if _EXPRESSION.search(text) and _VARIABLE.search(text):
        return re.sub(r"\s+", "", text).lower()
    number = _number(text)
    if number is not None:
        return number
    collapsed = re.sub(r"\s+", " ", text).strip().lower()
    return collapsed or None
