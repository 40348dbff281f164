"""code_tests runs candidates against the request's asserts in a sandbox that cannot escape."""

from __future__ import annotations

from pathlib import Path

from router.backends.base import ChatMessage
from router.verifiers import VerificationTask
from router.verifiers.code_tests import CodeTestsVerifier, extract_tests
from router.verifiers.sandbox import SandboxLimits, run_sandboxed

REPO = Path(__file__).resolve().parents[3]
PROMPT = "Write add(a, b).\n```python\nassert add(1, 2) == 3\nassert add(-1, 1) == 0\nassert add(2, 2) == 4\n```"
TASK = VerificationTask((ChatMessage("user", PROMPT),))


def test_tests_come_from_the_fenced_block() -> None:
    assert extract_tests(TASK) == ["assert add(1, 2) == 3", "assert add(-1, 1) == 0", "assert add(2, 2) == 4"]


async def test_correct_partial_and_broken_solutions() -> None:
    verifier = CodeTestsVerifier(SandboxLimits(timeout_s=10))
    correct = "```python\ndef add(a, b):\n    return a + b\n```"
    partial = "def add(a, b):\n    return 3 if a == 1 else 0"
    broken = "def add(a, b) return"
    result = await verifier.score(TASK, [correct, partial, broken])
    assert result.scores == [1.0, 2 / 3, 0.0]


async def test_cannot_read_files_outside_its_directory() -> None:
    secret = REPO / "pyproject.toml"
    code = f"def add(a, b):\n    return len(open({str(secret)!r}).read())"
    assert await run_sandboxed(code, ["assert add(1, 2) > 0"]) == [False]
    allowed = "def add(a, b):\n    open('scratch.txt', 'w').write('ok')\n    return open('scratch.txt').read()"
    assert await run_sandboxed(allowed, ["assert add(1, 2) == 'ok'"]) == [True]


async def test_cannot_open_sockets_or_spawn_processes() -> None:
    sock = "import socket\ndef f():\n    socket.socket().connect(('127.0.0.1', 6379))\n    return 1"
    assert await run_sandboxed(sock, ["assert f() == 1"]) == [False]
    spawn = "import os\ndef f():\n    return os.system('true')"
    assert await run_sandboxed(spawn, ["assert f() == 0"]) == [False]


async def test_cannot_run_past_its_time_limit() -> None:
    loop = "def f():\n    while True:\n        pass"
    limits = SandboxLimits(timeout_s=5, per_test_s=0.5)
    assert await run_sandboxed(loop, ["assert f()", "assert 1 == 1"], limits) == [False, True]
    hang_at_import = "while True:\n    pass"
    assert await run_sandboxed(hang_at_import, ["assert True"], SandboxLimits(timeout_s=2, per_test_s=0.5)) == [False]


async def test_no_tests_means_no_score() -> None:
    task = VerificationTask((ChatMessage("user", "Write a poem."),))
    result = await CodeTestsVerifier().score(task, ["roses"])
    assert result.scores == [None]
