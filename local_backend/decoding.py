"""The token loop behind every generation: one prefill per distinct prompt, then all rows decode together.

Rows (one per sample) refer to a prompt. Distinct prompts are prefilled once, left-padded into one
batch; the KV cache is then expanded so every row starts from its prompt's cache (prefix sharing:
``n`` samples of one prompt cost one prefill). Each step feeds one token per row with an explicit
attention mask and position ids, so rows of different lengths and rows that roll tokens back
(budget forcing) stay exact. A row's controller sees every token and may finish the row or
rewrite its tail (drop tokens, force others); finished and cancelled rows leave the batch at once.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from transformers import DynamicCache

from local_backend.sampling import draw_token

__all__ = [
    "Action",
    "Finish",
    "Prefill",
    "Rewrite",
    "Row",
    "RowController",
    "RowSpec",
    "TokenProcessor",
    "decode",
    "prefill",
]


@dataclass(frozen=True)
class Finish:
    """End the row with ``reason`` (the current token stays in the row but is not fed)."""

    reason: str


@dataclass(frozen=True)
class Rewrite:
    """Drop the row's last ``rollback`` tokens (the current one included), then feed ``force`` in order."""

    rollback: int
    force: tuple[int, ...]


Action = Finish | Rewrite | None


class RowController(Protocol):
    """Decides, after each token of a row, whether it goes on, ends, or is rewritten."""

    def on_token(self, row: Row, token: int, forced: bool) -> Action: ...


class TokenProcessor(Protocol):
    """Adjusts a row's 1-D next-token logits given the tokens it generated so far; returns the new logits."""

    def __call__(self, generated: Sequence[int], logits: torch.Tensor) -> torch.Tensor: ...


@dataclass
class RowSpec:
    """What one sampled sequence needs: its prompt, decoding settings, controller and hooks."""

    prompt: int
    controller: RowController
    max_new_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    generator: torch.Generator | None = None
    processors: tuple[TokenProcessor, ...] = ()
    logprobs: bool = False
    top_logprobs: int = 0
    cancel: threading.Event | None = None
    deadline: float | None = None
    on_step: Callable[[Row], None] | None = None


@dataclass(eq=False)
class Row:
    """A sequence being decoded: its tokens after the prompt, their logprobs, and why it ended.

    ``top_logprobs`` holds, per token, the ``spec.top_logprobs`` most likely (token, logprob) pairs
    (empty for forced tokens).
    """

    spec: RowSpec
    position: int
    tokens: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    top_logprobs: list[list[tuple[int, float]]] = field(default_factory=list)
    forced: deque[int] = field(default_factory=deque)
    columns: list[int] = field(default_factory=list)  # cache column of each fed token
    finish: str | None = None


@dataclass
class Prefill:
    """The prompts' KV cache (one row each, left-padded), their last logits, padding mask and lengths."""

    cache: Any
    logits: torch.Tensor
    mask: torch.Tensor
    lengths: list[int]


def prefill(model: Any, prompts: Sequence[Sequence[int]], pad_id: int) -> Prefill:
    """Run the distinct prompts once, left-padded into one batch; only the last position's logits are kept."""
    device = model.device
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.bool)
    for i, prompt in enumerate(prompts):
        ids[i, width - len(prompt) :] = torch.tensor(list(prompt), dtype=torch.long)
        mask[i, width - len(prompt) :] = True
    positions = (mask.long().cumsum(-1) - 1).clamp(min=0)
    cache = DynamicCache(config=model.config)
    out = model(
        input_ids=ids.to(device),
        attention_mask=mask.to(device) if not bool(mask.all()) else None,
        position_ids=positions.to(device),
        cache=cache,
        use_cache=True,
        logits_to_keep=1,
    )
    return Prefill(cache, out.logits[:, -1, :], mask.to(device), [len(p) for p in prompts])


def decode(
    model: Any, state: Prefill, specs: Sequence[RowSpec], on_finish: Callable[[Row], None] | None = None
) -> list[Row]:  # fmt: skip
    """Decode every row to its end; rows come back in the order of ``specs``.

    ``on_finish`` is called with each row as soon as it ends, while the others go on.
    """
    rows = [Row(spec, position=state.lengths[spec.prompt]) for spec in specs]
    index = torch.tensor([s.prompt for s in specs], device=state.logits.device)
    cache, mask, logits = state.cache, state.mask[index], state.logits[index]
    if len(specs) != len(state.lengths) or not bool((index == torch.arange(len(index), device=index.device)).all()):
        cache.batch_select_indices(index)  # expand (or reorder) the prompts' cache across the rows
    active = rows
    while active:
        next_tokens = _step_rows(active, logits, mask)
        keep = [i for i, row in enumerate(active) if row.finish is None]
        if on_finish is not None and len(keep) < len(active):
            for row in active:
                if row.finish is not None:
                    on_finish(row)
        if len(keep) < len(active):
            if not keep:
                break
            keep_index = torch.tensor(keep, device=mask.device)
            cache.batch_select_indices(keep_index)
            mask = mask[keep_index]
            active = [active[i] for i in keep]
            next_tokens = [next_tokens[i] for i in keep]
        column = mask.shape[1]
        for row in active:
            row.columns.append(column)
            row.position += 1
        mask = torch.cat([mask, torch.ones((len(active), 1), dtype=torch.bool, device=mask.device)], dim=1)
        out = model(
            input_ids=torch.tensor([[t] for t in next_tokens], device=mask.device),
            attention_mask=mask,
            position_ids=torch.tensor([[row.position - 1] for row in active], device=mask.device),
            cache=cache,
            use_cache=True,
        )
        logits = out.logits[:, -1, :]
    return rows


def _step_rows(active: list[Row], logits: torch.Tensor, mask: torch.Tensor) -> list[int]:
    """Choose each active row's next token (sampled or forced) and apply its controller's decision."""
    now = time.monotonic()
    for row in active:
        spec = row.spec
        if spec.cancel is not None and spec.cancel.is_set():
            row.finish = "cancelled"
        elif spec.deadline is not None and now >= spec.deadline:
            row.finish = "deadline"
    sampled, logprobs, tops = _choose(active, logits)
    chosen: list[int] = []
    for b, row in enumerate(active):
        if row.finish is None:
            _advance(row, b, sampled[b], (logprobs[b], tops[b]), mask)
        chosen.append(row.tokens[-1] if row.tokens and row.finish is None else 0)
        if row.spec.on_step is not None:
            row.spec.on_step(row)
    return chosen


def _choose(
    active: list[Row], logits: torch.Tensor
) -> tuple[list[int | None], list[float], list[list[tuple[int, float]]]]:
    """The model's choice for every row that needs one, with its logprob and the most likely alternatives.

    Rows whose next token is forced, and finished rows, get ``None``. Greedy rows without processors
    share one batched argmax; the others draw from their own generator. Logprobs are the model's own
    (before temperature, top-p and processors); one device sync serves all rows.
    """
    greedy = torch.argmax(logits, dim=-1)
    picks: list[torch.Tensor] = []
    for b, row in enumerate(active):
        spec = row.spec
        if row.finish is not None or row.forced:
            picks.append(greedy[b])  # a placeholder; never used
            continue
        if not spec.processors and (spec.temperature <= 0.0 or spec.generator is None):
            picks.append(greedy[b])
            continue
        adjusted = logits[b]
        for processor in spec.processors:
            adjusted = processor(row.tokens, adjusted)
        picks.append(draw_token(adjusted, spec.temperature, spec.top_p, spec.generator))
    tokens = torch.stack(picks)
    values: list[float] = [0.0] * len(active)
    tops: list[list[tuple[int, float]]] = [[] for _ in active]
    if any(r.spec.logprobs for r in active):
        log_probs = torch.log_softmax(logits.float(), dim=-1)
        values = log_probs.gather(1, tokens.unsqueeze(1)).squeeze(1).tolist()
        k = min(max(r.spec.top_logprobs for r in active), log_probs.shape[-1])
        if k > 0:
            top_values, top_ids = (t.tolist() for t in torch.topk(log_probs, k, dim=-1))
            for b, row in enumerate(active):
                wanted = row.spec.top_logprobs
                tops[b] = list(zip(top_ids[b][:wanted], top_values[b][:wanted], strict=True))
    choices: list[int | None] = [
        None if row.finish is not None or row.forced else int(t) for row, t in zip(active, tokens.tolist(), strict=True)
    ]
    return choices, values, tops


def _advance(
    row: Row, b: int, sampled: int | None, scores: tuple[float, list[tuple[int, float]]], mask: torch.Tensor
) -> None:  # fmt: skip
    spec = row.spec
    token, forced = (row.forced.popleft(), True) if sampled is None else (sampled, False)
    action = _accept(row, token, forced, scores)
    if isinstance(action, Rewrite):
        _rollback(row, b, action.rollback, mask)
        if not action.force:
            raise RuntimeError("a rewrite must force at least one token")
        row.forced.extend(action.force)
        action = _accept(row, row.forced.popleft(), True, (0.0, []))
        if isinstance(action, Rewrite):
            raise RuntimeError("a forced token cannot be rewritten again")
    if isinstance(action, Finish):
        row.finish = action.reason
    elif len(row.tokens) >= spec.max_new_tokens:
        row.finish = "length"


def _accept(row: Row, token: int, forced: bool, scores: tuple[float, list[tuple[int, float]]]) -> Action:
    row.tokens.append(token)
    if row.spec.logprobs:
        logprob, top = scores
        row.logprobs.append(0.0 if forced else logprob)
        if row.spec.top_logprobs:
            row.top_logprobs.append([] if forced else top)
    return row.spec.controller.on_token(row, token, forced)


def _rollback(row: Row, b: int, count: int, mask: torch.Tensor) -> None:
    """Remove the row's last ``count`` tokens; those already fed are hidden from attention."""
    for _ in range(min(count, len(row.tokens))):
        row.tokens.pop()
        if row.spec.logprobs and row.logprobs:
            row.logprobs.pop()
        if row.top_logprobs:
            row.top_logprobs.pop()
        if len(row.columns) > len(row.tokens):
            mask[b, row.columns.pop()] = False
            row.position -= 1
