"""What the features are: deterministic truncation, the n-gram extractors and the structural features.

``_structural`` is the one-text definition of the structural block; ``featurize_fast`` reproduces it
bit for bit from memoised per-word counts. ``classifiers.features`` re-exports the public names.
"""

from __future__ import annotations

import itertools
import math
import re

__all__ = ["MAX_CHARS", "STRUCTURAL_NAMES", "char_ngrams", "truncate", "word_char_ngrams", "word_ngrams"]

MAX_CHARS = 4000
_HEAD = 3000
_WORD = re.compile(r"\w+|[^\w\s]")
_CUES = re.compile(
    r"\b(prove|show that|find all|how many ways|determine|justify|minimi[sz]e|maximi[sz]e|optimal|every|each|"
    r"exactly|at least|at most|consider|suppose|constraint|shortest|possible|explain why|if and only if)\b",
    re.IGNORECASE,
)
_NEGATION = re.compile(r"\b(not|never|no|neither|nor|except|unless|before|after|but)\b", re.IGNORECASE)
_LATEX = re.compile(r"\\[a-zA-Z]+|\$")
_OPERATORS = re.compile(r"[=+\-*/^<>≤≥]")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_SENTENCE = re.compile(r"[.!?](?:\s|$)")
_DIGIT = re.compile(r"\d")
_CAPITALISED = re.compile(r"(?<=\s)[A-Z]")

STRUCTURAL_NAMES = (
    "log_chars", "log_words", "digit_share", "number_count", "latex_count", "operator_count", "code_fence",
    "sentence_count", "question_marks", "reasoning_cues", "negations", "mean_word_length", "non_ascii_share",
    "newlines", "capitalised_share", "bias",
)  # fmt: skip


def truncate(text: str) -> str:
    """Keep the first 3,000 and last 1,000 characters of long prompts."""
    if len(text) <= MAX_CHARS:
        return text
    return text[:_HEAD] + "\n" + text[-(MAX_CHARS - _HEAD) :]


def word_char_ngrams(word: str) -> list[str]:
    """Character 3-5-grams of one space-padded, lower-cased word."""
    padded = f" {word} "
    size = len(padded)
    return [padded[i : i + n] for n in (3, 4, 5) for i in range(size - n + 1)]


def char_ngrams(lowered: str) -> list[str]:
    """Character 3-5-grams inside space-padded words (the text is already lower-cased)."""
    return [gram for word in lowered.split() for gram in word_char_ngrams(word)]


def word_ngrams(lowered: str) -> list[str]:
    """Word unigrams and bigrams (punctuation marks are tokens)."""
    words = _WORD.findall(lowered)
    return words + [f"{a} {b}" for a, b in itertools.pairwise(words)]


def _structural(text: str, words: list[str]) -> list[float]:
    """The structural features of one (truncated) text: the definition ``_structural_batch`` reproduces."""
    n_chars, n_words = len(text), len(words)
    capitalised = len(_CAPITALISED.findall(text))
    return [
        math.log1p(n_chars) / 8.0,
        math.log1p(n_words) / 6.0,
        len(_DIGIT.findall(text)) / max(1, n_chars) * 5.0,
        math.log1p(len(_NUMBER.findall(text))) / 3.0,
        math.log1p(len(_LATEX.findall(text))) / 3.0,
        math.log1p(len(_OPERATORS.findall(text))) / 3.0,
        1.0 if "```" in text else 0.0,
        math.log1p(len(_SENTENCE.findall(text))) / 3.0,
        math.log1p(text.count("?")) / 2.0,
        math.log1p(len(_CUES.findall(text))) / 2.0,
        math.log1p(len(_NEGATION.findall(text))) / 2.0,
        ((n_chars - text.count(" ")) / max(1, n_words)) / 10.0,
        (n_chars - len(text.encode("ascii", "ignore"))) / max(1, n_chars),
        math.log1p(text.count("\n")) / 3.0,
        capitalised / max(1, n_words),
        1.0,
    ]
