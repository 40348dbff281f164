"""Window buckets stay exact with the memoized last bucket, whatever order timestamps come in."""

from __future__ import annotations

import datetime as dt

import pytest

from router.budgets.windows import window_bucket

EDGE = dt.datetime(2026, 12, 31, 23, 59, tzinfo=dt.UTC).timestamp() + 60  # a minute, day and month boundary


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (EDGE - 30, {"minute": "20261231T2359", "day": "20261231", "month": "202612"}),
        (EDGE, {"minute": "20270101T0000", "day": "20270101", "month": "202701"}),
        (EDGE - 1e-7, {"minute": "20270101T0000", "day": "20270101", "month": "202701"}),  # datetime rounds up
        (EDGE - 30, {"minute": "20261231T2359", "day": "20261231", "month": "202612"}),  # back again
    ],
)
def test_buckets_across_a_boundary(now: float, expected: dict[str, str]) -> None:
    for window, bucket in expected.items():
        label, left = window_bucket(window, now)
        assert label == bucket and left > 0


def test_seconds_left_count_down_within_a_cached_bucket() -> None:
    assert window_bucket("minute", EDGE - 30) == ("20261231T2359", pytest.approx(30))
    assert window_bucket("minute", EDGE - 10) == ("20261231T2359", pytest.approx(10))
    assert window_bucket("day", EDGE - 3600) == ("20261231", pytest.approx(3600))
    assert window_bucket("minute", EDGE - 1e-4)[1] == 0.001  # never zero
    with pytest.raises(ValueError, match="unknown window"):
        window_bucket("week", EDGE)
