"""How long the planner takes to decide, per request (target: < 50 µs).

Measures candidate expansion + prediction + the decision rule for a route with several
strategies and parameter settings, with profiles, under a few SLOs. Prints a table and ends
with one JSON line.

    .venv/bin/python benchmarks/planner_speed.py
"""

from __future__ import annotations

import json
import statistics
import time

from router.planner import SLO, Predictor, expand_candidates, plan
from router.policy import Policy

POLICY = {
    "backends": {
        "hosted": {"type": "openai_compatible", "api_base": "http://127.0.0.1:9/v1", "model": "m",
                   "price": {"input_per_mtok": 0.15, "output_per_mtok": 0.6}},
        "local": {"type": "local"},
    },
    "strategies": {
        "single": {"type": "single_pass", "backend": "hosted"},
        "draft": {"type": "chain_of_draft", "backend": "hosted"},
        "think": {"type": "bounded_reasoning", "backend": "hosted", "thinking_budgets": [256, 1024, 4096]},
        "vote": {"type": "best_of_n", "backend": "local", "n_values": [4, 8, 16]},
    },
    "routes": {"auto": {"strategies": ["single", "draft", "think", "vote"]}},
    "profiles": [
        {"strategy": "single", "quality": {"easy": 0.95, "medium": 0.6, "hard": 0.2}},
        {"strategy": "think", "params": {"thinking_budget": 1024},
         "quality": {"easy": 0.96, "medium": 0.8, "hard": 0.5}},
    ],
}  # fmt: skip

SLOS = {
    "quality bar": SLO(min_quality=0.8),
    "tight latency": SLO(min_quality=0.9, latency_ms=8000),
    "cost cap": SLO(min_quality=0.9, max_cost_usd=0.0005),
}


def _time_per_call(fn, repeats: int) -> list[float]:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(repeats):
        started = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - started) / 1000.0)
    return samples


def main() -> None:
    policy = Policy.model_validate(POLICY)
    predictor = Predictor(policy)
    strategies = list(policy.routes["auto"].strategies)
    results = {}
    for name, slo in SLOS.items():

        def decide(slo: SLO = slo) -> None:
            candidates = predictor.candidates(strategies, 256)
            plan(candidates, predictor, slo, 0.63, 300)

        for _ in range(500):
            decide()
        micros = _time_per_call(decide, 5000)
        results[name] = (statistics.median(micros), sorted(micros)[int(0.99 * len(micros))])
    n_candidates = len(expand_candidates(policy, strategies, 256))
    print(f"{'SLO':<16}{'p50 µs':>10}{'p99 µs':>10}   ({n_candidates} candidates)")
    for name, (p50, p99) in results.items():
        print(f"{name:<16}{p50:>10.1f}{p99:>10.1f}")
    worst_p50 = max(p50 for p50, _ in results.values())
    print(json.dumps({"planner_p50_us": round(worst_p50, 2),
                      "planner_p99_us": round(max(p99 for _, p99 in results.values()), 2),
                      "candidates": n_candidates, "target_us": 50, "meets_target": worst_p50 < 50}))  # fmt: skip


if __name__ == "__main__":
    main()
