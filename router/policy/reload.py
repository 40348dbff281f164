"""Hot reload: on SIGHUP or when the file changes, swap in the new policy atomically.

A new policy is validated and its runtime built (reusing unchanged backends) before the swap,
so in-flight requests finish on the runtime they started with; an invalid file is rejected
with a log line and the current policy keeps serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path

from router.errors import PolicyError
from router.policy.loader import load_policy
from router.policy.schema import Policy

__all__ = ["PolicyReloader"]

log = logging.getLogger("thinkroute.policy")


def _stamp(path: Path) -> tuple[float, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_mtime, stat.st_size)


class PolicyReloader:
    """Watches a policy file; ``apply`` installs a validated policy and returns its version."""

    def __init__(self, path: Path, apply: Callable[[Policy], Awaitable[int]], *, interval_s: float = 1.0) -> None:
        self.path = path
        self._apply = apply
        self._interval = interval_s
        self._stamp = _stamp(path)
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self.rejected = 0
        self.last_error: str | None = None

    async def reload(self, reason: str = "request") -> bool:
        """Load and apply the file now; ``False`` (old policy kept) when it is invalid."""
        async with self._lock:
            self._stamp = _stamp(self.path)
            try:
                policy = load_policy(self.path)
                version = await self._apply(policy)
            except PolicyError as exc:
                self.rejected += 1
                self.last_error = exc.message
                log.error("policy reload (%s) rejected; still serving the previous policy: %s", reason, exc.message)
                return False
            except Exception as exc:  # e.g. a new backend failed to start: keep serving the old runtime
                self.rejected += 1
                self.last_error = str(exc)
                log.exception("policy reload (%s) failed; still serving the previous policy", reason)
                return False
            self.last_error = None
            log.info("policy reloaded (%s): version %d from %s", reason, version, self.path)
            return True

    def start(self) -> None:
        """Poll the file for changes and, in the main thread, reload on SIGHUP."""
        loop = asyncio.get_running_loop()
        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError, AttributeError):
            loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(self.reload("SIGHUP")))
        self._task = loop.create_task(self._watch())

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            if _stamp(self.path) != self._stamp:
                await self.reload("file changed")

    async def stop(self) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError, AttributeError):
            loop.remove_signal_handler(signal.SIGHUP)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
