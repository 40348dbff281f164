"""s1-style budget forcing: keep a model thinking for at least ``min_tokens`` and at most ``max_tokens``.

A row starts in the thinking phase. When the model ends its thinking (the end-of-thinking
delimiter, an end-of-sequence token, or one of the format's end signals) before the minimum, the
ending is removed and "Wait" is fed instead, so it keeps thinking. At the maximum, the
end-of-thinking delimiter is forced; the answer phase then runs under the usual stop rules, and its
token cap (``SamplingParams.max_new_tokens``) includes the delimiter, so a row never exceeds
thinking maximum + answer cap tokens (a cap shorter than the delimiter ends the row inside it, with no answer).
Delimiters are native tokens (``<think>``/``</think>``) when the tokenizer has them, otherwise
the router's own text delimiters (see :mod:`local_backend.think_prompt`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from local_backend.decoding import Action, Finish, Rewrite, Row
from local_backend.stopping import StopController, cut_at_stop

__all__ = ["BudgetForcing", "ThinkFormat", "ThinkingSpec", "ThinkingSplit"]


@dataclass(frozen=True)
class ThinkFormat:
    """How a model delimits its thinking.

    ``open_text`` is appended to the prompt to start thinking; ``close_text`` ends it (``close_token``
    is its single token id when the tokenizer has a native one). ``end_signals`` are texts that also
    mean "done thinking" (e.g. the scaffold's next question); they are replaced by ``close_text``.
    """

    open_text: str
    close_text: str
    close_token: int | None = None
    end_signals: tuple[str, ...] = ()
    wait_text: str = "Wait"


@dataclass(frozen=True)
class ThinkingSpec:
    """Budget forcing settings for one call (``min_tokens`` is clamped to ``max_tokens``).

    ``max_waits`` caps the "Wait" insertions: once used up, the model may end its thinking below the minimum.
    """

    max_tokens: int
    format: ThinkFormat
    min_tokens: int = 0
    max_waits: int | None = None


@dataclass(frozen=True)
class ThinkingSplit:
    """A finished row read back: thinking text and tokens, answer text, the stop that ended it."""

    reasoning: str
    reasoning_tokens: int
    answer: str
    stop: str | None


class BudgetForcing:
    """Row controller enforcing a thinking budget, then the answer's stop rules.

    ``waits`` counts "Wait" insertions; ``think_end`` is the number of thinking tokens once the
    thinking has ended, ``answer_start`` the index of the first answer token.
    """

    def __init__(self, spec: ThinkingSpec, tokenizer: Any, eos_ids: Collection[int], answer: StopController) -> None:
        self.spec = spec
        self.format = spec.format
        self.tokenizer = tokenizer
        self.eos_ids = frozenset(eos_ids)
        self.answer = answer
        self.min_tokens = min(spec.min_tokens, spec.max_tokens)
        fmt = spec.format
        self.close_ids = (fmt.close_token,) if fmt.close_token is not None else self._ids(fmt.close_text)
        self.waits = 0
        self.think_end: int | None = None
        self.answer_start: int | None = None
        self._closing = 0  # forced delimiter tokens still to come
        self._signals = tuple(s for s in (fmt.close_text, *fmt.end_signals) if s) if fmt.close_token is None else ()
        self._window = max((len(s) for s in self._signals), default=0) + 8

    def _ids(self, text: str) -> tuple[int, ...]:
        return tuple(self.tokenizer(text, add_special_tokens=False).input_ids)

    @property
    def max_row_tokens(self) -> int:
        """A hard cap on the row: full thinking, then the delimiter and the answer (within the answer's cap)."""
        answer = self.answer.max_tokens or 0
        return self.spec.max_tokens + max(answer, len(self.close_ids)) + 1

    def on_token(self, row: Row, token: int, forced: bool) -> Action:
        if self.answer_start is not None:
            return self.answer.on_token(row, token, forced)
        if forced and self._closing:
            self._closing -= 1
            if not self._closing:
                return self._start_answer(row)
            cap = self.answer.max_tokens
            if cap is not None and self.think_end is not None and len(row.tokens) - self.think_end >= cap:
                return Finish("length")  # the answer's tokens ran out inside the delimiter
            return None
        ended = None if forced else self._ending(row, token)
        if ended is not None:
            return self._end_thinking(row, *ended)
        if len(row.tokens) >= self.spec.max_tokens:
            row.forced.clear()  # a pending "Wait" gives way to the end of thinking
            self.think_end = len(row.tokens)
            self._closing = len(self.close_ids)
            row.forced.extend(self.close_ids)
        return None

    def _ending(self, row: Row, token: int) -> tuple[int, bool, int] | None:
        """When this token ends the thinking: (tokens to drop, whether the model's own delimiter may stay,
        the character offset where the ending starts)."""
        if self.format.close_token is not None and token == self.format.close_token:
            return 1, True, -1
        if token in self.eos_ids:
            return 1, False, -1
        if not self._signals:
            return None
        tail_ids = row.tokens[max(0, len(row.tokens) - self._window) :]
        _, signal = cut_at_stop(self.tokenizer.decode(tail_ids, skip_special_tokens=True), self._signals)
        if signal is None:
            return None
        cut = self.tokenizer.decode(row.tokens, skip_special_tokens=True).rfind(signal)
        drop = 1
        while drop < len(row.tokens) and len(self._text(row.tokens[:-drop])) > cut:
            drop += 1
        return drop, signal == self.format.close_text, cut

    def _text(self, ids: list[int]) -> str:
        return str(self.tokenizer.decode(ids, skip_special_tokens=True))

    def _end_thinking(self, row: Row, drop: int, accept_as_is: bool, cut: int) -> Action:
        kept = len(row.tokens) - drop
        if kept < self.min_tokens and (self.spec.max_waits is None or self.waits < self.spec.max_waits):
            self.waits += 1
            kept_text = self._text(row.tokens[:kept])
            lost = self._text(row.tokens)[len(kept_text) : cut] if cut > len(kept_text) else ""
            before = kept_text + lost
            separator = "" if not before or before[-1].isspace() else " "
            return Rewrite(drop, self._ids(lost + separator + self.format.wait_text))
        self.think_end = kept
        if accept_as_is:
            return self._start_answer(row)
        self._closing = len(self.close_ids)
        return Rewrite(drop, self.close_ids)

    def _start_answer(self, row: Row) -> Action:
        self.answer_start = len(row.tokens)
        self.answer.start = self.answer_start
        self.answer.budget_start = self.think_end  # the delimiter counts against the answer's tokens
        cap = self.answer.max_tokens
        if cap is not None and self.think_end is not None and self.answer_start - self.think_end >= cap:
            return Finish("length")  # the delimiter used up the answer's tokens
        return None

    def split(self, row: Row) -> ThinkingSplit:
        """Reasoning and answer of a finished row (all thinking when it never reached the answer)."""
        end = self.think_end if self.think_end is not None else len(row.tokens)
        shown = self.answer_start if self.answer_start is not None else end
        reasoning, _ = cut_at_stop(self._text(row.tokens[:shown]), (self.format.close_text, *self.format.end_signals))
        answer, stop = "", None
        if self.answer_start is not None:
            text = self.tokenizer.decode(row.tokens[self.answer_start :], skip_special_tokens=True)
            answer, stop = cut_at_stop(text, self.answer.stops)
        return ThinkingSplit(reasoning.strip(), end, answer, stop)
