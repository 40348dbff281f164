"""Hosted provider APIs through the LiteLLM SDK (``litellm.acompletion``), trimmed for the hot path.

LiteLLM is imported only when a policy names a ``litellm`` backend (its import takes seconds).
Its own retries are off (``num_retries=0``, ``max_retries=0``): retries, backoff and cooldown are
thinkroute's (:mod:`router.backends.resilience`), inside the plan's deadline. Prices are resolved
once from LiteLLM's cost map at start (the policy's ``price`` wins), so no per-call cost lookup.
LiteLLM's exceptions are converted here into thinkroute's (:func:`convert_litellm_error`).

Kept off LiteLLM's per-call work: it prices every response itself (for its logging payload) though
thinkroute never reads that figure, so each call passes the resolved per-token prices
(``input_cost_per_token``, ``output_cost_per_token``; 0 for an unpriced model), which LiteLLM
takes as custom pricing: a multiplication instead of a search through the cost map's provider and
model-name variants (a quarter of a bare ``acompletion``'s Python calls on an unmapped model).
LiteLLM's ``timeout`` is always the backend's ``timeout_s``, because LiteLLM keys its provider
client cache on it; the deadline is enforced around the call. Message redaction
(``turn_off_message_logging``, a deep copy of each call's logging payload) is switched on only when
LiteLLM callbacks are registered that would receive that payload; thinkroute registers none.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from typing import Any

from router.backends.base import BackendCapabilities, GenerationRequest, GenerationResult, StreamChunk, Usage
from router.backends.openai_compatible import token_cost
from router.backends.openai_wire import chat_body, completions_from, stream_chunk_from
from router.backends.provider_traits import traits_for
from router.backends.resilience import Cooldown, RetryPolicy, call_with_retries, time_left
from router.backends.upstream_errors import error_for_status, parse_retry_after
from router.errors import BackendError, UpstreamTimeout, UpstreamUnavailable
from router.planner.tokens import estimate_prompt_tokens
from router.policy.schema import LiteLLMBackendConfig, Price

__all__ = ["LiteLLMBackend", "convert_litellm_error", "price_from_cost_map"]

log = logging.getLogger("thinkroute.backends.litellm")


_CALLBACK_LISTS = ("callbacks", "input_callback", "success_callback", "failure_callback",
                   "_async_input_callback", "_async_success_callback", "_async_failure_callback")  # fmt: skip


def _litellm() -> Any:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # never fetch the cost map at import
    import litellm

    litellm.suppress_debug_info = True
    litellm.telemetry = False
    if has_litellm_callbacks(litellm):  # someone else's logger would see prompts and answers: redact them
        litellm.turn_off_message_logging = True
    return litellm


def has_litellm_callbacks(litellm: Any) -> bool:
    """Whether any LiteLLM logging callback is registered (thinkroute itself registers none)."""
    return any(getattr(litellm, name, None) for name in _CALLBACK_LISTS)


def price_from_cost_map(model: str) -> Price | None:
    """Per-million-token prices from LiteLLM's cost map; ``None`` for models it does not know."""
    try:
        info = _litellm().get_model_info(model)
    except Exception:  # ModelNotMappedError and friends: a self-hosted or new model
        return None
    prompt, completion = info.get("input_cost_per_token"), info.get("output_cost_per_token")
    if prompt is None and completion is None:
        return None
    return Price(input_per_mtok=float(prompt or 0) * 1e6, output_per_mtok=float(completion or 0) * 1e6)


def _headers_of(exc: BaseException) -> dict[str, str]:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or getattr(exc, "litellm_response_headers", None) or {}
    try:
        return {str(k).lower(): str(v) for k, v in dict(headers).items()}
    except (TypeError, ValueError):
        return {}


def convert_litellm_error(exc: BaseException, *, backend: str) -> BackendError:
    """Thinkroute's exception for an exception raised by LiteLLM (or its provider SDKs)."""
    import litellm.exceptions as errors

    if isinstance(exc, BackendError):
        return exc
    if isinstance(exc, errors.Timeout | TimeoutError):
        return UpstreamTimeout(f"upstream {backend!r} timed out", backend=backend)
    if isinstance(exc, errors.APIConnectionError):
        return UpstreamUnavailable(f"upstream {backend!r} unreachable: {str(exc)[:200]}", backend=backend)
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and 400 <= status < 600:
        headers = _headers_of(exc)
        converted = error_for_status(status, str(getattr(exc, "message", exc)), headers, backend=backend)
        if converted.retry_after is None and status == 429:
            converted.retry_after = parse_retry_after(headers.get("retry-after"))
        return converted
    return UpstreamUnavailable(f"upstream {backend!r} failed: {type(exc).__name__}", backend=backend)


class LiteLLMBackend:
    """A provider model called through ``litellm.acompletion``."""

    def __init__(self, name: str, config: LiteLLMBackendConfig) -> None:
        self.name = name
        self.config = config
        self._litellm = _litellm()
        self.traits = traits_for(config.model, config.reasoning)
        self.price = config.price or price_from_cost_map(config.model)
        self.capabilities = BackendCapabilities(
            native_n=self.traits.native_n, thinking_knob=self.traits.knob != "none",
            extra={"provider": self.traits.provider},
        )  # fmt: skip
        self._slots = asyncio.Semaphore(config.max_concurrency)
        self._cooldown = Cooldown(config.cooldown_after, config.cooldown_s, backend=name)
        self._retry = RetryPolicy(config.max_retries, config.retry_backoff_s, config.retry_backoff_max_s)
        self._fixed_args = self._fixed_call_args()

    def _fixed_call_args(self) -> dict[str, Any]:
        """The arguments every call shares, built once: retries off, endpoint, headers, per-token prices.

        LiteLLM's ``timeout`` is always the backend's own: it is part of the key under which LiteLLM
        caches its provider client, so a per-call value (what the deadline leaves) would build a new
        client, and open a new connection, on every call. The deadline is enforced around the call
        (:meth:`_acompletion`) instead.
        """
        price = self.price or Price()
        args: dict[str, Any] = {
            "timeout": self.config.timeout_s, "num_retries": 0, "max_retries": 0, "drop_params": True,
            # custom pricing: LiteLLM's own (unused) cost figure without a per-call cost-map search
            "input_cost_per_token": price.input_per_mtok / 1e6, "output_cost_per_token": price.output_per_mtok / 1e6,
        }  # fmt: skip
        if self.config.api_base:
            args["api_base"] = self.config.api_base
        if self.config.headers:
            args["extra_headers"] = dict(self.config.headers)
        return args

    @property
    def ready(self) -> bool:
        return True

    def _call_args(self, request: GenerationRequest, *, stream: bool) -> dict[str, Any]:
        args = chat_body(request, self.config.model, knob=self.traits.knob, stream=stream)
        args.pop("continue_final_message", None)  # LiteLLM prefills the assistant turn itself
        args.pop("add_generation_prompt", None)
        args.update(self._fixed_args)
        if "extra_headers" in args:
            args["extra_headers"] = dict(args["extra_headers"])  # LiteLLM may add to it: never share ours
        if self.config.api_key_env:
            key = os.environ.get(self.config.api_key_env)
            if not key:
                raise BackendError(f"backend {self.name!r}: environment variable {self.config.api_key_env} is not set",
                                   backend=self.name, code="upstream_auth_failed")  # fmt: skip
            args["api_key"] = key
        return args

    async def _acompletion(self, args: dict[str, Any], timeout: float) -> Any:
        try:
            async with asyncio.timeout(timeout):
                async with self._slots:
                    return await self._litellm.acompletion(**args)
        except Exception as exc:  # every LiteLLM/provider failure becomes one of ours, here
            raise convert_litellm_error(exc, backend=self.name) from exc

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        """``request.n`` completions: one call where the provider samples ``n``, parallel calls otherwise."""
        self._cooldown.check(self.name)
        if request.n > 1 and not self.capabilities.native_n:
            seeds = [None if request.seed is None else request.seed + i for i in range(request.n)]
            parts = await asyncio.gather(*(self._generate_one(request.with_(n=1, seed=s)) for s in seeds))
            usage = sum((part.usage for part in parts), Usage())
            return GenerationResult([c for p in parts for c in p.completions], usage, parts[0].model)
        return await self._generate_one(request)

    async def _generate_one(self, request: GenerationRequest) -> GenerationResult:
        async def attempt(timeout: float) -> Any:
            return await self._acompletion(self._call_args(request, stream=False), timeout)

        try:
            response = await call_with_retries(attempt, policy=self._retry, deadline=request.deadline,
                                               timeout_s=self.config.timeout_s, backend=self.name)  # fmt: skip
        except BackendError:
            self._cooldown.record(False)
            raise
        self._cooldown.record(True)
        completions, usage = completions_from(response, backend=self.name)
        usage.cost_usd = token_cost(self.price, usage.prompt_tokens, usage.completion_tokens)
        return GenerationResult(completions, usage, str(getattr(response, "model", None) or self.config.model))

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamChunk]:
        """Stream one completion; the last chunk carries the finish reason and usage."""
        self._cooldown.check(self.name)
        single = request.with_(n=1)

        async def attempt(timeout: float) -> Any:
            return await self._acompletion(self._call_args(single, stream=True), timeout)

        try:
            stream = await call_with_retries(attempt, policy=self._retry, deadline=request.deadline,
                                             timeout_s=self.config.timeout_s, backend=self.name)  # fmt: skip
        except BackendError:
            self._cooldown.record(False)
            raise
        pieces, finish, usage = 0, None, None
        prompt_estimate = estimate_prompt_tokens(request.messages)

        def spent() -> Usage:
            if usage is not None:
                return usage
            return Usage(prompt_estimate, pieces, 0, token_cost(self.price, prompt_estimate, pieces), 1)

        iterator = stream.__aiter__()
        try:
            while True:
                try:
                    async with asyncio.timeout(time_left(request.deadline, self.config.timeout_s, backend=self.name)):
                        raw = await anext(iterator)
                except StopAsyncIteration:
                    break
                chunk = stream_chunk_from(raw.model_dump(exclude_none=True))
                if chunk is None:
                    continue
                if chunk.usage is not None:
                    usage = chunk.usage
                    usage.cost_usd = token_cost(self.price, usage.prompt_tokens, usage.completion_tokens)
                finish = chunk.finish_reason or finish
                if chunk.text or chunk.reasoning:
                    pieces += 1
                    yield StreamChunk(text=chunk.text, reasoning=chunk.reasoning)
        except (TimeoutError, UpstreamTimeout):
            yield StreamChunk(finish_reason="deadline", usage=spent())
            return
        except Exception as exc:  # a broken stream: whatever LiteLLM raised, with what was spent so far
            self._cooldown.record(False)
            error = convert_litellm_error(exc, backend=self.name)
            error.usage = spent()  # type: ignore[attr-defined]
            raise error from None
        self._cooldown.record(True)
        yield StreamChunk(finish_reason=finish or "stop", usage=spent())
