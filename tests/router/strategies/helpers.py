"""Build strategy contexts over scripted backends."""

from __future__ import annotations

import time
from typing import Any

from router.backends.base import Backend, ChatMessage, GenerationRequest
from router.strategies import Plan, StrategyContext


def context(
    backend: Backend,
    config: Any,
    *,
    params: dict[str, Any] | None = None,
    max_tokens: int = 16,
    token_cap: int = 10_000,
    deadline_s: float | None = 30.0,
    prompt: str = "What is 6 times 7?",
    seed: int | None = None,
    backends: dict[str, Backend] | None = None,
) -> StrategyContext:
    request = GenerationRequest(messages=(ChatMessage("user", prompt),), max_tokens=max_tokens, seed=seed)
    deadline = None if deadline_s is None else time.monotonic() + deadline_s
    plan = Plan(config.backend, config.type, params or {}, max_tokens, token_cap, deadline)
    return StrategyContext(request, plan, backend, backends or {config.backend: backend}, config)
