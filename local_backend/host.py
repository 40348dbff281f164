"""The server's model: loaded once in a background thread, then served through one batch scheduler."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from local_backend.batching import BatchScheduler, QueueFull, Ticket
from local_backend.engine import LocalEngine
from local_backend.jobs import Job

__all__ = ["ModelHost", "ServerSettings", "Unavailable"]

log = logging.getLogger("local_backend.host")


@dataclass(frozen=True)
class ServerSettings:
    """What ``python -m local_backend`` serves and how it batches.

    ``served_model_names`` are the names ``/v1/models`` lists (the model's own name when empty);
    requests naming any model are served by the one loaded model.
    """

    model: str = "bundled"
    device: str = "auto"
    dtype: str = "auto"
    threads: int | None = None
    max_batch_size: int = 8
    batch_wait_ms: float = 5.0
    max_queue: int = 64
    served_model_names: tuple[str, ...] = ()
    default_max_tokens: int = 512


class Unavailable(Exception):
    """The model cannot take the request now (loading, failed to load, or the queue is full)."""

    def __init__(self, message: str, code: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.retry_after = retry_after


class ModelHost:
    """Holds the engine and its scheduler; :meth:`require` fails fast with :class:`Unavailable` until loaded."""

    def __init__(self, settings: ServerSettings, engine: LocalEngine | None = None) -> None:
        self.settings = settings
        self.engine: LocalEngine | None = None
        self.scheduler: BatchScheduler | None = None
        self.error: BaseException | None = None
        if engine is not None:
            self.attach(engine)

    @property
    def ready(self) -> bool:
        return self.scheduler is not None

    @property
    def names(self) -> tuple[str, ...]:
        if self.settings.served_model_names:
            return self.settings.served_model_names
        return (self.engine.name,) if self.engine is not None else (self.settings.model,)

    async def load(self) -> None:
        """Load the model in a worker thread (the event loop keeps answering health checks)."""
        if self.engine is not None:
            return
        s = self.settings
        try:
            engine = await asyncio.to_thread(LocalEngine.load, s.model, s.device, s.dtype, s.threads)
        except Exception as exc:  # the server stays up to report it on /healthz
            log.exception("loading model %s failed", s.model)
            self.error = exc
            return
        self.attach(engine)

    def attach(self, engine: LocalEngine) -> None:
        s = self.settings
        self.scheduler = BatchScheduler(
            engine.run, max_rows=s.max_batch_size, wait_s=s.batch_wait_ms / 1000, max_queue=s.max_queue, name="server"
        )
        self.engine = engine

    def require(self) -> tuple[LocalEngine, BatchScheduler]:
        """The engine and scheduler, or :class:`Unavailable` (503) while there are none."""
        if self.error is not None:
            raise Unavailable(f"the model failed to load: {self.error}", "model_load_failed", None)
        if self.engine is None or self.scheduler is None:
            raise Unavailable("the model is still loading", "model_loading", 5.0)
        return self.engine, self.scheduler

    def submit(self, jobs: Sequence[Job]) -> list[Ticket]:
        """Queue every job or none: when the queue fills part-way, the ones queued are withdrawn (503)."""
        _, scheduler = self.require()
        tickets: list[Ticket] = []
        try:
            for job in jobs:
                tickets.append(scheduler.submit(job))
        except QueueFull as exc:
            for ticket in tickets:
                scheduler.cancel(ticket)
            raise Unavailable(f"the server is busy: {exc}", "service_unavailable", exc.retry_after) from exc
        return tickets

    async def aclose(self) -> None:
        """Stop the scheduler and wait for its thread (running jobs end at their next token)."""
        if self.scheduler is not None:
            self.scheduler.close()
            await asyncio.to_thread(self.scheduler.join, 30.0)
