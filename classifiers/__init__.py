"""The prompt difficulty classifier: dataset, features, training, ONNX export, evaluation, scorer."""

from classifiers.scorer import DifficultyScore, DifficultyScorer, text_for_scoring

__all__ = ["DifficultyScore", "DifficultyScorer", "text_for_scoring"]
