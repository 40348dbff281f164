"""SLO precedence: header over body over tenant over route; invalid values are 400 naming the field."""

from __future__ import annotations

import pytest

from router.errors import InvalidRequest
from router.planner.slo import resolve_slo
from router.policy.schema import SLODefaults

ROUTE = SLODefaults(latency_ms=9000, max_cost_usd=0.5, min_quality=0.5)
TENANT = SLODefaults(latency_ms=8000, min_quality=0.6)


def test_precedence_header_body_tenant_route() -> None:
    headers = {"x-thinkroute-latency-ms": "1000"}
    body = {"latency_ms": 2000.0, "min_quality": 0.9, "max_cost_usd": None, "strategy": None}
    slo = resolve_slo(headers, body, TENANT, ROUTE)
    assert slo.latency_ms == 1000  # header beats body
    assert slo.min_quality == 0.9  # body beats tenant
    assert slo.max_cost_usd == 0.5  # route, as nobody else set it
    assert resolve_slo({}, None, TENANT, ROUTE).latency_ms == 8000  # tenant beats route
    assert resolve_slo({}, None, None, ROUTE).latency_ms == 9000


def test_strategy_header_forces_a_strategy() -> None:
    assert resolve_slo({"x-thinkroute-strategy": "think"}, None, None, ROUTE).strategy == "think"


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("x-thinkroute-latency-ms", "fast"),
        ("x-thinkroute-latency-ms", "0"),
        ("x-thinkroute-latency-ms", "nan"),
        ("x-thinkroute-max-cost-usd", "-1"),
        ("x-thinkroute-min-quality", "1.5"),
        ("x-thinkroute-min-quality", "inf"),
        ("x-thinkroute-strategy", "  "),
    ],
)
def test_invalid_header_values_name_the_header(header: str, value: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        resolve_slo({header: value}, None, None, ROUTE)
    assert info.value.param == header and header in info.value.message
