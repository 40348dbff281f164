"""Evaluation sets: loaders for the public formats and a generic JSONL, all yielding :class:`EvalItem`.

A data spec is ``kind:PATH`` (``gsm8k``, ``math``, ``svamp``, ``asdiv``, ``humaneval``, ``nq``,
``jsonl``) or a bare path (generic JSONL). Files may be gzip-compressed (``.gz``). Each item says
how to score an answer (``scorer``): ``numeric`` (extracted, normalised number or answer matches),
``math`` (the same, or mathematically equivalent), ``contains`` (a normalised gold answer appears
in the reply, NQ-style), ``exact`` (normalised answers equal) or ``code`` (the reply's code passes
the item's tests in the sandbox).

Generic JSONL rows: ``prompt`` (a string) or ``messages`` (OpenAI chat turns), and one of
``reference`` (a string), ``answers`` (a list of acceptable strings) or ``tests`` (assert lines);
optional ``id`` and ``scorer``.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from router.backends.base import ChatMessage
from router.verifiers.answers import extract_answer

__all__ = ["LOADERS", "EvalItem", "ScorerKind", "load_items", "parse_data_spec", "read_jsonl"]

ScorerKind = Literal["numeric", "math", "contains", "exact", "code"]
_SCORERS: tuple[str, ...] = ("numeric", "math", "contains", "exact", "code")


@dataclass(frozen=True)
class EvalItem:
    """One evaluation prompt with what a correct answer looks like."""

    id: str
    messages: tuple[ChatMessage, ...]
    reference: tuple[str, ...]
    scorer: ScorerKind
    source: str
    tests: str | None = None  # code: assert lines, already calling ``entry_point``
    code_prefix: str = ""  # code: prepended when the reply does not define the function itself
    entry_point: str | None = None

    @property
    def question(self) -> str:
        users = [m.content for m in self.messages if m.role == "user"]
        return users[-1] if users else ""


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a JSONL file (gzip when the name ends in ``.gz``); blank lines skipped."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def _user(text: str) -> tuple[ChatMessage, ...]:
    return (ChatMessage("user", text.strip()),)


def _number_text(value: object) -> str:
    number = float(str(value).replace(",", ""))
    return str(int(number)) if number.is_integer() else f"{number:g}"


def load_gsm8k(path: Path, source: str) -> Iterator[EvalItem]:
    """GSM8K: ``question``; ``answer`` ends in ``#### N``."""
    for i, row in enumerate(read_jsonl(path)):
        final = str(row["answer"]).rsplit("####", 1)[-1].strip()
        yield EvalItem(f"{source}-{i}", _user(row["question"]), (final,), "numeric", source)


def load_math(path: Path, source: str) -> Iterator[EvalItem]:
    """MATH / MATH-500: ``problem``; ``answer`` or the last ``\\boxed{}`` of ``solution``."""
    for i, row in enumerate(read_jsonl(path)):
        answer = row.get("answer") or extract_answer(str(row.get("solution", "")))
        if not answer:
            continue
        yield EvalItem(f"{source}-{i}", _user(row["problem"]), (str(answer),), "math", source)


def load_svamp(path: Path, source: str) -> Iterator[EvalItem]:
    """SVAMP (Qwen2.5-Math eval copy): ``Body`` + ``Question``; numeric ``Answer``."""
    for i, row in enumerate(read_jsonl(path)):
        body = str(row["Body"]).strip()
        body = body if body.endswith((".", "?", "!")) else body + "."
        yield EvalItem(f"{source}-{i}", _user(f"{body} {row['Question']}"), (_number_text(row["Answer"]),),
                       "numeric", source)  # fmt: skip


def load_asdiv(path: Path, source: str) -> Iterator[EvalItem]:
    """ASDiv (Qwen2.5-Math eval copy): ``body`` + ``question``; ``answer`` like ``9 (apples)``."""
    for i, row in enumerate(read_jsonl(path)):
        answer = re.sub(r"\s*\(.*?\)\s*", " ", str(row["answer"])).strip()
        if not answer or ";" in answer:  # multi-part answers have no single reference
            continue
        yield EvalItem(f"{source}-{i}", _user(f"{str(row['body']).strip()} {row['question']}"), (answer,),
                       "numeric", source)  # fmt: skip


def load_nq(path: Path, source: str) -> Iterator[EvalItem]:
    """NQ-Open: ``question``; ``answer`` is a list of acceptable short answers."""
    for i, row in enumerate(read_jsonl(path)):
        question = str(row["question"]).strip()
        question = question[0].upper() + question[1:] + ("" if question.endswith("?") else "?")
        answers = row.get("answer") or row.get("answers") or []
        yield EvalItem(f"{source}-{i}", _user(question), tuple(str(a) for a in answers), "contains", source)


def humaneval_tests(test: str, entry_point: str) -> str:
    """HumanEval's ``check(candidate)`` asserts, rewritten to call the function by name."""
    lines = [line.strip() for line in test.splitlines() if line.strip().startswith("assert ")]
    return "\n".join(re.sub(r"\bcandidate\b", entry_point, line) for line in lines)


_CODE_INSTRUCTION = "Complete this Python function. Reply with the whole function in a code block."


def load_humaneval(path: Path, source: str) -> Iterator[EvalItem]:
    """HumanEval: ``prompt`` (signature + docstring), ``test`` (``check(candidate)``), ``entry_point``."""
    for row in read_jsonl(path):
        prompt, entry = str(row["prompt"]), str(row["entry_point"])
        text = f"{_CODE_INSTRUCTION}\n\n```python\n{prompt}```"
        tests = humaneval_tests(str(row["test"]), entry)
        task_id = str(row.get("task_id", entry)).replace("/", "-")
        yield EvalItem(f"{source}-{task_id}", _user(text), (), "code", source, tests, prompt, entry)


def _generic_messages(row: dict[str, Any]) -> tuple[ChatMessage, ...]:
    if "messages" in row:
        return tuple(ChatMessage(str(m["role"]), str(m["content"])) for m in row["messages"])
    return _user(str(row["prompt"]))


def _generic_scorer(row: dict[str, Any], reference: tuple[str, ...]) -> ScorerKind:
    explicit = row.get("scorer")
    if explicit is not None:
        if explicit not in _SCORERS:
            raise ValueError(f"unknown scorer {explicit!r} (known: {list(_SCORERS)})")
        return explicit  # type: ignore[no-any-return]
    if row.get("tests"):
        return "code"
    if "answers" in row:
        return "contains"
    return "numeric" if reference and re.fullmatch(r"-?[\d,]*\.?\d+(/\d+)?", reference[0].strip()) else "exact"


def load_generic(path: Path, source: str) -> Iterator[EvalItem]:
    """``{prompt|messages, reference|answer|answers|tests, [id], [scorer]}`` per line (``answer`` = ``reference``)."""
    for i, row in enumerate(read_jsonl(path)):
        if "prompt" not in row and "messages" not in row:
            raise ValueError(f"{path}: line {i + 1}: needs 'prompt' or 'messages'")
        answers = row.get("answers")
        single = row.get("reference", row.get("answer"))
        if answers is not None:
            reference = tuple(str(a) for a in answers)
        elif isinstance(single, list):
            reference = tuple(str(a) for a in single)
        else:
            reference = (str(single),) if single is not None else ()
        if not reference and not row.get("tests"):
            raise ValueError(f"{path}: line {i + 1}: needs 'reference' (or 'answer'), 'answers' or 'tests'")
        tests = str(row["tests"]) if row.get("tests") else None
        item_id = str(row.get("id", f"{source}-{i}"))
        yield EvalItem(item_id, _generic_messages(row), reference, _generic_scorer(row, reference), source, tests,
                       str(row.get("code_prefix", "")), row.get("entry_point"))  # fmt: skip


Loader = Callable[[Path, str], Iterator[EvalItem]]
LOADERS: dict[str, Loader] = {
    "gsm8k": load_gsm8k,
    "math": load_math,
    "math500": load_math,
    "svamp": load_svamp,
    "asdiv": load_asdiv,
    "humaneval": load_humaneval,
    "nq": load_nq,
    "nq_open": load_nq,
    "jsonl": load_generic,
}


def parse_data_spec(spec: str) -> tuple[str, Path]:
    """``kind:PATH`` → (kind, path); a bare path is generic JSONL."""
    kind, sep, rest = spec.partition(":")
    if sep and kind in LOADERS:
        return kind, Path(rest)
    if sep and re.fullmatch(r"[a-z_0-9]+", kind) and not Path(spec).exists():
        raise ValueError(f"unknown data kind {kind!r} (known: {sorted(LOADERS)})")
    return "jsonl", Path(spec)


def load_items(specs: Sequence[str], *, limit: int | None = None) -> tuple[list[EvalItem], list[Path]]:
    """Items of every spec (the first ``limit`` of each) and the files they came from."""
    items: list[EvalItem] = []
    paths: list[Path] = []
    for spec in specs:
        kind, path = parse_data_spec(spec)
        if not path.is_file():
            raise FileNotFoundError(f"{spec}: no such file")
        stem = path.name.split(".")[0]
        source = stem if kind == "jsonl" else f"{kind}/{stem}"
        for count, item in enumerate(LOADERS[kind](path, source)):
            if limit is not None and count >= limit:
                break
            items.append(item)
        paths.append(path)
    ids = [item.id for item in items]
    if len(set(ids)) != len(ids):
        raise ValueError("item ids collide across data sources (same file twice, or repeated 'id' values)")
    return items, paths
