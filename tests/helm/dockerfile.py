"""A small Dockerfile reader for structural checks (no Docker engine runs here)."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Stage:
    """One build stage: its resolved base image, its alias and its instructions after FROM."""

    base: str
    alias: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, op: str) -> list[str]:
        return [arg for name, arg in self.instructions if name == op]


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue  # comment inside a continued instruction
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    return lines


def _substitute(text: str, args: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m[1] or m[2], m[0]), text)


def parse(path: Path) -> list[Stage]:
    """Stages of a Dockerfile, with global ``ARG`` defaults substituted as Docker does.

    Global defaults apply to ``FROM``, and inside a stage once it redeclares the ``ARG`` (``ARG NAME``).
    """
    globals_: dict[str, str] = {}
    scope: dict[str, str] = {}
    stages: list[Stage] = []
    for line in _logical_lines(path.read_text()):
        op, _, rest = line.partition(" ")
        op, rest = op.upper(), rest.strip()
        if op == "ARG" and not stages:
            name, _, default = rest.partition("=")
            globals_[name] = default
        elif op == "FROM":
            words = rest.split()
            alias = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(_substitute(words[0], globals_), alias))
            scope = {}
        elif op == "ARG":
            name, eq, default = rest.partition("=")
            scope[name] = default if eq else globals_.get(name, "")
            stages[-1].instructions.append((op, rest))
        else:
            stages[-1].instructions.append((op, _substitute(rest, scope)))
    return stages


def exec_form(arg: str) -> list[str]:
    """``["a", "b"]`` (exec form) or a shell string split into words."""
    return list(json.loads(arg)) if arg.startswith("[") else shlex.split(arg)
