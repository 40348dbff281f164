"""TIP, the thought-switching penalty ("Thoughts Are All Over the Place", Wang et al., 2025).

o1-like models underthink: they abandon a line of thought early ("Alternatively, ...", "Wait, ...").
TIP lowers the logits of thought-switch tokens by ``penalty`` during the first ``window`` tokens of
every thought; a thought starts at the beginning of the generation and at every switch token.
Opt-in: pass a :class:`ThoughtSwitchConfig` in ``SamplingParams.thought_switch`` (or to
``LocalBackend(thought_switch=...)``). :class:`ThoughtSwitchLogitsProcessor` applies the same rule
inside ``transformers``' ``generate``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformers import LogitsProcessor

__all__ = ["DEFAULT_SWITCH_PHRASES", "ThoughtSwitchConfig", "ThoughtSwitchLogitsProcessor", "ThoughtSwitchPenalty"]

DEFAULT_SWITCH_PHRASES: tuple[str, ...] = ("Alternatively", "Wait", "Hmm")


@dataclass(frozen=True)
class ThoughtSwitchConfig:
    """Which phrases start a new thought, how much to lower them (logits), and for how many tokens.

    Only the first token of each phrase is penalised, so a phrase should start with a distinctive
    word ("Alternatively", not "But wait"). The defaults follow the paper (penalty 3, window 600).
    """

    phrases: tuple[str, ...] = DEFAULT_SWITCH_PHRASES
    penalty: float = 3.0
    window: int = 600


def switch_token_ids(tokenizer: Any, phrases: Sequence[str]) -> frozenset[int]:
    """The first token of each phrase, with and without a leading space or newline.

    A first token that is only a fragment of the phrase's first word (shorter than 3 characters)
    is left out, so that common word pieces are not penalised.
    """
    ids: set[int] = set()
    for phrase in phrases:
        word = phrase.split()[0].strip(",.;:") if phrase.split() else ""
        for variant in (phrase, " " + phrase, "\n" + phrase):
            encoded = tokenizer(variant, add_special_tokens=False).input_ids
            if not encoded:
                continue
            piece = tokenizer.decode(encoded[:1]).strip()
            if piece and (piece == word or len(piece) >= 3) and word.startswith(piece.strip(",.;:")):
                ids.add(int(encoded[0]))
    return frozenset(ids)


class ThoughtSwitchPenalty:
    """Subtracts ``penalty`` from the switch tokens' logits while the current thought is younger than ``window``."""

    def __init__(self, token_ids: Collection[int], penalty: float, window: int) -> None:
        self.token_ids = frozenset(token_ids)
        self.penalty = penalty
        self.window = window
        self._index = torch.tensor(sorted(self.token_ids), dtype=torch.long)

    @classmethod
    def from_config(cls, config: ThoughtSwitchConfig, tokenizer: Any) -> ThoughtSwitchPenalty:
        return cls(switch_token_ids(tokenizer, config.phrases), config.penalty, config.window)

    def thought_start(self, generated: Sequence[int]) -> int:
        """Index where the current thought began: the last switch token, or 0."""
        for i in range(len(generated) - 1, -1, -1):
            if generated[i] in self.token_ids:
                return i
        return 0

    def active(self, generated: Sequence[int]) -> bool:
        """Whether the next token is still inside the penalty window (looks back at most ``window`` tokens)."""
        length = len(generated)
        for i in range(length - 1, max(length - self.window, -1), -1):
            if generated[i] in self.token_ids:
                return True
        return length < self.window

    def __call__(self, generated: Sequence[int], logits: torch.Tensor) -> torch.Tensor:
        if not self.token_ids or not self.active(generated):
            return logits
        adjusted = logits.clone()
        index = self._index.to(adjusted.device)
        adjusted[..., index] -= self.penalty
        return adjusted


class ThoughtSwitchLogitsProcessor(LogitsProcessor):
    """:class:`ThoughtSwitchPenalty` as a ``transformers`` logits processor (``prompt_length`` tokens are skipped)."""

    def __init__(self, penalty: ThoughtSwitchPenalty, prompt_length: int) -> None:
        self.penalty = penalty
        self.prompt_length = prompt_length

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        rows = [self.penalty(ids[self.prompt_length :].tolist(), scores[i]) for i, ids in enumerate(input_ids)]
        return torch.stack(rows)  # type: ignore[return-value]
