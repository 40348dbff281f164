"""Online feedback moves a candidate's quality toward what verifiers observe, within bounds."""

from __future__ import annotations

import itertools

import pytest

from router.backends.base import Completion, Usage
from router.backends.scripted import ScriptedBackend
from router.calibration.online import OnlineProfiles, bucket_of, observed_quality
from router.planner import Predictor
from router.planner.predict import interpolate_quality
from router.policy import parse_policy
from router.policy.schema import OnlineFeedbackConfig, ProfileEntry, QualityCurve
from router.runtime import BackendPool
from router.strategies import StrategyResult
from tests.router.calibration.helpers import POLICY

BASE = [
    ProfileEntry(strategy="single", quality=QualityCurve(points=[(0.0, 0.9), (1.0, 0.3)]), completion_tokens_mean=8),
    ProfileEntry(strategy="vote", params={"n": 4}, quality=QualityCurve(easy=0.95, medium=0.8, hard=0.5)),
]
ON = OnlineFeedbackConfig(enabled=True, rate=0.1, max_step=0.02)


def test_the_estimate_moves_toward_observed_quality() -> None:
    online = OnlineProfiles(BASE, ON)
    start = interpolate_quality(BASE[0].quality, 0.85)  # the hard bucket's centre: 0.39
    estimates = [online.observe("single", 0.9, 1.0) for _ in range(200)]
    assert estimates[0] == pytest.approx(start + 0.02)  # capped by max_step, not rate * gap (0.061)
    assert all(b is not None and a is not None and b >= a for a, b in itertools.pairwise(estimates))
    assert estimates[-1] == pytest.approx(1.0, abs=0.01)
    assert online.estimate("single", 0.95) == estimates[-1]
    assert online.estimate("single", 0.1) is None  # other buckets untouched
    for _ in range(300):
        online.observe("single", 0.9, 0.2)
    assert online.estimate("single", 0.9) == pytest.approx(0.2, abs=0.01)  # and back: it tracks drift


def test_one_outlier_moves_it_by_at_most_the_step_and_never_outside_0_1() -> None:
    online = OnlineProfiles(BASE, OnlineFeedbackConfig(enabled=True, rate=1.0, max_step=0.05))
    before = interpolate_quality(BASE[1].quality, 0.15)
    after = online.observe("vote[n=4]", 0.1, 0.0)
    assert after == pytest.approx(before - 0.05)
    assert online.observe("vote[n=4]", 0.1, 1e9) == pytest.approx(before)  # clipped input, one step back up
    for _ in range(100):
        online.observe("vote[n=4]", 0.1, 5.0)
    assert online.estimate("vote[n=4]", 0.1) == 1.0
    for _ in range(100):
        online.observe("vote[n=4]", 0.1, -3.0)
    assert online.estimate("vote[n=4]", 0.1) == 0.0


def test_off_by_default_and_freezable() -> None:
    off = OnlineProfiles(BASE)
    assert not off.enabled and off.observe("single", 0.5, 0.0) is None and off.snapshot() == {}
    online = OnlineProfiles(BASE, ON)
    online.observe("single", 0.5, 0.0)
    online.freeze()
    frozen_at = online.estimate("single", 0.5)
    assert online.observe("single", 0.5, 0.0) is None and online.estimate("single", 0.5) == frozen_at
    online.unfreeze()
    assert online.observe("single", 0.5, 0.0) is not None
    assert OnlineProfiles(BASE, OnlineFeedbackConfig(enabled=True, frozen=True)).frozen


def test_profiles_shift_only_the_observed_bucket_and_feed_the_planner() -> None:
    online = OnlineProfiles(BASE, OnlineFeedbackConfig(enabled=True, rate=1.0, max_step=0.1))
    online.observe("single", 0.85, 0.0)  # hard bucket: 0.39 → 0.29
    profiles = online.profiles()
    single, vote = profiles
    assert vote is BASE[1]
    assert interpolate_quality(single.quality, 0.85) == pytest.approx(0.29, abs=1e-9)
    assert interpolate_quality(single.quality, 0.15) == pytest.approx(interpolate_quality(BASE[0].quality, 0.15))
    assert single.completion_tokens_mean == 8
    policy = parse_policy({**POLICY, "profiles": [p.model_dump() for p in profiles]})
    predictor = Predictor(policy)
    candidate = predictor.candidates(["single"], 16)[0]
    assert predictor.predict(candidate, 0.85, 10).quality == pytest.approx(0.29, abs=1e-9)


def test_snapshot_is_plain_data_for_metrics() -> None:
    online = OnlineProfiles(BASE, ON, prior=lambda key, difficulty: 0.6)
    online.observe("vote[n=8]", 0.5, 1.0)  # no profile: starts from the prior
    online.observe("single", 0.2, 1.0)
    snapshot = online.snapshot()
    assert snapshot["vote[n=8]"]["medium"] == {"estimate": pytest.approx(0.62), "prior": 0.6, "observations": 1}
    assert set(snapshot["single"]) == {"easy"}
    assert [bucket_of(d) for d in (0.0, 0.33, 0.34, 0.66, 0.67, 1.0)] == ["easy", "easy", "medium", "medium",
                                                                           "hard", "hard"]  # fmt: skip


def _result(samples: int = 1, **details: object) -> StrategyResult:
    return StrategyResult(Completion("4", "stop", 1), Usage(), samples=samples, details=dict(details))


def test_observed_quality_reads_what_the_verifier_said() -> None:
    assert observed_quality(_result(4, votes={"4": 3.0, "5": 1.0})) == pytest.approx(0.75)
    assert observed_quality(_result(4, votes={"4": 0.9, "5": 0.2})) == pytest.approx(0.225)  # score-weighted
    assert observed_quality(_result(3, scores=[0.2, 0.7, 0.6], rounds=2)) == pytest.approx(0.7)  # revision
    assert observed_quality(_result(1, best_score=0.4, beam_width=2)) == pytest.approx(0.4)  # beam search
    assert observed_quality(_result(4, votes={})) is None  # no sample had an answer
    assert observed_quality(_result(1, thinking_budget=32)) is None  # no verifier ran


def test_a_candidate_without_a_profile_learns_from_the_planners_prior() -> None:
    policy = parse_policy(POLICY)
    predictor = Predictor(policy)
    vote4 = next(c for c in predictor.candidates(["vote"], 16) if c.key == "vote[n=4]")
    online = OnlineProfiles([], OnlineFeedbackConfig(enabled=True, rate=1.0, max_step=0.1))
    prior = predictor.predict(vote4, 0.5, 10).quality
    assert online.predictor(policy, Predictor) is None  # nothing observed: plan with the policy's predictor
    assert online.observe(vote4, 0.5, 0.0) == pytest.approx(prior - 0.1)
    learned = online.predictor(policy, Predictor)
    assert learned is not None and online.predictor(policy, Predictor) is learned  # cached until the next outcome
    assert learned.predict(vote4, 0.5, 10).quality == pytest.approx(prior - 0.1, abs=1e-9)
    assert learned.predict(vote4, 0.15, 10).quality == pytest.approx(predictor.predict(vote4, 0.15, 10).quality,
                                                                      abs=0.02)  # fmt: skip
    online.observe(vote4, 0.5, 0.0)
    assert online.predictor(policy, Predictor) is not learned


def test_a_reload_keeps_estimates_unless_the_profile_changed() -> None:
    old = OnlineProfiles(BASE, ON)
    old.observe("single", 0.9, 1.0)
    old.observe("vote[n=4]", 0.1, 0.0)
    remeasured = [BASE[0], BASE[1].model_copy(update={"quality": QualityCurve(easy=0.5, medium=0.5, hard=0.5)})]
    new = OnlineProfiles(remeasured, OnlineFeedbackConfig(enabled=True, frozen=True))
    assert new.carry_over(old) == 1
    assert new.estimate("single", 0.9) == old.estimate("single", 0.9)
    assert new.estimate("vote[n=4]", 0.1) is None  # new measurements replace what was learned on the old ones
    assert new.frozen and new.observe("single", 0.9, 0.0) is None and new.version == 1


def test_the_backend_pool_builds_a_tracker_only_when_enabled_and_carries_it_over() -> None:
    pool = BackendPool({"local": lambda name, config: ScriptedBackend(["1"])})
    assert pool.build(parse_policy(POLICY)).online is None
    enabled = {**POLICY, "profiles": [p.model_dump() for p in BASE], "online_feedback": {"enabled": True}}
    first = pool.build(parse_policy(enabled))
    assert first.online is not None and first.planner() is first.predictor
    first.online.observe("single", 0.5, 0.0)
    assert first.planner() is not first.predictor
    second = pool.build(parse_policy(enabled), version=2)
    assert second.online is not None and second.online.estimate("single", 0.5) == first.online.estimate("single", 0.5)
