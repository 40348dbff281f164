"""The thought-switch penalty lowers listed tokens only inside the window that follows a thought's start."""

from __future__ import annotations

import pytest
import torch

from local_backend.engine import Job, LocalEngine, SamplingParams
from local_backend.tip import (
    ThoughtSwitchConfig,
    ThoughtSwitchLogitsProcessor,
    ThoughtSwitchPenalty,
    switch_token_ids,
)

LISTED = (5, 7)


def _probs(penalty: ThoughtSwitchPenalty, generated: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    logits = torch.linspace(-1.0, 1.0, 12)
    return torch.softmax(logits, -1), torch.softmax(penalty(generated, logits), -1)


@pytest.mark.parametrize(
    ("generated", "inside"),
    [
        ([], True),  # the first thought starts with the generation
        ([1, 2, 3], True),
        ([1, 2, 3, 4], False),  # 4 tokens into a thought: the window of 4 is over
        ([1, 2, 3, 4, 5], True),  # token 5 is a switch: a new thought, a new window
        ([1, 2, 3, 4, 5, 6, 8, 9], False),
        ([1, 7, 2, 3, 4, 8, 9, 10, 11], False),
    ],
)
def test_listed_tokens_are_less_likely_only_inside_the_window(generated: list[int], inside: bool) -> None:
    penalty = ThoughtSwitchPenalty(LISTED, penalty=2.0, window=4)
    before, after = _probs(penalty, generated)
    listed = torch.tensor(LISTED)
    others = torch.tensor([i for i in range(12) if i not in LISTED])
    if inside:
        assert bool((after[listed] < before[listed]).all())
        assert bool((after[others] > before[others]).all())  # the mass moves to unlisted tokens
        raw = torch.linspace(-1.0, 1.0, 12)
        assert torch.allclose(raw - penalty(generated, raw), torch.isin(torch.arange(12), listed) * 2.0)
    else:
        assert torch.equal(after, before)


def test_generation_avoids_a_listed_token_inside_its_window_only(tiny_engine: LocalEngine) -> None:
    prompt = "Q: What is 12 + 7?\nReasoning:"

    def greedy(*processors: ThoughtSwitchPenalty) -> list[int]:
        job = Job(prompt, SamplingParams(max_new_tokens=12), processors=processors)
        return tiny_engine.run([job])[0].samples[0].token_ids

    plain = greedy()
    j = next(i for i in range(1, len(plain)) if plain[i] not in plain[:i])  # a token new at position j
    inside = greedy(ThoughtSwitchPenalty([plain[j]], penalty=1e4, window=j + 1))
    assert inside[:j] == plain[:j] and inside[j] != plain[j]  # penalised while the window covers position j
    assert greedy(ThoughtSwitchPenalty([plain[j]], penalty=1e4, window=j)) == plain  # the window ended before j


def test_the_transformers_processor_applies_the_same_rule() -> None:
    penalty = ThoughtSwitchPenalty(LISTED, penalty=2.0, window=4)
    processor = ThoughtSwitchLogitsProcessor(penalty, prompt_length=2)
    input_ids = torch.tensor([[9, 9, 1, 2, 3, 4], [9, 9, 1, 5, 3, 4]])
    scores = torch.zeros(2, 12)
    out = processor(input_ids, scores)  # type: ignore[arg-type]
    assert torch.equal(out[0], scores[0])  # 4 tokens into the first thought
    assert out[1, 5] == -2.0 and out[1, 7] == -2.0 and out[1, 0] == 0.0  # a switch two tokens ago


@pytest.mark.model
def test_real_tokenizer_switch_tokens_and_opt_in_through_sampling_params(real_engine: LocalEngine) -> None:
    tokenizer = real_engine.tokenizer
    ids = switch_token_ids(tokenizer, ("Alternatively", "Wait"))
    assert {tokenizer.decode([i]).strip() for i in ids} == {"Alternatively", "Wait"}
    prompt = "Q: Is 7 a prime number?\nA: Let me think."
    config = ThoughtSwitchConfig(phrases=("Alternatively", "Wait"), penalty=50.0, window=100)
    params = SamplingParams(max_new_tokens=6, logprobs=True, thought_switch=config)
    plain = real_engine.run([Job(prompt, SamplingParams(max_new_tokens=6, logprobs=True))])[0].samples[0]
    penalised = real_engine.run([Job(prompt, params)])[0].samples[0]
    assert not ids & set(penalised.token_ids)
    if not ids & set(plain.token_ids):  # nothing to avoid: the penalty changes nothing else
        assert penalised.token_ids == plain.token_ids
