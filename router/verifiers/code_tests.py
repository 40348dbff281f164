"""code_tests: run each candidate's code against the tests the request gives, in a sandbox.

Tests are ``assert`` statements: the task's explicit ``tests``, else those in a fenced code block
of the latest ``tool`` or ``user`` message that has any. The candidate's code is its last fenced
block (or the whole reply when it has none). Each candidate runs in its own sandboxed process
(see :mod:`router.verifiers.sandbox`); score = fraction of asserts passed, each run on its own.
"""

from __future__ import annotations

import ast
import asyncio
import re
from collections.abc import Sequence

from router.verifiers.base import VerificationTask, VerifierResult
from router.verifiers.sandbox import SandboxLimits, run_sandboxed

__all__ = ["CodeTestsVerifier", "extract_code", "extract_tests"]

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)```", re.DOTALL)
_MAX_TESTS = 64


def extract_code(text: str) -> str:
    """The last fenced code block of a reply (Python blocks preferred), or the reply itself."""
    blocks = _FENCE.findall(text)
    if not blocks:
        return text
    python = [body for lang, body in blocks if lang.lower() in ("python", "py", "python3")]
    return str((python or [body for _, body in blocks])[-1])


def _asserts(source: str) -> list[str]:
    """Top-level assert statements of a block (multi-line ones included), in order."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return [line.strip() for line in source.splitlines() if line.strip().startswith("assert ")]
    return [ast.get_source_segment(source, node) or "" for node in tree.body if isinstance(node, ast.Assert)]


def extract_tests(task: VerificationTask) -> list[str]:
    """Assert statements given with the request (explicit ``tests`` first, then the latest message)."""
    sources = [task.tests] if task.tests else []
    sources += [m.content for m in reversed(task.messages) if m.role in ("tool", "user")]
    for source in sources:
        if not source:
            continue
        blocks = [body for _, body in _FENCE.findall(source)] or [source]
        tests = [t for block in blocks for t in _asserts(block) if t]
        if tests:
            return tests[:_MAX_TESTS]
    return []


class CodeTestsVerifier:
    """Scores each candidate by the share of the request's asserts its code passes."""

    name = "code_tests"

    def __init__(self, limits: SandboxLimits | None = None, *, concurrency: int = 2) -> None:
        self.limits = limits or SandboxLimits()
        self._slots = asyncio.Semaphore(concurrency)

    async def _one(self, code: str, tests: list[str]) -> float:
        async with self._slots:
            passed = await run_sandboxed(code, tests, self.limits)
        return sum(passed) / len(tests)

    async def score(self, task: VerificationTask, candidates: Sequence[str]) -> VerifierResult:
        tests = extract_tests(task)
        if not tests:  # nothing to run: vote-only
            return VerifierResult(scores=[None] * len(candidates), answers=[None] * len(candidates))
        codes = [extract_code(text) for text in candidates]
        scores: list[float | None] = list(await asyncio.gather(*(self._one(code, tests) for code in codes)))
        # passing the same tests does not make two programs one answer: no vote classes for code
        return VerifierResult(scores=scores, answers=[None] * len(candidates))
