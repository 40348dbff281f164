"""Aligned UTC windows: the bucket a timestamp falls in and when that bucket ends.

The last bucket of each window is memoized (its id, start and end): every request of a minute asks
for the same buckets, and the datetime arithmetic costs ~4 µs a call.
"""

from __future__ import annotations

import datetime as dt

__all__ = ["window_bucket"]

_EDGE_S = 1e-6  # datetime rounds timestamps to microseconds: this close to a bucket's end, compute afresh
_last: dict[str, tuple[float, float, str]] = {}  # window -> (start, end, bucket id) of the latest bucket seen


def window_bucket(window: str, now: float) -> tuple[str, float]:
    """(bucket id, seconds until the bucket ends) for ``minute``, ``day`` or ``month``."""
    cached = _last.get(window)
    if cached is not None and cached[0] <= now < cached[1] - _EDGE_S:
        return cached[2], max(0.001, cached[1] - now)
    start, end, label = _bucket(window, now)
    _last[window] = (start, end, label)
    return label, max(0.001, end - now)


def _bucket(window: str, now: float) -> tuple[float, float, str]:
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
    return start.timestamp(), end.timestamp(), label
