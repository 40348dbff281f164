"""Calibration end to end: data → every candidate run (cached) → fitted profiles → report.

:func:`calibrate` is what ``thinkroute calibrate`` runs; the routing benchmark composes the same
pieces (:func:`score_difficulty`, :func:`~router.calibration.live.recording_runtime`,
:func:`~router.calibration.runner.run_grid`, :func:`~router.calibration.fitting.fit_profiles`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from router.backends.base import ChatMessage
from router.calibration.cache import SampleCache
from router.calibration.datasets import EvalItem, load_items
from router.calibration.fitting import FitMethod, fit_profiles
from router.calibration.live import recording_runtime
from router.calibration.profiles import data_fingerprint, write_profiles_file
from router.calibration.report import require_matplotlib, write_report
from router.calibration.runner import Outcome, OutcomeTable, run_grid
from router.calibration.simulate import OperatingPoint, fixed_point, sweep
from router.errors import PolicyError
from router.planner.candidates import Candidate
from router.policy import Policy, load_policy
from router.policy.schema import ProfileEntry
from router.runtime import BackendFactory

__all__ = ["DEFAULT_QUALITIES", "CalibrationJob", "CalibrationResult", "calibrate", "score_difficulty"]

DEFAULT_QUALITIES: tuple[float, ...] = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)


@dataclass(frozen=True)
class CalibrationJob:
    """What to calibrate, on which data, and where the results go."""

    policy: Path
    data: Sequence[str]
    cache: Path
    out: Path
    route: str = "auto"
    limit: int | None = None
    report: Path | None = None
    method: FitMethod = "logistic"
    replay: bool = False
    concurrency: int = 1
    qualities: Sequence[float] = DEFAULT_QUALITIES


@dataclass
class CalibrationResult:
    """Everything a calibration produced."""

    profiles: list[ProfileEntry]
    candidates: list[Candidate]
    items: list[EvalItem]
    table: OutcomeTable
    difficulty: dict[str, float]
    data_sha256: str
    fixed: list[OperatingPoint] = field(default_factory=list)
    router: list[OperatingPoint] = field(default_factory=list)
    report: Path | None = None


def score_difficulty(policy: Policy, items: Sequence[EvalItem]) -> dict[str, float]:
    """The classifier's scalar difficulty per item id (0.5 for all when the classifier is disabled)."""
    from router.difficulty import DifficultyService

    service = DifficultyService.load(policy.classifier.enabled, policy.classifier.model_path)
    return {item.id: service.score_now(tuple(ChatMessage(m.role, m.content) for m in item.messages)).difficulty
            for item in items}  # fmt: skip


def route_candidates(policy: Policy, route: str) -> tuple[list[Candidate], int]:
    """The route's candidates at its default answer cap, and that cap."""
    if route not in policy.routes:
        raise PolicyError(f"unknown route {route!r} (routes: {sorted(policy.routes)})")
    from router.planner import Predictor

    answer_tokens = policy.routes[route].default_max_tokens
    return Predictor(policy).candidates(policy.routes[route].strategies, answer_tokens), answer_tokens


async def calibrate(
    job: CalibrationJob,
    *,
    backend_factories: Mapping[str, BackendFactory] | None = None,
    on_start: Callable[[int, list[Candidate]], None] | None = None,
    on_result: Callable[[Outcome], None] | None = None,
) -> CalibrationResult:
    """Run, fit and write the profiles file (and the report when ``job.report`` is set)."""
    if job.report is not None:
        require_matplotlib()
    policy = load_policy(job.policy)
    candidates, answer_tokens = route_candidates(policy, job.route)
    items, paths = load_items(job.data, limit=job.limit)
    if not items:
        raise ValueError("the evaluation set is empty")
    difficulty = score_difficulty(policy, items)
    sha = data_fingerprint(paths)
    cache = SampleCache(job.cache, writable=not job.replay)
    try:
        async with recording_runtime(policy, cache, replay=job.replay, backend_factories=backend_factories) as rt:
            if on_start is not None:
                on_start(len(items), candidates)
            table = await run_grid(rt, candidates, items, answer_tokens=answer_tokens,
                                   concurrency=job.concurrency, on_result=on_result)  # fmt: skip
    finally:
        cache.close()
    today = dt.date.today().isoformat()
    ids = [item.id for item in items]
    profiles = fit_profiles(candidates, table, difficulty, ids, method=job.method,
                            source=f"data sha256:{sha[:16]} {today}")  # fmt: skip
    write_profiles_file(job.out, profiles, data_sha256=sha, extra={
        "policy": job.policy.name, "route": job.route, "items": len(items), "method": job.method,
        "data": [str(p.name) for p in paths]})  # fmt: skip
    result = CalibrationResult(profiles, candidates, items, table, difficulty, sha)
    result.fixed = [fixed_point(table, c.key, ids) for c in candidates]
    calibrated = policy.model_copy(update={"profiles": profiles})
    result.router = sweep(calibrated, job.route, table, difficulty, items, job.qualities, answer_tokens)
    if job.report is not None:
        header = [f"Policy `{job.policy.name}`, route `{job.route}`, {len(items)} items "
                  f"({', '.join(p.name for p in paths)}; sha256 {sha[:16]}…), fit: {job.method}, {today}.",
                  "The router sweep is in-sample (the same items the profiles were fitted on)."]  # fmt: skip
        result.report = write_report(job.report, title=f"Calibration: route {job.route}", header=header,
                                     candidates=result.fixed, router=result.router, profiles=profiles,
                                     table=table, difficulty=difficulty, item_ids=ids)  # fmt: skip
    return result
