"""Run untrusted code against asserts in a sandboxed subprocess, off the event loop.

Each run gets a fresh temporary directory as its working directory and a separate
``python -I -S`` process (isolated: no site-packages, no user environment) with an empty
environment, its own session, resource limits (CPU seconds, address space, file size, process
count, no core dumps) and a wall-clock timeout after which the whole process group is killed.
Inside, ``sandbox_runner.py`` installs an audit hook that refuses sockets, subprocesses and files
outside the directory before the candidate runs. Results are read from tagged lines, so what the
candidate prints cannot pass for a result.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import secrets
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SandboxLimits", "run_sandboxed"]

_RUNNER = Path(__file__).with_name("sandbox_runner.py")


@dataclass(frozen=True)
class SandboxLimits:
    """Limits for one sandboxed run (all tests of one candidate)."""

    timeout_s: float = 10.0
    per_test_s: float = 2.0
    memory_mb: int = 512
    file_mb: int = 1
    processes: int = 16
    output_kb: int = 64


def _apply_limits(limits: SandboxLimits) -> None:  # runs in the child between fork and exec
    import resource

    cpu = math.ceil(limits.timeout_s) + 1
    memory = limits.memory_mb << 20
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_mb << 20, limits.file_mb << 20))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


async def _collect(stream: asyncio.StreamReader, sink: bytearray, cap: int) -> None:
    while len(sink) < cap:
        chunk = await stream.read(4096)
        if not chunk:
            return
        sink += chunk


def _parse(output: bytes, token: str, count: int) -> list[bool]:
    passed = [False] * count
    for line in output.decode("utf-8", "replace").splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == token and parts[1].isdigit() and int(parts[1]) < count:
            passed[int(parts[1])] = parts[2] == "1"
    return passed


async def run_sandboxed(code: str, tests: list[str], limits: SandboxLimits | None = None) -> list[bool]:
    """Pass/fail per test. Tests that had not finished when the process died or timed out fail;
    if the code cannot even load, every test fails."""
    limits = limits or SandboxLimits()
    if not tests:
        return []
    token = secrets.token_hex(16)
    payload = json.dumps({"code": code, "tests": tests, "per_test_s": limits.per_test_s, "token": token}).encode()
    output = bytearray()
    with tempfile.TemporaryDirectory(prefix="thinkroute-sandbox-") as workdir:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-I", "-S", str(_RUNNER),
            cwd=workdir, env={"PATH": "/usr/bin:/bin", "PYTHONHASHSEED": "0", "LANG": "C.UTF-8"},
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
            preexec_fn=lambda: _apply_limits(limits), start_new_session=True,
        )  # fmt: skip
        assert process.stdin is not None and process.stdout is not None
        try:
            async with asyncio.timeout(limits.timeout_s):
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    process.stdin.write(payload)
                    await process.stdin.drain()
                    process.stdin.close()
                await _collect(process.stdout, output, limits.output_kb << 10)
                await process.wait()
        except TimeoutError:
            pass
        finally:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, 9)
                await process.wait()
    return _parse(bytes(output), token, len(tests))
