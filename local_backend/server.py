"""The local backend as an OpenAI-compatible HTTP server (``python -m local_backend``).

OpenAI endpoints: ``POST /v1/chat/completions`` and ``POST /v1/completions`` (``stream`` as
server-sent events, ``n``, ``stop``, ``max_tokens``, ``seed``, ``logprobs``/``top_logprobs``,
``usage``), ``GET /v1/models``. Probes: ``GET /healthz`` (the process is up; 500 once loading failed)
and ``GET /readyz`` (503 until the model is loaded). thinkroute's extensions, outside ``/v1``:

* ``POST /thinkroute/v1/chat/completions``: a chat completion with ``thinking: {max_tokens,
  min_tokens}`` (s1 budget forcing; the thinking comes back as ``message.reasoning_content``) and/or
  ``thought_switch: {phrases, penalty, window}`` (the TIP penalty).
* ``POST /thinkroute/v1/steps``: step-wise generation for search, ``k`` branches per prefix up to
  ``delimiter``, with per-token logprobs.

Requests from concurrent clients are batched; the ``n`` samples of a prompt share one prefill.
A full queue answers 503 with ``Retry-After`` at once, and a client that disconnects frees its
batch slot. Any ``model`` name is accepted: the server has one model. This module holds the app,
the error handlers and the routes; :mod:`local_backend.event_stream` builds the streamed answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from local_backend.batching import await_ticket
from local_backend.chat import chat_job, step_prompt
from local_backend.engine import LocalEngine
from local_backend.event_stream import (
    Emit,
    chat_stream,
    completion_stream,
    guarded,
    open_stream,
    reply_for,
    sse_response,
)
from local_backend.host import ModelHost, ServerSettings, Unavailable
from local_backend.jobs import Job
from local_backend.openai_format import chat_logprobs, completion_logprobs, finish_reason, token_pieces, usage
from local_backend.openai_protocol import (
    ChatRequest,
    CompletionRequest,
    StepRequest,
    ThinkingOptions,
    ThinkrouteChatRequest,
    ThoughtSwitchOptions,
)
from local_backend.params import EngineResult, SamplingParams
from local_backend.stepwise import step_job, step_results
from local_backend.tip import ThoughtSwitchConfig

__all__ = ["create_app"]

_POLL_S = 0.25  # how often a waiting request checks whether its client is still there

routes = APIRouter()


def create_app(settings: ServerSettings | None = None, *, engine: LocalEngine | None = None) -> FastAPI:
    """The server app; ``engine`` serves an engine already in memory instead of loading ``settings.model``."""
    host = ModelHost(settings or ServerSettings(), engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loading = asyncio.create_task(host.load())
        try:
            yield
        finally:
            await host.aclose()
            if not loading.done():
                loading.cancel()

    app = FastAPI(title="thinkroute local backend", lifespan=lifespan)
    app.state.host = host
    app.include_router(routes)
    app.add_exception_handler(Unavailable, _unavailable)
    app.add_exception_handler(_ClientGone, _client_gone)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _server_error)
    return app


# ---- errors in the OpenAI shape


class _ClientGone(Exception):
    """The client disconnected before its answer was ready."""


async def _client_gone(request: Request, exc: Exception) -> Response:
    return Response(status_code=499)  # nginx's "client closed request"; nobody reads it


def _error(
    status: int, message: str, kind: str, code: str | None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return JSONResponse(body, status, headers=headers)


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Unavailable)
    headers = {"Retry-After": str(max(1, int(exc.retry_after + 0.999)))} if exc.retry_after is not None else None
    return _error(503, exc.message, "server_error", exc.code, headers)


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body') or 'body'}: {e.get('msg', '')}"
        for e in exc.errors()[:5]
    )
    return _error(400, f"Invalid request: {details}", "invalid_request_error", "invalid_value")


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    kind = "invalid_request_error" if exc.status_code < 500 else "server_error"
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
    return _error(exc.status_code, str(exc.detail), kind, code, dict(exc.headers or {}))


async def _server_error(request: Request, exc: Exception) -> JSONResponse:
    return _error(500, f"generation failed: {type(exc).__name__}", "server_error", "internal_error")


# ---- probes and models


def _host(request: Request) -> ModelHost:
    host: ModelHost = request.app.state.host
    return host


@routes.get("/healthz")
async def healthz(request: Request) -> JSONResponse:
    host = _host(request)
    if host.error is not None:
        return JSONResponse({"status": "error", "error": str(host.error)}, 500)
    return JSONResponse({"status": "ok", "model_loaded": host.ready})


@routes.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    host = _host(request)
    if not host.ready:
        return JSONResponse({"status": "error" if host.error else "loading"}, 503, headers={"Retry-After": "5"})
    return JSONResponse({"status": "ready", "models": list(host.names)})


def _model_card(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 0, "owned_by": "thinkroute"}


@routes.get("/v1/models")
async def list_models(request: Request) -> JSONResponse:
    return JSONResponse({"object": "list", "data": [_model_card(n) for n in _host(request).names]})


@routes.get("/v1/models/{model_id:path}")
async def get_model(model_id: str, request: Request) -> JSONResponse:
    if model_id not in _host(request).names:
        return _error(404, f"The model {model_id!r} does not exist", "invalid_request_error", "model_not_found")
    return JSONResponse(_model_card(model_id))


# ---- running jobs


async def _result(request: Request, host: ModelHost, job: Job) -> EngineResult:
    """Run one job; a client that disconnects while it waits or runs cancels it."""
    return (await _results(request, host, [job]))[0]


async def _results(request: Request, host: ModelHost, jobs: list[Job]) -> list[EngineResult]:
    scheduler = host.require()[1]
    tickets = host.submit(jobs)
    waiter = asyncio.ensure_future(asyncio.gather(*(await_ticket(scheduler, t) for t in tickets)))
    try:
        while not waiter.done():
            await asyncio.wait({waiter}, timeout=_POLL_S)
            if not waiter.done() and await request.is_disconnected():
                raise _ClientGone  # nobody is listening: give the slots back (finally cancels the jobs)
        return list(waiter.result())
    finally:
        if not waiter.done():
            waiter.cancel()


def _one_sample(params: SamplingParams, index: int) -> SamplingParams:
    """Sample ``index`` of ``params`` as a job of its own (same seed as in the ``n``-sample job)."""
    return replace(params, n=1, seed=None if params.seed is None else params.seed + index)


# ---- chat completions


@routes.post("/v1/chat/completions", response_model=None)
async def chat_completions(body: ChatRequest, request: Request) -> JSONResponse | StreamingResponse:
    return await _chat(request, body, None, None)


@routes.post("/thinkroute/v1/chat/completions", response_model=None)
async def thinkroute_chat_completions(
    body: ThinkrouteChatRequest, request: Request
) -> JSONResponse | StreamingResponse:  # fmt: skip
    return await _chat(request, body, body.thinking, body.thought_switch)


def _tip(options: ThoughtSwitchOptions | None) -> ThoughtSwitchConfig | None:
    if options is None:
        return None
    return ThoughtSwitchConfig(tuple(options.phrases), options.penalty, options.window)


async def _chat(
    request: Request, body: ChatRequest, thinking: ThinkingOptions | None, tip: ThoughtSwitchOptions | None
) -> JSONResponse | StreamingResponse:  # fmt: skip
    host = _host(request)
    engine, _ = host.require()
    turns, prefix = body.turns()
    params = SamplingParams(
        max_new_tokens=body.requested_max_tokens() or host.settings.default_max_tokens,
        temperature=body.temperature,
        top_p=body.top_p,
        n=body.n,
        stop=body.stop_sequences(),
        seed=body.seed,
        logprobs=body.logprobs,
        top_logprobs=body.top_logprobs or 0,
        thought_switch=_tip(tip),
    )

    def job(p: SamplingParams, on_text: Emit | None = None, on_reasoning: Emit | None = None) -> Job:
        return chat_job(turns, engine.tokenizer, p, assistant_prefix=prefix,
                        thinking_max=thinking.max_tokens if thinking else None,
                        thinking_min=thinking.min_tokens if thinking else 0,
                        max_waits=thinking.max_waits if thinking else None,
                        wait_text=thinking.wait_text if thinking else None,
                        on_text=on_text, on_reasoning=on_reasoning)  # fmt: skip

    reply = reply_for("chatcmpl", "chat.completion", body.model, host)
    eos = frozenset(engine.eos_ids())
    tidy = (lambda text: text) if prefix else str.lstrip  # the scaffold's answer starts after "A: "
    if body.stream:
        events = open_stream(host, body.n, lambda i, t, r: job(_one_sample(params, i), t, r))
        stream = chat_stream(events, replace(reply, object="chat.completion.chunk"), body, engine, eos, tidy,
                              reasoning=thinking is not None)  # fmt: skip
        return sse_response(guarded(stream))
    result = await _result(request, host, job(params))
    choices = []
    for index, sample in enumerate(result.samples):
        message: dict[str, Any] = {"role": "assistant", "content": tidy(sample.text)}
        if thinking is not None:
            message["reasoning_content"] = sample.reasoning or ""
        logprobs = chat_logprobs(engine.tokenizer, sample, eos) if body.logprobs else None
        choices.append({"index": index, "message": message, "logprobs": logprobs,
                        "finish_reason": finish_reason(sample.finish_reason)})  # fmt: skip
    completion = sum(len(s.token_ids) for s in result.samples)
    reasoning = sum(s.reasoning_tokens for s in result.samples) if thinking is not None else None
    return JSONResponse(reply.body(choices=choices, usage=usage(result.prompt_tokens, completion, reasoning)))


# ---- text completions


@routes.post("/v1/completions", response_model=None)
async def completions(body: CompletionRequest, request: Request) -> JSONResponse | StreamingResponse:
    host = _host(request)
    engine, _ = host.require()
    top = body.logprobs or 0
    params = SamplingParams(
        max_new_tokens=body.max_tokens,
        temperature=body.temperature,
        top_p=body.top_p,
        n=body.n,
        stop=body.stop_sequences(),
        seed=body.seed,
        logprobs=body.logprobs is not None,
        top_logprobs=top,
    )
    reply = reply_for("cmpl", "text_completion", body.model, host)
    eos = frozenset(engine.eos_ids())
    prompts = body.prompts()
    if body.stream:
        events = open_stream(host, body.n, lambda i, t, r: Job(prompts[0], _one_sample(params, i), on_text=t))
        return sse_response(guarded(completion_stream(events, reply, body, engine, eos)))
    results = await _results(request, host, [Job(p, params) for p in prompts])
    choices = []
    for p, result in enumerate(results):
        for j, sample in enumerate(result.samples):
            logprobs = completion_logprobs(engine.tokenizer, sample, eos) if body.logprobs is not None else None
            choices.append({"index": p * body.n + j, "text": sample.text, "logprobs": logprobs,
                            "finish_reason": finish_reason(sample.finish_reason)})  # fmt: skip
    prompt_tokens = sum(r.prompt_tokens for r in results)
    completion = sum(len(s.token_ids) for r in results for s in r.samples)
    return JSONResponse(reply.body(choices=choices, usage=usage(prompt_tokens, completion)))


# ---- step-wise generation


@routes.post("/thinkroute/v1/steps")
async def steps(body: StepRequest, request: Request) -> JSONResponse:
    host = _host(request)
    engine, _ = host.require()
    if body.messages is not None:
        text, stops = step_prompt(body.turns(), engine.tokenizer, stop=body.stop_sequences(), delimiter=body.delimiter)
    else:
        text, stops = body.prompt or "", tuple(s for s in body.stop_sequences() if s != body.delimiter)
    job = step_job(text, body.prefixes, k=body.k, delimiter=body.delimiter, max_tokens=body.max_tokens,
                   temperature=body.temperature, top_p=body.top_p, seed=body.seed, stop=stops)  # fmt: skip
    result = await _result(request, host, job)
    branches: list[dict[str, Any]] = []
    for index, branch in enumerate(step_results(job, result, body.delimiter)):
        branches.append(
            {
                "index": index,
                "prefix_index": index // body.k,
                "prefix": branch.prefix,
                "text": branch.text,
                "finish_reason": branch.finish_reason,
                "token_ids": branch.token_ids,
                "tokens": token_pieces(engine.tokenizer, branch.token_ids),
                "logprobs": branch.logprobs,
                "logprob": branch.logprob,
                "num_tokens": branch.num_tokens,
                "prompt_tokens": branch.prompt_tokens,
            }
        )
    completion = sum(len(b["token_ids"]) for b in branches)
    reply = reply_for("steps", "thinkroute.steps", body.model, host)
    return JSONResponse(reply.body(branches=branches, usage=usage(result.prompt_tokens, completion)))
