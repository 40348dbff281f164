"""Routing benchmark (issue 11): thinkroute against every fixed strategy, on a held-out mixed workload.

Every candidate of ``policies/routing-bench.yaml`` (single pass; bounded reasoning at two budgets;
best-of-N with the vote verifier and the Beta stopping rule at two N) runs on every item of
``benchmarks/data/routing/items.jsonl`` through the recording cache. Profiles are fitted on the
``calibration`` split only; the report is on the disjoint ``test`` split: each fixed strategy, and
thinkroute (classifier difficulty + calibrated profiles + the planner) at a sweep of ``min_quality``,
where each routed item gets exactly the outcome its chosen candidate had (same calls, same seeds).

    .venv/bin/python benchmarks/routing.py            # live: generate whatever is not cached yet
    .venv/bin/python benchmarks/routing.py --replay   # every figure from the committed samples, no model

Live runs write ``benchmarks/data/routing/samples/`` (the compressed samples); live and replayed
runs write the calibrated ``policies/profiles/routing-bench.yaml``, ``benchmarks/results/routing.md``
and its plots; a pilot (``--limit N``) writes nothing but its JSON line. The last line printed is a JSON object of
headline figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from router.calibration import (  # noqa: E402
    EvalItem,
    OperatingPoint,
    OutcomeTable,
    SampleCache,
    dominates,
    fit_profiles,
    fixed_point,
    load_items,
    recording_runtime,
    run_grid,
    score_difficulty,
    sweep,
    write_profiles_file,
)
from router.calibration.calibrate import route_candidates  # noqa: E402
from router.calibration.profiles import data_fingerprint  # noqa: E402
from router.calibration.report import plot_accuracy_vs_cost, plot_quality_curves, points_table  # noqa: E402
from router.calibration.simulate import cost_axis, route_choices  # noqa: E402
from router.policy import Policy, load_policy  # noqa: E402

POLICY = ROOT / "policies" / "routing-bench.yaml"
DATA = ROOT / "benchmarks" / "data" / "routing"
ITEMS = DATA / "items.jsonl"
SNAPSHOT = DATA / "samples"
RUN_FILE = SNAPSHOT / "run.json"
WORK_CACHE = ROOT / ".thinkroute-cache" / "routing-bench"
PROFILES = ROOT / "policies" / "profiles" / "routing-bench.yaml"
RESULTS = ROOT / "benchmarks" / "results"
RUN_NOTE = "one model thread, items one at a time, on a 2-core CPU shared with other jobs"
QUALITIES = tuple(round(0.05 * i, 2) for i in range(21))
# slug: (label, candidate)
FIXED = {"single_pass": ("always single pass", "single"),
         "bounded_reasoning_32": ("always bounded reasoning (32)", "think[thinking_budget=32]"),
         "bounded_reasoning_64": ("always bounded reasoning (64)", "think[thinking_budget=64]"),
         "best_of_4": ("always best-of-4", "vote[n=4]"),
         "best_of_n": ("always best-of-8 (N max)", "vote[n=8]")}  # fmt: skip


def workload(limit: int | None) -> tuple[list[EvalItem], list[EvalItem], dict[str, str]]:
    """(calibration, test) items and each item's source; ``limit`` keeps the first N of each split (pilots)."""
    items, _ = load_items([f"jsonl:{ITEMS}"])
    rows = [json.loads(line) for line in ITEMS.read_text().splitlines() if line.strip()]
    splits = {row["id"]: row["split"] for row in rows}
    calibration = [i for i in items if splits[i.id] == "calibration"][:limit]
    test = [i for i in items if splits[i.id] == "test"][:limit]
    return calibration, test, {row["id"]: row["source"] for row in rows}


async def generate(
    policy: Policy, items: list[EvalItem], *, replay: bool, concurrency: int, work: Path, export: bool
) -> OutcomeTable:
    """Every candidate on every item, through the cache (live: the work cache seeded from the snapshot)."""
    if replay:
        cache = SampleCache(SNAPSHOT, writable=False)
    else:
        work.mkdir(parents=True, exist_ok=True)
        for path in SNAPSHOT.glob("*"):
            if not (work / path.name).exists():
                shutil.copy(path, work / path.name)
        cache = SampleCache(work)
    candidates, answer_tokens = route_candidates(policy, "auto")
    started, done = time.monotonic(), [0]
    total = len(items) * len(candidates)

    def progress(outcome: object) -> None:
        done[0] += 1
        if done[0] % len(candidates) == 0 or done[0] == total:
            elapsed = time.monotonic() - started
            eta = elapsed / done[0] * (total - done[0])
            print(f"  {done[0]}/{total} runs, {elapsed:.0f} s elapsed, ~{eta:.0f} s left", flush=True)

    try:
        async with recording_runtime(policy, cache, replay=replay) as runtime:
            table = await run_grid(runtime, candidates, items, answer_tokens=answer_tokens,
                                   concurrency=concurrency, on_result=progress)  # fmt: skip
            used = set().union(*(getattr(b, "used", set()) for b in runtime.backends.values()))
    finally:
        cache.close()
    if export and not replay:
        count = cache.export(SNAPSHOT / "samples.jsonl.gz", used)
        shutil.copy(work / "backends.json", SNAPSHOT / "backends.json")
        misses = sum(getattr(b, "misses", 0) for b in runtime.backends.values())
        if misses:  # a run that generated something: how long generating took (a pure cache rerun keeps the old one)
            RUN_FILE.write_text(json.dumps({"calls": count, "generated_calls": misses,
                                            "generation_seconds": round(time.monotonic() - started, 1),
                                            "note": RUN_NOTE}, indent=2) + "\n")  # fmt: skip
        print(f"exported {count} recorded calls to {SNAPSHOT}", flush=True)
    return table


def _closest(
    router: list[OperatingPoint], target: OperatingPoint, cost: Callable[[OperatingPoint], float]
) -> tuple[OperatingPoint, bool]:
    """The cheapest router point within 1 point of ``target``'s accuracy (else the most accurate); met?"""
    meeting = [p for p in router if p.accuracy >= target.accuracy - 0.01 - 1e-9]
    if meeting:
        return min(meeting, key=lambda p: (cost(p), -p.accuracy)), True
    return max(router, key=lambda p: (p.accuracy, -cost(p))), False


def headline(fixed: dict[str, OperatingPoint], router: list[OperatingPoint]) -> dict[str, object]:
    """The figures the issue asks for: best-of-N vs the router at its best setting meeting the target;
    and the same comparison against the most accurate fixed strategy (a harder bar when that is not best-of-N)."""
    _, cost = cost_axis([*fixed.values(), *router])
    bon = fixed["best_of_n"]
    best, met = _closest(router, bon, cost)
    ratio = cost(best) / cost(bon) if cost(bon) else float("nan")
    top_slug = max(fixed, key=lambda slug: (fixed[slug].accuracy, -cost(fixed[slug])))
    top = fixed[top_slug]
    vs_top, top_met = _closest(router, top, cost)
    return {
        "items_test": bon.items,
        "best_of_n_accuracy": round(bon.accuracy, 4),
        "best_of_n_cost": bon.mean_cost_usd,
        "best_of_n_tokens": round(bon.mean_tokens, 2),
        "best_of_n_p95_ms": round(bon.latency_p95_ms, 1),
        "router_min_quality": best.min_quality,
        "router_accuracy": round(best.accuracy, 4),
        "router_cost": best.mean_cost_usd,
        "router_tokens": round(best.mean_tokens, 2),
        "router_p95_ms": round(best.latency_p95_ms, 1),
        "router_cost_ratio": round(ratio, 4),
        "meets_target": met and ratio <= 0.5,
        "pareto_dominates": [slug for slug, f in fixed.items() if any(dominates(r, f, cost) for r in router)],
        **{f"{slug}_accuracy": round(p.accuracy, 4) for slug, p in fixed.items()},
        **{f"{slug}_cost": p.mean_cost_usd for slug, p in fixed.items()},
        "most_accurate_fixed": top_slug,
        "router_vs_most_accurate": {
            "min_quality": vs_top.min_quality,
            "accuracy": round(vs_top.accuracy, 4),
            "cost": vs_top.mean_cost_usd,
            "within_1_point": top_met,
            "cost_ratio": round(cost(vs_top) / cost(top), 4) if cost(top) else None,
        },
    }


def _router_at(router: list[OperatingPoint], min_quality: object) -> OperatingPoint:
    return next(p for p in router if p.min_quality == min_quality)


def _distinct(points: list[OperatingPoint]) -> list[OperatingPoint]:
    """Sweep points with distinct choices (the lowest bar of each run of identical ones)."""
    out: list[OperatingPoint] = []
    for p in points:
        if not out or dict(p.choices) != dict(out[-1].choices):
            out.append(p)
    return out


def by_source(points: Sequence[OperatingPoint], table: OutcomeTable, test: Sequence[EvalItem],
              sources: dict[str, str], chosen: dict[str, dict[str, str]]) -> str:  # fmt: skip
    """Accuracy per workload source (test split) for each point: which kinds of items each way gets right."""
    order = list(dict.fromkeys(sources[i.id] for i in test))
    head = "| | " + " | ".join(f"{s} ({sum(sources[i.id] == s for i in test)})" for s in order) + " |"
    rows = [head, "|---|" + "---:|" * len(order)]
    for p in points:
        cells = []
        for s in order:
            ids = [i.id for i in test if sources[i.id] == s]
            right = [o.correct for i in ids if (o := table.get(chosen[p.label][i], i)) is not None]
            cells.append(f"{100 * sum(right) / len(right):.0f}%" if right else "-")
        rows.append(f"| {p.label} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def write_results(
    figures: dict[str, Any], fixed: dict[str, OperatingPoint], router: list[OperatingPoint],
    prior: list[OperatingPoint], counts: tuple[int, int], command: str, per_source: str, run: dict[str, Any],
) -> None:  # fmt: skip
    """benchmarks/results/routing.md (tables, headline, plots)."""
    label, _ = cost_axis([*fixed.values(), *router])
    usd = label.endswith("(USD)")
    met = "met" if figures["meets_target"] else "**not met**"
    bon, best = fixed["best_of_n"], _router_at(router, figures["router_min_quality"])
    dominated = ", ".join(fixed[s].label for s in figures["pareto_dominates"]) or "none"
    top = fixed[figures["most_accurate_fixed"]]
    vs_top = figures["router_vs_most_accurate"]
    live = (f"The live run generated {run['calls']} backend calls in {run['generation_seconds'] / 60:.1f} min "
            f"({run.get('note', '')})." if run else "")  # fmt: skip
    lines = [
        "## Measured routing (issue 11)", "",
        f"Command: `{command}` (`--replay` recomputes every figure from the committed samples in "
        "`benchmarks/data/routing/samples/`, no model).", "",
        "Bundled Gemma 3 270M base on the 2-core CPU, policy `policies/routing-bench.yaml` (price "
        "$0.10 / $0.40 per M input / output tokens as a USD-equivalent). Workload: "
        f"`benchmarks/data/routing/items.jsonl`, {counts[0]} calibration + {counts[1]} test items (disjoint), easy to "
        "hard: general-knowledge facts, generated arithmetic (one-digit sums, times table, teen subtraction, two-digit "
        "sums), generated one- and two-step word problems, SVAMP and ASDiv problems the classifier never saw, NQ-Open "
        "(EfficientQA test) questions and GSM8K test problems. Profiles are fitted on the calibration split (logistic "
        "on the classifier's difficulty); every figure below is on the test split. Each routed item gets the recorded "
        "outcome of the candidate the planner chose for it (same calls, same seeds). Cost = prompt + completion tokens "
        "of every sample at the policy's price; latency = backend time of the strategy's calls (recorded; the CPU was "
        f"shared with other jobs, so latency is noisy). {live}",
        "", "### Fixed strategies (test split)", "", points_table(list(fixed.values()), usd=usd), "",
        "### thinkroute, sweep of min_quality (test split)", "",
        "Each row is the lowest bar of a run of bars with the same choices.", "",
        points_table(_distinct(router), usd=usd, show_choices=True), "",
        "Same sweep with the planner's uncalibrated priors instead of the measured profiles:", "",
        points_table(_distinct(prior), usd=usd, show_choices=True), "",
        "### Accuracy by kind of item (test split)", "", per_source, "",
        "![accuracy vs cost](routing_accuracy_vs_cost.png)", "", "![quality curves](routing_quality_curves.png)", "",
        "### Headline", "",
        f"Target (router within 1 point of always-best-of-N accuracy at ≤ 50% of its cost): {met}. "
        f"Best-of-8: {100 * bon.accuracy:.1f}% at ${bon.mean_cost_usd:.3g} per request; thinkroute at "
        f"min_quality {best.min_quality:g}: {100 * best.accuracy:.1f}% at ${best.mean_cost_usd:.3g} "
        f"({100 * best.mean_cost_usd / bon.mean_cost_usd:.0f}% of the cost). Pareto-dominates: {dominated}.", "",
        f"Against the most accurate fixed strategy ({top.label}, {100 * top.accuracy:.1f}% at "
        f"${top.mean_cost_usd:.3g}): the cheapest router setting within 1 point of it "
        + (f"is min_quality {vs_top['min_quality']:g}, {100 * vs_top['accuracy']:.1f}% at ${vs_top['cost']:.3g} "
           f"({100 * vs_top['cost_ratio']:.0f}% of its cost)." if vs_top["within_1_point"] else
           f"does not exist; the router's best is {100 * vs_top['accuracy']:.1f}% at ${vs_top['cost']:.3g}."),
        "", f"`{json.dumps(figures)}`", "",
    ]  # fmt: skip
    (RESULTS / "routing.md").write_text("\n".join(lines), encoding="utf-8")


async def main() -> None:
    parser = argparse.ArgumentParser(description="thinkroute vs fixed strategies on a held-out workload")
    parser.add_argument("--replay", action="store_true", help="only the committed samples; never load the model")
    parser.add_argument("--limit", type=int, default=None, help="first N items of each split (pilot; writes nothing)")
    parser.add_argument("--concurrency", type=int, default=1, help="items in flight (1 keeps latency honest)")
    parser.add_argument("--cache", type=Path, default=WORK_CACHE, help="work cache for live runs")
    args = parser.parse_args()
    started = time.monotonic()
    policy = load_policy(POLICY)
    calibration, test, sources = workload(args.limit)
    full = args.limit is None
    print(f"{len(calibration)} calibration + {len(test)} test items", flush=True)
    table = await generate(policy, calibration + test, replay=args.replay, concurrency=args.concurrency,
                           work=args.cache, export=full)  # fmt: skip
    difficulty = score_difficulty(policy, calibration + test)
    candidates, answer_tokens = route_candidates(policy, "auto")
    cal_ids, test_ids = [i.id for i in calibration], [i.id for i in test]
    sha = data_fingerprint([ITEMS])
    profiles = fit_profiles(candidates, table, difficulty, cal_ids, source=f"data sha256:{sha[:16]} calibration split")
    if full:  # derived from the samples alone, so a replay rewrites the same file
        write_profiles_file(PROFILES, profiles, data_sha256=sha, extra={
            "data": "benchmarks/data/routing/items.jsonl (calibration split)", "items": len(cal_ids),
            "route": "auto", "method": "logistic"})  # fmt: skip
    calibrated = policy.model_copy(update={"profiles": profiles})
    fixed = {slug: fixed_point(table, key, test_ids, label) for slug, (label, key) in FIXED.items()}
    router = sweep(calibrated, "auto", table, difficulty, test, QUALITIES, answer_tokens)
    uncalibrated = policy.model_copy(update={"profiles": []})
    prior = sweep(uncalibrated, "auto", table, difficulty, test, QUALITIES, answer_tokens)
    figures = headline(fixed, router)
    if full:
        chosen = {p.label: dict.fromkeys(test_ids, key) for p, (_, key) in zip(fixed.values(), FIXED.values(),
                                                                                strict=True)}  # fmt: skip
        shown = [*fixed.values(), *_distinct(router)]
        for point in _distinct(router):
            chosen[point.label] = route_choices(calibrated, "auto", difficulty, test, point.min_quality or 0.0,
                                                answer_tokens)  # fmt: skip
        per_source = by_source(shown, table, test, sources, chosen)
        run = json.loads(RUN_FILE.read_text()) if RUN_FILE.is_file() else {}
        RESULTS.mkdir(parents=True, exist_ok=True)
        title = f"Routing benchmark: test split ({len(test)} items)"
        plot_accuracy_vs_cost(RESULTS / "routing_accuracy_vs_cost.png", list(fixed.values()), router, title)
        plot_quality_curves(RESULTS / "routing_quality_curves.png", profiles, table, difficulty, cal_ids)
        command = ".venv/bin/python benchmarks/routing.py" + (" --replay" if args.replay else "")
        write_results(figures, fixed, router, prior, (len(calibration), len(test)), command, per_source, run)
    figures["seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
