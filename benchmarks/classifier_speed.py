"""Difficulty classifier speed, end to end (text in, probabilities out), on one core.

Targets: p50 <= 0.2 ms per prompt, batch of 64 <= 2 ms. Prompts are real rows of the committed
dataset (mean ~240 characters). The featurizer's per-word cache is warmed first, as it is in a
long-running server.

    taskset -c 0 .venv/bin/python benchmarks/classifier_speed.py
"""

from __future__ import annotations

import json
import random
import statistics
import time

from classifiers import DifficultyScorer
from classifiers.dataset import load_dataset


def main() -> None:
    scorer = DifficultyScorer.load(threads=1)
    rows = load_dataset()
    random.Random(0).shuffle(rows)
    texts = [r["text"] for r in rows[:2000]]
    scorer.score_batch(texts)  # warm the word cache and onnxruntime
    single = []
    for text in texts[:1000]:
        started = time.perf_counter()
        scorer.score(text)
        single.append((time.perf_counter() - started) * 1000)
    batches = []
    for start in range(0, 1280, 64):
        chunk = texts[start : start + 64]
        started = time.perf_counter()
        scorer.score_batch(chunk)
        batches.append((time.perf_counter() - started) * 1000)
    featurize, linear = [], []  # where a batch's time goes: the Python featurizer vs the onnxruntime call
    for start in range(0, 1280, 64):
        chunk = texts[start : start + 64]
        started = time.perf_counter()
        features = scorer._featurizer.dense(chunk)
        middle = time.perf_counter()
        scorer._session.run(None, {scorer._input: features})
        featurize.append((middle - started) * 1000)
        linear.append((time.perf_counter() - middle) * 1000)
    short = []
    for _ in range(1000):
        started = time.perf_counter()
        scorer.score("What is the capital of France?")
        short.append((time.perf_counter() - started) * 1000)
    result = {
        "single_p50_ms": round(statistics.median(single), 4),
        "single_p99_ms": round(sorted(single)[int(0.99 * len(single))], 4),
        "short_prompt_p50_ms": round(statistics.median(short), 4),
        "batch64_p50_ms": round(statistics.median(batches), 3),
        "batch64_per_prompt_ms": round(statistics.median(batches) / 64, 4),
        "batch64_featurize_ms": round(statistics.median(featurize), 3),
        "batch64_onnx_ms": round(statistics.median(linear), 3),
        "mean_prompt_chars": round(statistics.mean(len(t) for t in texts[:1000]), 1),
    }
    for key, value in result.items():
        print(f"{key:<24}{value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
