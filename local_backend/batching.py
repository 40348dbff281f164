"""Dynamic batching: jobs from concurrent callers decode together in one engine thread.

:meth:`BatchScheduler.submit` queues a job and returns a :class:`Ticket` whose future resolves to
the job's :class:`~local_backend.params.EngineResult`. The worker thread takes the oldest job, waits
up to ``wait_s`` (counted from that job's arrival) for more to fill ``max_rows`` sequences, and runs
them as one batch; each job's result is delivered as soon as its own sequences have ended. The
queue is bounded: past ``max_queue`` jobs (waiting or running) ``submit`` raises :class:`QueueFull`
at once instead of making the caller wait. Cancelling a ticket frees its slot immediately: a
waiting job leaves the queue, a running one's rows leave the batch at the next token.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

from local_backend.jobs import Job
from local_backend.params import EngineResult

__all__ = ["BatchScheduler", "QueueFull", "Ticket", "await_ticket", "run_job"]

log = logging.getLogger("local_backend.batching")

RunBatch = Callable[[Sequence[Job], Callable[[int, EngineResult], None]], list[EngineResult]]


class QueueFull(Exception):
    """The scheduler's queue is full; try again after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(eq=False)
class Ticket:
    """A submitted job and the future of its result."""

    job: Job
    future: Future[EngineResult] = field(default_factory=Future)
    enqueued: float = field(default_factory=time.monotonic)


class BatchScheduler:
    """Collects jobs into batches for ``run_batch`` (normally :meth:`LocalEngine.run`) in one worker thread.

    ``run_batch(jobs, on_result)`` may hand each job's result over early through ``on_result(index, result)``.
    ``on_batch(rows)``, when set, is told the sequences of every batch it starts (from the worker thread).
    """

    def __init__(
        self, run_batch: RunBatch, *, max_rows: int = 8, wait_s: float = 0.005, max_queue: int = 64, name: str = "local"
    ) -> None:  # fmt: skip
        self._run_batch = run_batch
        self.max_rows = max(1, max_rows)
        self.wait_s = max(0.0, wait_s)
        self.max_queue = max(1, max_queue)
        self._cond = threading.Condition()
        self._waiting: deque[Ticket] = deque()
        self._running: set[Ticket] = set()
        self._closed = False
        self.batches = 0
        self.on_batch: Callable[[int], None] | None = None
        self._thread = threading.Thread(target=self._loop, name=f"batch-{name}", daemon=True)
        self._thread.start()

    @property
    def depth(self) -> int:
        """Jobs waiting or running."""
        with self._cond:
            return len(self._waiting) + len(self._running)

    def submit(self, job: Job) -> Ticket:
        """Queue ``job``; raises :class:`QueueFull` when ``max_queue`` jobs are already waiting or running."""
        if job.cancel is None:
            job.cancel = threading.Event()
        ticket = Ticket(job)
        with self._cond:
            if self._closed:
                raise RuntimeError("the batch scheduler is closed")
            if len(self._waiting) + len(self._running) >= self.max_queue:
                raise QueueFull(f"{self.max_queue} requests are already queued", retry_after=self._retry_after())
            self._waiting.append(ticket)
            self._cond.notify_all()
        return ticket

    def cancel(self, ticket: Ticket) -> None:
        """Stop a job: out of the queue if it has not started, out of the batch at the next token if it has."""
        assert ticket.job.cancel is not None
        ticket.job.cancel.set()
        with self._cond:
            if ticket in self._waiting:
                self._waiting.remove(ticket)
                ticket.future.cancel()
            self._running.discard(ticket)
            self._cond.notify_all()

    def close(self) -> None:
        """Stop the worker: waiting jobs are cancelled, running ones end at their next token."""
        with self._cond:
            self._closed = True
            while self._waiting:
                self._waiting.popleft().future.cancel()
            for ticket in self._running:
                if ticket.job.cancel is not None:
                    ticket.job.cancel.set()
            self._cond.notify_all()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the worker thread to end (after :meth:`close`); whether it did within ``timeout``.

        Join before the interpreter exits: a daemon thread still inside torch at exit aborts the process.
        """
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _retry_after(self) -> float:
        return 1.0

    def _loop(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            self._run(batch)

    def _next_batch(self) -> list[Ticket] | None:
        with self._cond:
            while True:
                while not self._waiting and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return None
                first = self._waiting[0]
                ready_at = first.enqueued + self.wait_s
                while self._rows(self._waiting) < self.max_rows and not self._closed:
                    remaining = ready_at - time.monotonic()
                    if remaining <= 0 or not self._waiting:
                        break
                    self._cond.wait(remaining)
                if not self._waiting:
                    continue  # everything waiting was cancelled
                batch = [self._waiting.popleft()]
                while self._waiting and self._rows(batch) + self._waiting[0].job.rows <= self.max_rows:
                    batch.append(self._waiting.popleft())
                self._running.update(batch)
                return batch

    @staticmethod
    def _rows(tickets: Sequence[Ticket] | deque[Ticket]) -> int:
        return sum(t.job.rows for t in tickets)

    def _run(self, batch: list[Ticket]) -> None:
        live = [t for t in batch if t.future.set_running_or_notify_cancel()]
        self.batches += 1
        if self.on_batch is not None and live:
            try:
                self.on_batch(self._rows(live))
            except Exception:  # a metrics hook must never stop generation
                log.exception("on_batch hook failed")

        def deliver(index: int, result: EngineResult) -> None:
            """A job whose sequences all ended gets its result (and gives its slot back) at once."""
            ticket = live[index]
            if not ticket.future.done():
                ticket.future.set_result(result)
            with self._cond:
                self._running.discard(ticket)
                self._cond.notify_all()

        try:
            results = self._run_batch([t.job for t in live], deliver) if live else []
        except BaseException as exc:  # every caller in the batch still waiting gets the failure
            log.exception("batch of %d jobs failed", len(live))
            for ticket in live:
                if not ticket.future.done():
                    ticket.future.set_exception(exc)
        else:
            for ticket, result in zip(live, results, strict=True):
                if not ticket.future.done():
                    ticket.future.set_result(result)
        finally:
            with self._cond:
                self._running.difference_update(batch)
                self._cond.notify_all()


async def run_job(scheduler: BatchScheduler, job: Job) -> EngineResult:
    """Submit ``job`` and await its result; cancelling the awaiting task cancels the job (its slot frees).

    Raises :class:`QueueFull` at once when the queue is full.
    """
    return await await_ticket(scheduler, scheduler.submit(job))


async def await_ticket(scheduler: BatchScheduler, ticket: Ticket) -> EngineResult:
    """Await a submitted job's result; cancelling the awaiting task cancels the job (its slot frees)."""
    try:
        return await asyncio.wrap_future(ticket.future)
    except asyncio.CancelledError:
        scheduler.cancel(ticket)  # out of the queue, or out of the batch at the next token
        raise
