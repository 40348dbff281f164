"""Build the labelled difficulty dataset from the public sets in ``shared/data`` plus generated prompts.

Labels (affinity to a strategy): ``easy`` = a single pass suffices, ``medium`` = bounded reasoning
pays, ``hard`` = guided search pays. The RouteLLM correctness labels are the measured signal
("did the weak model already get it right?"); dataset difficulty levels fill in the rest:

| source | label |
|---|---|
| self_instruct seed + user-oriented instructions, NQ-Open, SVAMP, ASDiv, MATH levels 1-2, generated chat | easy |
| RouteLLM MMLU rows the weak model (Mixtral-8x7B) answered correctly | easy |
| GSM8K (train), MATH levels 3-4, RouteLLM MMLU rows only the strong model (GPT-4) answered correctly | medium |
| MATH level 5, AIME, AMC, OlympiadBench, Minerva math, generated multi-step puzzles | hard |
| RouteLLM MMLU rows both models got wrong | hard |

The committed ``classifiers/data/difficulty.jsonl.gz`` is the training input, so training works
from a clone of the repository alone; this module regenerates it (deterministically) when the
public sets are available.
"""

from __future__ import annotations

import csv
import gzip
import json
import random
import shutil
from collections.abc import Iterator
from pathlib import Path

from classifiers.generated import generate_easy_chat, generate_hard_reasoning

__all__ = ["DATASET_PATH", "Example", "build_dataset", "load_dataset"]

DATASET_PATH = Path(__file__).resolve().parent / "data" / "difficulty.jsonl.gz"
LICENCES_DIR = DATASET_PATH.parent / "licenses"
CAP_PER_SOURCE = 900
_TRUE = ("True", "1", "1.0")
Example = dict[str, str]


def _jsonl(path: Path) -> Iterator[dict[str, object]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def _math_levels(shared: Path) -> Iterator[Example]:
    for row in _jsonl(shared / "math" / "math_test_5000.jsonl"):
        level = str(row.get("level", ""))
        label = {"Level 1": "easy", "Level 2": "easy", "Level 3": "medium", "Level 4": "medium"}.get(level, "hard")
        if level.startswith("Level"):
            yield {"text": str(row["problem"]), "label": label, "source": f"math_{label}"}


def _routellm(shared: Path) -> Iterator[Example]:
    # GSM8K's RouteLLM rows are left out: GSM8K train already stands for that style (medium), and a
    # second, contradictory label on the same kind of text would only add noise.
    for path in sorted((shared / "routellm" / "mmlu").glob("*.csv")):
        with path.open(encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader)
            weak, strong = header.index("mistralai/Mixtral-8x7B-Instruct-v0.1"), header.index("gpt-4-1106-preview")
            for row in reader:
                weak_ok, strong_ok = row[weak].strip() in _TRUE, row[strong].strip() in _TRUE
                label = "easy" if weak_ok else ("medium" if strong_ok else "hard")
                yield {"text": row[0], "label": label, "source": f"routellm_mmlu_{label}"}


def _public(shared: Path) -> Iterator[Example]:
    q = shared / "qwen_math_eval"
    for row in _jsonl(shared / "self_instruct" / "seed_tasks.jsonl"):
        yield {"text": str(row["instruction"]), "label": "easy", "source": "self_instruct"}
    for row in _jsonl(shared / "self_instruct" / "user_oriented_instructions.jsonl"):
        yield {"text": str(row["instruction"]), "label": "easy", "source": "self_instruct"}
    for row in _jsonl(shared / "nq_open" / "NQ-open.dev.jsonl"):
        yield {"text": str(row["question"]).capitalize() + "?", "label": "easy", "source": "nq_open"}
    for row in _jsonl(q / "svamp.jsonl"):
        yield {"text": f"{row['Body']}. {row['Question']}", "label": "easy", "source": "svamp"}
    for row in _jsonl(q / "asdiv.jsonl"):
        yield {"text": f"{row['body']} {row['question']}", "label": "easy", "source": "asdiv"}
    for row in _jsonl(shared / "gsm8k" / "train.jsonl"):
        yield {"text": str(row["question"]), "label": "medium", "source": "gsm8k"}
    for name in ("aime24", "amc23", "olympiadbench", "minerva_math"):
        for row in _jsonl(q / f"{name}.jsonl"):
            yield {"text": str(row.get("problem") or row.get("question")), "label": "hard", "source": name}
    yield from _math_levels(shared)
    yield from _routellm(shared)


def build_dataset(shared: Path, out: Path = DATASET_PATH, seed: int = 0) -> dict[str, int]:
    """Collect, label, de-duplicate and cap every source; write gzip JSONL; copy licences beside it."""
    rng = random.Random(seed)
    by_source: dict[str, list[Example]] = {}
    seen: set[str] = set()
    generated = [{"text": t, "label": "hard", "source": "generated_reasoning"} for t in generate_hard_reasoning(600)]
    generated += [{"text": t, "label": "easy", "source": "generated_chat"} for t in generate_easy_chat(400)]
    for example in [*_public(shared), *generated]:
        key = example["text"].strip().lower()
        if not key or key in seen:
            continue
        seen.add(key)
        by_source.setdefault(example["source"], []).append(example)
    rows: list[Example] = []
    for source in sorted(by_source):
        examples = by_source[source]
        rng.shuffle(examples)
        rows.extend(examples[:CAP_PER_SOURCE])
    rng.shuffle(rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(out, "wb", mtime=0) as handle:
        for row in rows:
            handle.write((json.dumps(row, ensure_ascii=False) + "\n").encode())
    _copy_licences(shared)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["source"]] = counts.get(row["source"], 0) + 1
    return counts


def _copy_licences(shared: Path) -> None:
    LICENCES_DIR.mkdir(parents=True, exist_ok=True)
    for folder in ("gsm8k", "math", "nq_open", "qwen_math_eval", "routellm", "self_instruct"):
        for licence in sorted((shared / folder).glob("LICENSE*")) + sorted((shared / folder).glob("*LICENSE*NOTE*")):
            shutil.copyfile(licence, LICENCES_DIR / f"{folder}.{licence.name}")


def load_dataset(path: Path = DATASET_PATH) -> list[Example]:
    """The committed labelled dataset."""
    return [{"text": str(r["text"]), "label": str(r["label"]), "source": str(r["source"])} for r in _jsonl(path)]
