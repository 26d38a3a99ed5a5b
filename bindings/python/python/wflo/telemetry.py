"""What the engine tells the host while it runs: budget alerts, the trace an execution
belongs to, and (on :class:`~wflo.Engine`) its metrics in the Prometheus text format.

Which alerts fire, when and in what order is the engine's rule (core's ``telemetry``); this
module hands them to Python callables and finds the host's current OpenTelemetry span, when
there is one, for an execution to join.
"""
from __future__ import annotations

import inspect
import logging
import sys
from dataclasses import dataclass
from typing import Any, Callable, Optional

from .errors import invalid

_log = logging.getLogger("wflo")


@dataclass(frozen=True)
class Alert:
    """A budget alert: spend on a scope reached a threshold of its limit (``kind``
    "threshold", ``percent`` of ``limit_usd``) or its soft budget (``kind`` "soft_budget").

    ``scope`` is "" for the execution's own budget, else a step label or a shared scope's name;
    ``execution_id`` and ``workflow`` are "" for a shared scope. ``str(alert)`` is one line for
    a person: "budget 80% reached on research/planner: $0.0810 of $0.1000".
    """

    execution_id: str
    workflow: str
    scope: str
    kind: str
    percent: int
    limit_nanos: int
    limit_usd: float
    spent_nanos: int
    spent_usd: float
    #: When it fired, milliseconds since the Unix epoch.
    at_ms: int
    summary: str

    def __str__(self) -> str:
        return self.summary

    @classmethod
    def _of(cls, a: Any) -> "Alert":
        return cls(a.execution_id, a.workflow, a.scope, a.kind, a.percent, a.limit_nanos, a.limit_usd,
                   a.spent_nanos, a.spent_usd, a.at_ms, a.summary)


AlertCallback = Callable[[Alert], Any]


def check_callback(callback: Any, what: str) -> AlertCallback:
    """``callback`` if it is a plain callable (a coroutine function would never be awaited)."""
    if not callable(callback):
        raise invalid(f"{what} must be a callable taking a wflo.Alert")
    if inspect.iscoroutinefunction(callback) or inspect.iscoroutinefunction(getattr(callback, "__call__", None)):
        raise invalid(f"{what} must be a plain function: it is called on the thread that settled the call, "
                      "where there is no event loop to await a coroutine")
    return callback


class AlertListener:
    """The engine's alert listener (UniFFI's ``AlertListener``) over a Python callable.
    ``execution_id`` set: only that execution's alerts reach it. What the callable raises is
    logged on the ``wflo`` logger and goes no further: the call that settled is not affected."""

    __slots__ = ("callback", "execution_id")

    def __init__(self, callback: AlertCallback, execution_id: Optional[str] = None) -> None:
        self.callback = callback
        self.execution_id = execution_id

    def on_alert(self, alert: Any) -> None:
        if self.execution_id is not None and alert.execution_id != self.execution_id:
            return
        try:
            self.callback(Alert._of(alert))
        except Exception:
            _log.warning("a budget alert callback raised; the alert was: %s", alert.summary, exc_info=True)


def current_traceparent() -> Optional[str]:
    """The W3C ``traceparent`` of the host's current OpenTelemetry span, or None (no span, or
    OpenTelemetry not in use). Nothing is imported when the host has not imported
    OpenTelemetry itself: then no span can be current."""
    if "opentelemetry.trace" not in sys.modules:
        return None
    try:
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
    except ImportError:
        return None
    carrier: dict = {}
    TraceContextTextMapPropagator().inject(carrier)
    return carrier.get("traceparent")
