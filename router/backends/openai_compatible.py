"""The lean path to self-hosted OpenAI-compatible servers (vLLM, SGLang, ``python -m local_backend``).

One pooled ``aiohttp.ClientSession`` per backend (opened lazily inside the running loop, closed in
``aclose``; aiohttp costs ~4x less CPU per call than httpx), the body built and parsed by
:mod:`router.backends.openai_wire`, true streaming passthrough, usage and cost accounted from the
policy's prices, retries and cooldown from :mod:`router.backends.resilience`. No SDK on the hot path.
aiohttp's own timeouts are off: each call runs under one ``asyncio.timeout`` (the backend's
``timeout_s`` cut to the plan's deadline). ``HTTP(S)_PROXY``/``NO_PROXY`` are read once per session,
not per request. Every aiohttp failure becomes a :mod:`router.errors` type here.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from router.backends.base import (
    BackendCapabilities,
    Completion,
    GenerationRequest,
    GenerationResult,
    StreamChunk,
    Usage,
)
from router.backends.openai_wire import Knob, MalformedReply, chat_body, completions_from, stream_chunk_from
from router.backends.resilience import Cooldown, RetryPolicy, call_with_retries, time_left
from router.backends.upstream_errors import error_for_status
from router.errors import BackendError, UpstreamTimeout, UpstreamUnavailable
from router.planner.tokens import estimate_prompt_tokens
from router.policy.schema import OpenAICompatibleBackendConfig, Price

__all__ = ["OpenAICompatibleBackend", "token_cost"]

log = logging.getLogger("thinkroute.backends.openai_compatible")

_NO_TIMEOUTS = aiohttp.ClientTimeout(total=None, connect=None, sock_read=None, sock_connect=None)
_KEEPALIVE_S = 4.0  # just under uvicorn's (vLLM, SGLang) 5 s idle close: we drop a connection before it does


def env_proxy(url: str) -> str | None:
    """The proxy for ``url`` from ``HTTP(S)_PROXY``/``ALL_PROXY`` unless ``NO_PROXY`` exempts it."""
    parts = urllib.parse.urlsplit(url)
    if parts.hostname and urllib.request.proxy_bypass(parts.hostname):
        return None
    proxies = urllib.request.getproxies()
    return proxies.get(parts.scheme) or proxies.get("all")


def token_cost(price: Price | None, prompt_tokens: int, completion_tokens: int) -> float:
    """USD for a call at the policy's per-million-token prices (0 without a price)."""
    if price is None:
        return 0.0
    return (prompt_tokens * price.input_per_mtok + completion_tokens * price.output_per_mtok) / 1e6


def _with_usage(exc: BackendError, usage: Usage) -> BackendError:
    exc.usage = usage  # type: ignore[attr-defined]  # read by the budget meter: spend before the failure
    return exc


class OpenAICompatibleBackend:
    """Chat completions against an OpenAI-compatible HTTP server."""

    def __init__(self, name: str, config: OpenAICompatibleBackendConfig) -> None:
        self.name = name
        self.config = config
        self.price = config.price
        self.knob: Knob = "none" if config.reasoning == "auto" else config.reasoning
        self.capabilities = BackendCapabilities(native_n=config.native_n, thinking_knob=self.knob != "none")
        self._url = config.api_base.rstrip("/") + "/chat/completions"
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None
        self._proxy: str | None = None
        self._slots = asyncio.Semaphore(config.max_concurrency)
        self._cooldown = Cooldown(config.cooldown_after, config.cooldown_s, backend=name)
        self._retry = RetryPolicy(config.max_retries, config.retry_backoff_s, config.retry_backoff_max_s)

    @property
    def ready(self) -> bool:
        return True

    def _headers(self) -> dict[str, str]:
        headers = {"content-type": "application/json", **self.config.headers}
        env = self.config.api_key_env
        if env:
            key = os.environ.get(env)
            if not key:
                raise BackendError(f"backend {self.name!r}: environment variable {env} is not set",
                                   backend=self.name, code="upstream_auth_failed")  # fmt: skip
            headers["authorization"] = f"Bearer {key}"
        return headers

    @property
    def session(self) -> aiohttp.ClientSession:
        """The pooled session, opened on first use in the running loop (again if the loop changed)."""
        loop = asyncio.get_running_loop()
        if self._session is None or self._session_loop is not loop or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self.config.max_concurrency, keepalive_timeout=_KEEPALIVE_S)
            self._session = aiohttp.ClientSession(connector=connector, timeout=_NO_TIMEOUTS)
            self._session_loop = loop
            self._proxy = env_proxy(self._url)
        return self._session

    async def start(self) -> None:
        """Open the connection pool (calls also open it lazily)."""
        _ = self.session

    async def aclose(self) -> None:
        session, loop = self._session, self._session_loop
        self._session = self._session_loop = None
        if session is not None and loop is asyncio.get_running_loop():  # a dead loop's session just goes
            await session.close()

    def _request(self, body: dict[str, Any], headers: dict[str, str]) -> Any:
        """The POST, as aiohttp's awaitable request context (raises :class:`aiohttp.ClientError`)."""
        return self.session.post(self._url, data=json.dumps(body).encode(), headers=headers, proxy=self._proxy)

    # -- non-streaming -------------------------------------------------------------------------

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        """``request.n`` completions: one call when the server honours ``n``, parallel calls otherwise."""
        self._cooldown.check(self.name)
        if request.n > 1 and not self.capabilities.native_n:
            seeds = [None if request.seed is None else request.seed + i for i in range(request.n)]
            parts = await asyncio.gather(*(self._generate_one(request.with_(n=1, seed=s)) for s in seeds))
            completions = [c for part in parts for c in part.completions]
            usage = sum((part.usage for part in parts), Usage())
            return GenerationResult(completions, usage, parts[0].model)
        return await self._generate_one(request)

    async def _generate_one(self, request: GenerationRequest) -> GenerationResult:
        body = chat_body(request, self.config.model, knob=self.knob)
        headers = self._headers()

        async def attempt(timeout: float) -> dict[str, Any]:
            return await self._post(body, headers, timeout)

        try:
            payload = await call_with_retries(attempt, policy=self._retry, deadline=request.deadline,
                                              timeout_s=self.config.timeout_s, backend=self.name)  # fmt: skip
        except BackendError:
            self._cooldown.record(False)
            raise
        self._cooldown.record(True)
        completions, usage = completions_from(payload, backend=self.name)
        if usage.prompt_tokens == 0 and usage.completion_tokens == 0:  # a server that reports no usage
            usage = self._estimated_usage(request, completions)
        usage.cost_usd = token_cost(self.price, usage.prompt_tokens, usage.completion_tokens)
        return GenerationResult(completions, usage, str(payload.get("model") or self.config.model))

    async def _post(self, body: dict[str, Any], headers: dict[str, str], timeout: float) -> dict[str, Any]:
        try:
            async with asyncio.timeout(timeout):
                async with self._slots, self._request(body, headers) as response:
                    status, data = response.status, await response.read()
        except TimeoutError:  # aiohttp's own timeouts are TimeoutError too (and off)
            message = f"upstream {self.name!r} did not answer in {timeout:.1f} s"
            raise UpstreamTimeout(message, backend=self.name) from None
        except aiohttp.ClientError as exc:  # refused, reset, cut mid-body, bad HTTP
            raise UpstreamUnavailable(f"upstream {self.name!r} unreachable: {type(exc).__name__}",
                                      backend=self.name) from None  # fmt: skip
        if status >= 400:
            raise error_for_status(status, data.decode("utf-8", "replace"), response.headers, backend=self.name)
        try:
            payload = json.loads(data)
        except ValueError:
            raise MalformedReply(f"upstream {self.name!r} answered with invalid JSON", backend=self.name) from None
        if not isinstance(payload, dict):
            raise MalformedReply(f"upstream {self.name!r} answered with a non-object", backend=self.name)
        return payload

    @staticmethod
    def _estimated_usage(request: GenerationRequest, completions: list[Completion]) -> Usage:
        completion_tokens = sum(max(1, len(c.text) // 4) for c in completions)
        for completion in completions:
            completion.completion_tokens = max(1, len(completion.text) // 4)
        return Usage(estimate_prompt_tokens(request.messages), completion_tokens, 0, 0.0, 1)

    # -- streaming -----------------------------------------------------------------------------

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamChunk]:
        """Pass the upstream's stream through; the last chunk carries the finish reason and usage.

        Opening the stream is retried like a call; once text has flowed, a broken stream raises
        :class:`~router.errors.UpstreamUnavailable` carrying the (estimated) usage spent so far.
        """
        self._cooldown.check(self.name)
        body = chat_body(request.with_(n=1), self.config.model, knob=self.knob, stream=True)
        headers = self._headers()
        async with self._slots:
            try:
                response = await call_with_retries(
                    lambda timeout: self._open_stream(body, headers, timeout), policy=self._retry,
                    deadline=request.deadline, timeout_s=self.config.timeout_s, backend=self.name,
                )  # fmt: skip
            except BackendError:
                self._cooldown.record(False)
                raise
            try:
                async for chunk in self._relay(response, request):
                    yield chunk
            finally:
                response.release()  # back to the pool when read to the end, closed otherwise

    async def _open_stream(
        self, body: dict[str, Any], headers: dict[str, str], timeout: float
    ) -> aiohttp.ClientResponse:
        error: bytes | None = None
        try:
            async with asyncio.timeout(timeout):
                response: aiohttp.ClientResponse = await self._request(body, headers)
                if response.status >= 400:
                    try:
                        error = await response.read()
                    finally:
                        response.release()
        except TimeoutError:
            message = f"upstream {self.name!r} sent nothing in {timeout:.1f} s"
            raise UpstreamTimeout(message, backend=self.name) from None
        except aiohttp.ClientError as exc:
            raise UpstreamUnavailable(f"upstream {self.name!r} unreachable: {type(exc).__name__}",
                                      backend=self.name) from None  # fmt: skip
        if error is not None:
            raise error_for_status(response.status, error.decode("utf-8", "replace"), response.headers,
                                   backend=self.name)  # fmt: skip
        return response

    @staticmethod
    async def _lines(response: aiohttp.ClientResponse) -> AsyncIterator[str]:
        """The body's lines (``\n``, ``\r\n`` or ``\r`` endings), however long, as they arrive."""
        pending = b""
        while chunk := await response.content.readany():
            pending += chunk
            if b"\n" not in chunk and b"\r" not in chunk:
                continue
            lines = pending.splitlines()  # bytes split on \n, \r, \r\n only
            pending = b"" if pending.endswith((b"\n", b"\r")) else lines.pop()
            for line in lines:
                yield line.decode("utf-8", "replace")
        if pending:
            yield pending.decode("utf-8", "replace")

    async def _relay(self, response: aiohttp.ClientResponse, request: GenerationRequest) -> AsyncIterator[StreamChunk]:
        pieces, finish, usage = 0, None, None
        prompt_estimate = estimate_prompt_tokens(request.messages)

        def spent() -> Usage:
            if usage is not None:
                return usage
            return Usage(prompt_estimate, pieces, 0, token_cost(self.price, prompt_estimate, pieces), 1)

        lines = self._lines(response)
        try:
            while True:
                try:
                    async with asyncio.timeout(time_left(request.deadline, self.config.timeout_s, backend=self.name)):
                        line = await anext(lines)
                except StopAsyncIteration:
                    break
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                try:
                    payload = json.loads(data)
                except ValueError:
                    raise MalformedReply(f"upstream {self.name!r} streamed invalid JSON", backend=self.name) from None
                if not isinstance(payload, dict):
                    raise MalformedReply(f"upstream {self.name!r} streamed a non-object", backend=self.name)
                if isinstance(payload.get("error"), dict):  # some servers report failures inside the stream
                    raise UpstreamUnavailable(f"upstream {self.name!r}: {payload['error'].get('message', 'error')}",
                                              backend=self.name)  # fmt: skip
                chunk = stream_chunk_from(payload)
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
            self._cooldown.record(True)  # the upstream works; our deadline ran out
            yield StreamChunk(finish_reason="deadline", usage=spent())
            return
        except BackendError as exc:
            self._cooldown.record(False)
            raise _with_usage(exc, spent()) from None
        except aiohttp.ClientError as exc:  # reset mid-stream, protocol error
            self._cooldown.record(False)
            broken = UpstreamUnavailable(f"upstream {self.name!r} broke the stream: {type(exc).__name__}",
                                         backend=self.name)  # fmt: skip
            raise _with_usage(broken, spent()) from None
        self._cooldown.record(True)
        yield StreamChunk(finish_reason=finish or "stop", usage=spent())
