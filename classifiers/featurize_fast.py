"""The fast paths behind ``Featurizer.dense``: a per-word memo, and numpy batch and one-text featurization.

Each distinct whitespace-separated word is featurized once (its n-gram columns, boundary-token ids and
structural counts); a text's row is then assembled from its words' memo entries. Every path gives the
same float32 rows, bit for bit, as the definitions in ``classifiers.feature_definitions`` (the tests
check it).
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import cast

import numpy as np

from classifiers.feature_definitions import (
    _CUES,
    _DIGIT,
    _LATEX,
    _NEGATION,
    _NUMBER,
    _OPERATORS,
    _WORD,
    MAX_CHARS,
    STRUCTURAL_NAMES,
    _structural,
    truncate,
    word_char_ngrams,
)

# the one-word alternatives of _NEGATION and _CUES (tests check the fast path against those regexes)
_NEGATION_WORDS = frozenset(("not", "never", "no", "neither", "nor", "except", "unless", "before", "after", "but"))
_CUE_WORDS = frozenset((
    "prove", "determine", "justify", "minimise", "minimize", "maximise", "maximize", "optimal", "every", "each",
    "exactly", "consider", "suppose", "constraint", "shortest", "possible",
))  # fmt: skip
_CUES_MULTI = re.compile(r"\b(show that|find all|how many ways|at least|at most|explain why|if and only if)\b")
# the first two words of each multi-word cue: a text can match _CUES_MULTI only where a word ending in the
# first token is followed by a word starting with the second
_CUES_MULTI_FIRST = ("show", "find", "how", "at", "explain", "if")
_CUES_MULTI_SECOND = ("that", "all", "many", "least", "most", "why", "and")
_CUES_MULTI_PAIRS = np.zeros((len(_CUES_MULTI_FIRST), len(_CUES_MULTI_SECOND)), dtype=bool)
for _a, _b in (("show", "that"), ("find", "all"), ("how", "many"), ("at", "least"), ("at", "most"),
               ("explain", "why"), ("if", "and")):  # fmt: skip
    _CUES_MULTI_PAIRS[_CUES_MULTI_FIRST.index(_a), _CUES_MULTI_SECOND.index(_b)] = True
_N_COUNTS = 8  # per-word structural counts kept by the featurizer (see _word_counts)
_CHUNK = 256  # rows featurized at a time
_SMALL_BATCH = 8  # up to this many rows, structural features are computed row by row


def _word_counts(word: str, tokens: list[str]) -> tuple[int, ...]:
    r"""One word's share of the structural counts that ``_structural`` takes from regexes.

    None of those patterns spans whitespace (``\s`` and ``str.split`` agree on what whitespace is),
    so a text's count is the sum of its words' counts: digits, numbers, LaTeX, operators, sentence
    ends (a word ending in . ! or ? is followed by whitespace or the end) and a capital first letter
    (after whitespace unless the word starts the text). For ASCII words also negation and one-word
    cue tokens (a ``\b``-delimited alternative of letters is exactly a ``\w+`` token of the
    lower-cased word); non-ASCII text takes the case-insensitive regexes themselves (their Unicode
    case rules are not plain lower-casing).
    """
    ascii_word = word.isascii()
    return (
        len(_DIGIT.findall(word)),
        len(_NUMBER.findall(word)),
        len(_LATEX.findall(word)),
        len(_OPERATORS.findall(word)),
        1 if word[-1] in ".!?" else 0,
        sum(t in _NEGATION_WORDS for t in tokens) if ascii_word else 0,
        sum(t in _CUE_WORDS for t in tokens) if ascii_word else 0,
        1 if "A" <= word[0] <= "Z" else 0,
    )


# math.log1p of every count a truncated text can have, so numpy reproduces _structural's Python floats exactly
_LOG1P = np.asarray([math.log1p(k) for k in range(MAX_CHARS + 2)], dtype=np.float64)


def _structural_row(text: str, n_words: int, counts: list[int], multi: bool) -> list[float]:
    """``_structural`` of one text from its words' summed counts, in Python floats (small batches)."""
    digits, numbers, latex, operators, sentences, negations, cues, capitalised = counts
    n_chars = len(text)
    if not text.isascii():
        return _structural(text, text.split())
    if multi:
        cues += len(_CUES_MULTI.findall(text.lower()))
    if "A" <= text[:1] <= "Z":  # the first word has no whitespace before it
        capitalised -= 1
    return [
        math.log1p(n_chars) / 8.0,
        math.log1p(n_words) / 6.0,
        digits / max(1, n_chars) * 5.0,
        math.log1p(numbers) / 3.0,
        math.log1p(latex) / 3.0,
        math.log1p(operators) / 3.0,
        1.0 if "```" in text else 0.0,
        math.log1p(sentences) / 3.0,
        math.log1p(text.count("?")) / 2.0,
        math.log1p(cues) / 2.0,
        math.log1p(negations) / 2.0,
        ((n_chars - text.count(" ")) / max(1, n_words)) / 10.0,
        0.0 / max(1, n_chars),
        math.log1p(text.count("\n")) / 3.0,
        capitalised / max(1, n_words),
        1.0,
    ]


def _structural_batch(texts: list[str], n_words: list[int], counts: np.ndarray, multi: np.ndarray) -> np.ndarray:
    """``_structural`` for a batch, bit for bit, from the rows' summed word counts, in numpy.

    ``counts`` holds each row's sums of ``_word_counts``; ``multi`` marks the rows that may hold a
    multi-word cue. Every float is computed as ``_structural``
    computes it (float64 log1p from a table of ``math.log1p``, the same divisions), then rounded to
    float32 once.
    """
    n = len(texts)
    if n <= _SMALL_BATCH:  # fewer numpy calls
        rows = zip(texts, n_words, counts.tolist(), multi.tolist(), strict=True)
        return np.asarray([_structural_row(*row) for row in rows], dtype=np.float32)
    n_chars = np.fromiter(map(len, texts), dtype=np.int64, count=n)
    words = np.asarray(n_words, dtype=np.int64)
    questions = np.fromiter((t.count("?") for t in texts), dtype=np.int64, count=n)
    newlines = np.fromiter((t.count("\n") for t in texts), dtype=np.int64, count=n)
    spaces = np.fromiter((t.count(" ") for t in texts), dtype=np.int64, count=n)
    fences = np.fromiter(("```" in t for t in texts), dtype=np.float64, count=n)
    starts_capital = np.fromiter(("A" <= t[:1] <= "Z" for t in texts), dtype=np.int64, count=n)
    cues = counts[:, 6].copy()
    for flagged in np.flatnonzero(multi).tolist():
        cues[flagged] += len(_CUES_MULTI.findall(texts[flagged].lower()))
    chars1, words1 = np.maximum(1, n_chars), np.maximum(1, words)
    block = np.empty((n, len(STRUCTURAL_NAMES)), dtype=np.float64)
    block[:, 0] = _LOG1P[n_chars] / 8.0
    block[:, 1] = _LOG1P[words] / 6.0
    block[:, 2] = counts[:, 0] / chars1 * 5.0
    block[:, 3] = _LOG1P[counts[:, 1]] / 3.0
    block[:, 4] = _LOG1P[counts[:, 2]] / 3.0
    block[:, 5] = _LOG1P[counts[:, 3]] / 3.0
    block[:, 6] = fences
    block[:, 7] = _LOG1P[counts[:, 4]] / 3.0
    block[:, 8] = _LOG1P[questions] / 2.0
    block[:, 9] = _LOG1P[cues] / 2.0
    block[:, 10] = _LOG1P[counts[:, 5]] / 2.0
    block[:, 11] = ((n_chars - spaces) / words1) / 10.0
    block[:, 12] = 0.0
    block[:, 13] = _LOG1P[newlines] / 3.0
    block[:, 14] = (counts[:, 7] - starts_capital) / words1  # the first word has no whitespace before it
    block[:, 15] = 1.0
    for row, text in enumerate(texts):
        if not text.isascii():  # the case-insensitive regexes on the text itself, as _structural does
            block[row, 9] = math.log1p(len(_CUES.findall(text))) / 2.0
            block[row, 10] = math.log1p(len(_NEGATION.findall(text))) / 2.0
            block[row, 12] = (len(text) - len(text.encode("ascii", "ignore"))) / max(1, len(text))
    return block.astype(np.float32)


# one memoised word: its n-gram columns, _word_counts, bigram last/first ids, multi-word cue last/first indices
_WordInfo = tuple[list[int], tuple[int, ...], int, int, int, int]


def _grow(array: np.ndarray, size: int) -> np.ndarray:
    if size <= len(array):
        return array
    grown = np.zeros((max(size, 2 * len(array)), *array.shape[1:]), dtype=array.dtype)
    grown[: len(array)] = array
    return grown


class MemoFeaturizer:
    """``Featurizer``'s word memo and fast paths; ``Featurizer.__init__`` sets the vocabulary, then ``_init_memo``.

    Callers bound the memo (``Featurizer.dense`` calls ``_clear_words`` between batches when it is full).
    """

    char_vocab: list[str]
    word_vocab: list[str]
    _chars: dict[str, int]
    _words: dict[str, int]
    n_features: int

    def _init_memo(self) -> None:
        """Build the word-bigram lookup tables from the vocabulary and start an empty memo."""
        # Word bigrams of the vocabulary in a (first-token id, second-token id) -> column table: tokens never
        # contain whitespace, so only the bigram spanning each word boundary is looked up per text, in numpy.
        pairs = [(g.split(" ", 1)[0], g.split(" ", 1)[1], i) for g, i in self._words.items() if " " in g]
        self._bigram_first = {t: k for k, t in enumerate(sorted({a for a, _, _ in pairs}))}
        self._bigram_second = {t: k for k, t in enumerate(sorted({b for _, b, _ in pairs}))}
        self._bigram_table = np.full((len(self._bigram_first), len(self._bigram_second)), -1, dtype=np.int32)
        for a, b, i in pairs:
            self._bigram_table[self._bigram_first[a], self._bigram_second[b]] = len(self.char_vocab) + i
        # the same table as a dict, for the one-text path: (first-token id, second-token id) -> column
        self._bigram_cols = {(self._bigram_first[a], self._bigram_second[b]): len(self.char_vocab) + i
                             for a, b, i in pairs}  # fmt: skip
        self._scratch: tuple[np.ndarray, np.ndarray] | None = None
        self._clear_words()

    def _clear_words(self) -> None:
        """Forget the memoised words (ids into flat per-word arrays)."""
        self._word_ids: dict[str, int] = {}
        self._columns = np.zeros(1 << 16, dtype=np.int64)  # every memoised word's n-gram columns, back to back
        self._n_columns = 0
        self._offset = np.zeros(1 << 12, dtype=np.int64)  # per word id: where its columns start
        self._length = np.zeros(1 << 12, dtype=np.int64)  # per word id: how many
        self._last = np.zeros(1 << 12, dtype=np.int64)  # bigram-first id of its last token, or -1
        self._first = np.zeros(1 << 12, dtype=np.int64)  # bigram-second id of its first token, or -1
        self._cue_last = np.zeros(1 << 12, dtype=np.int64)  # _CUES_MULTI_FIRST index of its last token, or -1
        self._cue_first = np.zeros(1 << 12, dtype=np.int64)  # _CUES_MULTI_SECOND index of its first token, or -1
        self._counts = np.zeros((1 << 12, _N_COUNTS), dtype=np.int64)  # _word_counts (ASCII words)
        self._info: list[_WordInfo] = []  # per word id, the same facts as Python values (the one-text path)

    def _add_word(self, word: str) -> int:
        """Memoise one whitespace-separated word (as written; its n-grams are those of its lower case).

        No character lower-cases to or from whitespace, so the lower-cased text's words are the
        words' lower cases. ``word_ngrams`` tokens never cross whitespace, so a text's tokens are its
        words' tokens in order: unigrams and within-word bigrams belong to the word; the bigram across
        each word boundary comes from the two words' boundary tokens.
        """
        n_char, words, lowered = len(self.char_vocab), self._words, word.lower()
        hits = [i for i in map(self._chars.get, word_char_ngrams(lowered)) if i is not None]
        tokens = _WORD.findall(lowered)
        grams = tokens + [f"{a} {b}" for a, b in itertools.pairwise(tokens)]
        hits += [n_char + i for i in map(words.get, grams) if i is not None]
        i, start = len(self._word_ids), self._n_columns
        self._columns = _grow(self._columns, start + len(hits))
        self._columns[start : start + len(hits)] = hits
        self._n_columns += len(hits)
        if i >= len(self._offset):
            self._offset, self._length, self._last, self._first, self._cue_last, self._cue_first, self._counts = (
                _grow(a, i + 1)
                for a in (self._offset, self._length, self._last, self._first, self._cue_last, self._cue_first,
                          self._counts)
            )  # fmt: skip
        last, first = self._bigram_first.get(tokens[-1], -1), self._bigram_second.get(tokens[0], -1)
        counts = _word_counts(word, tokens)
        cue_last = _CUES_MULTI_FIRST.index(tokens[-1]) if tokens[-1] in _CUES_MULTI_FIRST else -1
        cue_first = _CUES_MULTI_SECOND.index(tokens[0]) if tokens[0] in _CUES_MULTI_SECOND else -1
        self._offset[i], self._length[i] = start, len(hits)
        self._last[i], self._first[i], self._counts[i] = last, first, counts
        self._cue_last[i], self._cue_first[i] = cue_last, cue_first
        self._info.append((hits, counts, last, first, cue_last, cue_first))
        self._word_ids[word] = i
        return i

    def _dense_one(self, text: str) -> np.ndarray:
        """``_dense`` of one text (the serving case) with plain Python on the memo and a few numpy calls.

        Counts each cell in a dict instead of a batch-wide bincount; the values, L2 norms (the same
        reduction over the same zeroed scratch rows) and structural row are computed as ``_dense``
        computes them, so the row is identical bit for bit.
        """
        n_char, nf = len(self.char_vocab), self.n_features
        width = n_char + len(self.word_vocab)
        get, add, info, bigrams = self._word_ids.get, self._add_word, self._info, self._bigram_cols
        clipped = truncate(text)
        words = clipped.split()
        flat: list[int] = []
        totals = [0] * _N_COUNTS
        multi = False
        previous: _WordInfo | None = None
        for word in words:
            i = get(word)
            current = info[add(word) if i is None else i]
            hits, counts, _, first, _, cue_first = current
            flat += hits
            if any(counts):
                totals = [a + b for a, b in zip(totals, counts, strict=True)]
            if previous is not None:
                last, cue_last = previous[2], previous[4]
                if last >= 0 and first >= 0:
                    column = bigrams.get((last, first))
                    if column is not None:
                        flat.append(column)
                if cue_last >= 0 and cue_first >= 0 and _CUES_MULTI_PAIRS[cue_last, cue_first]:
                    multi = True
            previous = current
        out = np.zeros((1, nf), dtype=np.float32)
        out[0, width:] = np.asarray([_structural_row(clipped, len(words), totals, multi)], dtype=np.float32)
        if not flat:
            return out
        cells = Counter(flat)
        cols = np.fromiter(cells.keys(), dtype=np.int64, count=len(cells))
        values = np.log1p(np.fromiter(cells.values(), dtype=np.int64, count=len(cells)).astype(np.float32))
        is_char = cols < n_char
        if self._scratch is None:
            self._scratch = (np.zeros((_CHUNK, n_char), np.float32), np.zeros((_CHUNK, width - n_char), np.float32))
        char_row, word_row = self._scratch[0][0], self._scratch[1][0]
        char_at, word_at = cols[is_char], cols[~is_char] - n_char
        squares = values * values
        char_row[char_at], word_row[word_at] = squares[is_char], squares[~is_char]
        char_norm = np.sqrt(np.add.reduce(self._scratch[0][:1], axis=1))
        word_norm = np.sqrt(np.add.reduce(self._scratch[1][:1], axis=1))
        char_row[char_at], word_row[word_at] = 0.0, 0.0
        out[0, cols] = values / np.where(is_char, char_norm, word_norm)
        return out

    def _dense(self, texts: Sequence[str]) -> np.ndarray:
        n, n_char, nf = len(texts), len(self.char_vocab), self.n_features
        width = n_char + len(self.word_vocab)
        out = np.zeros((n, nf), dtype=np.float32)
        if n == 0:
            return out
        get, add = self._word_ids.get, self._add_word
        ids: list[int] = []
        n_words: list[int] = []
        clipped_texts: list[str] = []
        for text in texts:
            clipped = truncate(text)
            words = clipped.split()
            row = list(map(get, words))
            if None in row:  # memoise new words (once each, even if repeated in the text)
                for k, i in enumerate(row):
                    if i is None:
                        found = get(words[k])
                        row[k] = add(words[k]) if found is None else found
            ids += cast(list[int], row)
            n_words.append(len(row))
            clipped_texts.append(clipped)
        word_ids = np.asarray(ids, dtype=np.int64)
        ends = np.cumsum(n_words)
        summed = np.zeros((len(ids) + 1, _N_COUNTS), dtype=np.int64)
        np.cumsum(self._counts[word_ids], axis=0, out=summed[1:])
        word_row = np.repeat(np.arange(n, dtype=np.int64), n_words)
        multi = np.zeros(n, dtype=bool)
        if len(ids) > 1:
            cue_last, cue_first = self._cue_last[word_ids[:-1]], self._cue_first[word_ids[1:]]
            pair = (word_row[1:] == word_row[:-1]) & (cue_last >= 0) & (cue_first >= 0)
            pair[pair] = _CUES_MULTI_PAIRS[cue_last[pair], cue_first[pair]]
            multi[word_row[1:][pair]] = True
        counts = summed[ends] - summed[ends - n_words]
        out[:, width:] = _structural_batch(clipped_texts, n_words, counts, multi)
        if not ids:
            return out
        lengths = self._length[word_ids]
        total = int(lengths.sum())
        starts = np.cumsum(lengths) - lengths
        at = np.repeat(self._offset[word_ids] - starts, lengths) + np.arange(total)
        flat = self._columns[at] + np.repeat(word_row * nf, lengths)
        if len(ids) > 1 and self._bigram_table.size:
            last, first = self._last[word_ids[:-1]], self._first[word_ids[1:]]
            ok = (word_row[1:] == word_row[:-1]) & (last >= 0) & (first >= 0)
            if ok.any():
                cols = self._bigram_table[last[ok], first[ok]]
                hit = cols >= 0
                flat = np.concatenate([flat, word_row[1:][ok][hit] * nf + cols[hit]])
        if flat.size == 0:
            return out
        values = np.log1p(np.bincount(flat, minlength=n * nf)[flat].astype(np.float32))
        rows, cols = np.divmod(flat, nf)
        is_char = cols < n_char
        # L2 norms exactly as np.linalg.norm computes them on the dense blocks (the same pairwise sums
        # over contiguous rows), on zeroed scratch buffers that are reset after use
        if self._scratch is None:
            self._scratch = (np.zeros((_CHUNK, n_char), np.float32), np.zeros((_CHUNK, width - n_char), np.float32))
        char_cells, word_cells = (block.reshape(-1) for block in self._scratch)
        char_at = rows[is_char] * n_char + cols[is_char]
        word_at = rows[~is_char] * (width - n_char) + (cols[~is_char] - n_char)
        squares = values * values
        char_cells[char_at], word_cells[word_at] = squares[is_char], squares[~is_char]
        char_norms = np.sqrt(np.add.reduce(self._scratch[0][:n], axis=1))
        word_norms = np.sqrt(np.add.reduce(self._scratch[1][:n], axis=1))
        char_cells[char_at], word_cells[word_at] = 0.0, 0.0
        out.reshape(-1)[flat] = values / np.where(is_char, char_norms[rows], word_norms[rows])
        return out
