"""What each LiteLLM provider can do: honour ``n`` > 1 in one call, and which thinking knob it takes.

``reasoning: auto`` in the policy resolves here: providers that take a thinking ``budget_tokens``
(Anthropic, Claude on Bedrock / Vertex) get the budget; other reasoning models get
``reasoning_effort``; models LiteLLM's cost map does not mark as reasoning models get neither
(bounded reasoning then runs prompted). ``n`` > 1 is sent natively only where the provider
samples several choices per call; elsewhere the backend makes parallel calls.
"""

from __future__ import annotations

from dataclasses import dataclass

from router.backends.openai_wire import Knob

__all__ = ["NATIVE_N_PROVIDERS", "ProviderTraits", "provider_of", "traits_for"]

# providers whose chat API returns several choices for one call with ``n``
NATIVE_N_PROVIDERS = frozenset(
    {"openai", "azure", "hosted_vllm", "openai_compatible", "text-completion-openai", "deepseek", "together_ai",
     "fireworks_ai", "groq", "xai", "openrouter", "lm_studio", "llamafile", "sambanova"}
)  # fmt: skip
_BUDGET_TOKEN_PROVIDERS = frozenset({"anthropic", "bedrock", "vertex_ai"})


@dataclass(frozen=True)
class ProviderTraits:
    """How thinkroute drives one provider model."""

    provider: str
    native_n: bool
    knob: Knob


def provider_of(model: str) -> str:
    """The LiteLLM provider prefix of a model string (``anthropic/claude-…`` → ``anthropic``)."""
    return model.split("/", 1)[0] if "/" in model else "openai"


def _is_reasoning_model(model: str) -> bool:
    import litellm

    try:
        return bool(litellm.supports_reasoning(model=model))
    except Exception:  # unknown to the cost map: LiteLLM raises various errors; treat as not a reasoning model
        return False


def traits_for(model: str, reasoning: str = "auto") -> ProviderTraits:
    """The traits of a LiteLLM model string; ``reasoning`` (the policy's setting) overrides the knob."""
    provider = provider_of(model)
    native_n = provider in NATIVE_N_PROVIDERS
    if reasoning != "auto":
        knob: Knob = reasoning  # type: ignore[assignment]
    elif not _is_reasoning_model(model):
        knob = "none"
    elif provider in _BUDGET_TOKEN_PROVIDERS and "claude" in model:
        knob = "thinking_budget"
    else:
        knob = "reasoning_effort"
    return ProviderTraits(provider, native_n, knob)
