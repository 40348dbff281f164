"""thinkroute: budget-aware routing middleware for LLM apps."""

__version__ = "0.1.0"
__all__ = ["__version__"]
