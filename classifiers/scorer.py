"""The run-time scorer: text in, difficulty out, with onnxruntime and the shared featurizer."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from classifiers.features import Featurizer
from classifiers.training import LABELS, MODEL_PATH

__all__ = ["DifficultyScore", "DifficultyScorer", "difficulty_of", "text_for_scoring"]

# scalar difficulty = expected position on the easy (0) .. hard (1) axis
_WEIGHTS = np.asarray([0.0, 0.5, 1.0])
_SHORT_FOLLOW_UP = 24


@dataclass(frozen=True)
class DifficultyScore:
    """Probabilities of easy / medium / hard, the most likely bucket and a scalar difficulty in [0, 1]."""

    difficulty: float
    bucket: str
    probabilities: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "difficulty": round(self.difficulty, 4),
            "bucket": self.bucket,
            "probabilities": {k: round(v, 6) for k, v in self.probabilities.items()},
        }


def difficulty_of(probabilities: np.ndarray) -> np.ndarray:
    """P(medium) / 2 + P(hard), row-wise."""
    return np.asarray(probabilities @ _WEIGHTS)


def _content(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping) and p.get("type") == "text")
    return ""


def text_for_scoring(messages: Sequence[Mapping[str, Any]]) -> str:
    """The text the classifier scores: the last user turn.

    The last user turn is what the model must answer now; the system prompt describes the app, not
    the task, and earlier turns are context. A very short follow-up ("and why?", "continue") carries
    no difficulty of its own, so the previous user turn is prepended to it.
    """
    users = [_content(m) for m in messages if m.get("role") == "user"]
    if not users:
        return ""
    last = users[-1]
    if len(last.strip()) < _SHORT_FOLLOW_UP and len(users) > 1:
        return f"{users[-2]}\n{last}"
    return last


class DifficultyScorer:
    """Loads ``difficulty.onnx`` once; thread-safe batch scoring."""

    def __init__(self, session: ort.InferenceSession, featurizer: Featurizer, labels: Sequence[str]) -> None:
        self._session = session
        self._featurizer = featurizer
        self._labels = list(labels)
        self._input = session.get_inputs()[0].name
        self._lock = threading.Lock()  # the featurizer's word cache is shared

    @classmethod
    def load(cls, path: str | Path | None = None, *, threads: int = 1) -> DifficultyScorer:
        """Load the committed model (or ``path``)."""
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(str(path or MODEL_PATH), options, providers=["CPUExecutionProvider"])
        meta = session.get_modelmeta().custom_metadata_map
        featurizer = Featurizer(json.loads(meta["thinkroute.char_vocab"]), json.loads(meta["thinkroute.word_vocab"]))
        return cls(session, featurizer, json.loads(meta["thinkroute.labels"]))

    @property
    def metadata(self) -> dict[str, str]:
        meta = self._session.get_modelmeta().custom_metadata_map
        return {k: v for k, v in meta.items() if not k.endswith("_vocab")}

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), 3) probabilities in easy, medium, hard order; one onnxruntime call."""
        if not texts:
            return np.zeros((0, len(LABELS)))
        with self._lock:
            features = self._featurizer.dense(texts)
        outputs = self._session.run(None, {self._input: features})
        return np.asarray(outputs[1], dtype=np.float64)

    def score_batch(self, texts: Sequence[str]) -> list[DifficultyScore]:
        """Scores for a batch of prompts."""
        probs = self.probabilities(texts)
        scores, best = difficulty_of(probs).tolist(), np.argmax(probs, axis=1).tolist()
        labels = self._labels
        return [DifficultyScore(difficulty, labels[i], dict(zip(labels, row, strict=True)))
                for row, difficulty, i in zip(probs.tolist(), scores, best, strict=True)]  # fmt: skip

    def score(self, text: str) -> DifficultyScore:
        """Score one prompt."""
        return self.score_batch([text])[0]
