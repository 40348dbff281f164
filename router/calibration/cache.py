"""A recording cache of backend calls: regenerate nothing that was generated before.

:class:`RecordingBackend` wraps any :class:`~router.backends.base.Backend`. Each ``generate`` call
is keyed by a sha256 of the request (messages, max_tokens, sampling parameters, n, seed, stop,
thinking budget, assistant prefix) and the backend's identity; a hit replays the stored
:class:`GenerationResult`, a miss calls the backend and appends the result. Strategies are
deterministic given their backend's answers, so a rerun, or a new stopping rule that draws fewer
(or more) waves, replays every call it shares with an earlier run.

The store is a directory of JSONL files: new records are appended (one line each, flushed) to
``samples.jsonl``; ``*.jsonl.gz`` files (committed, compressed snapshots from :meth:`SampleCache.export`)
are read too. Ctrl-C or a crash loses at most the line being written, which the next load skips,
so a run is interruptible and resumes where it stopped. One writer at a time (an advisory lock).
Each record keeps the call's wall-clock seconds, so replayed runs report the latency the calls had.
"""

from __future__ import annotations

import contextlib
import contextvars
import fcntl
import gzip
import hashlib
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

from router.backends.base import (
    Backend,
    BackendCapabilities,
    Completion,
    GenerationRequest,
    GenerationResult,
    StreamChunk,
    Usage,
)
from router.errors import ThinkrouteError

__all__ = [
    "CacheMiss",
    "CallClock",
    "OfflineBackend",
    "RecordingBackend",
    "SampleCache",
    "call_clock",
    "capabilities_json",
    "request_key",
]

_FORMAT = 1
_WRITE_FILE = "samples.jsonl"
_META_FILE = "backends.json"


class CacheMiss(ThinkrouteError):
    """A replay-only run asked for a call that was never recorded."""


def request_key(identity: str, request: GenerationRequest) -> str:
    """sha256 of everything that determines a call's output (not the deadline)."""
    thinking = request.thinking
    payload = {
        "v": _FORMAT,
        "backend": identity,
        "messages": [[m.role, m.content] for m in request.messages],
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "n": request.n,
        "stop": list(request.stop),
        "seed": request.seed,
        "thinking": None if thinking is None else [thinking.max_tokens, thinking.min_tokens, thinking.effort],
        "logprobs": request.logprobs,
        "assistant_prefix": request.assistant_prefix,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _result_to_json(result: GenerationResult) -> dict[str, Any]:
    completions = [asdict(c) for c in result.completions]
    return {"model": result.model, "usage": asdict(result.usage), "completions": completions}


def _result_from_json(data: dict[str, Any]) -> GenerationResult:
    return GenerationResult([Completion(**c) for c in data["completions"]], Usage(**data["usage"]), data["model"])


@dataclass
class CallClock:
    """Backend seconds and call counts of one unit of work (recorded seconds on replay)."""

    seconds: float = 0.0
    calls: int = 0
    hits: int = 0


_CLOCK: contextvars.ContextVar[CallClock | None] = contextvars.ContextVar("thinkroute_call_clock", default=None)


@contextlib.contextmanager
def call_clock() -> Iterator[CallClock]:
    """Accumulate, for the calls made inside the block, the seconds each took when it was recorded."""
    clock = CallClock()
    token = _CLOCK.set(clock)
    try:
        yield clock
    finally:
        _CLOCK.reset(token)


class SampleCache:
    """Append-only store of call results keyed by :func:`request_key`."""

    def __init__(self, directory: Path, *, writable: bool = True) -> None:
        self.directory = Path(directory)
        self.writable = writable
        self._records: dict[str, dict[str, Any]] = {}
        self._handle: IO[str] | None = None
        self.skipped_lines = 0
        if self.directory.is_dir():
            self._load()

    def _load(self) -> None:
        files = sorted(self.directory.glob("*.jsonl.gz")) + sorted(self.directory.glob("*.jsonl"))
        for path in files:
            opener = gzip.open if path.name.endswith(".gz") else open
            with opener(path, "rt", encoding="utf-8") as handle:
                for line in handle:
                    try:
                        record = json.loads(line)
                        self._records[record["key"]] = record
                    except (ValueError, KeyError, TypeError):
                        self.skipped_lines += 1  # a line cut short by an interrupted run

    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, key: str) -> bool:
        return key in self._records

    def get(self, key: str) -> dict[str, Any] | None:
        return self._records.get(key)

    def _writer(self) -> IO[str]:
        if self._handle is None:
            if not self.writable:
                raise CacheMiss("the sample cache is read-only (replay)")
            self.directory.mkdir(parents=True, exist_ok=True)
            handle = (self.directory / _WRITE_FILE).open("a+", encoding="utf-8")
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                raise ThinkrouteError(f"{self.directory}: another process is writing this cache") from None
            handle.seek(0, 2)
            if handle.tell() > 0:
                handle.seek(handle.tell() - 1)
                if handle.read(1) != "\n":  # the previous run died mid-line: start a fresh one
                    handle.write("\n")
            self._handle = handle
        return self._handle

    def put(self, key: str, record: dict[str, Any]) -> None:
        """Store one record and flush it to disk at once."""
        record = {"key": key, **record}
        handle = self._writer()
        handle.write(json.dumps(record, separators=(",", ":")) + "\n")
        handle.flush()
        self._records[key] = record

    def read_meta(self) -> dict[str, Any]:
        path = self.directory / _META_FILE
        return dict(json.loads(path.read_text(encoding="utf-8"))) if path.is_file() else {}

    def write_meta(self, meta: dict[str, Any]) -> None:
        if not self.writable:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        merged = {**self.read_meta(), **meta}
        (self.directory / _META_FILE).write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n", encoding="utf-8")

    def export(self, path: Path, keys: set[str] | None = None) -> int:
        """Write the records (all, or those in ``keys``) to one gzip JSONL, sorted by key; returns the count."""
        chosen = sorted(k for k in self._records if keys is None or k in keys)
        path.parent.mkdir(parents=True, exist_ok=True)
        with gzip.GzipFile(path, "wb", mtime=0) as raw:
            for key in chosen:
                raw.write((json.dumps(self._records[key], separators=(",", ":")) + "\n").encode())
        return len(chosen)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def capabilities_json(capabilities: BackendCapabilities) -> dict[str, Any]:
    """The capability flags strategies branch on (stored so a replay takes the same branches)."""
    return {"native_n": capabilities.native_n, "thinking_knob": capabilities.thinking_knob,
            "budget_forcing": capabilities.budget_forcing, "stepwise": capabilities.stepwise}  # fmt: skip


@dataclass
class OfflineBackend:
    """Stands in for a backend that is not loaded (replay): same name and capabilities, no generation."""

    name: str
    capabilities: BackendCapabilities = field(default_factory=BackendCapabilities)

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        raise CacheMiss(f"backend {self.name!r} is offline and this call was never recorded")

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamChunk]:
        raise CacheMiss(f"backend {self.name!r} is offline and this call was never recorded")
        yield StreamChunk()  # pragma: no cover - makes this an async generator


class RecordingBackend:
    """A backend that answers from the cache when it can and records every call it makes.

    ``mode="replay"`` never calls the wrapped backend: a miss raises :class:`CacheMiss`.
    Other attributes (``ready``, ``start``, ``step`` …) pass through to the wrapped backend.
    """

    def __init__(
        self, backend: Backend, cache: SampleCache, identity: str, *, mode: Literal["record", "replay"] = "record"
    ) -> None:
        self._backend = backend
        self.cache = cache
        self.identity = identity
        self.mode = mode
        self.name = backend.name
        self.capabilities = backend.capabilities
        self.hits = 0
        self.misses = 0
        self.used: set[str] = set()  # keys this wrapper served or recorded (for exporting a snapshot)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        key = request_key(self.identity, request)
        self.used.add(key)
        clock = _CLOCK.get()
        record = self.cache.get(key)
        if record is not None:
            self.hits += 1
            if clock is not None:
                clock.seconds += float(record.get("seconds", 0.0))
                clock.calls += 1
                clock.hits += 1
            return _result_from_json(record["result"])
        if self.mode == "replay":
            raise CacheMiss(f"no recorded call for backend {self.identity!r} (key {key[:12]}); run without --replay")
        started = time.perf_counter()
        result = await self._backend.generate(request.with_(deadline=None))
        seconds = round(time.perf_counter() - started, 4)  # as stored, so a replay reports the same latency
        self.misses += 1
        self.cache.put(key, {"backend": self.identity, "n": request.n, "seed": request.seed,
                             "max_tokens": request.max_tokens, "seconds": seconds,
                             "result": _result_to_json(result)})  # fmt: skip
        if clock is not None:
            clock.seconds += seconds
            clock.calls += 1
        return _result_from_json(_result_to_json(result))

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamChunk]:
        """The cached (or recorded) completion as one text chunk and a final chunk."""
        result = await self.generate(request.with_(n=1))
        completion = result.completions[0]
        if completion.reasoning:
            yield StreamChunk(reasoning=completion.reasoning)
        yield StreamChunk(text=completion.text)
        yield StreamChunk(finish_reason=completion.finish_reason, usage=result.usage)
