"""thinkroute's exception tree. Every error the router raises on purpose derives from here.

    ThinkrouteError                      (500 unless a subclass says otherwise)
    ├── RequestError                     (4xx: the client's request is at fault)
    │   ├── InvalidRequest               400 invalid_request_error
    │   ├── AuthenticationFailed         401 authentication_error
    │   ├── PermissionDenied             403 permission_error
    │   ├── ModelNotFound                404 model_not_found
    │   ├── RequestTooLarge              413 request_too_large
    │   ├── SLOUnsatisfiable             422 slo_unsatisfiable
    │   ├── BudgetExceeded               402 budget_exceeded
    │   └── RateLimited                  429 rate_limit_exceeded (Retry-After)
    ├── PolicyError                      invalid policy file (refused at start / reload)
    │   └── UnknownComponent             unknown strategy/verifier/stopping-rule name (also a KeyError)
    ├── ServiceUnavailable               503 (not ready, queue full; Retry-After)
    └── BackendError                     an upstream model call failed
        ├── UpstreamRateLimited          429 (upstream said 429)
        ├── UpstreamUnavailable          502 (upstream 5xx, connection error, malformed reply)
        ├── UpstreamTimeout              504 (deadline passed)
        └── UpstreamBadRequest           400 (upstream rejected the request)

Errors from third-party libraries (LiteLLM, httpx, onnxruntime, transformers, redis) are
converted into these types at the boundary where they are called.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationFailed",
    "BackendError",
    "BudgetExceeded",
    "InvalidRequest",
    "ModelNotFound",
    "PermissionDenied",
    "PolicyError",
    "RateLimited",
    "RequestError",
    "RequestTooLarge",
    "SLOUnsatisfiable",
    "ServiceUnavailable",
    "ThinkrouteError",
    "UnknownComponent",
    "UpstreamBadRequest",
    "UpstreamRateLimited",
    "UpstreamTimeout",
    "UpstreamUnavailable",
]


class ThinkrouteError(Exception):
    """Base of every deliberate thinkroute error; carries its HTTP mapping."""

    status_code: int = 500
    error_type: str = "server_error"
    code: str | None = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        retry_after: float | None = None,
        details: dict[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        self.retry_after = retry_after
        self.details = details or {}


class RequestError(ThinkrouteError):
    """The client's request is at fault (4xx)."""

    status_code = 400
    error_type = "invalid_request_error"
    code = "invalid_request"


class InvalidRequest(RequestError):
    """Malformed or semantically invalid request (400)."""


class AuthenticationFailed(RequestError):
    """Missing, unknown or revoked API key (401)."""

    status_code = 401
    error_type = "authentication_error"
    code = "invalid_api_key"


class PermissionDenied(RequestError):
    """Authenticated, but not allowed to do this (403)."""

    status_code = 403
    error_type = "permission_error"
    code = "permission_denied"


class ModelNotFound(RequestError):
    """The requested model names no route of the policy (404)."""

    status_code = 404
    error_type = "invalid_request_error"
    code = "model_not_found"


class RequestTooLarge(RequestError):
    """Body over the configured size limit (413)."""

    status_code = 413
    error_type = "invalid_request_error"
    code = "request_too_large"


class SLOUnsatisfiable(RequestError):
    """No candidate plan fits the request's latency and cost SLOs (422)."""

    status_code = 422
    error_type = "invalid_request_error"
    code = "slo_unsatisfiable"


class BudgetExceeded(RequestError):
    """The tenant's budget cannot cover the plan's worst case (402)."""

    status_code = 402
    error_type = "insufficient_quota"
    code = "budget_exceeded"


class RateLimited(RequestError):
    """A request or token rate limit was hit (429, with Retry-After)."""

    status_code = 429
    error_type = "rate_limit_error"
    code = "rate_limit_exceeded"


class PolicyError(ThinkrouteError):
    """A policy file is invalid; ``errors`` lists one line per problem with its path."""

    code = "invalid_policy"

    def __init__(self, message: str, errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or [message]


class UnknownComponent(PolicyError, KeyError):
    """A name that is not in its registry; ``known`` lists the registered names."""

    code = "unknown_component"

    def __init__(self, kind: str, name: str, known: list[str]) -> None:
        super().__init__(f"unknown {kind} {name!r} (known: {', '.join(sorted(known))})")
        self.kind = kind
        self.name = name
        self.known = sorted(known)

    def __str__(self) -> str:  # KeyError would quote the message
        return self.message


class ServiceUnavailable(ThinkrouteError):
    """Temporarily unable to serve (not ready, queue full); retry later (503)."""

    status_code = 503
    error_type = "server_error"
    code = "service_unavailable"


class BackendError(ThinkrouteError):
    """A model backend call failed."""

    status_code = 502
    error_type = "upstream_error"
    code = "upstream_error"

    def __init__(self, message: str, *, backend: str | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.backend = backend


class UpstreamRateLimited(BackendError):
    """The upstream answered 429."""

    status_code = 429
    error_type = "rate_limit_error"
    code = "upstream_rate_limited"


class UpstreamUnavailable(BackendError):
    """Upstream 5xx, connection failure or malformed reply (502)."""


class UpstreamTimeout(BackendError):
    """The upstream did not answer before the plan's deadline (504)."""

    status_code = 504
    error_type = "timeout_error"
    code = "upstream_timeout"


class UpstreamBadRequest(BackendError):
    """The upstream rejected the request as invalid (400)."""

    status_code = 400
    error_type = "invalid_request_error"
    code = "upstream_bad_request"
