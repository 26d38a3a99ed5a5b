"""The engine's events in Python's ``logging``: the logger ``wflo``.

The engine emits its events (refusals, clamps, overruns, checkpoints, rollbacks, alerts at
INFO or WARNING; every reservation and settlement at DEBUG) as one line each, with ids,
labels, model names, token counts and amounts — never a prompt, a reply or a key. Which
events exist, at which level, and how ``WFLO_LOG`` is read are the engine's; this module
hands the lines to ``logging.getLogger("wflo")``.

They are silent by default. ``WFLO_LOG`` (``off``, ``error``, ``warn``, ``info``, ``debug``,
``trace``) routes them at that level when wflo is imported; :func:`log_events` routes them at a
level chosen in code. The ``wflo`` logger's own level and handlers then apply as usual.
"""
from __future__ import annotations

import atexit
import logging
import threading
import warnings
from typing import Any, Optional, Union

from . import _ffi
from .errors import WfloError, invalid, native

_logger = logging.getLogger("wflo")

#: The engine's levels as ``logging``'s (``logging`` has no TRACE: DEBUG stands in).
_LEVELS = {
    _ffi.LogLevel.ERROR: logging.ERROR,
    _ffi.LogLevel.WARN: logging.WARNING,
    _ffi.LogLevel.INFO: logging.INFO,
    _ffi.LogLevel.DEBUG: logging.DEBUG,
    _ffi.LogLevel.TRACE: logging.DEBUG,
}

#: ``logging``'s standard levels by the engine's names for them.
_NAMES = {logging.ERROR: "error", logging.WARNING: "warn", logging.INFO: "info", logging.DEBUG: "debug"}


class _LoggingSink:
    """UniFFI's ``LogSink``: each line becomes a record of the ``wflo`` logger."""

    def log(self, level: Any, line: str) -> None:
        lvl = _LEVELS.get(level, logging.DEBUG)
        if _logger.isEnabledFor(lvl):
            _logger.log(lvl, line)


_sink = _LoggingSink()
_lock = threading.Lock()
_level: Optional[str] = None


def log_events(level: Union[str, int, None] = "info") -> Optional[str]:
    """Routes wflo's events at ``level`` and above to ``logging.getLogger("wflo")``, for the
    whole process: "error", "warn", "info", "debug" or "trace" (as ``WFLO_LOG`` takes them),
    or ``logging.ERROR`` / ``WARNING`` / ``INFO`` / ``DEBUG``; None or "off" silences them.
    Replaces whatever was routed before (``WFLO_LOG``'s level included). Returns the level in
    force ("info", …; None: silent). An unknown level raises :class:`InvalidArgumentError`."""
    if level is None:
        text = "off"
    elif isinstance(level, bool):
        raise invalid("level must be a level name or a logging level, got a bool")
    elif isinstance(level, int):
        name = _NAMES.get(level)
        if name is None:
            raise invalid(f"level must be logging.ERROR, WARNING, INFO or DEBUG, got {level}")
        text = name
    elif isinstance(level, str):
        text = level
    else:
        raise invalid(f"level must be a level name or a logging level, got {type(level).__name__}")
    with _lock:
        return _route(text)


def _route(level: Optional[str]) -> Optional[str]:
    """Routes at ``level`` (None: what ``WFLO_LOG`` says); returns the level in force."""
    global _level
    chosen = native(_ffi.set_log_sink, level, _sink)
    _level = None if chosen is None else chosen.name.lower()
    return _level


def _from_env() -> None:
    """At import: ``WFLO_LOG``'s level, if set. An unknown value is refused — wflo stays silent
    and says so with a warning rather than guess a level (or fail the import)."""
    try:
        if native(_ffi.log_level_from_env) is not None:
            _route(None)
    except WfloError as e:
        warnings.warn(f"wflo: {e.message}; wflo's events stay silent", RuntimeWarning, stacklevel=3)


@atexit.register
def _silence() -> None:
    # No line may reach Python once the interpreter is going away.
    if _level is not None:
        try:
            _ffi.set_log_sink("off", _sink)
        except Exception:
            pass

