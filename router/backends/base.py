"""The backend contract: one async call to generate, one to stream.

Every model backend (the in-process local model, a self-hosted OpenAI-compatible server,
hosted providers through LiteLLM, the scripted test double) implements :class:`Backend`,
so strategies never know which one they drive.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol, runtime_checkable

__all__ = [
    "Backend",
    "BackendCapabilities",
    "ChatMessage",
    "Completion",
    "GenerationRequest",
    "GenerationResult",
    "StreamChunk",
    "ThinkingBudget",
    "Usage",
]

FinishReason = Literal["stop", "length", "deadline", "cancelled"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One chat turn as the client sent it."""

    role: str
    content: str


@dataclass(frozen=True, slots=True)
class ThinkingBudget:
    """How much the model may think before answering.

    On the local backend this drives s1-style budget forcing (``min_tokens`` / ``max_tokens``);
    on providers it maps to ``reasoning_effort`` or thinking ``budget_tokens``.
    """

    max_tokens: int
    min_tokens: int = 0
    effort: Literal["low", "medium", "high"] | None = None


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """What a strategy asks a backend for. ``deadline`` is a ``time.monotonic()`` instant."""

    messages: tuple[ChatMessage, ...]
    max_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    n: int = 1
    stop: tuple[str, ...] = ()
    seed: int | None = None
    thinking: ThinkingBudget | None = None
    deadline: float | None = None
    logprobs: bool = False
    assistant_prefix: str = ""

    def with_(self, **changes: object) -> GenerationRequest:
        """A copy with some fields changed."""
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(slots=True)
class Usage:
    """Tokens and cost consumed; adds up across samples, waves and verifier calls."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float = 0.0
    calls: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
            self.cost_usd + other.cost_usd,
            self.calls + other.calls,
        )

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(slots=True)
class Completion:
    """One sampled completion. ``completion_tokens`` includes ``reasoning_tokens``."""

    text: str
    finish_reason: FinishReason = "stop"
    completion_tokens: int = 0
    reasoning: str | None = None
    reasoning_tokens: int = 0
    logprobs: list[float] | None = None


@dataclass(slots=True)
class GenerationResult:
    """The completions of one backend call and what the call consumed."""

    completions: list[Completion]
    usage: Usage
    model: str


@dataclass(slots=True)
class StreamChunk:
    """A streamed delta; the last chunk carries ``finish_reason`` and ``usage``."""

    text: str = ""
    reasoning: str = ""
    finish_reason: FinishReason | None = None
    usage: Usage | None = None


@dataclass(frozen=True, slots=True)
class BackendCapabilities:
    """What a backend can do natively; strategies adapt to it."""

    native_n: bool = False
    thinking_knob: bool = False
    budget_forcing: bool = False
    stepwise: bool = False
    extra: dict[str, object] = field(default_factory=dict)


@runtime_checkable
class Backend(Protocol):
    """A model endpoint: generate completions, or stream one."""

    name: str
    capabilities: BackendCapabilities

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        """Return ``request.n`` completions (or raise a :class:`router.errors.BackendError`)."""
        ...

    def stream(self, request: GenerationRequest) -> AsyncIterator[StreamChunk]:
        """Stream one completion (``n`` must be 1)."""
        ...
