"""N samples of one prompt share one prefill and still give the tokens of independent sampling."""

from __future__ import annotations

import pytest
import torch

from local_backend.engine import LocalEngine, SamplingParams

PROMPT = "Q: What is 12 + 7?\nReasoning: 12 + 7 = 19.\nAnswer:"


def _hf_greedy(engine: LocalEngine, prompt: str, tokens: int) -> list[int]:
    """Reference greedy tokens from transformers' own ``generate`` (cut after an end-of-sequence token)."""
    encoded = engine.tokenizer(prompt, return_tensors="pt")
    with torch.inference_mode():
        out = engine.model.generate(**encoded, max_new_tokens=tokens, do_sample=False, pad_token_id=engine.pad_id)
    ids = [int(t) for t in out[0, encoded.input_ids.shape[1] :]]
    eos = engine.eos_ids()
    end = next((i for i, t in enumerate(ids) if t in eos), None)
    return ids if end is None else ids[: end + 1]


def test_greedy_decoding_matches_transformers_generate(tiny_engine: LocalEngine) -> None:
    result = tiny_engine.generate(PROMPT, SamplingParams(max_new_tokens=24, n=3))
    expected = _hf_greedy(tiny_engine, PROMPT, 24)
    assert [s.token_ids for s in result.samples] == [expected] * 3


def test_shared_prefill_gives_the_tokens_of_separate_prefills_and_of_separate_requests(
    tiny_engine: LocalEngine,
) -> None:
    params = SamplingParams(max_new_tokens=20, temperature=1.0, n=4, seed=11, logprobs=True)
    shared = tiny_engine.generate(PROMPT, params)
    tiny_engine.share_prefix = False
    unshared = tiny_engine.generate(PROMPT, params)
    tiny_engine.share_prefix = True
    one_by_one = [
        tiny_engine.generate(PROMPT, SamplingParams(max_new_tokens=20, temperature=1.0, seed=11 + i)).samples[0]
        for i in range(4)
    ]
    prompt_len = shared.prompt_tokens
    assert shared.prefill_tokens == prompt_len and unshared.prefill_tokens == 4 * prompt_len
    shared_ids = [s.token_ids for s in shared.samples]
    assert shared_ids == [s.token_ids for s in unshared.samples] == [s.token_ids for s in one_by_one]
    assert len({tuple(ids) for ids in shared_ids}) == 4  # the samples differ from each other
    for a, b in zip(shared.samples, unshared.samples, strict=True):
        assert a.logprobs == pytest.approx(b.logprobs, abs=1e-4)


def test_a_seed_reproduces_its_samples_and_another_seed_does_not(tiny_engine: LocalEngine) -> None:
    first = tiny_engine.generate(PROMPT, SamplingParams(max_new_tokens=12, temperature=1.0, n=2, seed=5))
    again = tiny_engine.generate(PROMPT, SamplingParams(max_new_tokens=12, temperature=1.0, n=2, seed=5))
    other = tiny_engine.generate(PROMPT, SamplingParams(max_new_tokens=12, temperature=1.0, n=2, seed=6))
    assert [s.token_ids for s in first.samples] == [s.token_ids for s in again.samples]
    assert [s.token_ids for s in first.samples] != [s.token_ids for s in other.samples]


@pytest.mark.model
def test_real_model_shared_prefix_matches_the_unshared_path(real_engine: LocalEngine) -> None:
    prompt = "The following are questions answered correctly and concisely.\n\nQ: What is the capital of Italy?\nA:"
    greedy = real_engine.generate(prompt, SamplingParams(max_new_tokens=8, n=2))
    assert [s.token_ids for s in greedy.samples] == [_hf_greedy(real_engine, prompt, 8)] * 2
    params = SamplingParams(max_new_tokens=8, temperature=0.9, n=3, seed=3)
    shared = real_engine.generate(prompt, params)
    real_engine.share_prefix = False
    try:
        unshared = real_engine.generate(prompt, params)
    finally:
        real_engine.share_prefix = True
    assert shared.prefill_tokens * 3 == unshared.prefill_tokens
    assert [s.token_ids for s in shared.samples] == [s.token_ids for s in unshared.samples]
