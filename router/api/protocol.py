"""Request models of the OpenAI-compatible API, plus thinkroute's ``thinkroute`` body extension."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from router.backends.base import ChatMessage

__all__ = ["ChatCompletionRequest", "ContentPart", "Message", "SLOOverrides", "StreamOptions"]


class ContentPart(BaseModel):
    """A content part; only text parts carry text a language model can read."""

    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class Message(BaseModel):
    """One chat message as OpenAI clients send it."""

    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None
    name: str | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(part.text or "" for part in self.content if part.type == "text")


class SLOOverrides(BaseModel):
    """Per-request SLO in the body (``extra_body={"thinkroute": {...}}`` with the openai SDK)."""

    model_config = ConfigDict(extra="forbid")
    latency_ms: Annotated[float, Field(gt=0)] | None = None
    max_cost_usd: Annotated[float, Field(ge=0)] | None = None
    min_quality: Annotated[float, Field(ge=0, le=1)] | None = None
    strategy: str | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """``POST /v1/chat/completions``. Unknown OpenAI parameters are accepted and ignored."""

    model_config = ConfigDict(extra="ignore")
    model: str
    messages: list[Message] = Field(min_length=1)
    max_tokens: Annotated[int, Field(ge=1)] | None = None
    max_completion_tokens: Annotated[int, Field(ge=1)] | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    top_p: Annotated[float, Field(gt=0, le=1)] | None = None
    n: Annotated[int, Field(ge=1)] = 1
    stream: bool = False
    stream_options: StreamOptions | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    logprobs: bool | None = None
    reasoning_effort: Literal["minimal", "low", "medium", "high"] | None = None
    user: str | None = None
    thinkroute: SLOOverrides | None = None

    @field_validator("stop")
    @classmethod
    def _stop_list(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, list) and len(value) > 4:
            raise ValueError("at most 4 stop sequences")
        return value

    def stop_sequences(self) -> tuple[str, ...]:
        if self.stop is None:
            return ()
        return (self.stop,) if isinstance(self.stop, str) else tuple(s for s in self.stop if s)

    def chat_messages(self) -> tuple[ChatMessage, ...]:
        return tuple(ChatMessage(m.role, m.text()) for m in self.messages)

    def requested_max_tokens(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens
