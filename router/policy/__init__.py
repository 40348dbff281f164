"""Policy files: schema, loading with path-precise errors, hot reload."""

from router.policy.loader import load_policy, parse_policy
from router.policy.schema import Policy

__all__ = ["Policy", "load_policy", "parse_policy"]
