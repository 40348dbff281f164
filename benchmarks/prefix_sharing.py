"""Prefix sharing for best-of-N: N samples of one long prompt, with and without a shared prefill.

Shaped like best-of-N traffic: a ~600-token few-shot prompt and 32-token answers, N=8 samples
(temperature 0.8, every sample runs its 32 tokens: end-of-sequence is suppressed so all variants
do the same work). Variants, each in its own process so that peak memory is its own:

    (a) sequential  8 separate `model.generate` calls (8 prefills, batch-1 decoding)
    (b) batched     one `model.generate(num_return_sequences=8)` (batched decoding, but 8 prefills)
    (c) shared      `LocalEngine.generate(n=8)`: one prefill, its KV cache expanded to 8 rows
    (c0) unshared   the engine's own loop with sharing turned off (8 prefills), to separate the
                    gain of sharing from the gain of the loop

Peak memory is the largest resident-set increase during the variant (sampled every 2 ms) over the
process after loading the model and a short warm-up generation.

    .venv/bin/python benchmarks/prefix_sharing.py [--n 8] [--new-tokens 32] [--shots 14] [--threads N]

The last line is JSON: sequential_s, batched_s, shared_prefix_s, unshared_engine_s, ratio (c/a),
ratio_vs_batched (c/b), prompt_tokens, CPU seconds and peak memory per variant (MiB). Wall times
are only comparable when nothing else loads the CPU; CPU seconds are the steadier figure then.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
VARIANTS = ("sequential", "batched", "shared", "unshared")


def few_shot_prompt(shots: int) -> str:
    """A few-shot arithmetic prompt in the scaffold's Q/A style, ending with an open question."""
    lines = ["The following are questions answered correctly and concisely."]
    for i in range(shots):
        a, b = 17 + 7 * i, 23 + 11 * i
        lines.append(f"Q: A shop sells {a} apples in the morning and {b} in the afternoon. How many in total?\n"
                     f"A: {a} + {b} = {a + b}")  # fmt: skip
    lines.append("Q: A train carries 128 passengers and picks up 57 more. How many passengers are on it?\nA:")
    return "\n\n".join(lines)


class PeakRss:
    """Samples this process's resident set size in a thread; ``peak_mib`` is the largest rise seen."""

    def __init__(self) -> None:
        self.base = self._rss()
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            time.sleep(0.002)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    @property
    def peak_mib(self) -> float:
        return (self.peak - self.base) / 2**20


def run_variant(variant: str, n: int, new_tokens: int, shots: int, threads: int | None) -> dict[str, Any]:
    import resource

    import torch

    from local_backend.engine import Job, LocalEngine, SamplingParams

    engine = LocalEngine.load("bundled", threads=threads)
    model, tokenizer = engine.model, engine.tokenizer
    prompt = few_shot_prompt(shots)
    encoded = tokenizer(prompt, return_tensors="pt")
    eos = sorted(engine.eos_ids())

    def no_eos(_: Any, logits: torch.Tensor) -> torch.Tensor:
        logits = logits.clone()
        logits[eos] = float("-inf")
        return logits

    def hf(count: int, seed: int, inputs: Any = encoded) -> None:
        torch.manual_seed(seed)
        with torch.inference_mode():
            model.generate(
                **inputs, do_sample=True, temperature=0.8, top_p=1.0, top_k=0, max_new_tokens=new_tokens,
                min_new_tokens=new_tokens, num_return_sequences=count, pad_token_id=engine.pad_id,
            )  # fmt: skip

    def ours(count: int, share: bool) -> None:
        engine.share_prefix = share
        params = SamplingParams(max_new_tokens=new_tokens, temperature=0.8, n=count, seed=1)
        result = engine.run([Job(prompt, params, processors=(no_eos,))])[0]
        assert all(len(s.token_ids) == new_tokens for s in result.samples)

    hf(1, 0, tokenizer("Warm-up", return_tensors="pt"))  # first-call setup, without the long prompt's memory
    with PeakRss() as memory:
        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        if variant == "sequential":
            for i in range(n):
                hf(1, i)
        elif variant == "batched":
            hf(n, 0)
        else:
            ours(n, share=variant == "shared")
        seconds = time.perf_counter() - started
        cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "variant": variant,
        "seconds": seconds,
        "cpu_s": cpu_after.ru_utime + cpu_after.ru_stime - cpu_before.ru_utime - cpu_before.ru_stime,
        "peak_mib": memory.peak_mib,
        "prompt_tokens": encoded.input_ids.shape[1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--shots", type=int, default=14)
    parser.add_argument("--threads", type=int, help="torch threads (default: every core)")
    parser.add_argument("--variant", choices=VARIANTS, help="run one variant in this process (internal)")
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(run_variant(args.variant, args.n, args.new_tokens, args.shots, args.threads)))
        return
    figures: dict[str, dict[str, Any]] = {}
    for variant in VARIANTS:
        command = [sys.executable, __file__, "--variant", variant, "--n", str(args.n),
                   "--new-tokens", str(args.new_tokens), "--shots", str(args.shots)]  # fmt: skip
        command += ["--threads", str(args.threads)] if args.threads else []
        output = subprocess.run(command, cwd=REPO, check=True, capture_output=True, text=True).stdout
        figures[variant] = json.loads(output.strip().splitlines()[-1])
        row = figures[variant]
        print(f"{variant:>10}: {row['seconds']:7.2f} s wall  {row['cpu_s']:7.2f} s cpu  "
              f"peak +{row['peak_mib']:7.1f} MiB", flush=True)  # fmt: skip
    a, b, c = (figures[v]["seconds"] for v in ("sequential", "batched", "shared"))
    summary = {
        "n": args.n,
        "new_tokens": args.new_tokens,
        "prompt_tokens": figures["shared"]["prompt_tokens"],
        "sequential_s": round(a, 2),
        "batched_s": round(b, 2),
        "shared_prefix_s": round(c, 2),
        "unshared_engine_s": round(figures["unshared"]["seconds"], 2),
        "ratio": round(c / a, 3),
        "ratio_vs_batched": round(c / b, 3),
        "cpu_s": {v: round(f["cpu_s"], 2) for v, f in figures.items()},
        "peak_mib": {v: round(f["peak_mib"], 1) for v, f in figures.items()},
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
