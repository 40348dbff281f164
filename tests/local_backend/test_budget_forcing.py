"""Budget forcing at token level: "Wait" below the minimum, a forced end of thinking at the maximum."""

from __future__ import annotations

import pytest
import torch

from local_backend.budget_forcing import ThinkingSpec
from local_backend.engine import Job, LocalEngine, SamplingParams
from local_backend.think_prompt import BASE_THINK_FORMAT, native_think_format
from tests.local_backend.tiny import Force, build_tiny_engine

PROMPT = "Q: What is 12 + 7?\n<think>\n"


def _ids(engine: LocalEngine, text: str) -> list[int]:
    return list(engine.tokenizer(text, add_special_tokens=False).input_ids)


def _greedy_after(engine: LocalEngine, prompt: str, generated: list[int], count: int) -> list[int]:
    """What transformers' greedy ``generate`` writes after ``prompt`` + ``generated`` token ids."""
    ids = torch.tensor([engine.tokenizer(prompt).input_ids + generated])
    with torch.inference_mode():
        out = engine.model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=count,
                                    do_sample=False, pad_token_id=engine.pad_id)  # fmt: skip
    return [int(t) for t in out[0, ids.shape[1] :]]


def _think(engine: LocalEngine, spec: ThinkingSpec, *processors: Force, answer_tokens: int = 6) -> Job:
    return Job(PROMPT, SamplingParams(max_new_tokens=answer_tokens, thinking=spec), processors=processors)


@pytest.mark.parametrize("early_end", ["close", "eos"])
def test_ending_below_the_minimum_is_replaced_by_wait(tiny_engine: LocalEngine, early_end: str) -> None:
    fmt = native_think_format(tiny_engine.tokenizer)
    assert fmt is not None and fmt.close_token is not None
    early = fmt.close_token if early_end == "close" else tiny_engine.tokenizer.eos_token_id
    spec = ThinkingSpec(max_tokens=24, min_tokens=10, format=fmt)
    job = _think(tiny_engine, spec, Force([early], at=3), Force([fmt.close_token], at=14))
    sample = tiny_engine.run([job])[0].samples[0]
    wait = _ids(tiny_engine, " Wait")
    tokens = sample.token_ids
    assert sample.waits == 1
    assert tokens[3 : 3 + len(wait)] == wait  # the early ending was replaced by "Wait"
    assert early not in tokens[:14]
    assert sample.reasoning_tokens == 14 >= spec.min_tokens  # thinking went on to the model's own ending
    assert tokens[14] == fmt.close_token and tokens.count(fmt.close_token) == 1
    assert "Wait" in (sample.reasoning or "")
    assert len(tokens) - 14 <= 6  # the answer phase (delimiter included) has its own cap


def test_thinking_stops_exactly_at_the_maximum_and_the_answer_follows(tiny_engine: LocalEngine) -> None:
    fmt = native_think_format(tiny_engine.tokenizer)
    assert fmt is not None
    plain = tiny_engine.run([Job(PROMPT, SamplingParams(max_new_tokens=7))])[0].samples[0].token_ids
    assert fmt.close_token not in plain and tiny_engine.tokenizer.eos_token_id not in plain
    sample = tiny_engine.run([_think(tiny_engine, ThinkingSpec(max_tokens=7, format=fmt))])[0].samples[0]
    tokens = sample.token_ids
    assert sample.reasoning_tokens == 7 and tokens[:7] == plain  # unforced thinking, cut at the cap
    assert tokens[7] == fmt.close_token  # the end of thinking was forced there
    answer = tokens[8:]
    assert len(answer) == 6 - 1 and sample.finish_reason == "length"  # the delimiter counts against the answer
    assert answer == _greedy_after(tiny_engine, PROMPT, tokens[:8], 5)  # the answer continues the forced context
    assert sample.text == tiny_engine.tokenizer.decode(answer, skip_special_tokens=True)


def test_text_delimiters_are_rolled_back_exactly_before_wait() -> None:
    engine = build_tiny_engine(sliding_window=128)  # a rollback is exact while the window holds the sequence
    delimiter = _ids(engine, BASE_THINK_FORMAT.close_text)
    assert len(delimiter) > 2  # the delimiter spans several tokens, all fed before it is recognised
    spec = ThinkingSpec(max_tokens=16, min_tokens=12, format=BASE_THINK_FORMAT)
    sample = engine.run([_think(engine, spec, Force(delimiter, at=3))])[0].samples[0]
    tokens, wait = sample.token_ids, _ids(engine, " Wait")
    assert sample.waits == 1 and tokens[3 : 3 + len(wait)] == wait
    kept = tokens[: 3 + len(wait)]
    continued = tokens[len(kept) : 16]
    assert continued == _greedy_after(engine, PROMPT, kept, len(continued))  # as if the delimiter never was
    assert sample.reasoning_tokens == 16 and tokens[16 : 16 + len(delimiter)] == delimiter
    assert "Answer" not in (sample.reasoning or "")


def test_an_end_signal_above_the_minimum_becomes_the_delimiter(tiny_engine: LocalEngine) -> None:
    signal = _ids(tiny_engine, "\nQ:")
    spec = ThinkingSpec(max_tokens=20, min_tokens=2, format=BASE_THINK_FORMAT)
    sample = tiny_engine.run([_think(tiny_engine, spec, Force(signal, at=4))])[0].samples[0]
    delimiter = _ids(tiny_engine, BASE_THINK_FORMAT.close_text)
    assert sample.reasoning_tokens == 4 and sample.waits == 0
    assert sample.token_ids[4 : 4 + len(delimiter)] == delimiter
    assert "Q:" not in (sample.reasoning or "")


def test_an_answer_cap_shorter_than_the_delimiter_ends_inside_it(tiny_engine: LocalEngine) -> None:
    delimiter = _ids(tiny_engine, BASE_THINK_FORMAT.close_text)
    assert len(delimiter) > 2
    spec = ThinkingSpec(max_tokens=7, format=BASE_THINK_FORMAT)
    sample = tiny_engine.run([_think(tiny_engine, spec, answer_tokens=2)])[0].samples[0]
    assert len(sample.token_ids) == 7 + 2 and sample.token_ids[7:] == delimiter[:2]  # thinking max + answer cap
    assert sample.finish_reason == "length" and sample.text == "" and sample.reasoning_tokens == 7


def test_max_waits_lets_the_thinking_end_below_the_minimum_once_used_up(tiny_engine: LocalEngine) -> None:
    fmt = native_think_format(tiny_engine.tokenizer)
    assert fmt is not None and fmt.close_token is not None
    spec = ThinkingSpec(max_tokens=24, min_tokens=20, format=fmt, max_waits=1)
    sample = tiny_engine.run([_think(tiny_engine, spec, Force([fmt.close_token], at=3),
                                     Force([fmt.close_token], at=10))])[0].samples[0]  # fmt: skip
    assert sample.waits == 1  # the first early ending became "Wait", the second one stood
    assert sample.reasoning_tokens == 10 < spec.min_tokens and sample.token_ids[10] == fmt.close_token
