"""Each chat request is one trace: the request span, its pipeline steps, waves, backend calls and samples."""

from __future__ import annotations

import json

import pytest
from opentelemetry.trace import SpanKind, StatusCode

from tests.router.telemetry.helpers import PROMPT, by_name, captured, chat, children, served, tree


async def test_best_of_n_request_produces_the_full_span_tree_and_attributes() -> None:
    with captured() as (telemetry, spans, _):
        async with served(telemetry) as client:
            response = await client.post("/v1/chat/completions", json=chat("vote"))
        assert response.status_code == 200, response.text
        finished = spans.get_finished_spans()
    (root,) = by_name(finished, "thinkroute.request")
    assert root.parent is None and root.kind == SpanKind.SERVER
    sample = ("sample", [])
    wave = ("wave", [("chat local", [sample, sample, sample, sample])])
    assert tree(finished, root) == (
        "thinkroute.request",
        [("classify", []), ("plan", []), ("reserve", []), ("best_of_n", [wave, ("verify", [])]), ("settle", [])],
    )
    attrs = root.attributes or {}
    body = response.json()
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.request.model"] == "vote"
    assert attrs["gen_ai.usage.input_tokens"] == body["usage"]["prompt_tokens"]
    assert attrs["gen_ai.usage.output_tokens"] == body["usage"]["completion_tokens"]
    assert attrs["thinkroute.route"] == "vote" and attrs["thinkroute.tenant"] == "anonymous"
    assert attrs["thinkroute.strategy"] == "vote" and attrs["thinkroute.strategy.type"] == "best_of_n"
    assert attrs["thinkroute.decision.rule"] in {"cheapest_meeting_quality", "best_quality_within_slo"}
    assert attrs["thinkroute.decision.candidates"] == 1
    assert attrs["thinkroute.difficulty.bucket"] == "medium"
    assert attrs["thinkroute.samples"] == 4 and attrs["thinkroute.samples.max"] == 8
    assert attrs["thinkroute.stop_reason"] == "beta"
    assert attrs["thinkroute.cost_usd"] == pytest.approx(float(response.headers["x-thinkroute-cost-usd"]))
    assert attrs["thinkroute.cost_usd"] > 0
    assert attrs["thinkroute.slo.latency_ms"] == 60000 and attrs["thinkroute.deadline_met"] is True
    assert attrs["thinkroute.request_id"] == response.headers["x-request-id"]
    assert attrs["http.response.status_code"] == 200
    (strategy,) = by_name(finished, "best_of_n")
    assert json.loads(str((strategy.attributes or {})["thinkroute.plan.params"])) == {"n": 8}
    (backend,) = by_name(finished, "chat local")
    battrs = backend.attributes or {}
    assert battrs["gen_ai.request.choice.count"] == 4 and battrs["gen_ai.request.model"] == "local"
    assert battrs["gen_ai.usage.output_tokens"] == 8 and battrs["gen_ai.response.finish_reasons"] == ("stop",) * 4
    (verify,) = by_name(finished, "verify")
    assert (verify.attributes or {})["thinkroute.verifier"] == "vote"
    assert (verify.attributes or {})["thinkroute.verifier.candidates"] == 4
    assert {s.context.trace_id for s in finished} == {root.context.trace_id}


async def test_single_pass_stream_traces_the_strategy_and_time_to_first_token() -> None:
    with captured() as (telemetry, spans, _):
        async with served(telemetry) as client:
            response = await client.post("/v1/chat/completions", json=chat(stream=True))
            assert response.status_code == 200 and "[DONE]" in response.text
        finished = spans.get_finished_spans()
    (root,) = by_name(finished, "thinkroute.request")
    assert tree(finished, root) == (
        "thinkroute.request",
        [("classify", []), ("plan", []), ("reserve", []), ("single_pass", [("chat local", [])]), ("settle", [])],
    )
    attrs = root.attributes or {}
    assert attrs["thinkroute.stream"] is True and attrs["thinkroute.samples"] == 1
    assert 0 < float(attrs["thinkroute.ttft_s"]) <= 10  # type: ignore[arg-type]
    (backend,) = by_name(finished, "chat local")
    assert (backend.attributes or {})["gen_ai.usage.output_tokens"] == 2


async def test_client_traceparent_is_continued() -> None:
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    with captured() as (telemetry, spans, _):
        async with served(telemetry) as client:
            headers = {"traceparent": f"00-{trace_id}-{parent_id}-01"}
            assert (await client.post("/v1/chat/completions", json=chat(), headers=headers)).status_code == 200
        (root,) = by_name(spans.get_finished_spans(), "thinkroute.request")
    assert f"{root.context.trace_id:032x}" == trace_id
    assert root.parent is not None and f"{root.parent.span_id:016x}" == parent_id and root.parent.is_remote


async def test_sampling_ratio_zero_records_nothing_unless_the_parent_was_sampled() -> None:
    with captured(sample_ratio=0.0) as (telemetry, spans, _):
        async with served(telemetry) as client:
            assert (await client.post("/v1/chat/completions", json=chat())).status_code == 200
            assert spans.get_finished_spans() == ()
            sampled = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
            assert (await client.post("/v1/chat/completions", json=chat(), headers=sampled)).status_code == 200
        assert len(by_name(spans.get_finished_spans(), "thinkroute.request")) == 1


async def test_errors_mark_the_request_span_and_content_is_recorded_only_on_opt_in() -> None:
    with captured() as (telemetry, spans, _):
        async with served(telemetry) as client:
            assert (await client.post("/v1/chat/completions", json=chat("nope"))).status_code == 404
            assert (await client.post("/v1/chat/completions", json=chat())).status_code == 200
        finished = spans.get_finished_spans()
    failed, ok = sorted(by_name(finished, "thinkroute.request"), key=lambda s: s.start_time or 0)
    assert (failed.attributes or {})["error.type"] == "model_not_found"
    assert (failed.attributes or {})["http.response.status_code"] == 404
    assert children(finished, failed) == []
    assert ok.status.status_code != StatusCode.ERROR
    dumped = "".join(s.to_json() for s in finished)
    assert PROMPT not in dumped and "#### 42" not in dumped

    with captured(record_content=True) as (telemetry, spans, _):
        async with served(telemetry) as client:
            assert (await client.post("/v1/chat/completions", json=chat())).status_code == 200
        (backend,) = by_name(spans.get_finished_spans(), "chat local")
    attrs = backend.attributes or {}
    assert json.loads(str(attrs["gen_ai.input.messages"])) == [{"role": "user", "content": PROMPT}]
    assert json.loads(str(attrs["gen_ai.output.messages"])) == [{"role": "assistant", "content": "#### 42"}]


async def test_explain_is_traced_with_classify_and_plan() -> None:
    with captured() as (telemetry, spans, _):
        async with served(telemetry) as client:
            assert (await client.post("/v1/route/explain", json=chat())).status_code == 200
        finished = spans.get_finished_spans()
    (root,) = by_name(finished, "thinkroute.explain")
    assert tree(finished, root) == ("thinkroute.explain", [("classify", []), ("plan", [])])
