"""The SLO planner: candidates, predictions from profiles, and the decision rule."""

from router.planner.candidates import Candidate, Shape, expand_candidates
from router.planner.planner import Assessment, Decision, plan
from router.planner.predict import Prediction, Predictor
from router.planner.slo import SLO, resolve_slo

__all__ = [
    "SLO",
    "Assessment",
    "Candidate",
    "Decision",
    "Prediction",
    "Predictor",
    "Shape",
    "expand_candidates",
    "plan",
    "resolve_slo",
]
