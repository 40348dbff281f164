"""A LiteLLM backend pointed at the test upstream, shared by the LiteLLM backend tests (the key is set by conftest)."""

from __future__ import annotations

from typing import Any

from router.backends.base import ChatMessage
from router.backends.litellm_backend import LiteLLMBackend
from router.policy.schema import LiteLLMBackendConfig

__all__ = ["KEY_ENV", "QUESTION", "backend"]

QUESTION = (ChatMessage("user", "What is six times seven?"),)
KEY_ENV = "THINKROUTE_TEST_PROVIDER_KEY"


def backend(url: str, model: str = "openai/fake-model", **overrides: Any) -> LiteLLMBackend:
    """A ``litellm`` backend on ``url`` with fast retries and its key from :data:`KEY_ENV`."""
    settings: dict[str, Any] = {"type": "litellm", "model": model, "api_base": url, "retry_backoff_s": 0.01,
                                "api_key_env": KEY_ENV, **overrides}  # fmt: skip
    return LiteLLMBackend("hosted", LiteLLMBackendConfig(**settings))
