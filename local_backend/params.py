"""The engine's request and result types (re-exported by :mod:`local_backend.engine`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from local_backend.budget_forcing import ThinkingSpec
from local_backend.tip import ThoughtSwitchConfig

__all__ = ["EngineResult", "SampleOutput", "SamplingParams"]


@dataclass(frozen=True)
class SamplingParams:
    """Decoding settings for one call; ``deadline`` is a ``time.monotonic()`` instant.

    ``seed`` makes sampling reproducible: sample ``i`` draws from its own generator seeded with
    ``seed + i``, whatever else shares its batch. ``thinking`` turns on budget forcing (then
    ``max_new_tokens`` caps the answer after the thinking, end-of-thinking delimiter included);
    ``thought_switch`` turns on the TIP thought-switch penalty. With ``stop_after_text``, stop
    sequences in the leading whitespace do not end the sequence (step-wise generation).
    ``top_logprobs`` > 0 also returns that many most likely tokens per position (implies ``logprobs``).
    """

    max_new_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    n: int = 1
    stop: tuple[str, ...] = ()
    seed: int | None = None
    deadline: float | None = None
    logprobs: bool = False
    top_logprobs: int = 0
    thinking: ThinkingSpec | None = None
    thought_switch: ThoughtSwitchConfig | None = None
    stop_after_text: bool = False


@dataclass
class SampleOutput:
    """One generated sequence, cut at its stop sequence.

    ``token_ids`` are every token generated (thinking, delimiter and answer; the end-of-sequence
    token when one was generated). With budget forcing, ``text`` is the answer and ``reasoning`` the
    thinking; ``waits`` counts the "Wait" insertions; ``answer_start`` is the index in ``token_ids`` of
    the answer's first token (0 without budget forcing, None when the thinking never ended).
    ``stop`` is the stop sequence that ended it. ``logprobs`` (one per token) and ``top_logprobs``
    ((token id, logprob) pairs per token) are there when asked for.
    """

    text: str
    token_ids: list[int]
    finish_reason: str
    logprobs: list[float] | None = None
    reasoning: str | None = None
    reasoning_tokens: int = 0
    waits: int = 0
    stop: str | None = None
    top_logprobs: list[list[tuple[int, float]]] | None = None
    answer_start: int | None = 0


@dataclass
class EngineResult:
    """The samples of one call; the prompt was prefilled once for all of them.

    ``prefill_tokens`` counts the prompt tokens actually run through the model for this call
    (shared prompts count once); ``batch_rows`` is how many sequences decoded together;
    ``prompt_lengths`` is the length of each of the call's prompts (one per prefix in step-wise calls).
    """

    samples: list[SampleOutput]
    prompt_tokens: int
    seconds: float = 0.0
    prefill_tokens: int = 0
    batch_rows: int = 0
    prompt_lengths: list[int] = field(default_factory=list)
