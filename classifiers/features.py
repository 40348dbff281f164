"""Featurization shared by training and serving: selected character and word n-grams plus structure.

The vocabulary (character 3-5-grams within words and word 1-2-grams, chosen by chi-squared
against the labels at training time) is stored inside the ONNX artifact, and this same code
turns text into features at training and at serving time, so the ONNX model (the linear layer)
always sees what it was trained on. Lookups are plain dictionary hits, so a typical prompt
featurizes in tens of microseconds. Prompts are truncated deterministically first (head and
tail kept), so a 1 MB prompt costs the same as a 4 kB one.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

__all__ = ["STRUCTURAL_NAMES", "Featurizer", "char_ngrams", "truncate", "word_char_ngrams", "word_ngrams"]

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
_WORD_CACHE_LIMIT = 200_000

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


class Featurizer:
    """Texts to dense float32 rows: log-count n-gram blocks (each L2-normalised) and structural features."""

    def __init__(self, char_vocab: Sequence[str], word_vocab: Sequence[str]) -> None:
        self.char_vocab = list(char_vocab)
        self.word_vocab = list(word_vocab)
        self._chars = {g: i for i, g in enumerate(self.char_vocab)}
        self._words = {g: i for i, g in enumerate(self.word_vocab)}
        self.n_features = len(self.char_vocab) + len(self.word_vocab) + len(STRUCTURAL_NAMES)
        self._word_hits: dict[str, np.ndarray] = {}

    def _char_hits(self, words: list[str]) -> np.ndarray:
        """Vocabulary indices of every word's character n-grams; per-word arrays are memoised."""
        cache, index = self._word_hits, self._chars
        arrays = []
        for word in words:
            found = cache.get(word)
            if found is None:
                if len(cache) >= _WORD_CACHE_LIMIT:
                    cache.clear()
                hits = [i for i in map(index.get, word_char_ngrams(word)) if i is not None]
                found = cache[word] = np.asarray(hits, dtype=np.int64)
            arrays.append(found)
        return np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int64)

    def dense(self, texts: Sequence[str]) -> np.ndarray:
        """A (len(texts), n_features) float32 matrix: the ONNX model's input."""
        n_char, n_word = len(self.char_vocab), len(self.word_vocab)
        width = n_char + n_word
        flat: list[np.ndarray] = []
        structural: list[list[float]] = []
        for row, text in enumerate(texts):
            clipped = truncate(text)
            lowered = clipped.lower()
            words = lowered.split()
            word_hits = [i for i in map(self._words.get, word_ngrams(lowered)) if i is not None]
            flat.append(self._char_hits(words) + row * width)
            flat.append(np.asarray(word_hits, dtype=np.int64) + (row * width + n_char))
            structural.append(_structural(clipped, words))
        indices = np.concatenate(flat) if flat else np.zeros(0, dtype=np.int64)
        counts = np.bincount(indices, minlength=len(texts) * width)
        grams = np.log1p(counts.reshape(len(texts), width).astype(np.float32))
        for block in (grams[:, :n_char], grams[:, n_char:]):
            norms = np.linalg.norm(block, axis=1, keepdims=True)
            np.divide(block, norms, out=block, where=norms > 0)
        extra_block = np.asarray(structural, dtype=np.float32).reshape(len(texts), len(STRUCTURAL_NAMES))
        return np.concatenate([grams, extra_block], axis=1)

    @classmethod
    def fit(cls, texts: Sequence[str], labels: Sequence[str], *, n_char: int = 12000, n_word: int = 4000,
            min_df: int = 3) -> Featurizer:  # fmt: skip
        """Choose the n-grams most associated with the labels (chi-squared on document frequency)."""
        classes = sorted(set(labels))
        char_vocab = _select(texts, labels, classes, char_ngrams, n_char, min_df)
        word_vocab = _select(texts, labels, classes, word_ngrams, n_word, min_df)
        return cls(char_vocab, word_vocab)


def _select(texts: Sequence[str], labels: Sequence[str], classes: list[str], grams_of: object, k: int,
            min_df: int) -> list[str]:  # fmt: skip
    """Top-k n-grams by chi-squared between presence and label, ties broken alphabetically."""
    per_class = {c: Counter[str]() for c in classes}
    class_sizes = Counter(labels)
    for text, label in zip(texts, labels, strict=True):
        per_class[label].update(set(grams_of(truncate(text).lower())))  # type: ignore[operator]
    total = Counter[str]()
    for counter in per_class.values():
        total.update(counter)
    candidates = sorted(g for g, df in total.items() if df >= min_df)
    n = len(texts)
    observed = np.array([[per_class[c][g] for c in classes] for g in candidates], dtype=np.float64)
    df = observed.sum(axis=1, keepdims=True)
    expected = df * np.array([class_sizes[c] for c in classes], dtype=np.float64)[None, :] / n
    scores = ((observed - expected) ** 2 / np.maximum(expected, 1e-9)).sum(axis=1)
    order = sorted(range(len(candidates)), key=lambda i: (-scores[i], candidates[i]))[:k]
    return [candidates[i] for i in sorted(order, key=lambda i: candidates[i])]
