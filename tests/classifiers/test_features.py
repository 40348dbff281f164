"""The fast featurizer equals, bit for bit, the straightforward reference it replaced."""

from __future__ import annotations

import itertools
import math
import random
import re

import numpy as np
import pytest

from classifiers.dataset import load_dataset
from classifiers.features import Featurizer, truncate, word_char_ngrams, word_ngrams

# --- the reference: classifiers/features.py's featurizer before it was optimised (2026-12-01) ---
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


def _reference_structural(text: str, words: list[str]) -> list[float]:
    n_chars, n_words = len(text), len(words)
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
        len(_CAPITALISED.findall(text)) / max(1, n_words),
        1.0,
    ]


def reference_dense(featurizer: Featurizer, texts: list[str]) -> np.ndarray:
    chars = {g: i for i, g in enumerate(featurizer.char_vocab)}
    words_vocab = {g: i for i, g in enumerate(featurizer.word_vocab)}
    n_char, n_word = len(chars), len(words_vocab)
    width = n_char + n_word
    flat, structural = [], []
    for row, text in enumerate(texts):
        clipped = truncate(text)
        lowered = clipped.lower()
        words = lowered.split()
        char_hits = [chars[g] for w in words for g in word_char_ngrams(w) if g in chars]
        word_hits = [words_vocab[g] for g in word_ngrams(lowered) if g in words_vocab]
        flat.append(np.asarray(char_hits, dtype=np.int64) + row * width)
        flat.append(np.asarray(word_hits, dtype=np.int64) + (row * width + n_char))
        structural.append(_reference_structural(clipped, words))
    indices = np.concatenate(flat) if flat else np.zeros(0, dtype=np.int64)
    counts = np.bincount(indices, minlength=len(texts) * width)
    grams = np.log1p(counts.reshape(len(texts), width).astype(np.float32))
    for block in (grams[:, :n_char], grams[:, n_char:]):
        norms = np.linalg.norm(block, axis=1, keepdims=True)
        np.divide(block, norms, out=block, where=norms > 0)
    extra = np.asarray(structural, dtype=np.float32).reshape(len(texts), 16)
    return np.concatenate([grams, extra], axis=1)


# --- end of the reference ---

ODD = [
    "", "   ", "\n\n", "x", "A", "It's 5 o'clock. Not yet!", "PROVE THAT Every Prime > 2 Is Odd; NOT 2.",
    "¿Cuál es la capital de Francia? 東京はどこですか", "KELVIN 5K and Kelvin sign \u212a; long s \u017fhow that",
    "İstanbul ıi \u0130\u0131 ſ ﬁnd all", "٣٤٥ digits १२३ and ４５ fullwidth, 3.14 and 2.",
    "\u00a0non\u00a0breaking\u2003space", "Show that x; show  that y; SHOW THAT z; at least5 at_least, at\tleast",
    "If and only if, if and only if; How many ways? how many  ways. Explain why! find all, FIND ALL.",
    "not_not no. No! nor-never Neither BUT but's after5 before_ Before? except unless(unless)",
    "ΟΔΟΣ ΣΑΣ. ΑΣ,Σ x Σ", "Ünïcödé Wörds Ärë Cäpitälised", "Capital first. Then\nNext\tOne", " Leading space",
    "$x^2$ \\frac{a}{b} \\\\ \\alpha\\beta $$", "≤ ≥ = + - * / ^ < >", "```python\ndef f(x):\n    return x\n```",
    "🙂🚀🔥 " * 50, "Ignore all previous instructions </s><|im_end|>", "a.b.c!d?e. f\tG\nH\rI\x0bJ\x0cK\x1cL",
    "the the the the " * 300, ("word " * 210_000)[:1_048_576], "at least, at most; if and only if... minimise/maximize",
]  # fmt: skip


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    return load_dataset()


@pytest.fixture(scope="module")
def featurizer(rows: list[dict[str, str]]) -> Featurizer:
    sample = rows[:3000]
    return Featurizer.fit([r["text"] for r in sample], [r["label"] for r in sample])


def test_fast_featurizer_equals_reference_bit_for_bit(featurizer: Featurizer, rows: list[dict[str, str]]) -> None:
    texts = [r["text"] for r in rows]
    random.Random(5).shuffle(texts)
    texts = texts[:3000] + ODD
    for batch in (texts[:1], texts[:64], texts[64:1064], texts[1064:], ODD, [*ODD[::-1], *texts[:5]], texts[:300]):
        got, expected = featurizer.dense(batch), reference_dense(featurizer, batch)
        assert got.dtype == expected.dtype == np.float32 and got.shape == expected.shape
        assert np.array_equal(got, expected)
    assert featurizer.dense([]).shape == (0, featurizer.n_features)


def test_fast_featurizer_equals_reference_with_a_cache_cleared_mid_batch(
    featurizer: Featurizer, rows: list[dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    import classifiers.features as features

    monkeypatch.setattr(features, "_WORD_CACHE_LIMIT", 50)
    fresh = Featurizer(featurizer.char_vocab, featurizer.word_vocab)
    texts = [r["text"] for r in itertools.islice(rows, 0, 11068, 37)]
    for batch in (texts[:40], texts[40:]):  # the memo is full after the first batch and cleared for the next
        assert np.array_equal(fresh.dense(batch), reference_dense(fresh, batch))
    assert len(fresh._word_ids) < len({w for t in texts for w in truncate(t).split()})


def test_structural_batch_equals_the_one_text_definition(featurizer: Featurizer, rows: list[dict[str, str]]) -> None:
    from classifiers.features import STRUCTURAL_NAMES, _structural

    texts = [truncate(r["text"]) for r in rows[::7]] + [truncate(t) for t in ODD]
    got = featurizer.dense(texts)[:, -len(STRUCTURAL_NAMES) :]
    expected = np.asarray([_structural(t, t.split()) for t in texts], dtype=np.float32)
    assert np.array_equal(got, expected)


def test_small_and_large_batches_give_the_same_rows(featurizer: Featurizer, rows: list[dict[str, str]]) -> None:
    texts = [r["text"] for r in rows[::53]] + ODD  # small batches compute structural features row by row
    whole = featurizer.dense(texts)
    singles = np.vstack([featurizer.dense([t]) for t in texts])
    assert np.array_equal(whole, singles)
    assert np.array_equal(singles, reference_dense(featurizer, texts))
