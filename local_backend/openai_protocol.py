"""Request bodies of the HTTP server: the OpenAI API's, plus thinkroute's extensions (separate paths).

Unknown OpenAI parameters are accepted and ignored, as OpenAI-compatible servers do; parameters
whose meaning this server cannot honour (``echo``, ``suffix``, ``best_of`` other than ``n``) are
rejected with 400 instead of being silently dropped.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from local_backend.tip import DEFAULT_SWITCH_PHRASES

__all__ = [
    "ChatMessage",
    "ChatRequest",
    "CompletionRequest",
    "StepRequest",
    "StreamOptions",
    "ThinkingOptions",
    "ThinkrouteChatRequest",
    "ThoughtSwitchOptions",
]

MAX_N = 64
Stop = str | list[str] | None


class _ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    """One chat message; only the text parts of list content are read."""

    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[_ContentPart] | None = None

    @property
    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(part.text or "" for part in self.content if part.type == "text")


class _Turn:
    """A message as the prompt builders read it (``role`` and plain-text ``content``)."""

    __slots__ = ("content", "role")

    def __init__(self, role: str, content: str) -> None:
        self.role = role
        self.content = content


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class _Sampling(BaseModel):
    """What every generation endpoint shares."""

    model_config = ConfigDict(extra="ignore")
    model: str = ""
    temperature: Annotated[float, Field(ge=0, le=2)] = 1.0
    top_p: Annotated[float, Field(gt=0, le=1)] = 1.0
    n: Annotated[int, Field(ge=1, le=MAX_N)] = 1
    stream: bool = False
    stream_options: StreamOptions | None = None
    stop: Stop = None
    seed: int | None = None

    @field_validator("stop")
    @classmethod
    def _at_most_four(cls, value: Stop) -> Stop:
        if isinstance(value, list) and len(value) > 4:
            raise ValueError("at most 4 stop sequences")
        return value

    def stop_sequences(self) -> tuple[str, ...]:
        if self.stop is None:
            return ()
        return (self.stop,) if isinstance(self.stop, str) else tuple(s for s in self.stop if s)

    @property
    def include_usage(self) -> bool:
        return self.stream_options is not None and self.stream_options.include_usage


class ChatRequest(_Sampling):
    """``POST /v1/chat/completions``.

    ``continue_final_message`` (as in vLLM) continues a final assistant message instead of starting a new turn.
    """

    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: Annotated[int, Field(ge=1)] | None = None
    max_completion_tokens: Annotated[int, Field(ge=1)] | None = None
    logprobs: bool = False
    top_logprobs: Annotated[int, Field(ge=0, le=20)] | None = None
    continue_final_message: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> ChatRequest:
        if self.top_logprobs and not self.logprobs:
            raise ValueError("top_logprobs requires logprobs to be true")
        if self.continue_final_message and self.messages[-1].role != "assistant":
            raise ValueError("continue_final_message needs a final assistant message")
        return self

    def requested_max_tokens(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    def turns(self) -> tuple[list[_Turn], str]:
        """The messages to prompt with, and the assistant text to continue (``continue_final_message``)."""
        turns = [_Turn(m.role, m.text) for m in self.messages]
        if self.continue_final_message:
            return turns[:-1], turns[-1].content
        return turns, ""


class ThinkingOptions(BaseModel):
    """s1 budget forcing: think at least ``min_tokens`` and at most ``max_tokens`` before answering.

    Below the minimum, an ending of the thinking is replaced by ``wait_text``, at most ``max_waits`` times.
    """

    model_config = ConfigDict(extra="forbid")
    max_tokens: Annotated[int, Field(ge=1)]
    min_tokens: Annotated[int, Field(ge=0)] = 0
    max_waits: Annotated[int, Field(ge=0)] | None = None
    wait_text: Annotated[str, Field(min_length=1)] = "Wait"


class ThoughtSwitchOptions(BaseModel):
    """The TIP thought-switch penalty: lower ``phrases``' first tokens by ``penalty`` for ``window`` tokens."""

    model_config = ConfigDict(extra="forbid")
    phrases: list[str] = Field(default_factory=lambda: list(DEFAULT_SWITCH_PHRASES), min_length=1)
    penalty: Annotated[float, Field(ge=0)] = 3.0
    window: Annotated[int, Field(ge=1)] = 600


class ThinkrouteChatRequest(ChatRequest):
    """``POST /thinkroute/v1/chat/completions``: a chat completion with budget forcing and/or TIP.

    The answer is ``message.content``, the thinking ``message.reasoning_content``; ``max_tokens`` caps the answer.
    """

    thinking: ThinkingOptions | None = None
    thought_switch: ThoughtSwitchOptions | None = None


class CompletionRequest(_Sampling):
    """``POST /v1/completions`` (legacy text completions): the prompt is continued as is."""

    prompt: str | list[str]
    max_tokens: Annotated[int, Field(ge=1)] = 16
    logprobs: Annotated[int, Field(ge=0, le=5)] | None = None
    echo: bool = False
    suffix: str | None = None
    best_of: Annotated[int, Field(ge=1)] | None = None

    @model_validator(mode="after")
    def _supported(self) -> CompletionRequest:
        if self.echo:
            raise ValueError("echo is not supported")
        if self.suffix:
            raise ValueError("suffix is not supported")
        if self.best_of is not None and self.best_of != self.n:
            raise ValueError("best_of other than n is not supported")
        if isinstance(self.prompt, list) and not self.prompt:
            raise ValueError("prompt must not be empty")
        if self.stream and isinstance(self.prompt, list) and len(self.prompt) > 1:
            raise ValueError("streaming takes a single prompt")
        return self

    def prompts(self) -> list[str]:
        return [self.prompt] if isinstance(self.prompt, str) else list(self.prompt)


class StepRequest(BaseModel):
    """``POST /thinkroute/v1/steps``: continue each ``prompt + prefix`` ``k`` times up to ``delimiter``.

    The prompt is either ``prompt`` (raw text) or ``messages`` (the model's chat template or the
    base-model scaffold, as in chat completions). ``max_tokens`` caps each step.
    """

    model_config = ConfigDict(extra="ignore")
    model: str = ""
    prompt: str | None = None
    messages: list[ChatMessage] | None = None
    prefixes: list[str] = Field(default_factory=lambda: [""], min_length=1, max_length=MAX_N)
    k: Annotated[int, Field(ge=1, le=MAX_N)] = 1
    delimiter: str = Field("\n\n", min_length=1)
    max_tokens: Annotated[int, Field(ge=1)] = 64
    temperature: Annotated[float, Field(ge=0, le=2)] = 0.7
    top_p: Annotated[float, Field(gt=0, le=1)] = 1.0
    seed: int | None = None
    stop: Stop = None

    @model_validator(mode="after")
    def _one_prompt(self) -> StepRequest:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("give exactly one of prompt and messages")
        if self.messages is not None and not self.messages:
            raise ValueError("messages must not be empty")
        if len(self.prefixes) * self.k > MAX_N:
            raise ValueError(f"at most {MAX_N} branches (prefixes x k)")
        return self

    def stop_sequences(self) -> tuple[str, ...]:
        if self.stop is None:
            return ()
        return (self.stop,) if isinstance(self.stop, str) else tuple(s for s in self.stop if s)

    def turns(self) -> list[_Turn]:
        return [_Turn(m.role, m.text) for m in self.messages or []]
