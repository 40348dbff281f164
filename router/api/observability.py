"""``GET /metrics`` (Prometheus text format), ``GET /dashboard`` (a static page) and its JSON feed."""

from __future__ import annotations

from functools import cache
from importlib import resources

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from router.telemetry import Telemetry

__all__ = ["observability_router"]

observability_router = APIRouter()

_ASSETS = {
    "dashboard.html": "text/html; charset=utf-8",
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
}
_PAGE_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'",
    "x-content-type-options": "nosniff",
    "cache-control": "no-cache",
}


def _telemetry(request: Request) -> Telemetry:
    telemetry: Telemetry | None = getattr(request.app.state, "telemetry", None)
    return telemetry if telemetry is not None else Telemetry.noop()


@cache
def _asset(name: str) -> bytes:
    return resources.files("router.telemetry").joinpath("static", name).read_bytes()


@observability_router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Every ``thinkroute_*`` metric in the Prometheus text exposition format."""
    return Response(_telemetry(request).prometheus_text(), media_type=CONTENT_TYPE_PLAIN_0_0_4)


@observability_router.get("/dashboard", include_in_schema=False)
async def dashboard() -> Response:
    """The built-in live dashboard (static HTML; its script polls ``/dashboard/data``)."""
    return Response(_asset("dashboard.html"), media_type=_ASSETS["dashboard.html"], headers=_PAGE_HEADERS)


@observability_router.get("/dashboard/data")
async def dashboard_data(request: Request) -> JSONResponse:
    """Routing mix, spend by tenant, latency percentiles and recent decisions with their explanations."""
    return JSONResponse(_telemetry(request).dashboard_data(), headers={"cache-control": "no-store"})


@observability_router.get("/dashboard/{name}", include_in_schema=False)
async def dashboard_asset(name: str) -> Response:
    """The page's script and stylesheet."""
    if name not in _ASSETS or name == "dashboard.html":
        return JSONResponse({"error": {"message": "Not found.", "type": "invalid_request_error",
                                       "param": None, "code": "not_found"}}, 404)  # fmt: skip
    return Response(_asset(name), media_type=_ASSETS[name], headers=_PAGE_HEADERS)
