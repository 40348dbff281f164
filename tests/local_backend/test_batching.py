"""Requests batched together decode exactly as they would alone; the queue is bounded and cancellable."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest
import torch

from local_backend.batching import BatchScheduler, QueueFull
from local_backend.engine import Job, LocalEngine, SamplingParams

PROMPTS = [
    "Q: What is 12 + 7?\nReasoning:",
    "The quick brown fox",
    "Step 1: add the numbers. Step 2: check the result.\n\nWait, let me check again. Alternatively",
    "Wait",
]


class Blocker:
    """A logits processor that holds the engine thread until released (a stand-in for a long generation)."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, generated: Sequence[int], logits: torch.Tensor) -> torch.Tensor:
        self.entered.set()
        assert self.release.wait(30)
        return logits


def _job(prompt: str, **params: object) -> Job:
    return Job(prompt, SamplingParams(**{"max_new_tokens": 24, "logprobs": True, **params}))  # type: ignore[arg-type]


def test_prompts_of_different_lengths_batched_give_their_unbatched_outputs(tiny_engine: LocalEngine) -> None:
    jobs = [_job(p) for p in PROMPTS] + [_job(PROMPTS[0], temperature=1.0, n=2, seed=9)]
    alone = [tiny_engine.run([job])[0] for job in jobs]
    together = tiny_engine.run(jobs)
    assert together[0].batch_rows == 6 and alone[0].batch_rows == 1
    for single, batched in zip(alone, together, strict=True):
        assert [s.token_ids for s in batched.samples] == [s.token_ids for s in single.samples]
        for a, b in zip(single.samples, batched.samples, strict=True):
            assert a.logprobs == pytest.approx(b.logprobs, abs=1e-4)


def test_identical_prompts_across_requests_are_prefilled_once(tiny_engine: LocalEngine) -> None:
    first, second = tiny_engine.run([_job(PROMPTS[0]), _job(PROMPTS[0])])
    assert first.prefill_tokens == first.prompt_tokens and second.prefill_tokens == 0
    assert first.samples[0].token_ids == second.samples[0].token_ids


def test_jobs_arriving_within_the_wait_window_share_a_batch(tiny_engine: LocalEngine) -> None:
    scheduler = BatchScheduler(tiny_engine.run, max_rows=8, wait_s=0.5, max_queue=8)
    try:
        tickets = [scheduler.submit(_job(p, max_new_tokens=4)) for p in PROMPTS[:3]]
        results = [t.future.result(timeout=30) for t in tickets]
    finally:
        scheduler.close()
    assert scheduler.batches == 1
    assert [r.batch_rows for r in results] == [3, 3, 3]


def test_a_batch_holds_at_most_max_rows_sequences(tiny_engine: LocalEngine) -> None:
    scheduler = BatchScheduler(tiny_engine.run, max_rows=3, wait_s=0.5, max_queue=8)
    try:
        tickets = [scheduler.submit(_job(PROMPTS[0], max_new_tokens=2, n=2)) for _ in range(3)]
        rows = [t.future.result(timeout=30).batch_rows for t in tickets]
    finally:
        scheduler.close()
    assert rows == [2, 2, 2] and scheduler.batches == 3


def test_a_full_queue_refuses_at_once_and_cancelling_frees_the_slot(tiny_engine: LocalEngine) -> None:
    scheduler = BatchScheduler(tiny_engine.run, max_rows=1, wait_s=0.0, max_queue=2)
    blocker = Blocker()
    try:
        running = scheduler.submit(Job(PROMPTS[0], SamplingParams(max_new_tokens=50), processors=(blocker,)))
        assert blocker.entered.wait(30)
        waiting = scheduler.submit(_job(PROMPTS[1]))
        started = time.monotonic()
        with pytest.raises(QueueFull) as refused:
            scheduler.submit(_job(PROMPTS[2]))
        assert time.monotonic() - started < 1.0 and refused.value.retry_after > 0
        scheduler.cancel(waiting)  # a queued job leaves the queue at once
        assert waiting.future.cancelled() and scheduler.depth == 1
        scheduler.cancel(running)  # a running job leaves the batch at its next token
        assert scheduler.depth == 0
        blocker.release.set()
        result = running.future.result(timeout=30)
        assert result.samples[0].finish_reason == "cancelled" and len(result.samples[0].token_ids) <= 1
        after = scheduler.submit(_job(PROMPTS[3], max_new_tokens=3))
        assert len(after.future.result(timeout=30).samples[0].token_ids) == 3
    finally:
        blocker.release.set()
        scheduler.close()


@pytest.mark.model
def test_real_model_batched_greedy_outputs_equal_unbatched(real_engine: LocalEngine) -> None:
    prompts = [
        "Q: What is the capital of France?\nA:",
        "The following are questions answered correctly and concisely.\n\nQ: Name a primary colour.\nA:",
        "Once upon a time",
    ]
    jobs = [Job(p, SamplingParams(max_new_tokens=10)) for p in prompts]
    alone = [real_engine.run([job])[0].samples[0].token_ids for job in jobs]
    together = [r.samples[0].token_ids for r in real_engine.run(jobs)]
    assert together == alone


class HoldAfter:
    """A logits processor that holds its row once it has ``tokens`` tokens, until released."""

    def __init__(self, tokens: int) -> None:
        self.tokens = tokens
        self.holding = threading.Event()
        self.release = threading.Event()

    def __call__(self, generated: Sequence[int], logits: torch.Tensor) -> torch.Tensor:
        if len(generated) >= self.tokens:
            self.holding.set()
            assert self.release.wait(30)
        return logits


def test_a_finished_job_gets_its_result_while_the_batch_goes_on(tiny_engine: LocalEngine) -> None:
    alone = tiny_engine.run([_job(PROMPTS[1], max_new_tokens=3)])[0].samples[0].token_ids
    scheduler = BatchScheduler(tiny_engine.run, max_rows=8, wait_s=0.5, max_queue=8)
    hold = HoldAfter(tokens=6)
    try:
        long = scheduler.submit(Job(PROMPTS[0], SamplingParams(max_new_tokens=12), processors=(hold,)))
        short = scheduler.submit(_job(PROMPTS[1], max_new_tokens=3))
        assert hold.holding.wait(30)  # the long job is 6 tokens in, the short one ended after 3
        result = short.future.result(timeout=5)
        assert not long.future.done() and scheduler.depth == 1  # the short job's slot is free already
        assert result.batch_rows == 2 and result.samples[0].token_ids == alone
        hold.release.set()
        assert len(long.future.result(timeout=30).samples[0].token_ids) == 12
    finally:
        hold.release.set()
        scheduler.close()
