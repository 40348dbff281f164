"""The Beta posterior behind Adaptive-Consistency, without scipy.

With ``v1`` votes for the leading answer and ``v2`` for the runner-up, the leader's share ``p``
of the two has a Beta(v1 + 1, v2 + 1) posterior under a uniform prior, and the chance that the
leader is the true majority is P(p > 1/2) = 1 - I_{1/2}(v1 + 1, v2 + 1). For whole vote counts
this is an exact binomial sum; for fractional (score-weighted) counts the regularised incomplete
beta function is evaluated by its continued fraction (modified Lentz), accurate to ~1e-14.
"""

from __future__ import annotations

from math import comb, exp, isfinite, lgamma, log, log1p

__all__ = ["majority_stays_probability", "regularized_incomplete_beta"]

_MAX_ITERATIONS = 500
_EPSILON = 1e-15
_TINY = 1e-300
_EXACT_LIMIT = 2000


def _continued_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of I_x(a, b) (Numerical Recipes' ``betacf``), for x < (a+1)/(a+b+2)."""
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, _MAX_ITERATIONS + 1):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + numerator / c
            c = c if abs(c) > _TINY else _TINY
            h *= d * c
        if abs(d * c - 1.0) < _EPSILON:
            break
    return h


def regularized_incomplete_beta(x: float, a: float, b: float) -> float:
    """I_x(a, b) = P(X <= x) for X ~ Beta(a, b); ``a, b > 0``."""
    if not (a > 0 and b > 0 and isfinite(a) and isfinite(b)):
        raise ValueError(f"Beta parameters must be positive and finite, got a={a}, b={b}")
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return exp(log_front) * _continued_fraction(a, b, x) / a
    return 1.0 - exp(log_front) * _continued_fraction(b, a, 1.0 - x) / b


def majority_stays_probability(v1: float, v2: float) -> float:
    """P(p > 1/2) for p ~ Beta(v1 + 1, v2 + 1): the chance the current leader is the true majority."""
    if v1 < 0 or v2 < 0:
        raise ValueError("vote counts cannot be negative")
    if float(v1).is_integer() and float(v2).is_integer() and v1 + v2 < _EXACT_LIMIT:
        n = int(v1) + int(v2) + 1  # P(p > 1/2) = P(Binomial(n, 1/2) <= v1)
        return float(sum(comb(n, j) for j in range(int(v1) + 1)) / 2**n)
    return 1.0 - regularized_incomplete_beta(0.5, v1 + 1.0, v2 + 1.0)
