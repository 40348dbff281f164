"""Chat requests as engine jobs: the prompt the model continues, its stop sequences, and budget forcing.

Shared by the router's in-process :class:`~router.backends.local.LocalBackend` and the HTTP server
(:mod:`local_backend.server`), so both turn the same messages into the same tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from local_backend.budget_forcing import ThinkingSpec
from local_backend.jobs import Job
from local_backend.params import SamplingParams
from local_backend.prompting import Message, build_prompt
from local_backend.think_prompt import thinking_prompt

__all__ = ["chat_job", "step_prompt"]


def chat_job(
    messages: Sequence[Message],
    tokenizer: object,
    params: SamplingParams,
    *,
    assistant_prefix: str = "",
    thinking_max: int | None = None,
    thinking_min: int = 0,
    max_waits: int | None = None,
    wait_text: str | None = None,
    on_text: Callable[[str], None] | None = None,
    on_reasoning: Callable[[str], None] | None = None,
) -> Job:
    """The job answering ``messages``; the prompt's own stop sequences come before ``params.stop``.

    With ``thinking_max`` the prompt opens a thinking section and s1 budget forcing keeps the
    thinking between ``thinking_min`` and ``thinking_max`` tokens (inserting ``wait_text``, "Wait" by
    default, at most ``max_waits`` times); ``params.max_new_tokens`` caps the answer.
    """
    thinking = None
    if thinking_max is not None:
        think = thinking_prompt(messages, tokenizer, assistant_prefix)
        text, stops = think.text, think.answer_stops
        fmt = replace(think.format, wait_text=wait_text) if wait_text else think.format
        thinking = ThinkingSpec(thinking_max, fmt, min_tokens=thinking_min, max_waits=max_waits)
    else:
        prompt = build_prompt(messages, tokenizer, assistant_prefix)
        text, stops = prompt.text, prompt.stop
    merged = replace(params, stop=tuple(dict.fromkeys((*stops, *params.stop))), thinking=thinking)
    return Job(text, merged, on_text=on_text, on_reasoning=on_reasoning)


def step_prompt(
    messages: Sequence[Message],
    tokenizer: object,
    *,
    assistant_prefix: str = "",
    stop: Sequence[str] = (),
    delimiter: str = "\n\n",
) -> tuple[str, tuple[str, ...]]:
    """The prompt that step-wise generation continues, and its stop sequences other than ``delimiter``."""
    prompt = build_prompt(messages, tokenizer, assistant_prefix)
    return prompt.text, tuple(dict.fromkeys(s for s in (*prompt.stop, *stop) if s and s != delimiter))
