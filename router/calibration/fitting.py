"""Fit a candidate's profile from its outcomes: quality against difficulty, tokens and latency.

Quality is P(correct) as a function of the classifier's scalar difficulty, fitted by
``logistic`` regression on the standardised score (smooth, two parameters: the default for small
sets) or ``isotonic`` regression (non-increasing, free-form, for larger sets), evaluated on a grid
of difficulties (flat beyond the difficulties observed) and written as :class:`QualityCurve`
``points``. With one class only (every item right or every item wrong) the curve is flat at the
smoothed rate (k + 0.5) / (n + 1). Tokens are completion tokens per request (all samples and
thinking), mean and p95; latency p50/p95.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np

from router.calibration.runner import Outcome, OutcomeTable
from router.planner.candidates import Candidate
from router.policy.schema import ProfileEntry, QualityCurve

__all__ = ["FitMethod", "fit_profile", "fit_profiles", "fit_quality_curve"]

FitMethod = Literal["logistic", "isotonic"]
GRID = tuple(i / 20 for i in range(21))


def _flat(correct: np.ndarray) -> list[tuple[float, float]]:
    rate = round((float(correct.sum()) + 0.5) / (len(correct) + 1.0), 4)
    return [(d, rate) for d in GRID]


def fit_quality_curve(
    difficulties: Sequence[float], correct: Sequence[bool], method: FitMethod = "logistic"
) -> QualityCurve:
    """P(correct | difficulty) on a 21-point grid over [0, 1]."""
    x = np.asarray(difficulties, dtype=float)
    y = np.asarray(correct, dtype=float)
    if len(x) == 0:
        raise ValueError("no outcomes to fit")
    if y.min() == y.max():
        return QualityCurve(points=_flat(y))
    grid = np.asarray(GRID)
    if method == "logistic":
        from sklearn.linear_model import LogisticRegression

        # standardised, so the (mild) L2 penalty does not flatten a curve whose items span a narrow band of
        # difficulty; evaluated flat beyond the observed band (no extrapolation to items never seen)
        centre, scale = float(x.mean()), float(x.std()) or 1.0
        model = LogisticRegression(C=1.0).fit(((x - centre) / scale).reshape(-1, 1), y.astype(int))
        inside = (np.clip(grid, x.min(), x.max()) - centre) / scale
        fitted = model.predict_proba(inside.reshape(-1, 1))[:, 1]
    elif method == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(increasing=False, y_min=0.0, y_max=1.0, out_of_bounds="clip")
        fitted = iso.fit(x, y).predict(grid)
        # shrink toward the mean a little so a few items cannot pin a region at exactly 0 or 1
        fitted = (fitted * len(x) + y.mean()) / (len(x) + 1.0)
    else:
        raise ValueError(f"unknown fit method {method!r} (logistic or isotonic)")
    return QualityCurve(points=[(round(float(d), 4), round(float(np.clip(q, 0.0, 1.0)), 4))
                                for d, q in zip(grid, fitted, strict=True)])  # fmt: skip


def fit_profile(
    candidate: Candidate,
    outcomes: Sequence[Outcome],
    difficulty: Mapping[str, float],
    *,
    method: FitMethod = "logistic",
    source: str | None = None,
) -> ProfileEntry:
    """A profile entry for ``candidate`` from its outcomes (items scored by ``difficulty``)."""
    if not outcomes:
        raise ValueError(f"no outcomes for {candidate.key}")
    curve = fit_quality_curve([difficulty[o.item_id] for o in outcomes], [o.correct for o in outcomes], method)
    tokens = np.asarray([o.completion_tokens for o in outcomes], dtype=float)
    latency = np.asarray([o.latency_ms for o in outcomes], dtype=float)
    return ProfileEntry(
        strategy=candidate.strategy,
        params={k: v for k, v in candidate.params.items() if isinstance(v, int | float | str)},
        quality=curve,
        completion_tokens_mean=round(float(tokens.mean()), 2),
        completion_tokens_p95=round(float(np.percentile(tokens, 95)), 2),
        latency_ms_p50=round(float(np.percentile(latency, 50)), 1),
        latency_ms_p95=round(float(np.percentile(latency, 95)), 1),
        samples=len(outcomes),
        source=source,
    )


def fit_profiles(
    candidates: Sequence[Candidate],
    table: OutcomeTable,
    difficulty: Mapping[str, float],
    item_ids: Sequence[str],
    *,
    method: FitMethod = "logistic",
    source: str | None = None,
) -> list[ProfileEntry]:
    """One profile per candidate, fitted on the items of ``item_ids`` it has outcomes for."""
    return [
        fit_profile(c, table.for_candidate(c.key, item_ids), difficulty, method=method, source=source)
        for c in candidates
    ]
