"""Aligned UTC windows: the bucket a timestamp falls in and when that bucket ends."""

from __future__ import annotations

import datetime as dt

__all__ = ["window_bucket"]


def window_bucket(window: str, now: float) -> tuple[str, float]:
    """(bucket id, seconds until the bucket ends) for ``minute``, ``day`` or ``month``."""
    t = dt.datetime.fromtimestamp(now, tz=dt.UTC)
    if window == "minute":
        start = t.replace(second=0, microsecond=0)
        end = start + dt.timedelta(minutes=1)
        label = start.strftime("%Y%m%dT%H%M")
    elif window == "day":
        start = t.replace(hour=0, minute=0, second=0, microsecond=0)
        end = start + dt.timedelta(days=1)
        label = start.strftime("%Y%m%d")
    elif window == "month":
        start = t.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        end = (start + dt.timedelta(days=32)).replace(day=1)
        label = start.strftime("%Y%m")
    else:
        raise ValueError(f"unknown window {window!r}")
    return label, max(0.001, end.timestamp() - now)
