"""A scripted world for calibration tests: 'What is A + B?' items and a backend whose skill grows with compute."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from router.backends.base import GenerationRequest
from router.backends.scripted import ScriptedBackend

POLICY: dict[str, Any] = {
    "version": 1,
    "backends": {"local": {"type": "local", "model": "bundled",
                           "price": {"input_per_mtok": 1.0, "output_per_mtok": 2.0}}},
    "strategies": {
        "single": {"type": "single_pass", "backend": "local", "max_tokens": 16},
        "think": {"type": "bounded_reasoning", "backend": "local", "max_tokens": 16, "thinking_budgets": [16, 32]},
        "vote": {"type": "best_of_n", "backend": "local", "max_tokens": 16, "n_values": [2, 4], "wave_size": 2,
                 "min_samples": 2, "verifier": "vote", "temperature": 0.8,
                 "stopping": [{"rule": "beta", "params": {"confidence": 0.9}}]},
    },
    "routes": {"auto": {"strategies": ["single", "think", "vote"], "default_max_tokens": 16}},
    "classifier": {"enabled": False},
}  # fmt: skip

_QUESTION = re.compile(r"What is (\d+) \+ (\d+)\?")


def responder(request: GenerationRequest, index: int) -> str:
    """Single pass is right for A < 10, prompted thinking for A < 20, sampling for A < 30 (most samples)."""
    question = next(m.content for m in reversed(request.messages) if m.role == "user")
    match = _QUESTION.search(question)
    if match is None:
        return "I do not know"
    a, b = int(match.group(1)), int(match.group(2))
    thinking = any(m.role == "system" for m in request.messages)
    if thinking:
        answer = a + b if a < 20 else a + b + 1
        return f"{a} plus {b} is {answer} #### {answer}"
    if request.temperature > 0:
        wrong_sample = (index + (request.seed or 0)) % 4 == 0
        return str(a + b if a < 30 and not wrong_sample else a + b + 1 + index % 3)
    return str(a + b if a < 10 else a + b + 1)


def scripted() -> ScriptedBackend:
    return ScriptedBackend(responder)


def write_world(directory: Path, *, items: int = 12, policy_extra: dict[str, Any] | None = None) -> tuple[Path, Path]:
    """A policy file and a generic JSONL of addition items; returns (policy path, data path)."""
    directory.mkdir(parents=True, exist_ok=True)
    policy = directory / "policy.yaml"
    policy.write_text(yaml.safe_dump({**POLICY, **(policy_extra or {})}), encoding="utf-8")
    data = directory / "sums.jsonl"
    rows = [{"id": f"sum-{i}", "prompt": f"What is {3 * i} + {i + 1}?", "reference": str(4 * i + 1)}
            for i in range(items)]  # fmt: skip
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return policy, data
