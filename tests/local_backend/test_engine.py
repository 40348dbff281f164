"""Engine basics on the tiny model: stop sequences, token caps, deadlines, streaming and logprobs."""

from __future__ import annotations

import time

import pytest
import torch

from local_backend.engine import Job, LocalEngine, SamplingParams
from tests.local_backend.tiny import ForceAt

PROMPT = "Q: What is 12 + 7?\nReasoning:"


def _x_ids(engine: LocalEngine) -> list[int]:
    return list(engine.tokenizer(" XY", add_special_tokens=False).input_ids)


def test_max_new_tokens_ends_with_length(tiny_engine: LocalEngine) -> None:
    sample = tiny_engine.generate(PROMPT, SamplingParams(max_new_tokens=7)).samples[0]
    assert len(sample.token_ids) == 7 and sample.finish_reason == "length" and sample.stop is None


def test_a_stop_sequence_cuts_the_text_and_ends_the_sequence(tiny_engine: LocalEngine) -> None:
    job = Job(PROMPT, SamplingParams(max_new_tokens=20, stop=("XY",)), processors=(ForceAt(_x_ids(tiny_engine), 3),))
    sample = tiny_engine.run([job])[0].samples[0]
    assert sample.finish_reason == "stop" and sample.stop == "XY"
    assert len(sample.token_ids) == 3 + len(_x_ids(tiny_engine))  # nothing is generated after the stop
    assert "XY" not in sample.text and sample.text == tiny_engine.tokenizer.decode(sample.token_ids[:3]) + " "


def test_an_end_of_sequence_token_ends_with_stop_and_counts(tiny_engine: LocalEngine) -> None:
    eos = tiny_engine.tokenizer.eos_token_id
    job = Job(PROMPT, SamplingParams(max_new_tokens=20), processors=(ForceAt([eos], 2),))
    sample = tiny_engine.run([job])[0].samples[0]
    assert sample.finish_reason == "stop" and sample.token_ids[-1] == eos and len(sample.token_ids) == 3


def test_a_passed_deadline_stops_before_any_token(tiny_engine: LocalEngine) -> None:
    params = SamplingParams(max_new_tokens=20, n=2, deadline=time.monotonic() - 1)
    samples = tiny_engine.generate(PROMPT, params).samples
    assert [(s.finish_reason, s.token_ids) for s in samples] == [("deadline", []), ("deadline", [])]


def test_streamed_deltas_add_up_to_the_text_and_hold_back_a_partial_stop(tiny_engine: LocalEngine) -> None:
    deltas: list[str] = []
    job = Job(PROMPT, SamplingParams(max_new_tokens=20, stop=("XY",)), on_text=deltas.append,
              processors=(ForceAt(_x_ids(tiny_engine), 3),))  # fmt: skip
    sample = tiny_engine.run([job])[0].samples[0]
    assert "".join(deltas) == sample.text and not any("X" in d for d in deltas)


def test_logprobs_are_the_model_log_probabilities_of_the_chosen_tokens(tiny_engine: LocalEngine) -> None:
    sample = tiny_engine.generate(PROMPT, SamplingParams(max_new_tokens=5, logprobs=True)).samples[0]
    assert sample.logprobs is not None and len(sample.logprobs) == 5
    ids = torch.tensor([tiny_engine.tokenizer(PROMPT).input_ids + sample.token_ids[:-1]])
    with torch.inference_mode():
        logits = tiny_engine.model(input_ids=ids).logits[0, -5:]
    expected = torch.log_softmax(logits.float(), dim=-1).gather(1, torch.tensor(sample.token_ids)[:, None])
    assert sample.logprobs == pytest.approx(expected.squeeze(1).tolist(), abs=1e-4)
