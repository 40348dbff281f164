"""code_tests: run each candidate's code against the tests the request gives, in a sandbox.

Tests are the ``assert`` lines of a fenced code block in the last user message (or a ``tool``
message). The candidate's code is its last fenced block (or the whole reply). Each candidate runs
in a fresh temporary directory, in a separate ``python -I -S`` process with CPU, memory, file-size
and process limits, a stripped environment, a wall-clock timeout and an audit hook that forbids
sockets, subprocesses and files outside the directory. Score = fraction of asserts passed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from router.verifiers.base import VerificationTask, VerifierResult

__all__ = ["CodeTestsVerifier", "extract_code", "extract_tests", "run_sandboxed"]

_FENCE = re.compile(r"```[a-zA-Z0-9_+-]*\n(.*?)```", re.DOTALL)
_RUNNER = Path(__file__).with_name("sandbox_runner.py")


def extract_code(text: str) -> str:
    """The last fenced code block of a reply, or the reply itself."""
    blocks = _FENCE.findall(text)
    return str(blocks[-1]) if blocks else text


def extract_tests(task: VerificationTask) -> list[str]:
    """Assert statements given with the request (explicit ``tests`` first, then the messages)."""
    sources = [task.tests] if task.tests else []
    sources += [m.content for m in reversed(task.messages) if m.role in ("tool", "user")]
    for source in sources:
        if not source:
            continue
        blocks = _FENCE.findall(source) or [source]
        tests = [line.strip() for block in blocks for line in block.splitlines() if line.strip().startswith("assert ")]
        if tests:
            return tests
    return []


def _limits(cpu_s: int, memory_bytes: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s))
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
    resource.setrlimit(resource.RLIMIT_NPROC, (64, 64))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.setsid()


async def run_sandboxed(code: str, tests: list[str], *, timeout_s: float = 10.0, per_test_s: float = 2.0,
                        memory_mb: int = 512) -> list[bool]:  # fmt: skip
    """Pass/fail per test; everything fails if the process dies, times out or cannot load the code."""
    payload = json.dumps({"code": code, "tests": tests, "per_test_s": per_test_s}).encode()
    with tempfile.TemporaryDirectory(prefix="thinkroute-sandbox-") as workdir:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-I", "-S", str(_RUNNER),
            cwd=workdir, env={"PATH": "/usr/bin:/bin", "PYTHONHASHSEED": "0"},
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
            preexec_fn=lambda: _limits(int(timeout_s) + 1, memory_mb << 20),
        )  # fmt: skip
        try:
            stdout, _ = await asyncio.wait_for(process.communicate(payload), timeout_s)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, 9)
            await process.wait()
            return [False] * len(tests)
    try:
        lines = stdout.decode().strip().splitlines()
        passed = json.loads(lines[-1])["passed"]
    except (ValueError, IndexError, KeyError):
        return [False] * len(tests)
    return [bool(p) for p in passed][: len(tests)]


class CodeTestsVerifier:
    """Scores each candidate by the share of the request's asserts its code passes."""

    name = "code_tests"

    def __init__(self, *, timeout_s: float = 10.0, per_test_s: float = 2.0, concurrency: int = 2) -> None:
        self.timeout_s = timeout_s
        self.per_test_s = per_test_s
        self._slots = asyncio.Semaphore(concurrency)

    async def _one(self, code: str, tests: list[str]) -> float:
        async with self._slots:
            passed = await run_sandboxed(code, tests, timeout_s=self.timeout_s, per_test_s=self.per_test_s)
        return sum(passed) / len(tests)

    async def score(self, task: VerificationTask, candidates: Sequence[str]) -> VerifierResult:
        tests = extract_tests(task)
        if not tests:
            return VerifierResult(scores=[None] * len(candidates), answers=[None] * len(candidates))
        codes = [extract_code(text) for text in candidates]
        scores: list[float | None] = list(await asyncio.gather(*(self._one(code, tests) for code in codes)))
        # candidates with the same pass pattern are not necessarily equal; no answer classes for code
        return VerifierResult(scores=scores, answers=[None] * len(candidates))
