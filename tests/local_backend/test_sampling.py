"""Token choice: greedy is argmax; sampling follows softmax(logits / T) inside the top-p nucleus."""

from __future__ import annotations

import torch

from local_backend.sampling import make_generator, row_seed, sample_token, top_p_filter

LOGITS = torch.log(torch.tensor([0.5, 0.25, 0.15, 0.1]))


def _frequencies(temperature: float, top_p: float, draws: int = 4000) -> torch.Tensor:
    generator = make_generator(1, "cpu")
    picks = [sample_token(LOGITS, temperature, top_p, generator) for _ in range(draws)]
    return torch.bincount(torch.tensor(picks), minlength=4) / draws


def test_greedy_takes_the_argmax() -> None:
    assert sample_token(LOGITS, 0.0, 1.0, make_generator(0, "cpu")) == 0


def test_sampling_follows_the_softmax_of_the_tempered_logits() -> None:
    assert torch.allclose(_frequencies(1.0, 1.0), torch.tensor([0.5, 0.25, 0.15, 0.1]), atol=0.03)
    sharpened = torch.softmax(LOGITS / 0.5, dim=-1)
    assert torch.allclose(_frequencies(0.5, 1.0), sharpened, atol=0.03)


def test_top_p_keeps_the_smallest_nucleus_reaching_p() -> None:
    kept = torch.isfinite(top_p_filter(LOGITS, 0.7))
    assert kept.tolist() == [True, True, False, False]  # 0.5 < 0.7 <= 0.75
    frequencies = _frequencies(1.0, 0.7)
    assert frequencies[2:].sum() == 0
    assert torch.allclose(frequencies[:2], torch.tensor([2 / 3, 1 / 3]), atol=0.03)
    assert torch.isfinite(top_p_filter(LOGITS, 0.01)).tolist() == [True, False, False, False]


def test_row_seeds_follow_the_request_seed() -> None:
    assert [row_seed(7, i) for i in range(3)] == [7, 8, 9]
    assert row_seed(None, 0) != row_seed(None, 0)
