"""Step-wise generation continues every prefix k times and stops each branch at the step delimiter."""

from __future__ import annotations

import pytest

from local_backend.engine import LocalEngine
from tests.local_backend.tiny import ForceAt

PROMPT = "Q: What is 12 + 7?\nReasoning:"


def test_every_branch_stops_at_the_delimiter(tiny_engine: LocalEngine) -> None:
    delimiter = "\n\n"
    [delimiter_id] = tiny_engine.tokenizer(delimiter, add_special_tokens=False).input_ids
    prefixes = (" 12 + 7", " Add")
    branches = tiny_engine.step(PROMPT, prefixes=prefixes, k=3, delimiter=delimiter, max_tokens=16,
                                temperature=1.0, seed=4, processors=(ForceAt([delimiter_id], at=4),))  # fmt: skip
    assert [b.prefix for b in branches] == [prefixes[0]] * 3 + [prefixes[1]] * 3
    for branch in branches:
        assert branch.finish_reason == "delimiter"
        assert branch.num_tokens == 5 and branch.token_ids[-1] == delimiter_id
        assert delimiter not in branch.text
        assert branch.text == tiny_engine.tokenizer.decode(branch.token_ids[:4], skip_special_tokens=True)
        assert len(branch.logprobs) == 5 and all(lp <= 0.0 for lp in branch.logprobs)
        assert branch.prompt_tokens == len(tiny_engine.tokenizer(PROMPT + branch.prefix).input_ids)
    assert len({tuple(b.token_ids) for b in branches[:3]}) == 3  # sampled branches differ
    again = tiny_engine.step(PROMPT, prefixes=prefixes, k=3, delimiter=delimiter, max_tokens=16,
                             temperature=1.0, seed=4, processors=(ForceAt([delimiter_id], at=4),))  # fmt: skip
    assert [b.token_ids for b in again] == [b.token_ids for b in branches]


@pytest.mark.parametrize(("forced", "reason", "tokens"), [("eos", "eos", 3), ("", "length", 6)])
def test_branches_report_why_they_ended(tiny_engine: LocalEngine, forced: str, reason: str, tokens: int) -> None:
    processors = (ForceAt([tiny_engine.tokenizer.eos_token_id], at=2),) if forced == "eos" else ()
    [branch] = tiny_engine.step(PROMPT, k=1, delimiter="\n\n", max_tokens=6, temperature=0.0, processors=processors)
    assert branch.finish_reason == reason and branch.num_tokens == tokens


def test_other_stop_sequences_end_a_branch_with_stop(tiny_engine: LocalEngine) -> None:
    x_ids = tiny_engine.tokenizer("X", add_special_tokens=False).input_ids
    [branch] = tiny_engine.step(PROMPT, k=1, delimiter="\n\n", max_tokens=8, temperature=0.0, stop=("X",),
                                processors=(ForceAt(x_ids, at=1),))  # fmt: skip
    assert branch.finish_reason == "stop" and "X" not in branch.text


@pytest.mark.model
def test_real_model_steps_end_at_line_breaks(real_engine: LocalEngine) -> None:
    prompt = "Solve step by step, one step per line.\nQ: Tom has 3 apples and buys 4 more. How many apples?\nA:"
    branches = real_engine.step(prompt, k=2, delimiter="\n", max_tokens=24, temperature=0.7, seed=1)
    assert len(branches) == 2
    for branch in branches:
        assert "\n" not in branch.text.lstrip() and len(branch.logprobs) == branch.num_tokens
        if branch.finish_reason == "delimiter":
            assert "\n" in real_engine.tokenizer.decode(branch.token_ids)
        else:
            assert branch.finish_reason in ("eos", "length")


def test_a_delimiter_before_any_text_belongs_to_the_step(tiny_engine: LocalEngine) -> None:
    [delimiter_id] = tiny_engine.tokenizer("\n\n", add_special_tokens=False).input_ids
    leading_then_step = (ForceAt([delimiter_id], at=0), ForceAt([delimiter_id], at=4))
    [branch] = tiny_engine.step(PROMPT, k=1, delimiter="\n\n", max_tokens=8, temperature=0.0,
                                processors=leading_then_step)  # fmt: skip
    assert branch.finish_reason == "delimiter" and branch.num_tokens == 5
    assert branch.text.startswith("\n\n") and branch.text.strip() and "\n\n" not in branch.text.strip()
