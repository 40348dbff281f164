"""A priced policy with several strategies (best-of-N on route ``search``) and measured profiles, for planner tests."""

from __future__ import annotations

import pytest

from router.policy import Policy, parse_policy

PLANNER_POLICY = {
    "backends": {
        "hosted": {
            "type": "openai_compatible",
            "api_base": "http://127.0.0.1:9/v1",
            "model": "m",
            "price": {"input_per_mtok": 1.0, "output_per_mtok": 4.0},
            "speed": {"prefill_tokens_per_s": 5000, "decode_tokens_per_s": 100, "overhead_ms": 50,
                      "parallel_sequences": 8},
        }
    },
    "strategies": {
        "single": {"type": "single_pass", "backend": "hosted", "max_tokens": 256},
        "think": {"type": "bounded_reasoning", "backend": "hosted", "max_tokens": 256,
                  "thinking_budgets": [256, 1024]},
        "draft": {"type": "chain_of_draft", "backend": "hosted", "max_tokens": 256},
        "vote": {"type": "best_of_n", "backend": "hosted", "max_tokens": 256, "n_values": [4, 8], "wave_size": 4},
    },
    "routes": {
        "auto": {"strategies": ["single", "draft", "think"], "slo": {"min_quality": 0.5}},
        "search": {"strategies": ["single", "think", "vote"], "slo": {"min_quality": 0.5}},
    },
    "tenants": {"acme": {"slo": {"min_quality": 0.8, "latency_ms": 60000}}},
    "profiles": [
        {"strategy": "single", "quality": {"easy": 0.95, "medium": 0.6, "hard": 0.2},
         "completion_tokens_mean": 60, "completion_tokens_p95": 200},
        {"strategy": "draft", "params": {"draft_tokens": 64}, "quality": {"easy": 0.95, "medium": 0.72, "hard": 0.35},
         "completion_tokens_mean": 90, "completion_tokens_p95": 300},
        {"strategy": "think", "params": {"thinking_budget": 256}, "quality": {"easy": 0.96, "medium": 0.8, "hard": 0.5},
         "completion_tokens_mean": 300, "completion_tokens_p95": 500},
        {"strategy": "think", "params": {"thinking_budget": 1024},
         "quality": {"points": [[0.0, 0.97], [0.5, 0.88], [1.0, 0.75]]},
         "completion_tokens_mean": 900, "completion_tokens_p95": 1250},
        {"strategy": "vote", "params": {"n": 4}, "quality": {"easy": 0.97, "medium": 0.84, "hard": 0.78},
         "completion_tokens_mean": 240, "completion_tokens_p95": 800},
        {"strategy": "vote", "params": {"n": 8}, "quality": {"easy": 0.98, "medium": 0.9, "hard": 0.86},
         "completion_tokens_mean": 480, "completion_tokens_p95": 1600},
    ],
}  # fmt: skip


@pytest.fixture(scope="session")
def planner_policy() -> Policy:
    return parse_policy(PLANNER_POLICY)
