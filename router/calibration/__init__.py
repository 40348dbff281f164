"""Measured routing: calibrate candidate profiles on the user's own data, and learn from serve-time outcomes.

- :mod:`~router.calibration.datasets`: loaders (GSM8K, MATH, SVAMP, ASDiv, HumanEval, NQ-Open, generic JSONL);
- :mod:`~router.calibration.scoring`: is a reply correct (numeric, math, contains, exact, code);
- :mod:`~router.calibration.cache`: the recording cache of backend calls (replay without regenerating);
- :mod:`~router.calibration.runner`: every candidate on every item; :mod:`~router.calibration.fitting`: profiles;
- :mod:`~router.calibration.simulate`: operating points, router sweeps, Pareto frontier;
- :mod:`~router.calibration.report`, :mod:`~router.calibration.profiles`: what gets written;
- :mod:`~router.calibration.online`: bounded, decaying online estimates from verifier outcomes.
"""

from router.calibration.cache import CacheMiss, OfflineBackend, RecordingBackend, SampleCache, call_clock, request_key
from router.calibration.calibrate import CalibrationJob, CalibrationResult, calibrate, score_difficulty
from router.calibration.datasets import LOADERS, EvalItem, load_items, parse_data_spec
from router.calibration.fitting import fit_profile, fit_profiles, fit_quality_curve
from router.calibration.live import backend_identity, recording_runtime
from router.calibration.online import OnlineProfiles
from router.calibration.profiles import merge_profiles_file, read_profiles_file, write_profiles_file
from router.calibration.runner import Outcome, OutcomeTable, item_seed, run_grid, run_one
from router.calibration.scoring import answer_matches, score_reply
from router.calibration.simulate import OperatingPoint, dominates, fixed_point, pareto_frontier, route_point, sweep

__all__ = [
    "LOADERS",
    "CacheMiss",
    "CalibrationJob",
    "CalibrationResult",
    "EvalItem",
    "OfflineBackend",
    "OnlineProfiles",
    "OperatingPoint",
    "Outcome",
    "OutcomeTable",
    "RecordingBackend",
    "SampleCache",
    "answer_matches",
    "backend_identity",
    "calibrate",
    "call_clock",
    "dominates",
    "fit_profile",
    "fit_profiles",
    "fit_quality_curve",
    "fixed_point",
    "item_seed",
    "load_items",
    "merge_profiles_file",
    "pareto_frontier",
    "parse_data_spec",
    "read_profiles_file",
    "recording_runtime",
    "request_key",
    "route_point",
    "run_grid",
    "run_one",
    "score_difficulty",
    "score_reply",
    "sweep",
    "write_profiles_file",
]
