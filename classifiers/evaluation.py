"""Evaluate the difficulty classifier: row-held-out and leave-one-source-out, with a baseline.

Reported: AUC of hard vs easy on the scalar difficulty, macro-F1 over the three buckets, expected
calibration error of the top label (10 bins) and the confusion matrix. Leave-one-source-out holds
out a whole *family* of sources at a time (all MATH levels together, all RouteLLM rows together),
so no text of the held-out kind is seen in training; its AUC pools every row's out-of-family score.
The baseline is the usual ten lines: character n-gram TF-IDF + logistic regression.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix, f1_score, roc_auc_score

from classifiers.dataset import Example
from classifiers.scorer import difficulty_of
from classifiers.training import DEFAULT_SEED, LABELS, split_rows, train

__all__ = ["FAMILIES", "Report", "evaluate", "family_of", "metrics"]

FAMILIES = {
    "math_easy": "math", "math_medium": "math", "math_hard": "math",
    "routellm_mmlu_easy": "routellm_mmlu",
    "routellm_mmlu_medium": "routellm_mmlu",
    "routellm_mmlu_hard": "routellm_mmlu",
    "aime24": "competition", "amc23": "competition", "olympiadbench": "competition",
}  # fmt: skip

Predictor = Callable[[Sequence[Example], Sequence[Example]], np.ndarray]


def family_of(source: str) -> str:
    return FAMILIES.get(source, source)


@dataclass
class Report:
    """Headline metrics of one evaluation."""

    auc_hard_vs_easy: float
    macro_f1: float
    ece: float
    confusion: list[list[int]]
    rows: int
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "auc_hard_vs_easy": round(self.auc_hard_vs_easy, 4),
            "macro_f1": round(self.macro_f1, 4),
            "ece": round(self.ece, 4),
            "confusion": self.confusion,
            "rows": self.rows,
            **self.extra,
        }


def _ece(probabilities: np.ndarray, truth: np.ndarray, bins: int = 10) -> float:
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == truth
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for low, high in itertools.pairwise(edges):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            total += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(total)


def metrics(rows: Sequence[Example], probabilities: np.ndarray) -> Report:
    """Metrics of predicted probabilities (LABELS order) against the rows' labels."""
    truth = np.asarray([LABELS.index(r["label"]) for r in rows])
    scores = difficulty_of(probabilities)
    extreme = truth != LABELS.index("medium")
    auc = float(roc_auc_score(truth[extreme] == LABELS.index("hard"), scores[extreme]))
    predicted = probabilities.argmax(axis=1)
    return Report(
        auc_hard_vs_easy=auc,
        macro_f1=float(f1_score(truth, predicted, average="macro")),
        ece=_ece(probabilities, truth),
        confusion=confusion_matrix(truth, predicted, labels=list(range(len(LABELS)))).tolist(),
        rows=len(rows),
    )


def linear_predictor(train_rows: Sequence[Example], test_rows: Sequence[Example]) -> np.ndarray:
    """The product model: selected n-grams + structure, logistic regression."""
    return train(train_rows).predict_proba([r["text"] for r in test_rows])


def baseline_predictor(train_rows: Sequence[Example], test_rows: Sequence[Example]) -> np.ndarray:
    """Character n-gram TF-IDF + logistic regression."""
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), min_df=2, sublinear_tf=True)
    features = vectorizer.fit_transform([r["text"] for r in train_rows])
    y = [LABELS.index(r["label"]) for r in train_rows]
    model = LogisticRegression(max_iter=2000, random_state=DEFAULT_SEED).fit(features, y)
    return np.asarray(model.predict_proba(vectorizer.transform([r["text"] for r in test_rows])))


def leave_one_family_out(rows: Sequence[Example], predictor: Predictor) -> tuple[Report, dict[str, float]]:
    """Pooled out-of-family predictions; per-family AUC against the other families' opposite label."""
    families = sorted({family_of(r["source"]) for r in rows})
    probabilities = np.zeros((len(rows), len(LABELS)))
    for family in families:
        held = [i for i, r in enumerate(rows) if family_of(r["source"]) == family]
        kept = [r for r in rows if family_of(r["source"]) != family]
        probabilities[held] = predictor(kept, [rows[i] for i in held])
    pooled = metrics(rows, probabilities)
    scores = difficulty_of(probabilities)
    per_family: dict[str, float] = {}
    for family in families:
        inside = np.asarray([family_of(r["source"]) == family for r in rows])
        labels = np.asarray([r["label"] for r in rows])
        hard_in, easy_in = inside & (labels == "hard"), inside & (labels == "easy")
        if hard_in.any() and easy_in.any():  # both kinds held out: rank them against each other
            hard, easy = hard_in, easy_in
        else:  # one kind held out: rank it against the other families' out-of-family rows of the other kind
            hard = hard_in | (~inside & (labels == "hard") & easy_in.any())
            easy = easy_in | (~inside & (labels == "easy") & hard_in.any())
        if hard.any() and easy.any():
            mask = hard | easy
            per_family[family] = float(roc_auc_score(hard[mask], scores[mask]))
    return pooled, per_family


def evaluate(rows: Sequence[Example], *, include_lofo: bool = True, include_baseline: bool = True) -> dict[str, Any]:
    """The full report printed by ``thinkroute classifier eval``."""
    train_rows, test_rows = split_rows(rows)
    report: dict[str, Any] = {"row_split": metrics(test_rows, linear_predictor(train_rows, test_rows)).to_json()}
    if include_baseline:
        report["row_split_baseline"] = metrics(test_rows, baseline_predictor(train_rows, test_rows)).to_json()
    if include_lofo:
        report["leave_one_source_out"] = _lofo_section(rows, linear_predictor)
        if include_baseline:
            report["leave_one_source_out_baseline"] = _lofo_section(rows, baseline_predictor)
    return report


def _lofo_section(rows: Sequence[Example], predictor: Predictor) -> dict[str, Any]:
    pooled, per_family = leave_one_family_out(rows, predictor)
    mean = float(np.mean(list(per_family.values())))
    return {**pooled.to_json(), "per_family_auc": per_family, "mean_family_auc": mean}
