"""Train the difficulty model (scikit-learn) and export it to ONNX with its vocabulary embedded."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from classifiers.dataset import Example
from classifiers.features import Featurizer

__all__ = ["LABELS", "MODEL_PATH", "TrainedModel", "export_onnx", "split_rows", "train"]

LABELS = ("easy", "medium", "hard")
MODEL_PATH = Path(__file__).resolve().parent / "models" / "difficulty.onnx"
DEFAULT_SEED = 13
C = 1.0


@dataclass
class TrainedModel:
    """The featurizer and the fitted linear model."""

    featurizer: Featurizer
    model: LogisticRegression

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities in LABELS order, from scikit-learn (for checks against the ONNX export)."""
        return np.asarray(self.model.predict_proba(self.featurizer.dense(texts)), dtype=np.float64)


def split_rows(
    rows: Sequence[Example], seed: int = DEFAULT_SEED, test_share: float = 0.2
) -> tuple[list[Example], list[Example]]:
    """A deterministic row-level train/test split, stratified by source."""
    by_source: dict[str, list[Example]] = {}
    for row in rows:
        by_source.setdefault(row["source"], []).append(row)
    train_rows: list[Example] = []
    test_rows: list[Example] = []
    rng = random.Random(seed)
    for source in sorted(by_source):
        group = list(by_source[source])
        rng.shuffle(group)
        cut = round(len(group) * test_share)
        test_rows.extend(group[:cut])
        train_rows.extend(group[cut:])
    return train_rows, test_rows


def train(rows: Sequence[Example], seed: int = DEFAULT_SEED) -> TrainedModel:
    """Fit vocabulary and a multinomial logistic regression; deterministic for a seed."""
    texts = [r["text"] for r in rows]
    labels = [r["label"] for r in rows]
    featurizer = Featurizer.fit(texts, labels)
    features = featurizer.dense(texts)
    y = np.asarray([LABELS.index(label) for label in labels])
    model = LogisticRegression(C=C, max_iter=2000, random_state=seed, class_weight="balanced")
    model.fit(features, y)
    return TrainedModel(featurizer, model)


def export_onnx(trained: TrainedModel, path: Path = MODEL_PATH, metadata: dict[str, str] | None = None) -> str:
    """Write the ONNX model (linear layer + softmax) with the vocabulary in its metadata; return its sha256."""
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType

    onx = to_onnx(
        trained.model,
        initial_types=[("features", FloatTensorType([None, trained.featurizer.n_features]))],
        options={id(trained.model): {"zipmap": False}},
        target_opset=17,
    )
    props = {
        "thinkroute.labels": json.dumps(LABELS),
        "thinkroute.char_vocab": json.dumps(trained.featurizer.char_vocab, ensure_ascii=False),
        "thinkroute.word_vocab": json.dumps(trained.featurizer.word_vocab, ensure_ascii=False),
        **(metadata or {}),
    }
    for key, value in sorted(props.items()):
        entry = onx.metadata_props.add()
        entry.key, entry.value = key, value
    onx.producer_name = "thinkroute-classifier"
    data = onx.SerializeToString()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()
