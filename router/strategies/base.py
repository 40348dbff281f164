"""The strategy interface: run a plan on a backend, or stream it.

A strategy turns one client request into one answer, spending as much compute as its plan
allows and no more: the plan carries the parameters the planner chose, a hard cap on generated
tokens across every sample, and a deadline.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from router.backends.base import Backend, Completion, GenerationRequest, StreamChunk, Usage

__all__ = [
    "Plan",
    "Progress",
    "Strategy",
    "StrategyContext",
    "StrategyResult",
    "StreamEvent",
]


@dataclass(frozen=True)
class Plan:
    """What the planner decided: which strategy, with which parameters, under which hard limits."""

    strategy: str
    strategy_type: str
    params: Mapping[str, Any]
    max_tokens: int
    token_cap: int
    deadline: float | None = None
    rule: str = "forced"

    def remaining_s(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()


@dataclass
class StrategyResult:
    """The answer and what producing it cost. ``completion.reasoning`` holds any thinking."""

    completion: Completion
    usage: Usage
    samples: int = 1
    stop_reason: str = "single"
    anytime: bool = False
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Progress:
    """A heartbeat while a strategy works before its first token (SSE comment for streaming clients)."""

    message: str


StreamEvent = StreamChunk | Progress | StrategyResult


@dataclass
class StrategyContext:
    """Everything a strategy may use for one request."""

    request: GenerationRequest
    plan: Plan
    backend: Backend
    backends: Mapping[str, Backend]
    config: Any
    on_event: Any = None  # optional callable(name, attributes) for telemetry


class Strategy(Protocol):
    """One inference-time scaling method."""

    async def run(self, ctx: StrategyContext) -> StrategyResult:
        """Produce the final answer."""
        ...

    def stream(self, ctx: StrategyContext) -> AsyncIterator[StreamEvent]:
        """Yield progress, text deltas, then exactly one :class:`StrategyResult`."""
        ...
