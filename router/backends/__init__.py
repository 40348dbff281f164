"""Model backends behind one small async interface."""

from router.backends.base import (
    Backend,
    BackendCapabilities,
    ChatMessage,
    Completion,
    GenerationRequest,
    GenerationResult,
    StreamChunk,
    ThinkingBudget,
    Usage,
)

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
