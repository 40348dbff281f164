"""Extract and normalise final answers so that equal answers vote together.

Extraction looks, in order, for LaTeX ``\\boxed{...}``, GSM8K's ``#### N``, "the (final) answer
is X", and otherwise takes the last non-empty line. Normalisation maps numbers to one canonical
form (thousands separators, currency, units and percent signs dropped, ``3.50`` → ``3.5``,
fractions and ``\\frac`` reduced, small number words → digits), multiple-choice answers to their
letter, ``x = 5`` to ``5``, algebraic expressions to a compact lower-case string, and any other
text to lower case with collapsed spaces.
"""

from __future__ import annotations

import ast
import operator
import re
from fractions import Fraction

__all__ = ["extract_answer", "normalise_answer", "parse_number"]

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_HASHES = re.compile(r"####\s*([^\n]+)")
_ANSWER_IS = re.compile(r"(?:final answer|answer)\s*(?:is|:|=)\s*:?\s*([^\n]+)", re.IGNORECASE)
_CLAUSE_END = re.compile(r"(?<!\d)[.;,](?!\d)|\s+(?:because|since|as|so|which)\s", re.IGNORECASE)
_CHOICE_ONLY = re.compile(r"\(?([A-Ea-e])\)?[.:]?")
_CHOICE_LEAD = re.compile(r"\(([A-Ea-e])\)(?:\s|$)")
_NUMBER = re.compile(
    r"(?:(?<![\w)])-)?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:\s*/\s*(?:\d{1,3}(?:,\d{3})+|\d+)(?![.\d]))?"
)
_EXPRESSION = re.compile(r"[A-Za-z0-9)]\s*[\^*/+\-]\s*[A-Za-z0-9(]")
_VARIABLE = re.compile(r"(?<![A-Za-z])[a-z](?![A-Za-z])")
_LATEX_FRAC = re.compile(r"\\[dt]?frac\s*\{([^{}]+)\}\s*\{([^{}]+)\}")
_LATEX_SQRT = re.compile(r"\\sqrt\s*\{([^{}]+)\}")
_LATEX_TEXT = re.compile(r"\\(?:text|mathrm|mbox|textbf)\s*\{([^{}]*)\}")
_LATEX_NOISE = ("\\left", "\\right", "\\!", "\\,", "\\;", "\\ ", "$", "\\displaystyle")
_ARITHMETIC = re.compile(r"[\d\s.+\-*/^()]+")
_MATHY = re.compile(r"[\w\s.+\-*/^()]+")
_MAX_ARITHMETIC, _MAX_POWER, _MAX_BASE = 80, 64, 10**6
_NUMBER_WORDS = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen"
_NUMBER_WORDS += " sixteen seventeen eighteen nineteen twenty"
_WORDS = {word: str(value) for value, word in enumerate(_NUMBER_WORDS.split())}


def _boxed(text: str) -> str | None:
    """The contents of the last ``\\boxed{...}``, braces balanced."""
    matches = list(_BOXED.finditer(text))
    if not matches:
        return None
    depth, start = 1, matches[-1].end()
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[start:i]
    return None


def extract_answer(text: str | None) -> str | None:
    """The final answer a completion states, before normalisation; ``None`` when it states nothing."""
    if not text or not text.strip():
        return None
    boxed = _boxed(text)
    if boxed is not None:
        return boxed.strip()
    hashes = _HASHES.findall(text)
    if hashes:
        return str(hashes[-1]).strip()
    answer_is = _ANSWER_IS.findall(text)
    if answer_is:
        span = str(answer_is[-1]).strip()
        return _CLAUSE_END.split(span, maxsplit=1)[0].strip() or span
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else None


def parse_number(text: str) -> Fraction | None:
    """The last number written in ``text`` (``1,234.5``, ``-3``, ``3/4``) as an exact fraction."""
    numbers = _NUMBER.findall(text)
    if not numbers:
        return None
    raw = numbers[-1].replace(",", "").replace(" ", "")
    try:
        return Fraction(raw)
    except (ValueError, ZeroDivisionError):
        return None


def _canonical_number(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    return f"{float(value):.6g}"


def _evaluate(node: ast.expr) -> Fraction:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return Fraction(str(node.value))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _evaluate(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub | ast.Mult | ast.Div | ast.Pow):
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow):
            if right.denominator != 1 or abs(right) > _MAX_POWER or abs(left) > _MAX_BASE:
                raise ValueError("power too large")
            return Fraction(left ** int(right))
        operations = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
        return Fraction(operations[type(node.op)](left, right))
    raise ValueError("not arithmetic")


def _arithmetic(text: str) -> Fraction | None:
    """The exact value of a plain arithmetic expression (``30 - 25``, ``(1)/(2)``, ``2^10``), else ``None``."""
    if len(text) > _MAX_ARITHMETIC or not _ARITHMETIC.fullmatch(text) or not re.search(r"\d", text):
        return None
    try:
        return _evaluate(ast.parse(text.replace("^", "**"), mode="eval").body)
    except (SyntaxError, ValueError, ZeroDivisionError, TypeError, KeyError, RecursionError):
        return None


def _symbolic(text: str) -> bool:
    """An expression to keep as written: with variables or surds, or arithmetic too large to evaluate."""
    if not _MATHY.fullmatch(text):
        return False
    if "sqrt" in text or re.search(r"(?<![a-z])pi(?![a-z])", text):
        return True
    return bool(_EXPRESSION.search(text) and (_VARIABLE.search(text) or _ARITHMETIC.fullmatch(text)))


def _strip_latex(text: str) -> str:
    text = _LATEX_TEXT.sub(r"\1", text)
    text = _LATEX_SQRT.sub(r"sqrt(\1)", text)
    text = _LATEX_FRAC.sub(r"(\1)/(\2)", text)
    for noise in _LATEX_NOISE:
        text = text.replace(noise, "")
    return text.replace("\\%", "%").replace("\\cdot", "*").replace("\\times", "*").replace("−", "-")


def _choice(text: str) -> str | None:
    only = _CHOICE_ONLY.fullmatch(text)
    if only:
        return only.group(1).upper()
    lead = _CHOICE_LEAD.match(text)
    return lead.group(1).upper() if lead else None


def normalise_answer(answer: str | None) -> str | None:
    """A canonical form: numbers as reduced values, choices as a letter, text lower-cased and trimmed."""
    if answer is None:
        return None
    text = _strip_latex(answer.strip()).strip().rstrip(".").strip()
    if not text:
        return None
    choice = _choice(text)
    if choice is not None:
        return choice
    fraction = re.fullmatch(r"\(?(-?\d+)\)?\s*/\s*\(?(\d+)\)?", text)
    if fraction and int(fraction.group(2)) != 0:
        return _canonical_number(Fraction(int(fraction.group(1)), int(fraction.group(2))))
    if "=" in text:  # "x = 5", "8 + 3 = 11 people": the right-hand side is the answer
        text = text.rsplit("=", 1)[1].strip() or text
    value = _arithmetic(text)
    if value is not None:
        return _canonical_number(value)
    if _symbolic(text):
        return re.sub(r"\s+", "", text).lower()
    number = parse_number(text)
    if number is not None:
        return _canonical_number(number)
    first_word = re.split(r"[\s.,!]+", text.lower(), maxsplit=1)[0]
    if first_word in _WORDS:
        return _WORDS[first_word]
    collapsed = re.sub(r"\s+", " ", text).strip().lower()
    return collapsed or None
