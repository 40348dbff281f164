"""Loaders turn each public format (and the generic JSONL) into items with a reference and a scorer."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from router.calibration.datasets import load_items, parse_data_spec

SHARED = Path(__file__).resolve().parents[4] / "shared" / "data"


def _jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    text = "".join(json.dumps(r) + "\n" for r in rows)
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def test_each_format_yields_messages_reference_and_scorer(tmp_path: Path) -> None:
    gsm = _jsonl(tmp_path / "gsm.jsonl", [{"question": "Q1?", "answer": "work\n#### 1,200"}])
    math = _jsonl(tmp_path / "math.jsonl", [{"problem": "P?", "solution": "so $\\boxed{\\frac{1}{2}}$."}])
    svamp = _jsonl(tmp_path / "svamp.jsonl", [{"Body": "Tom has 3 apples", "Question": "How many?", "Answer": 3.0}])
    asdiv = _jsonl(tmp_path / "asdiv.jsonl", [{"body": "B.", "question": "Q?", "answer": "9 (apples)"},
                                               {"body": "B.", "question": "Q?", "answer": "5 (a); 6 (b)"}])  # fmt: skip
    nq = _jsonl(tmp_path / "nq.jsonl", [{"question": "who wrote hamlet", "answer": ["Shakespeare"]}])
    check = "def check(candidate):\n    assert candidate(1, 2) == 3\n"
    humaneval = _jsonl(tmp_path / "he.jsonl.gz", [{"task_id": "HumanEval/0", "prompt": "def add(a, b):\n",
                                                   "entry_point": "add", "test": check}])  # fmt: skip
    items, paths = load_items([f"gsm8k:{gsm}", f"math:{math}", f"svamp:{svamp}", f"asdiv:{asdiv}", f"nq:{nq}",
                               f"humaneval:{humaneval}"])  # fmt: skip
    by_source = {item.source.split("/")[0]: item for item in items}
    assert len(items) == 6 and len(paths) == 6  # the two-part ASDiv answer has no single reference
    assert by_source["gsm8k"].reference == ("1,200",) and by_source["gsm8k"].scorer == "numeric"
    assert by_source["math"].reference == ("\\frac{1}{2}",) and by_source["math"].scorer == "math"
    assert by_source["svamp"].question == "Tom has 3 apples. How many?" and by_source["svamp"].reference == ("3",)
    assert by_source["asdiv"].reference == ("9",)
    assert by_source["nq"].question == "Who wrote hamlet?" and by_source["nq"].scorer == "contains"
    code = by_source["humaneval"]
    assert code.scorer == "code" and code.tests == "assert add(1, 2) == 3" and code.entry_point == "add"
    assert "def add(a, b):" in code.question


def test_generic_jsonl_accepts_prompts_messages_answers_and_tests(tmp_path: Path) -> None:
    data = _jsonl(tmp_path / "mine.jsonl", [
        {"prompt": "What is 2 + 2?", "reference": "4"},
        {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Capital of France?"}],
         "answers": ["Paris"]},
        {"id": "code-1", "prompt": "Write f.", "tests": "assert f() == 1"},
        {"prompt": "Colour of the sky?", "reference": "blue"},
        {"prompt": "What is 3 + 4?", "answer": 7},
        {"prompt": "Colour of grass?", "answer": "green"},
    ])  # fmt: skip
    items, _ = load_items([str(data)])
    assert [i.scorer for i in items] == ["numeric", "contains", "code", "exact", "numeric", "exact"]
    assert items[4].reference == ("7",) and items[5].reference == ("green",)  # `answer` is an alias of `reference`
    assert items[1].messages[0].role == "system" and items[2].id == "code-1"
    assert items[0].id == "mine-0"


def test_limit_applies_per_source_and_bad_input_is_named(tmp_path: Path) -> None:
    data = _jsonl(tmp_path / "many.jsonl", [{"prompt": f"q{i}", "reference": str(i)} for i in range(10)])
    items, _ = load_items([str(data)], limit=3)
    assert [i.reference for i in items] == [("0",), ("1",), ("2",)]
    with pytest.raises(ValueError, match="unknown data kind 'gsm9k'"):
        parse_data_spec("gsm9k:/nowhere.jsonl")
    with pytest.raises(FileNotFoundError):
        load_items([f"gsm8k:{tmp_path / 'missing.jsonl'}"])
    bad = _jsonl(tmp_path / "bad.jsonl", [{"prompt": "no reference"}])
    with pytest.raises(ValueError, match="line 1"):
        load_items([str(bad)])
    with pytest.raises(ValueError, match="collide"):
        load_items([str(data), str(data)])


@pytest.mark.skipif(not SHARED.is_dir(), reason="the shared public datasets are not on this machine")
def test_the_shared_public_files_load() -> None:
    specs = [f"gsm8k:{SHARED / 'gsm8k/test.jsonl'}", f"math:{SHARED / 'math/math500_test.jsonl'}",
             f"math:{SHARED / 'math/math_test_5000.jsonl'}", f"svamp:{SHARED / 'qwen_math_eval/svamp.jsonl'}",
             f"asdiv:{SHARED / 'qwen_math_eval/asdiv.jsonl'}", f"nq:{SHARED / 'nq_open/NQ-open.dev.jsonl'}",
             f"humaneval:{SHARED / 'humaneval/HumanEval.jsonl.gz'}"]  # fmt: skip
    items, _ = load_items(specs, limit=5)
    assert len(items) == 35
    assert all(item.reference or item.tests for item in items)
    assert all(item.tests and "candidate" not in item.tests for item in items if item.scorer == "code")
