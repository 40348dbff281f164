"""Dynamic batching on the local backend: concurrent requests one at a time vs decoded together.

Eight clients send different questions at the same moment (greedy, 32-token cap, the scaffold's stop
sequences) to `LocalBackend` over the bundled model. Same process, same engine, back to back:

    (a) one at a time  max_batch_size=1 (requests queue FIFO and run alone)
    (b) batched        max_batch_size=8, batch_wait_ms=5 (requests arriving together decode as one batch)

Greedy outputs are compared between the two runs (they must be identical). Reports wall time until
the last answer, generated tokens per second, and per-request latency.

    .venv/bin/python benchmarks/batching.py [--clients 8] [--max-tokens 32] [--threads N]

The last line is JSON: unbatched_s, batched_s, speedup, CPU seconds and tokens/s for both, p50/max
latency, identical. Wall times are only comparable when nothing else loads the CPU; CPU seconds are
the steadier figure then.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import time
from typing import Any

QUESTIONS = [
    "What is the capital of France?",
    "What is 12 + 30?",
    "Name a primary colour.",
    "A box has 3 red and 5 blue pens. How many pens are in the box?",
    "Write a one-line greeting for a new colleague who starts on Monday.",
    "What is the opposite of cold?",
    "How many legs does a spider have?",
    "Translate 'thank you' into French.",
    "What is 9 times 7?",
    "Which planet is closest to the sun?",
]


async def _round(engine: Any, clients: int, max_tokens: int, batch: int) -> dict[str, Any]:
    from router.backends.base import ChatMessage, GenerationRequest
    from router.backends.local import LocalBackend
    from router.policy.schema import LocalBackendConfig

    config = LocalBackendConfig(type="local", max_batch_size=batch, batch_wait_ms=5, max_queue=64)
    backend = LocalBackend("bench", config, engine=engine)
    requests = [
        GenerationRequest((ChatMessage("user", QUESTIONS[i % len(QUESTIONS)]),), max_tokens=max_tokens)
        for i in range(clients)
    ]

    async def one(request: GenerationRequest) -> tuple[float, str, int]:
        started = time.perf_counter()
        result = await backend.generate(request)
        return time.perf_counter() - started, result.completions[0].text, result.usage.completion_tokens

    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    answers = await asyncio.gather(*(one(r) for r in requests))
    wall = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    await backend.aclose()
    tokens = sum(a[2] for a in answers)
    latencies = [a[0] for a in answers]
    return {
        "wall_s": wall,
        "cpu_s": cpu_after.ru_utime + cpu_after.ru_stime - cpu_before.ru_utime - cpu_before.ru_stime,
        "tokens": tokens,
        "tokens_per_s": tokens / wall,
        "p50_s": statistics.median(latencies),
        "max_s": max(latencies),
        "texts": [a[1] for a in answers],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--threads", type=int, help="torch threads (default: every core)")
    args = parser.parse_args()
    from local_backend.engine import LocalEngine, SamplingParams

    engine = LocalEngine.load("bundled", threads=args.threads)
    engine.generate("Warm-up", SamplingParams(max_new_tokens=2))
    unbatched = asyncio.run(_round(engine, args.clients, args.max_tokens, batch=1))
    batched = asyncio.run(_round(engine, args.clients, args.max_tokens, batch=args.clients))
    for name, row in (("one at a time", unbatched), ("batched", batched)):
        print(f"{name:>14}: {row['wall_s']:6.2f} s ({row['cpu_s']:.2f} s cpu)  {row['tokens_per_s']:6.1f} tok/s  "
              f"latency p50 {row['p50_s']:.2f} s, max {row['max_s']:.2f} s  ({row['tokens']} tokens)")  # fmt: skip
    summary = {
        "clients": args.clients,
        "max_tokens": args.max_tokens,
        "unbatched_s": round(unbatched["wall_s"], 2),
        "batched_s": round(batched["wall_s"], 2),
        "speedup": round(unbatched["wall_s"] / batched["wall_s"], 2),
        "unbatched_cpu_s": round(unbatched["cpu_s"], 2),
        "batched_cpu_s": round(batched["cpu_s"], 2),
        "unbatched_tokens_per_s": round(unbatched["tokens_per_s"], 1),
        "batched_tokens_per_s": round(batched["tokens_per_s"], 1),
        "unbatched_p50_s": round(unbatched["p50_s"], 2),
        "batched_p50_s": round(batched["p50_s"], 2),
        "unbatched_max_s": round(unbatched["max_s"], 2),
        "batched_max_s": round(batched["max_s"], 2),
        "identical_outputs": unbatched["texts"] == batched["texts"],
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
