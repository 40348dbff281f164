"""Ending a sequence: end-of-sequence tokens, stop sequences (checked on the decoded tail), token caps."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from local_backend.decoding import Action, Finish, Row

__all__ = ["StopController", "cut_at_stop", "partial_stop_suffix"]


def cut_at_stop(text: str, stops: tuple[str, ...], after_text: bool = False) -> tuple[str, str | None]:
    """``text`` up to its first stop sequence, and that stop sequence (None when there is none).

    With ``after_text``, stop sequences inside the leading whitespace do not count (a step that
    starts with the delimiter's newline is not over before it has begun).
    """
    lead = len(text) - len(text.lstrip()) if after_text else 0
    if after_text and lead == len(text):
        return text, None
    found = [(i, s) for s in stops if s and (i := text.find(s, lead)) >= 0]
    if not found:
        return text, None
    index, stop = min(found)
    return text[:index], stop


def partial_stop_suffix(text: str, stops: tuple[str, ...]) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of some stop sequence."""
    best = 0
    for stop in stops:
        for k in range(min(len(stop) - 1, len(text)), best, -1):
            if text.endswith(stop[:k]):
                best = k
                break
    return best


class StopController:
    """Finishes a row at an end-of-sequence token, a stop sequence, or ``max_tokens`` tokens.

    Stop sequences are looked for in tokens from index ``start`` on, and ``max_tokens`` counts from
    ``budget_start`` (``start`` unless set): budget forcing's answer phase starts after the thinking,
    and its delimiter counts against the answer's tokens. With ``after_text``, stop sequences count
    only once some non-whitespace text was written. ``matched`` is the stop sequence that ended the row.
    """

    def __init__(
        self,
        tokenizer: Any,
        eos_ids: Collection[int],
        stops: tuple[str, ...] = (),
        max_tokens: int | None = None,
        start: int = 0,
        after_text: bool = False,
    ) -> None:
        self.tokenizer = tokenizer
        self.eos_ids = frozenset(eos_ids)
        self.stops = tuple(s for s in stops if s)
        self.max_tokens = max_tokens
        self.start = start
        self.after_text = after_text
        self.budget_start: int | None = None
        self.matched: str | None = None
        self._window = max((len(s) for s in self.stops), default=0) + 8

    def on_token(self, row: Row, token: int, forced: bool) -> Action:
        if token in self.eos_ids and not forced:
            return Finish("stop")
        if self.stops:
            first = self.start if self.after_text else max(self.start, len(row.tokens) - self._window)
            text = self.tokenizer.decode(row.tokens[first:], skip_special_tokens=True)
            _, stop = cut_at_stop(text, self.stops, self.after_text)
            if stop is not None:
                self.matched = stop
                return Finish("stop")
        budget_start = self.start if self.budget_start is None else self.budget_start
        if self.max_tokens is not None and len(row.tokens) - budget_start >= self.max_tokens:
            return Finish("length")
        return None
