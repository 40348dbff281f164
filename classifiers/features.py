"""Featurization shared by training and serving: selected character and word n-grams plus structure.

The vocabulary (character 3-5-grams within words and word 1-2-grams, chosen by chi-squared
against the labels at training time) is stored inside the ONNX artifact, and this same code
turns text into features at training and at serving time, so the ONNX model (the linear layer)
always sees what it was trained on. Prompts are truncated deterministically first (head and
tail kept), so a 1 MB prompt costs the same as a 4 kB one.

This module is the public API (``Featurizer`` and vocabulary selection, re-exporting the
definitions from ``feature_definitions``); the memoised fast paths that make a typical prompt
featurize in tens of microseconds live in ``featurize_fast``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from classifiers.feature_definitions import MAX_CHARS as MAX_CHARS
from classifiers.feature_definitions import STRUCTURAL_NAMES as STRUCTURAL_NAMES
from classifiers.feature_definitions import _structural as _structural
from classifiers.feature_definitions import char_ngrams as char_ngrams
from classifiers.feature_definitions import truncate as truncate
from classifiers.feature_definitions import word_char_ngrams as word_char_ngrams
from classifiers.feature_definitions import word_ngrams as word_ngrams
from classifiers.featurize_fast import _CHUNK, MemoFeaturizer

__all__ = ["STRUCTURAL_NAMES", "Featurizer", "char_ngrams", "truncate", "word_char_ngrams", "word_ngrams"]

_WORD_CACHE_LIMIT = 200_000


class Featurizer(MemoFeaturizer):
    """Texts to dense float32 rows: log-count n-gram blocks (each L2-normalised) and structural features.

    Not thread-safe (the word memo and a scratch buffer are shared): callers serialise, as
    ``DifficultyScorer`` does with its lock.
    """

    def __init__(self, char_vocab: Sequence[str], word_vocab: Sequence[str]) -> None:
        self.char_vocab = list(char_vocab)
        self.word_vocab = list(word_vocab)
        self._chars = {g: i for i, g in enumerate(self.char_vocab)}
        self._words = {g: i for i, g in enumerate(self.word_vocab)}
        self.n_features = len(self.char_vocab) + len(self.word_vocab) + len(STRUCTURAL_NAMES)
        self._init_memo()

    def dense(self, texts: Sequence[str]) -> np.ndarray:
        """A (len(texts), n_features) float32 matrix: the ONNX model's input.

        The same numbers, bit for bit, as counting every n-gram into a dense row, taking log1p of the
        counts, L2-normalising each block and appending ``_structural`` (``tests/classifiers/
        test_features.py`` checks it against that reference). The per-text work is a split and
        dictionary hits on memoised words; the rest is numpy over the batch, on the non-zero cells.
        """
        if len(texts) == 1:
            self._bound_memo()
            return self._dense_one(texts[0])
        if len(texts) <= _CHUNK:
            if texts:
                self._bound_memo()
            return self._dense(texts)
        out = np.empty((len(texts), self.n_features), dtype=np.float32)
        for start in range(0, len(texts), _CHUNK):
            self._bound_memo()
            out[start : start + _CHUNK] = self._dense(texts[start : start + _CHUNK])
        return out

    def _bound_memo(self) -> None:
        """Bounded memory: forget the memoised words before a batch once there are ``_WORD_CACHE_LIMIT``."""
        if len(self._word_ids) >= _WORD_CACHE_LIMIT:
            self._clear_words()

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
