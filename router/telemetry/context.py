"""The request being served, for code far from the HTTP layer (strategies, verifiers, backends).

The telemetry middleware binds the app's :class:`~router.telemetry.Telemetry` and the request's
:class:`RequestOutcome` to a context variable; tasks spawned for the request inherit it, so a
strategy can open a span with :func:`span` without being handed a tracer. Outside a request
(calibration, unit tests) :func:`span` is a no-op and :func:`current_outcome` a throwaway record.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry.trace import INVALID_SPAN, Span

from router.telemetry.outcome import RequestOutcome

if TYPE_CHECKING:
    from router.telemetry.core import Telemetry

__all__ = ["bind", "current_outcome", "current_telemetry", "span", "unbind"]

_CURRENT: contextvars.ContextVar[tuple[Telemetry, RequestOutcome] | None] = contextvars.ContextVar(
    "thinkroute_request", default=None
)


def bind(telemetry: Telemetry, outcome: RequestOutcome) -> contextvars.Token[tuple[Telemetry, RequestOutcome] | None]:
    """Make ``telemetry`` and ``outcome`` current for this task and the tasks it spawns."""
    return _CURRENT.set((telemetry, outcome))


def unbind(token: contextvars.Token[tuple[Telemetry, RequestOutcome] | None]) -> None:
    _CURRENT.reset(token)


def current_telemetry() -> Telemetry | None:
    """The telemetry of the request being served, if any."""
    bound = _CURRENT.get()
    return bound[0] if bound is not None else None


def current_outcome() -> RequestOutcome:
    """The outcome record of the request being served (a detached one outside a request)."""
    bound = _CURRENT.get()
    return bound[1] if bound is not None else RequestOutcome()


@contextmanager
def span(name: str, attributes: Mapping[str, Any] | None = None) -> Iterator[Span]:
    """A child span of the current one, on the current request's tracer (no-op outside a request).

    Use for strategy internals: ``with span("wave", {"thinkroute.wave.size": k}) as s: ...``.
    """
    telemetry = current_telemetry()
    if telemetry is None:
        yield INVALID_SPAN
        return
    with telemetry.span(name, attributes) as current:
        yield current
