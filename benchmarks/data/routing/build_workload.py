"""Build the routing benchmark's held-out workload: ``items.jsonl`` (committed) from public test data.

Mixed from easy to hard, for the bundled Gemma 3 270M base (weak: it must be able to get some items
right, and strategies must differ somewhere). A pilot on this model found: easy general-knowledge
facts are right on every strategy; single-digit sums and the times table are right on some, more
often with prompted thinking; everything from two-digit sums and one-step word problems up is
nearly always wrong. The mix: easy facts (written here), generated arithmetic of four kinds,
generated one- and two-step word problems, SVAMP and ASDiv problems the difficulty classifier never
trained on, NQ-Open facts from the EfficientQA test set (the classifier saw NQ dev only) and GSM8K
test problems. Prompts are the bare question: the local backend wraps them in its own few-shot
scaffold (Q/A for single pass and sampling, Q/Reasoning/Answer for thinking); a pilot with extra
same-kind Q/A shots did worse (the model copies the shots' answers).
Every item gets a ``split``: ``calibration`` (profiles are fitted on it) or ``test`` (the benchmark
reports on it) — disjoint by construction. Deterministic (seeded); licences of the public sets in
``licenses/``.

    .venv/bin/python benchmarks/data/routing/build_workload.py [--shared ../shared/data]
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_SHARED = HERE.parents[3] / "shared" / "data"
CLASSIFIER_DATA = HERE.parents[2] / "classifiers" / "data" / "difficulty.jsonl.gz"

# source: (calibration items, test items), easy to hard
COUNTS = {"facts": (6, 8), "add1": (5, 7), "mul": (4, 6), "sub": (3, 5), "add2": (3, 5), "word1": (4, 5),
          "word2": (3, 4), "svamp": (3, 4), "asdiv": (3, 4), "nq": (3, 4), "gsm8k": (3, 4)}  # fmt: skip
# easy general knowledge (none is one of the backend scaffold's own examples): (question, acceptable answers)
FACTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("What is the capital of Japan?", ("Tokyo",)),
    ("What is the capital of Italy?", ("Rome",)),
    ("What is the capital of Germany?", ("Berlin",)),
    ("What is the capital of Spain?", ("Madrid",)),
    ("What is the capital of England?", ("London",)),
    ("What is the capital of Russia?", ("Moscow",)),
    ("What is the capital of China?", ("Beijing",)),
    ("What is the capital of Egypt?", ("Cairo",)),
    ("What is the capital of Greece?", ("Athens",)),
    ("What is the capital of Canada?", ("Ottawa",)),
    ("Which planet is known as the Red Planet?", ("Mars",)),
    ("Who wrote Romeo and Juliet?", ("Shakespeare",)),
    ("What is the largest ocean on Earth?", ("Pacific",)),
    ("What colour is a ripe banana?", ("yellow",)),
    ("How many legs does a spider have?", ("8", "eight")),
    ("What gas do plants absorb from the air?", ("carbon dioxide", "CO2")),
)


def _rows(path: Path) -> Iterator[dict[str, object]]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def _number(value: object) -> str:
    number = float(str(value))
    return str(int(number)) if number.is_integer() else f"{number:g}"


def facts(rng: random.Random, count: int) -> list[dict[str, object]]:
    chosen = rng.sample(FACTS, count)
    return [{"prompt": question, "answers": list(answers)} for question, answers in chosen]


def arithmetic(rng: random.Random, kind: str, count: int) -> list[dict[str, object]]:
    """Distinct ``What is a op b?`` questions: add1 (one digit), mul (times table), sub (teens), add2 (two digits)."""
    seen: set[str] = set()
    out: list[dict[str, object]] = []
    while len(out) < count:
        if kind == "add1":
            a, b, op = rng.randint(2, 9), rng.randint(2, 9), "+"
        elif kind == "mul":
            a, b, op = rng.randint(2, 9), rng.randint(2, 9), "*"
        elif kind == "sub":
            a, b, op = rng.randint(10, 18), rng.randint(2, 9), "-"
        else:
            a, b, op = rng.randint(11, 60), rng.randint(11, 39), "+"
        prompt = f"What is {a} {op} {b}?"
        if prompt in seen:
            continue
        seen.add(prompt)
        out.append({"prompt": prompt, "reference": str({"+": a + b, "-": a - b, "*": a * b}[op])})
    return out


NAMES = ["Tom", "Ana", "Li", "Sara", "Omar", "Ben", "Mia", "Raj"]
THINGS = ["apples", "pens", "stickers", "marbles", "books", "cards"]


def word_problems(rng: random.Random, count: int, steps: int) -> list[dict[str, object]]:
    """One step (small numbers: has a, buys b) or two steps (has a, gets b, gives away c)."""
    out: list[dict[str, object]] = []
    for _ in range(count):
        name, thing = rng.choice(NAMES), rng.choice(THINGS)
        if steps == 1:
            a, b = rng.randint(2, 9), rng.randint(2, 9)
            prompt = f"{name} has {a} {thing} and buys {b} more. How many {thing} does {name} have now?"
            out.append({"prompt": prompt, "reference": str(a + b)})
            continue
        a, b, c = rng.randint(5, 40), rng.randint(2, 30), rng.randint(1, 9)
        prompt = f"{name} has {a} {thing}, gets {b} more, then gives away {c}. How many {thing} does {name} have now?"
        out.append({"prompt": prompt, "reference": str(a + b - c)})
    return out


def _classifier_texts() -> set[str]:
    with gzip.open(CLASSIFIER_DATA, "rt", encoding="utf-8") as handle:
        return {json.loads(line)["text"] for line in handle}


def svamp(shared: Path, rng: random.Random, count: int, seen: set[str]) -> list[dict[str, object]]:
    rows = [r for r in _rows(shared / "qwen_math_eval" / "svamp.jsonl")
            if not any(str(r["Question"]) in t and str(r["Body"])[:40] in t for t in seen)]  # fmt: skip
    rng.shuffle(rows)
    out: list[dict[str, object]] = []
    for r in rows[:count]:
        body = str(r["Body"]).strip()
        body = body if body.endswith((".", "?", "!")) else body + "."
        out.append({"prompt": f"{body} {r['Question']}", "reference": _number(r["Answer"]), "origin": str(r["ID"])})
    return out


def asdiv(shared: Path, rng: random.Random, count: int, seen: set[str]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for r in _rows(shared / "qwen_math_eval" / "asdiv.jsonl"):
        answer = re.sub(r"\s*\(.*?\)\s*", "", str(r["answer"])).strip()
        text = f"{str(r['body']).strip()} {str(r['question']).strip()}"
        if re.fullmatch(r"-?\d+(\.\d+)?", answer) and not any(str(r["question"]).strip() in t and
                                                                str(r["body"])[:40] in t for t in seen):  # fmt: skip
            rows.append({"prompt": text, "reference": answer, "origin": f"asdiv-{r['idx']}"})
    rng.shuffle(rows)
    return rows[:count]


def nq(shared: Path, rng: random.Random, count: int) -> list[dict[str, object]]:
    rows = [r for r in _rows(shared / "nq_open" / "NQ-open.efficientqa.test.1.1.jsonl") if len(str(r["question"])) < 60]
    rng.shuffle(rows)
    out: list[dict[str, object]] = []
    for r in rows[:count]:
        q = str(r["question"]).strip()
        out.append({"prompt": q[0].upper() + q[1:] + "?", "answers": list(r["answer"])})  # type: ignore[call-overload]
    return out


def gsm8k(shared: Path, rng: random.Random, count: int) -> list[dict[str, object]]:
    rows = [r for r in _rows(shared / "gsm8k" / "test.jsonl") if len(str(r["question"])) < 200]
    rng.shuffle(rows)
    return [{"prompt": str(r["question"]), "reference": str(r["answer"]).rsplit("####", 1)[-1].strip().replace(",", "")}
            for r in rows[:count]]  # fmt: skip


def build(shared: Path, seed: int = 11) -> list[dict[str, object]]:
    """Every item with id, split, source, prompt and reference (or answers)."""
    rng = random.Random(seed)
    seen = _classifier_texts()
    pools: dict[str, list[dict[str, object]]] = {
        "facts": facts(rng, sum(COUNTS["facts"])),
        **{kind: arithmetic(rng, kind, sum(COUNTS[kind])) for kind in ("add1", "mul", "sub", "add2")},
        "word1": word_problems(rng, sum(COUNTS["word1"]), 1),
        "word2": word_problems(rng, sum(COUNTS["word2"]), 2),
        "svamp": svamp(shared, rng, sum(COUNTS["svamp"]), seen),
        "asdiv": asdiv(shared, rng, sum(COUNTS["asdiv"]), seen),
        "nq": nq(shared, rng, sum(COUNTS["nq"])),
        "gsm8k": gsm8k(shared, rng, sum(COUNTS["gsm8k"])),
    }
    items: list[dict[str, object]] = []
    for source, pool in pools.items():
        calibration, _ = COUNTS[source]
        for i, row in enumerate(pool):
            split = "calibration" if i < calibration else "test"
            items.append({"id": f"{source}-{i}", "split": split, "source": source, **row})
    return items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="the shared public datasets folder")
    args = parser.parse_args()
    items = build(args.shared)
    out = HERE / "items.jsonl"
    out.write_text("".join(json.dumps(item) + "\n" for item in items), encoding="utf-8")
    print(f"wrote {len(items)} items to {out}")


if __name__ == "__main__":
    main()
