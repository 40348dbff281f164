"""Record real samples from the bundled model, once, for the early-stopping benchmark to replay.

Gemma 3 270M is a base model: it does arithmetic only from a few-shot scaffold in its own format
(``7 + 2 = 9`` lines; a ``Q:``/``A:`` scaffold for word problems) and is right on a fraction of
samples, which is what early stopping needs (on questions it always or never gets right, every
rule is trivially fine). Questions: generated one- and two-step arithmetic, plus SVAMP word
problems from ../shared/data (MIT). Each question gets ``--samples`` completions from one call of
the local backend's engine (one prefill shared by the samples, seeded per question), cut at the
first newline.

    .venv/bin/python benchmarks/record_samples.py            # ~10 min on 2 CPU cores
    .venv/bin/python benchmarks/record_samples.py --per-kind 2 --svamp 4 --out /tmp/pilot.jsonl.gz

Writes ``benchmarks/data/early_stopping_samples.jsonl.gz``: one JSON object per line with
``id``, ``source``, ``kind``, ``question``, ``prompt``, ``answer`` and ``samples``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data"
OUT = DATA / "early_stopping_samples.jsonl.gz"
SVAMP = Path(__file__).resolve().parents[2] / "shared" / "data" / "qwen_math_eval" / "svamp.jsonl"

ARITHMETIC_SHOTS = "2 + 3 = 5\n9 - 4 = 5\n3 * 4 = 12\n12 + 5 = 17\n6 + 2 - 3 = 5\n"
WORD_SHOTS = (
    "Q: Tom had 5 apples. He bought 3 more apples. How many apples does Tom have now?\nA: 8\n\n"
    "Q: There are 9 birds on a tree. 4 birds fly away. How many birds are left on the tree?\nA: 5\n\n"
    "Q: Each box has 6 pens. How many pens are in 2 boxes?\nA: 12\n\n"
)


def _arithmetic(kind: str, rng: random.Random) -> tuple[str, int]:
    """One generated expression of the given kind and its value."""
    small = lambda: rng.randint(2, 9)  # noqa: E731
    if kind == "add":
        a, b = small(), small()
        return f"{a} + {b}", a + b
    if kind == "sub":
        a, b = rng.randint(10, 18), small()
        return f"{a} - {b}", a - b
    if kind == "mul":
        a, b = small(), small()
        return f"{a} * {b}", a * b
    if kind == "add2":
        a, b = rng.randint(10, 40), small()
        return f"{a} + {b}", a + b
    a, b, c = small(), small(), rng.randint(1, 5)  # two steps
    return f"{a} + {b} - {c}", a + b - c


def generated_questions(per_kind: int, seed: int) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for kind in ("add", "sub", "mul", "add2", "two_step"):
        seen: set[str] = set()
        while len(seen) < per_kind:
            expression, value = _arithmetic(kind, rng)
            if expression in seen:
                continue
            seen.add(expression)
            yield {"id": f"gen-{kind}-{len(seen)}", "source": "generated", "kind": kind,
                   "question": f"What is {expression}?", "prompt": f"{ARITHMETIC_SHOTS}{expression} =",
                   "answer": str(value)}  # fmt: skip


def svamp_questions(count: int, seed: int) -> Iterator[dict[str, Any]]:
    """Short one-operation SVAMP problems with small whole-number answers."""
    if count <= 0 or not SVAMP.exists():
        return
    rows = [json.loads(line) for line in SVAMP.read_text().splitlines() if line.strip()]
    easy = [r for r in rows if r["Type"] in ("Addition", "Subtraction") and float(r["Answer"]).is_integer()
            and 0 < float(r["Answer"]) <= 30 and len(r["Body"]) + len(r["Question"]) < 160]  # fmt: skip
    random.Random(seed).shuffle(easy)
    for row in easy[:count]:
        question = f"{row['Body'].strip().rstrip('.')}. {row['Question'].strip()}"
        yield {"id": f"svamp-{row['ID']}", "source": "svamp", "kind": row["Type"].lower(), "question": question,
               "prompt": f"{WORD_SHOTS}Q: {question}\nA:", "answer": str(int(float(row["Answer"])))}  # fmt: skip


def sample(engine: Any, prompt: str, n: int, temperature: float, max_new_tokens: int, seed: int) -> list[str]:
    """``n`` samples of ``prompt`` from the product's own engine (one prefill shared by the n samples),
    each cut at its first newline."""
    from local_backend.engine import SamplingParams

    params = SamplingParams(max_new_tokens=max_new_tokens, temperature=temperature, n=n, stop=("\n",), seed=seed)
    result = engine.generate(prompt, params)
    return [s.text.strip("\n").split("\n")[0].strip() for s in result.samples]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-kind", type=int, default=14, help="generated questions per arithmetic kind (5 kinds)")
    parser.add_argument("--svamp", type=int, default=24, help="SVAMP word problems")
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--max-new-tokens", type=int, default=8)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    args = parser.parse_args()
    from local_backend.engine import LocalEngine

    items = [*generated_questions(args.per_kind, args.seed), *svamp_questions(args.svamp, args.seed)]
    engine = LocalEngine.load("bundled", threads=args.threads)
    started = time.time()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".partial")
    with gzip.open(tmp, "wt", encoding="utf-8") as out:
        for i, item in enumerate(items, 1):
            texts = sample(engine, item["prompt"], args.samples, args.temperature, args.max_new_tokens, args.seed + i)
            out.write(json.dumps({**item, "samples": texts}) + "\n")
            hits = sum(t.split(" ")[0].rstrip(".") == item["answer"] for t in texts)
            print(f"{i}/{len(items)} {item['id']} {item['answer']!r} ~{hits}/{len(texts)} {texts[:5]} "
                  f"({time.time() - started:.0f}s)", flush=True)  # fmt: skip
    tmp.replace(args.out)
    print(f"wrote {len(items)} questions to {args.out}")


if __name__ == "__main__":
    main()
