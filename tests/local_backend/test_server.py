"""The OpenAI-compatible HTTP server, driven by the official ``openai`` client over loopback (tiny model)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

import httpx
import openai
import pytest

from local_backend.chat import chat_job, step_prompt
from local_backend.engine import Job, LocalEngine, SamplingParams
from local_backend.host import ModelHost, ServerSettings
from local_backend.server import create_app
from local_backend.stepwise import step_job
from local_backend.tip import ThoughtSwitchConfig, switch_token_ids
from router.backends.base import ChatMessage
from tests.local_backend.test_batching import Blocker
from tests.local_backend.tiny import build_tiny_engine
from tests.support import UvicornThread

QUESTION = [{"role": "user", "content": "What is 12 + 7?"}]
TURNS = [ChatMessage("user", "What is 12 + 7?")]


def _client(base_url: str, path: str = "/v1") -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url + path, api_key="unused", max_retries=0, timeout=60)


@pytest.fixture(scope="module")
def engine() -> LocalEngine:
    return build_tiny_engine()


@pytest.fixture(scope="module")
def server(engine: LocalEngine) -> Iterator[str]:
    app = create_app(ServerSettings(batch_wait_ms=0), engine=engine)
    with UvicornThread(app) as running:
        yield running.base_url


def _expected_chat(engine: LocalEngine, params: SamplingParams, **options: object) -> list[str]:
    """What the engine itself answers to QUESTION (the server's prompt building, run in process)."""
    job = chat_job(TURNS, engine.tokenizer, params, **options)  # type: ignore[arg-type]
    return [s.text.lstrip() for s in engine.run([job])[0].samples]


def test_chat_completion_gives_n_seeded_samples_and_usage(server: str, engine: LocalEngine) -> None:
    client = _client(server)
    reply = client.chat.completions.create(model="tiny", messages=QUESTION, n=3, seed=7, temperature=1.0, max_tokens=6)
    again = client.chat.completions.create(model="tiny", messages=QUESTION, n=3, seed=7, temperature=1.0, max_tokens=6)
    texts = [c.message.content for c in reply.choices]
    assert [c.index for c in reply.choices] == [0, 1, 2] and reply.object == "chat.completion"
    assert texts == [c.message.content for c in again.choices]
    assert texts == _expected_chat(engine, SamplingParams(max_new_tokens=6, temperature=1.0, n=3, seed=7))
    assert len(set(texts)) > 1  # the samples differ from each other
    assert reply.usage is not None and reply.usage.prompt_tokens > 0
    assert reply.usage.completion_tokens <= 3 * 6
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_max_tokens_ends_with_length(server: str) -> None:
    reply = _client(server).chat.completions.create(model="tiny", messages=QUESTION, temperature=0, max_tokens=5)
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage is not None and reply.usage.completion_tokens == 5


def test_a_stop_sequence_cuts_the_answer(server: str) -> None:
    client = _client(server)
    plain = client.chat.completions.create(model="tiny", messages=QUESTION, temperature=0, max_tokens=12)
    text = plain.choices[0].message.content or ""
    stop = next(ch for ch in text[1:] if not ch.isspace())
    cut = client.chat.completions.create(model="tiny", messages=QUESTION, temperature=0, max_tokens=12, stop=[stop])
    assert cut.choices[0].message.content == text[: text.index(stop)]
    assert cut.choices[0].finish_reason == "stop"
    assert cut.usage is not None and plain.usage is not None
    assert cut.usage.completion_tokens < plain.usage.completion_tokens


def test_streamed_chat_matches_the_unstreamed_one(server: str) -> None:
    client = _client(server)
    whole = client.chat.completions.create(model="tiny", messages=QUESTION, n=2, seed=3, temperature=1.0, max_tokens=8)
    chunks = list(
        client.chat.completions.create(
            model="tiny",
            messages=QUESTION,
            n=2,
            seed=3,
            temperature=1.0,
            max_tokens=8,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    texts, finishes = ["", ""], [None, None]
    for chunk in chunks:
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
            finishes[choice.index] = choice.finish_reason or finishes[choice.index]
    assert texts == [c.message.content for c in whole.choices]
    assert finishes == [c.finish_reason for c in whole.choices]
    assert chunks[0].object == "chat.completion.chunk" and chunks[0].choices[0].delta.role == "assistant"
    assert not chunks[-1].choices and chunks[-1].usage is not None and whole.usage is not None
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens
    assert chunks[-1].usage.prompt_tokens == whole.usage.prompt_tokens


def test_chat_logprobs_cover_every_answer_token(server: str) -> None:
    reply = _client(server).chat.completions.create(
        model="tiny", messages=QUESTION, temperature=0, max_tokens=6, logprobs=True, top_logprobs=3
    )
    choice = reply.choices[0]
    assert choice.logprobs is not None and choice.logprobs.content is not None
    entries = choice.logprobs.content
    assert reply.usage is not None and len(entries) == reply.usage.completion_tokens == 6
    assert "".join(e.token for e in entries).lstrip() == choice.message.content
    for entry in entries:
        alternatives = [t.logprob for t in entry.top_logprobs]
        assert len(alternatives) == 3 and alternatives == sorted(alternatives, reverse=True)
        assert entry.logprob == pytest.approx(alternatives[0])  # greedy picks the most likely token
        assert entry.top_logprobs[0].token == entry.token and entry.logprob <= 0


def test_text_completions_batch_prompts_and_give_logprobs(server: str, engine: LocalEngine) -> None:
    prompts = ["The quick brown fox", "Step 1: add the numbers."]
    reply = _client(server).completions.create(
        model="tiny", prompt=prompts, n=2, temperature=0, max_tokens=5, logprobs=2
    )
    assert [c.index for c in reply.choices] == [0, 1, 2, 3]
    for p, prompt in enumerate(prompts):
        expected = engine.generate(prompt, SamplingParams(max_new_tokens=5)).samples[0].text
        for choice in reply.choices[2 * p : 2 * p + 2]:
            assert choice.text == expected and choice.finish_reason == "length"
            assert choice.logprobs is not None and choice.logprobs.tokens is not None
            assert "".join(choice.logprobs.tokens) == expected
            assert choice.logprobs.token_logprobs is not None and len(choice.logprobs.token_logprobs) == 5
            tops = choice.logprobs.top_logprobs
            assert tops is not None and len(tops) == 5
            for top, chosen in zip(tops, choice.logprobs.token_logprobs, strict=True):
                # two alternatives may decode to the same text (partial characters), so a dict may hold one
                assert 1 <= len(top) <= 2 and max(top.values()) == pytest.approx(chosen)
    assert reply.usage is not None and reply.usage.completion_tokens == 4 * 5


def test_streamed_text_completion_matches(server: str) -> None:
    client = _client(server)
    whole = client.completions.create(model="tiny", prompt="The quick brown fox", temperature=0, max_tokens=7)
    stream = client.completions.create(
        model="tiny", prompt="The quick brown fox", temperature=0, max_tokens=7, stream=True
    )
    chunks = list(stream)
    assert "".join(c.choices[0].text for c in chunks) == whole.choices[0].text
    assert chunks[-1].choices[0].finish_reason == "length"


def test_models_and_probes(server: str) -> None:
    client = _client(server)
    assert [m.id for m in client.models.list()] == ["tiny-gemma3"]
    assert client.models.retrieve("tiny-gemma3").id == "tiny-gemma3"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("other")
    assert httpx.get(f"{server}/healthz").json() == {"status": "ok", "model_loaded": True}
    assert httpx.get(f"{server}/readyz").status_code == 200


def test_invalid_requests_are_400_in_the_openai_shape(server: str) -> None:
    client = _client(server)
    with pytest.raises(openai.BadRequestError) as bad_n:
        client.chat.completions.create(model="tiny", messages=QUESTION, n=0)
    assert bad_n.value.code == "invalid_value" and "n" in bad_n.value.message
    with pytest.raises(openai.BadRequestError):
        client.completions.create(model="tiny", prompt="hi", echo=True)
    missing = httpx.get(f"{server}/v1/nothing-here")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_thinking_budget_extension(server: str, engine: LocalEngine) -> None:
    client = _client(server, "/thinkroute/v1")
    thinking = {"max_tokens": 8, "min_tokens": 8}
    reply = client.chat.completions.create(
        model="tiny", messages=QUESTION, temperature=0, max_tokens=6, extra_body={"thinking": thinking}
    )
    message = reply.choices[0].message
    reasoning = getattr(message, "reasoning_content", None)
    job = chat_job(TURNS, engine.tokenizer, SamplingParams(max_new_tokens=6), thinking_max=8, thinking_min=8)
    [sample] = engine.run([job])[0].samples
    assert reasoning == sample.reasoning and reasoning
    assert message.content == sample.text.lstrip()
    usage = reply.usage
    assert usage is not None and usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 8 < usage.completion_tokens <= 8 + 6
    streamed = client.chat.completions.create(
        model="tiny", messages=QUESTION, temperature=0, max_tokens=6, stream=True, extra_body={"thinking": thinking}
    )
    deltas = [c.choices[0].delta for c in streamed if c.choices]
    assert "".join(getattr(d, "reasoning_content", None) or "" for d in deltas).strip() == reasoning
    assert "".join(d.content or "" for d in deltas) == message.content


def test_thought_switch_extension(server: str, engine: LocalEngine) -> None:
    plain = _expected_chat(engine, SamplingParams(max_new_tokens=6))[0]
    job = chat_job(TURNS, engine.tokenizer, SamplingParams(max_new_tokens=6))
    generated = engine.run([job])[0].samples[0].token_ids
    pieces = [engine.tokenizer.decode([t]).strip() for t in generated]
    first_word = next(
        p for t, p in zip(generated, pieces, strict=True) if p and t in switch_token_ids(engine.tokenizer, (p,))
    )
    config = ThoughtSwitchConfig(phrases=(first_word,), penalty=1e4, window=100)
    expected = _expected_chat(engine, SamplingParams(max_new_tokens=6, thought_switch=config))[0]
    assert expected != plain  # the penalty changes the answer
    reply = _client(server, "/thinkroute/v1").chat.completions.create(
        model="tiny",
        messages=QUESTION,
        temperature=0,
        max_tokens=6,
        extra_body={"thought_switch": {"phrases": [first_word], "penalty": 1e4, "window": 100}},
    )
    assert reply.choices[0].message.content == expected


def test_steps_extension_continues_every_prefix_k_times(server: str, engine: LocalEngine) -> None:
    body = {
        "model": "tiny",
        "messages": QUESTION,
        "prefixes": [" First,", " Then"],
        "k": 2,
        "delimiter": "\n\n",
        "max_tokens": 6,
        "temperature": 1.0,
        "seed": 5,
    }
    reply = httpx.post(f"{server}/thinkroute/v1/steps", json=body, timeout=60)
    assert reply.status_code == 200, reply.text
    data = reply.json()
    text, stops = step_prompt(TURNS, engine.tokenizer, delimiter="\n\n")
    job = step_job(text, (" First,", " Then"), k=2, delimiter="\n\n", max_tokens=6, temperature=1.0, seed=5, stop=stops)
    expected = engine.run([job])[0].samples
    branches = data["branches"]
    assert data["object"] == "thinkroute.steps" and len(branches) == 4
    assert [b["prefix_index"] for b in branches] == [0, 0, 1, 1]
    assert [b["token_ids"] for b in branches] == [s.token_ids for s in expected]
    for branch in branches:
        assert len(branch["logprobs"]) == branch["num_tokens"] == len(branch["tokens"])
        assert branch["logprob"] == pytest.approx(sum(branch["logprobs"]))
        assert branch["finish_reason"] in ("delimiter", "eos", "stop", "length")
    assert data["usage"]["completion_tokens"] == sum(b["num_tokens"] for b in branches)
    bad = httpx.post(f"{server}/thinkroute/v1/steps", json={"prompt": "x", "messages": QUESTION}, timeout=30)
    assert bad.status_code == 400 and bad.json()["error"]["type"] == "invalid_request_error"


@pytest.fixture
def busy_server() -> Iterator[tuple[str, ModelHost, Blocker]]:
    """A server whose engine thread is held by one job, with room for one more request."""
    app = create_app(ServerSettings(max_queue=2, batch_wait_ms=0), engine=build_tiny_engine())
    host: ModelHost = app.state.host
    blocker = Blocker()
    with UvicornThread(app) as running:
        assert host.scheduler is not None
        host.scheduler.submit(Job("hold", SamplingParams(max_new_tokens=1), processors=(blocker,)))
        assert blocker.entered.wait(30)
        try:
            yield running.base_url, host, blocker
        finally:
            blocker.release.set()


def _wait_for(condition: object, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_a_full_queue_answers_503_with_retry_after(busy_server: tuple[str, ModelHost, Blocker]) -> None:
    base_url, _, blocker = busy_server
    client = _client(base_url)
    stream = httpx.stream(
        "POST",
        f"{base_url}/v1/chat/completions",
        timeout=30,
        json={"model": "x", "messages": QUESTION, "max_tokens": 2, "stream": True},
    )
    with stream as waiting:  # a queued streaming request holds the second slot
        assert waiting.status_code == 200
        started = time.monotonic()
        with pytest.raises(openai.InternalServerError) as refused:
            client.chat.completions.create(model="x", messages=QUESTION, max_tokens=2)
        assert time.monotonic() - started < 5
        assert refused.value.status_code == 503 and int(refused.value.response.headers["retry-after"]) >= 1
        assert refused.value.code == "service_unavailable"
        with pytest.raises(openai.InternalServerError):
            list(client.chat.completions.create(model="x", messages=QUESTION, max_tokens=2, stream=True))
        blocker.release.set()
        body = "".join(waiting.iter_text())
    assert body.rstrip().endswith("data: [DONE]")
    assert client.chat.completions.create(model="x", messages=QUESTION, max_tokens=2).choices


def test_a_client_that_disconnects_gives_its_slot_back(busy_server: tuple[str, ModelHost, Blocker]) -> None:
    base_url, host, _ = busy_server
    assert host.scheduler is not None and host.scheduler.depth == 1
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{base_url}/v1/chat/completions", json={"model": "x", "messages": QUESTION}, timeout=1.0)
    assert _wait_for(lambda: host.scheduler is not None and host.scheduler.depth == 1)
    body = {"model": "x", "messages": QUESTION, "stream": True}
    with (
        pytest.raises(httpx.ReadTimeout),
        httpx.stream("POST", f"{base_url}/v1/chat/completions", json=body, timeout=1.0) as response,
    ):
        for _ in response.iter_lines():
            pass
    assert _wait_for(lambda: host.scheduler is not None and host.scheduler.depth == 1)


def test_a_model_that_fails_to_load_is_reported(tmp_path: object) -> None:
    app = create_app(ServerSettings(model=str(tmp_path) + "/missing"))
    with UvicornThread(app) as running:
        assert _wait_for(lambda: httpx.get(f"{running.base_url}/healthz").status_code == 500)
        assert httpx.get(f"{running.base_url}/readyz").status_code == 503
        with pytest.raises(openai.InternalServerError) as refused:
            _client(running.base_url).chat.completions.create(model="x", messages=QUESTION)
        assert refused.value.status_code == 503 and refused.value.code == "model_load_failed"


def test_requests_wait_for_nothing_while_the_model_loads() -> None:
    host = ModelHost(ServerSettings())
    assert not host.ready
    with pytest.raises(Exception, match="still loading") as loading:
        host.require()
    assert getattr(loading.value, "retry_after", None) == 5.0


@pytest.mark.model
def test_real_model_answers_over_http(real_engine: LocalEngine) -> None:
    app = create_app(ServerSettings(), engine=real_engine)
    question = [{"role": "user", "content": "What is the capital of France?"}]
    with UvicornThread(app) as running:
        client = _client(running.base_url)
        reply = client.chat.completions.create(model="gemma", messages=question, temperature=0, max_tokens=8)
        streamed = client.chat.completions.create(
            model="gemma", messages=question, temperature=0, max_tokens=8, stream=True
        )
        text = "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
    answer = reply.choices[0].message.content or ""
    assert "Paris" in answer and text == answer
    params = replace(SamplingParams(max_new_tokens=8))
    job = chat_job([ChatMessage("user", "What is the capital of France?")], real_engine.tokenizer, params)
    assert real_engine.run([job])[0].samples[0].text.lstrip() == answer
