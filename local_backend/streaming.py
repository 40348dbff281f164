"""Text deltas of a growing token sequence, holding back what might still become a stop sequence."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from local_backend.stopping import cut_at_stop, partial_stop_suffix

__all__ = ["TextDeltas"]


class TextDeltas:
    """Feed it the sequence's tokens as they grow; it calls ``on_text`` with each new piece of text.

    Text is cut at the first stop sequence; while not final, a suffix that could start a stop
    sequence and an incomplete multi-byte character are held back. Text that a rewrite removed
    after it was emitted is not taken back; emission resumes once the text grows past it.
    """

    def __init__(self, tokenizer: Any, stops: tuple[str, ...], on_text: Callable[[str], None]) -> None:
        self.tokenizer = tokenizer
        self.stops = tuple(s for s in stops if s)
        self.on_text = on_text
        self.emitted = 0
        self.closed = False

    def update(self, ids: Sequence[int], *, final: bool = False) -> None:
        if self.closed:
            return
        text, stop = cut_at_stop(self.tokenizer.decode(list(ids), skip_special_tokens=True), self.stops)
        if stop is not None or final:
            self.closed = True
        else:
            text = text[: len(text) - partial_stop_suffix(text, self.stops)]
            text = text.rstrip("\ufffd")  # an incomplete multi-byte character
        if len(text) > self.emitted:
            self.on_text(text[self.emitted :])
            self.emitted = len(text)
