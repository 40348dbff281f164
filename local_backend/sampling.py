"""Choosing the next token of one sequence: greedy, or temperature / top-p sampling with the row's own RNG.

Every sampled row draws from its own ``torch.Generator``, so a seeded sample gives the same tokens
whether it runs alone, next to its siblings (prefix sharing) or batched with other requests.
A request with seed ``s`` and ``n`` samples seeds row ``i`` with ``s + i``.
"""

from __future__ import annotations

import secrets

import torch

__all__ = ["draw_token", "make_generator", "row_seed", "sample_token", "top_p_filter"]


def row_seed(seed: int | None, index: int) -> int:
    """The seed of sample ``index`` of a request seeded with ``seed`` (a fresh random one when unseeded)."""
    if seed is None:
        return secrets.randbits(62)
    return (seed + index) % 2**63


def make_generator(seed: int, device: torch.device | str) -> torch.Generator:
    """A generator on ``device`` seeded with ``seed``."""
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    return generator


def top_p_filter(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """Logits with everything outside the nucleus of mass ``top_p`` set to -inf (the top token always stays)."""
    if top_p >= 1.0:
        return logits
    sorted_logits, order = torch.sort(logits, descending=True)
    cumulative = torch.softmax(sorted_logits, dim=-1).cumsum(dim=-1)
    drop_sorted = cumulative - torch.softmax(sorted_logits, dim=-1) >= top_p  # mass before this token already >= p
    drop_sorted[..., 0] = False
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


def draw_token(
    logits: torch.Tensor, temperature: float, top_p: float, generator: torch.Generator | None
) -> torch.Tensor:  # fmt: skip
    """Next token (a 0-d tensor, left on the device) from a 1-D row of logits.

    Argmax when ``temperature`` is 0 (or there is no generator), else a draw from ``generator``.
    """
    if temperature <= 0.0 or generator is None:
        return torch.argmax(logits)
    scaled = top_p_filter(logits.float() / temperature, top_p)
    probs = torch.softmax(scaled, dim=-1)
    return torch.multinomial(probs, 1, generator=generator)[0]


def sample_token(
    logits: torch.Tensor, temperature: float, top_p: float, generator: torch.Generator | None
) -> int:  # fmt: skip
    """:func:`draw_token` as a Python int."""
    return int(draw_token(logits, temperature, top_p, generator))
