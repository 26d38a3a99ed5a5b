"""Resource contention: the original SDK's ``ResourceLock``, ``get_resource_lock``,
``detect_contention`` and ``ContentionDetectedError``, each lock the engine's resource of that
name (``core/src/resilience/contention.rs``).

A resource is a named limit on concurrent holders — a lock (``max_concurrent=1``) or a
semaphore — kept in the engine's store, so every thread, task and process on that store
shares its slots and its statistics. A hold lives under a lease: a holder that dies frees its
slot when the lease ends. A wait longer than ``contention_threshold`` counts as contention; an
acquisition that waits ``timeout`` without a free slot raises :class:`ContentionDetectedError`
(a :class:`~wflo.ResourceBusyError`) naming who held the resource.

    from wflo.resilience import ResourceLock

    lock = ResourceLock("database-migrations", timeout=30.0)
    async with lock.acquire(workflow_id="exec-123"):
        await migrate()

Which store: ``engine=``, else the running workflow's engine, else the package's default
engine (:func:`wflo.get_default_engine`), resolved at each acquisition. Seconds in, seconds
out; the engine counts in milliseconds.
"""
from __future__ import annotations

import asyncio
import functools
import inspect
import json
import os
import threading
import weakref
from typing import Any, Callable, Dict, List, Optional, TypeVar

from .. import _ffi
from ..context import current_frame
from ..engine import Engine, get_default_engine, pure_engine
from ..errors import InvalidArgumentError, ResourceBusyError, from_native, invalid

T = TypeVar("T")


class ContentionDetectedError(ResourceBusyError):
    """No slot of ``resource_name`` freed within the acquisition's timeout. The original SDK's
    name for :class:`~wflo.ResourceBusyError` (either catches it): ``wait_time`` is how long it
    waited in seconds (``waited_ms`` in ms), ``holders`` who held the resource then, each as
    ``"<workflow id> (<host>:<pid>)"``."""

    def __init__(self, message: str, resource_name: str = "", wait_time: float = 0.0,
                 holders: Optional[List[str]] = None, *, waited_ms: Optional[int] = None) -> None:
        super().__init__(message, resource_name, round(wait_time * 1000) if waited_ms is None else waited_ms,
                         holders)
        self.resource_name = resource_name
        self.wait_time = wait_time if waited_ms is None else waited_ms / 1000


def _busy(e: Any) -> ContentionDetectedError:
    return ContentionDetectedError(e.message, e.resource, e.waited_ms / 1000, list(e.holders), waited_ms=e.waited_ms)


def _call(fn: Callable[..., T], *args: Any) -> T:
    """Calls the engine: a busy resource raises :class:`ContentionDetectedError`, other errors
    wflo's classes."""
    try:
        return fn(*args)
    except _ffi.WfloError.ResourceBusy as e:
        raise _busy(e) from None
    except _ffi.WfloError as e:
        raise from_native(e) from None
    except (TypeError, ValueError) as e:
        raise InvalidArgumentError(f"invalid argument: {e}") from None


async def _call_async(fn: Callable[..., Any], *args: Any) -> Any:
    try:
        return await fn(*args)
    except _ffi.WfloError.ResourceBusy as e:
        raise _busy(e) from None
    except _ffi.WfloError as e:
        raise from_native(e) from None
    except (TypeError, ValueError) as e:
        raise InvalidArgumentError(f"invalid argument: {e}") from None


def _ms(seconds: Any, what: str) -> int:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds >= 0:
        raise invalid(f"{what} must be a number of seconds, at least 0, not {seconds!r}")
    return round(seconds * 1000)


def _engine_of(engine: Optional[Engine]) -> Engine:
    """``engine``, else the running workflow's, else the package's default engine."""
    if engine is not None:
        return engine
    frame = current_frame()
    if frame is not None:
        return frame.workflow.engine
    return get_default_engine()


def _workflow_id(workflow_id: Optional[str]) -> str:
    """``workflow_id``, else the running workflow's execution id, else ``pid-<pid>``."""
    if workflow_id is not None:
        if not isinstance(workflow_id, str):
            raise invalid("workflow_id must be a string")
        return workflow_id
    frame = current_frame()
    running = frame.workflow.execution_id if frame is not None else None
    return running if running is not None else f"pid-{os.getpid()}"


class Permit:
    """A slot of a resource, held until :meth:`release` (also at the end of the ``with`` /
    ``async with`` block that acquired it, or when the permit is garbage-collected) or until
    its lease ends. ``waited_ms`` (``wait_time`` in seconds) is how long the acquisition
    waited."""

    def __init__(self, native_permit: Any, resource_name: str, workflow_id: str) -> None:
        self.native = native_permit
        self.resource_name = resource_name
        self.workflow_id = workflow_id
        self.waited_ms: int = native_permit.waited_ms()
        self.wait_time = self.waited_ms / 1000

    def renew(self) -> bool:
        """Extends the lease from now; False when it had already ended and the slot may have
        been taken by another holder (stop using the resource then)."""
        return _call(self.native.renew)

    def release(self) -> None:
        """Gives the slot back; releasing twice is fine."""
        _call(self.native.release)

    def __enter__(self) -> "Permit":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"Permit(resource_name={self.resource_name!r}, workflow_id={self.workflow_id!r}, " \
               f"waited_ms={self.waited_ms})"


class _Acquiring:
    """What :meth:`ResourceLock.acquire` returns: ``async with`` it (the permit is released
    at the end of the block) or ``await`` it for the :class:`Permit`."""

    def __init__(self, lock: "ResourceLock", workflow_id: Optional[str], timeout: Optional[float]) -> None:
        self._lock, self._workflow_id, self._timeout = lock, workflow_id, timeout
        self._permit: Optional[Permit] = None

    async def _take(self) -> Permit:
        native_resource, workflow_id, timeout_ms = self._lock._args(self._workflow_id, self._timeout)
        made = await _call_async(native_resource.acquire_async, workflow_id, timeout_ms)
        return Permit(made, self._lock.name, workflow_id)

    def __await__(self) -> Any:
        return self._take().__await__()

    async def __aenter__(self) -> Permit:
        self._permit = await self._take()
        return self._permit

    async def __aexit__(self, *exc: Any) -> None:
        permit, self._permit = self._permit, None
        if permit is not None:
            # One store write, off the event loop; it completes even if this task is cancelled.
            await asyncio.to_thread(permit.release)


class ResourceLock:
    """The engine's resource ``name``: at most ``max_concurrent`` holders at once (1: a lock)
    across every thread, task and process on the store. An acquisition waits up to
    ``timeout`` seconds for a slot, then raises :class:`ContentionDetectedError`; a wait longer
    than ``contention_threshold`` seconds counts as contention. ``lease``: seconds a hold lasts
    without :meth:`Permit.renew` (None: the engine's lease). ``engine``: whose store (default
    the running workflow's engine, else the package's default engine, at each acquisition).

        async with lock.acquire(workflow_id="exec-123"):        # asyncio: the wait is off the loop
            ...
        with lock.acquire_sync(workflow_id="exec-123"):         # threads
            ...
    """

    def __init__(self, name: str, timeout: float = 30.0, contention_threshold: float = 5.0,
                 max_concurrent: int = 1, *, engine: Optional[Engine] = None,
                 lease: Optional[float] = None) -> None:
        if not isinstance(name, str):
            raise invalid("a resource's name must be a string")
        if engine is not None and not isinstance(engine, Engine):
            raise invalid("engine must be a wflo.Engine")
        if isinstance(max_concurrent, bool) or not isinstance(max_concurrent, int):
            raise invalid(f"max_concurrent must be a whole number, not {max_concurrent!r}")
        config: Dict[str, Any] = {"max_concurrent": max_concurrent, "timeout_ms": _ms(timeout, "timeout"),
                                  "contention_threshold_ms": _ms(contention_threshold, "contention_threshold")}
        if lease is not None:
            config["lease_ms"] = _ms(lease, "lease")
        self._config = json.dumps(config)
        self.name = name
        self.timeout = timeout
        self.contention_threshold = contention_threshold
        self.max_concurrent = max_concurrent
        self.lease = lease
        # The engine's resource per engine used. It holds the engine's core, not the Python
        # Engine, so get_resource_lock's registry (weak by engine) can let an engine go.
        self._natives: "weakref.WeakKeyDictionary[Engine, Any]" = weakref.WeakKeyDictionary()
        self._natives_lock = threading.Lock()
        # The engine checks the name and the settings now (on the private in-memory engine when
        # the store is chosen at each acquisition).
        made = _call((engine or pure_engine()).native.resource, name, self._config)
        self._fixed = made if engine is not None else None

    def _native(self) -> Any:
        if self._fixed is not None:
            return self._fixed
        engine = _engine_of(None)
        with self._natives_lock:
            made = self._natives.get(engine)
            if made is None:
                made = self._natives[engine] = _call(engine.native.resource, self.name, self._config)
            return made

    def _args(self, workflow_id: Optional[str], timeout: Optional[float]) -> Any:
        timeout_ms = None if timeout is None else _ms(timeout, "timeout")
        return self._native(), _workflow_id(workflow_id), timeout_ms

    def acquire(self, workflow_id: Optional[str] = None, timeout: Optional[float] = None) -> _Acquiring:
        """A slot for ``workflow_id`` (default the running workflow's execution id, else
        ``pid-<pid>``), waiting up to ``timeout`` seconds (None: the lock's timeout; 0: do not
        wait) in a worker thread, so the event loop goes on. ``async with lock.acquire(...) as
        permit:`` holds it for the block; ``permit = await lock.acquire(...)`` returns the
        :class:`Permit` to release yourself. Raises :class:`ContentionDetectedError` when no
        slot freed in time."""
        return _Acquiring(self, workflow_id, timeout)

    def acquire_sync(self, workflow_id: Optional[str] = None, timeout: Optional[float] = None) -> Permit:
        """:meth:`acquire` blocking the calling thread: the :class:`Permit`, also a context
        manager (``with lock.acquire_sync("exec-123"):`` releases it at the end of the
        block)."""
        native_resource, workflow_id, timeout_ms = self._args(workflow_id, timeout)
        return Permit(_call(native_resource.acquire, workflow_id, timeout_ms), self.name, workflow_id)

    def get_stats(self) -> Dict[str, Any]:
        """The resource's statistics, as every process on the store sees them:
        ``resource_name``, ``total_acquisitions``, ``contention_count`` (waits past the
        threshold, granted or timed out), ``timeouts``, ``contention_rate`` (contentions per
        acquisition attempt, 0.0 when none), ``avg_wait_time`` and ``max_wait_time`` (seconds,
        over granted acquisitions; also as the original SDK's ``avg_wait_time_seconds`` and
        ``max_wait_time_seconds``), ``current_holders`` (workflow ids, oldest first),
        ``holders`` (the engine's records: ``hold_id``, ``holder`` host:pid, ``workflow_id``,
        ``acquired_at_ms``, ``lease_until_ms``) and ``concurrent_capacity``."""
        native_resource = self._native()
        figures = json.loads(_call(native_resource.stats_json))
        acquisitions, contentions, timeouts = figures["acquisitions"], figures["contentions"], figures["timeouts"]
        attempts = acquisitions + timeouts
        avg = round(figures["total_wait_ms"] / acquisitions / 1000, 3) if acquisitions else 0.0
        longest = figures["max_wait_ms"] / 1000
        return {
            "resource_name": self.name,
            "total_acquisitions": acquisitions,
            "contention_count": contentions,
            "contention_rate": round(contentions / attempts, 3) if attempts else 0.0,
            "avg_wait_time": avg,
            "max_wait_time": longest,
            "avg_wait_time_seconds": avg,
            "max_wait_time_seconds": longest,
            "current_holders": [h["workflow_id"] for h in figures["holders"]],
            "holders": figures["holders"],
            "concurrent_capacity": json.loads(native_resource.config_json())["max_concurrent"],
            "timeouts": timeouts,
        }

    def reset_stats(self) -> None:
        """Zeroes the statistics for every process on the store (holds stay)."""
        _call(self._native().reset_stats)

    def __repr__(self) -> str:
        return f"ResourceLock(name={self.name!r}, max_concurrent={self.max_concurrent})"


# One ResourceLock object per name per engine. A lock holds no reference to its Python Engine,
# so an engine that goes away takes its entry with it.
_registry: "weakref.WeakKeyDictionary[Engine, Dict[str, ResourceLock]]" = weakref.WeakKeyDictionary()
_registry_lock = threading.Lock()


def get_resource_lock(name: str, timeout: float = 30.0, contention_threshold: float = 5.0, max_concurrent: int = 1,
                      *, engine: Optional[Engine] = None, lease: Optional[float] = None) -> ResourceLock:
    """The :class:`ResourceLock` ``name`` of ``engine`` (default the running workflow's engine,
    else the package's default engine), made with these settings the first time; later calls
    return the same object, whatever settings they pass."""
    if engine is not None and not isinstance(engine, Engine):
        raise invalid("engine must be a wflo.Engine")
    engine = _engine_of(engine)
    with _registry_lock:
        named = _registry.setdefault(engine, {})
        lock = named.get(name)
        if lock is None:
            lock = named[name] = ResourceLock(name, timeout, contention_threshold, max_concurrent, engine=engine,
                                              lease=lease)
        return lock


def _is_async(func: Any) -> bool:
    return inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(getattr(func, "__call__", None))


def detect_contention(resource_name: str, timeout: float = 30.0, contention_threshold: float = 5.0,
                      max_concurrent: int = 1, *, workflow_id: Optional[str] = None,
                      engine: Optional[Engine] = None,
                      lease: Optional[float] = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorates a function (sync or async) so each call holds a slot of ``resource_name``
    (:func:`get_resource_lock` when the call is made) for ``workflow_id`` (default the running
    workflow's execution id, else ``pid-<pid>``); a call that finds no slot within ``timeout``
    seconds raises :class:`ContentionDetectedError` without running."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        def lock() -> ResourceLock:
            return get_resource_lock(resource_name, timeout, contention_threshold, max_concurrent, engine=engine,
                                     lease=lease)

        if _is_async(func):
            @functools.wraps(func)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                async with lock().acquire(workflow_id):
                    return await func(*args, **kwargs)
            return run_async

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            with lock().acquire_sync(workflow_id):
                return func(*args, **kwargs)
        return run

    return decorate


__all__ = ["ContentionDetectedError", "Permit", "ResourceLock", "detect_contention", "get_resource_lock"]
