"""Online feedback: serve-time verifier outcomes nudge a candidate's measured quality.

Per candidate × difficulty bucket (easy / medium / hard, by the classifier's scalar difficulty)
the tracker keeps an exponentially-weighted estimate of P(acceptable answer), starting from the
profile's prediction at the bucket centre. Each observed quality ``q`` in [0, 1] (a verifier
score, or 1/0 for a pass/fail check) moves the estimate by ``rate × (q − estimate)``, clipped to
``±max_step`` and to [0, 1]; old outcomes decay geometrically, so the estimate tracks drift while
a single outlier moves it by at most ``max_step``. Frozen, it ignores new outcomes.

Wiring (serving, when ``policy.online_feedback.enabled``): each runtime holds one tracker built
from the policy's profiles (a reload carries the estimates of unchanged candidates over); serving
calls :meth:`OnlineProfiles.observe` with :func:`observed_quality` of each result a verifier scored,
and plans with :meth:`OnlineProfiles.predictor` (a :class:`~router.planner.Predictor` over the
shifted profiles, rebuilt only after new observations). :meth:`OnlineProfiles.snapshot` is the
plain data for the admin read-out.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from router.planner.candidates import Candidate, params_key
from router.planner.predict import BUCKET_CENTRES, Predictor, interpolate_quality, prior_quality
from router.policy.schema import OnlineFeedbackConfig, Policy, ProfileEntry, QualityCurve
from router.strategies.base import StrategyResult

__all__ = ["BucketEstimate", "OnlineProfiles", "bucket_of", "observed_quality"]

BUCKETS = ("easy", "medium", "hard")


def bucket_of(difficulty: float) -> str:
    """The bucket a scalar difficulty falls in: thirds of [0, 1]."""
    if difficulty < 1 / 3:
        return "easy"
    return "medium" if difficulty < 2 / 3 else "hard"


def observed_quality(result: StrategyResult) -> float | None:
    """What a verifier said about a served result, in [0, 1]; ``None`` when no verifier scored it.

    ``best_of_n``: the winning answer's share of the (verifier-weighted) vote over the samples drawn;
    ``revision``: the best score of the versions; ``beam_search``: the best beam's score.
    """
    details = result.details
    if "best_score" in details:
        return float(details["best_score"])
    scores = details.get("scores")
    if isinstance(scores, list) and scores:
        return float(max(scores))
    votes = details.get("votes")
    if isinstance(votes, dict) and votes and result.samples > 0:
        return min(1.0, float(max(votes.values())) / result.samples)
    return None


@dataclass
class BucketEstimate:
    """The running estimate for one candidate in one bucket."""

    prior: float
    estimate: float
    observations: int = 0


class OnlineProfiles:
    """Bounded, decaying quality estimates per candidate × bucket, seeded from the base profiles.

    ``prior`` gives the starting quality of a candidate without a profile (``key, difficulty → q``);
    without it such candidates start at the planner's prior when observed as a :class:`Candidate`,
    at 0.5 when observed by key only. Thread-safe.
    """

    def __init__(
        self,
        profiles: Sequence[ProfileEntry],
        config: OnlineFeedbackConfig | None = None,
        *,
        prior: Callable[[str, float], float] | None = None,
    ) -> None:
        self.config = config or OnlineFeedbackConfig()
        self._frozen = self.config.frozen
        self._base = {f"{p.strategy}{params_key(p.params)}": p for p in profiles}
        self._prior = prior
        self._estimates: dict[tuple[str, str], BucketEstimate] = {}
        self._candidates: dict[str, Candidate] = {}  # observed candidates (for those without a profile)
        self._lock = threading.Lock()
        self._version = 0  # observations applied; a cached predictor is rebuilt when it changes
        self._cached: tuple[int, Predictor] | None = None

    @property
    def enabled(self) -> bool:
        return self.config.enabled

    @property
    def frozen(self) -> bool:
        return self._frozen

    def freeze(self) -> None:
        """Stop learning; the current estimates stay in force."""
        self._frozen = True

    def unfreeze(self) -> None:
        self._frozen = False

    @property
    def version(self) -> int:
        """How many observations have been applied (including those carried over)."""
        return self._version

    def _base_quality(self, key: str, difficulty: float) -> float:
        profile = self._base.get(key)
        if profile is not None:
            return interpolate_quality(profile.quality, difficulty)
        if self._prior is not None:
            return self._prior(key, difficulty)
        candidate = self._candidates.get(key)
        return prior_quality(candidate, difficulty) if candidate is not None else 0.5

    def observe(self, candidate: Candidate | str, difficulty: float, quality: float) -> float | None:
        """Record one outcome of ``candidate`` (or its key, like ``vote[n=8]``); returns the new estimate.

        ``None`` (and no change) when disabled or frozen. ``quality`` is clipped to [0, 1].
        """
        if not self.config.enabled or self._frozen:
            return None
        observed = min(1.0, max(0.0, float(quality)))
        bucket = bucket_of(difficulty)
        with self._lock:
            if isinstance(candidate, Candidate):
                self._candidates.setdefault(candidate.key, candidate)
                candidate = candidate.key
            entry = self._estimates.get((candidate, bucket))
            if entry is None:
                start = self._base_quality(candidate, BUCKET_CENTRES[bucket])
                entry = self._estimates[(candidate, bucket)] = BucketEstimate(start, start)
            step = self.config.rate * (observed - entry.estimate)
            step = max(-self.config.max_step, min(self.config.max_step, step))
            entry.estimate = min(1.0, max(0.0, entry.estimate + step))
            entry.observations += 1
            self._version += 1
            return entry.estimate

    def carry_over(self, previous: OnlineProfiles) -> int:
        """Adopt ``previous``'s estimates for candidates whose base profile did not change; returns how many.

        A policy reload builds a new tracker; this keeps what was learned (and a frozen state's
        estimates) unless the reload brought new measured profiles for that candidate.
        """
        with previous._lock:
            estimates = dict(previous._estimates)
            candidates = dict(previous._candidates)
        kept = 0
        with self._lock:
            for (key, bucket), entry in estimates.items():
                if self._base.get(key) == previous._base.get(key):
                    self._estimates[(key, bucket)] = BucketEstimate(entry.prior, entry.estimate, entry.observations)
                    self._version += entry.observations
                    kept += 1
            for key, candidate in candidates.items():
                self._candidates.setdefault(key, candidate)
        return kept

    def predictor(self, policy: Policy, build: Callable[[Policy], Predictor]) -> Predictor | None:
        """A predictor for ``policy`` with :meth:`profiles` in place of its own, rebuilt only after new
        observations; ``None`` while nothing has been observed (plan with the policy's predictor)."""
        version = self._version
        if version == 0:
            return None
        cached = self._cached
        if cached is not None and cached[0] == version:
            return cached[1]
        predictor = build(policy.model_copy(update={"profiles": self.profiles()}))
        self._cached = (version, predictor)
        return predictor

    def estimate(self, candidate: str, difficulty: float) -> float | None:
        """The current estimate for the candidate's bucket, or ``None`` when nothing was observed there."""
        entry = self._estimates.get((candidate, bucket_of(difficulty)))
        return None if entry is None else entry.estimate

    def profiles(self) -> list[ProfileEntry]:
        """The base profiles with each observed bucket shifted by (estimate − prior), for a new Predictor.

        The shift is interpolated between bucket centres (zero for unobserved buckets) and added to
        the base curve on a 21-point grid, so the curve keeps its shape where nothing was observed.
        An observed :class:`Candidate` without a base profile gets an entry holding its shifted prior
        (quality only; tokens and latency stay the planner's estimates).
        """
        with self._lock:
            shifts: dict[str, dict[str, float]] = {}
            for (key, bucket), entry in self._estimates.items():
                shifts.setdefault(key, {})[bucket] = entry.estimate - entry.prior
            candidates = dict(self._candidates)
        out: list[ProfileEntry] = []
        for key, profile in self._base.items():
            if key not in shifts:
                out.append(profile)
                continue
            curve = self._shifted(key, shifts.pop(key))
            out.append(profile.model_copy(update={"quality": curve}))
        for key, shift in shifts.items():
            candidate = candidates.get(key)
            if candidate is None or key in self._base:
                continue
            params = {k: v for k, v in candidate.params.items() if isinstance(v, int | float | str)}
            out.append(ProfileEntry(strategy=candidate.strategy, params=params, quality=self._shifted(key, shift),
                                    source="online feedback on the planner's prior"))  # fmt: skip
        return out

    def _shifted(self, key: str, shift: dict[str, float]) -> QualityCurve:
        centres = [(BUCKET_CENTRES[b], shift.get(b, 0.0)) for b in BUCKETS]
        points = []
        for i in range(21):
            d = i / 20
            moved = self._base_quality(key, d) + _interpolate_shift(centres, d)
            points.append((d, min(1.0, max(0.0, moved))))
        return QualityCurve(points=points)

    def snapshot(self) -> dict[str, dict[str, dict[str, float | int]]]:
        """``{candidate: {bucket: {"estimate", "prior", "observations"}}}`` for metrics and debugging."""
        with self._lock:
            out: dict[str, dict[str, dict[str, float | int]]] = {}
            for (key, bucket), entry in sorted(self._estimates.items()):
                out.setdefault(key, {})[bucket] = {
                    "estimate": round(entry.estimate, 6), "prior": round(entry.prior, 6),
                    "observations": entry.observations,
                }  # fmt: skip
            return out


def _interpolate_shift(centres: Sequence[tuple[float, float]], difficulty: float) -> float:
    """Piecewise-linear between bucket centres, flat beyond the outer ones."""
    if difficulty <= centres[0][0]:
        return centres[0][1]
    for (d0, s0), (d1, s1) in itertools.pairwise(centres):
        if difficulty <= d1:
            return s0 + (difficulty - d0) / (d1 - d0) * (s1 - s0)
    return centres[-1][1]
