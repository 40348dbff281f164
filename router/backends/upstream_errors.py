"""Upstream HTTP failures turned into thinkroute's own exceptions, at the backend boundary.

429 stays 429 (with the upstream's ``Retry-After``); 400/404/413/422 mean the request itself was
refused (400 to the client); every other failure is the upstream's (5xx, auth misconfiguration,
a dropped connection) and reaches the client as 502; a timeout as 504.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Mapping

from router.errors import BackendError, UpstreamBadRequest, UpstreamRateLimited, UpstreamUnavailable

__all__ = ["error_for_status", "parse_retry_after", "upstream_message"]

_REQUEST_REFUSED = {400, 404, 413, 422}
_MAX_MESSAGE = 300


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); ``None`` if absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def upstream_message(body: str) -> str:
    """The error message of an upstream error body (OpenAI shape or plain text), shortened."""
    try:
        payload = json.loads(body)
    except ValueError:
        return body.strip()[:_MAX_MESSAGE]
    if isinstance(payload, dict):
        error = payload.get("error", payload)
        message = error.get("message") if isinstance(error, dict) else error
        if message:
            return str(message)[:_MAX_MESSAGE]
    return body.strip()[:_MAX_MESSAGE]


def error_for_status(status: int, body: str, headers: Mapping[str, str], *, backend: str) -> BackendError:
    """The exception for a non-2xx upstream answer."""
    detail = upstream_message(body) or f"HTTP {status}"
    message = f"upstream {backend!r} answered {status}: {detail}"
    if status == 429:
        return UpstreamRateLimited(message, backend=backend, retry_after=parse_retry_after(headers.get("retry-after")))
    if status in _REQUEST_REFUSED:
        return UpstreamBadRequest(message, backend=backend)
    if status in (401, 403):  # our credentials for the upstream are wrong: not retryable, not the client's fault
        return BackendError(message, backend=backend, code="upstream_auth_failed", details={"upstream_status": status})
    return UpstreamUnavailable(message, backend=backend, details={"upstream_status": status})
