"""Process plumbing for ``benchmarks/overhead.py``: start servers, wait for them, account their CPU.

CPU is read from ``/proc`` (Linux): per process tree (a server and its children) and machine-wide,
so a run can say how much of the machine other work took while it measured.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["MachineCpu", "Server", "free_port", "process_tree_cpu_s"]

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def free_port() -> int:
    """A loopback port free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _cpu_ticks(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def process_tree_cpu_s(pids: Sequence[int]) -> float:
    """CPU seconds (user + system) used so far by these processes and all their descendants."""
    if not Path("/proc").is_dir():
        return 0.0
    tree, seen, stack = _children(), set(), list(pids)
    while stack:
        pid = stack.pop()
        if pid not in seen:
            seen.add(pid)
            stack.extend(tree.get(pid, []))
    return sum(_cpu_ticks(pid) for pid in seen) / _TICK


@dataclass
class MachineCpu:
    """Machine-wide busy CPU seconds between two readings, and how much of it was ours."""

    pids: list[int] = field(default_factory=list)
    _start: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @staticmethod
    def _busy_s() -> float:
        try:
            fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        except OSError:
            return 0.0
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return (sum(fields[:8]) - idle) / _TICK

    def _reading(self) -> tuple[float, float, float]:
        return time.monotonic(), self._busy_s(), process_tree_cpu_s([os.getpid(), *self.pids])

    def start(self) -> None:
        self._start = self._reading()

    def stop(self) -> dict[str, float]:
        """Cores busy on average (all work, ours, others') since ``start``."""
        now, busy, ours = self._reading()
        wall = max(now - self._start[0], 1e-9)
        all_cores = (busy - self._start[1]) / wall
        our_cores = (ours - self._start[2]) / wall
        return {"wall_s": round(wall, 1), "busy_cores": round(all_cores, 2), "our_cores": round(our_cores, 2),
                "other_cores": round(max(0.0, all_cores - our_cores), 2)}  # fmt: skip


class Server:
    """A server subprocess with its output in a log file; stopped (with its children) on exit."""

    def __init__(self, name: str, argv: Sequence[str], env: Mapping[str, str], log_dir: Path, cwd: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(list(argv), cwd=cwd, env=dict(env), stdout=self._log,
                                        stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def wait_http(self, url: str, timeout_s: float, headers: Mapping[str, str] | None = None) -> float:
        """Poll ``url`` until it answers 200; seconds it took. Raises with the log tail if the server dies."""
        started = time.monotonic()
        request = urllib.request.Request(url, headers=dict(headers or {}))
        while time.monotonic() - started < timeout_s:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.process.returncode}):\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(request, timeout=2) as response:
                    if response.status == 200:
                        return time.monotonic() - started
            except (OSError, urllib.error.HTTPError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready after {timeout_s:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait(timeout=5)
        self._log.close()
