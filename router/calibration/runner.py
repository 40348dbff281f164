"""Run every candidate of a route over an evaluation set and record what each item cost and scored.

Each item gets a deterministic seed (from its id), so a rerun asks the backends for exactly the
same calls and the recording cache replays them. Work goes item by item (every candidate on one
item, then the next item), so an interrupted run leaves complete rows for the items it finished.
Latency is the backend time of the calls a strategy made (as recorded), cost is tokens times the
policy's price for the backend (plus GPU-seconds where priced) — the same model the planner uses.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from router.backends.base import GenerationRequest
from router.calibration.cache import CacheMiss, call_clock
from router.calibration.datasets import EvalItem
from router.calibration.scoring import score_reply
from router.errors import ThinkrouteError
from router.execution import execute, plan_from
from router.planner.candidates import Candidate
from router.policy.schema import Price
from router.runtime import Runtime

__all__ = ["Outcome", "OutcomeTable", "item_seed", "price_cost", "run_grid", "run_one"]


@dataclass(frozen=True)
class Outcome:
    """One candidate on one item."""

    item_id: str
    candidate: str
    correct: bool
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int
    cost_usd: float
    latency_ms: float
    samples: int
    stop_reason: str
    reply: str
    error: str | None = None

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class OutcomeTable:
    """Outcomes by (candidate key, item id)."""

    def __init__(self, outcomes: Iterable[Outcome] = ()) -> None:
        self._rows: dict[tuple[str, str], Outcome] = {}
        for outcome in outcomes:
            self.add(outcome)

    def add(self, outcome: Outcome) -> None:
        self._rows[(outcome.candidate, outcome.item_id)] = outcome

    def get(self, candidate: str, item_id: str) -> Outcome | None:
        return self._rows.get((candidate, item_id))

    def __len__(self) -> int:
        return len(self._rows)

    def for_candidate(self, candidate: str, item_ids: Iterable[str] | None = None) -> list[Outcome]:
        """The candidate's outcomes (on ``item_ids`` when given, in that order; missing ones skipped)."""
        if item_ids is None:
            return [o for (c, _), o in self._rows.items() if c == candidate]
        return [o for i in item_ids if (o := self._rows.get((candidate, i))) is not None]

    def complete_items(self, candidates: Sequence[str], item_ids: Iterable[str]) -> list[str]:
        """Items every candidate has an outcome for."""
        return [i for i in item_ids if all((c, i) in self._rows for c in candidates)]


def item_seed(item_id: str) -> int:
    """A stable 31-bit seed per item, so sampled strategies repeat their calls exactly."""
    return int.from_bytes(hashlib.sha256(item_id.encode()).digest()[:4], "big") & 0x7FFFFFFF


def price_cost(price: Price | None, prompt_tokens: int, completion_tokens: int, latency_ms: float) -> float:
    """USD for the tokens (and GPU-seconds) at the policy's price."""
    if price is None:
        return 0.0
    tokens = prompt_tokens * price.input_per_mtok + completion_tokens * price.output_per_mtok
    return tokens / 1e6 + price.gpu_second_usd * latency_ms / 1000.0


async def run_one(runtime: Runtime, candidate: Candidate, item: EvalItem, answer_tokens: int) -> Outcome:
    """Run one candidate on one item and score the reply; backend errors count as wrong, with the error."""
    request = GenerationRequest(messages=item.messages, max_tokens=answer_tokens, seed=item_seed(item.id))
    plan = plan_from(candidate, deadline=None, rule="calibration")
    price = runtime.policy.backends[candidate.backend].price
    with call_clock() as clock:
        try:
            result = await execute(runtime, plan, request)
        except CacheMiss:
            raise
        except ThinkrouteError as exc:
            latency = clock.seconds * 1000.0
            return Outcome(item.id, candidate.key, False, 0, 0, 0, 0.0, latency, 0, "error", "", str(exc))
    usage = result.usage
    latency_ms = clock.seconds * 1000.0
    reply = result.completion.text
    correct = await score_reply(item, reply)
    cost = price_cost(price, usage.prompt_tokens, usage.completion_tokens, latency_ms)
    return Outcome(item.id, candidate.key, correct, usage.prompt_tokens, usage.completion_tokens,
                   usage.reasoning_tokens, cost, latency_ms, result.samples, result.stop_reason, reply)  # fmt: skip


async def run_grid(
    runtime: Runtime,
    candidates: Sequence[Candidate],
    items: Sequence[EvalItem],
    *,
    answer_tokens: int,
    concurrency: int = 1,
    on_result: Callable[[Outcome], None] | None = None,
) -> OutcomeTable:
    """Every candidate on every item, item by item; ``concurrency`` items' calls may overlap."""
    table = OutcomeTable()
    slots = asyncio.Semaphore(max(1, concurrency))

    async def one_item(item: EvalItem) -> None:
        async with slots:
            for candidate in candidates:
                outcome = await run_one(runtime, candidate, item, answer_tokens)
                table.add(outcome)
                if on_result is not None:
                    on_result(outcome)

    if concurrency <= 1:
        for item in items:
            await one_item(item)
        return table
    async with asyncio.TaskGroup() as group:
        for item in items:
            group.create_task(one_item(item))
    return table
