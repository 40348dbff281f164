"""Inference-time scaling strategies, one module each, registered by name."""

from router.strategies.base import Plan, Progress, Strategy, StrategyContext, StrategyResult, StreamEvent
from router.strategies.registry import STRATEGIES, build_strategy

__all__ = [
    "STRATEGIES",
    "Plan",
    "Progress",
    "Strategy",
    "StrategyContext",
    "StrategyResult",
    "StreamEvent",
    "build_strategy",
]
