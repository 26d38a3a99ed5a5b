"""Circuit breakers: the original SDK's ``CircuitBreaker``, ``get_circuit_breaker`` and
``circuit_breaker``, each one the engine's breaker of that name (``core/src/resilience/
breaker.rs``).

After enough failures of a provider, a model or a tool, calls through its breaker fail fast
with :class:`CircuitBreakerOpenError` — the function is not called, nothing is reserved or
sent — until the recovery timeout has passed; then a few trial calls decide whether it closes
again. The states, counts and timings are the engine's; every ``CircuitBreaker`` of one name
on one engine (by default the package's default engine, :func:`wflo.get_default_engine`)
shares them. With ``shared=True`` the state is kept in the store, and every process on that
store steps the same breaker; :meth:`wflo.Engine.breakers_on_store` lists them and every
breaker's changes of state.
"""
from __future__ import annotations

import functools
import inspect
import json
import threading
import weakref
from enum import Enum
from typing import Any, Callable, Dict, Optional, Tuple, Type, TypeVar, Union

from .. import _ffi
from ..engine import Engine, get_default_engine
from ..errors import CircuitOpenError, WfloError, from_native, invalid, is_refusal, native

T = TypeVar("T")

ExceptionTypes = Union[Type[BaseException], Tuple[Type[BaseException], ...]]


class CircuitState(str, Enum):
    """Where a breaker is."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreakerOpenError(CircuitOpenError):
    """The breaker ``circuit_name`` is open: the call was refused without being made. The
    original SDK's name for :class:`~wflo.CircuitOpenError` (either catches it);
    ``failure_count`` is ``failures``."""

    def __init__(self, message: str, circuit_name: str = "", failure_count: int = 0, retry_in_ms: int = 0) -> None:
        super().__init__(message, circuit_name, failure_count, retry_in_ms)
        self.circuit_name = circuit_name
        self.failure_count = failure_count


def _settings(failure_threshold: int, recovery_timeout: float, success_threshold: int,
              failure_rate: Optional[float], window: Optional[int], min_calls: Optional[int],
              shared: bool) -> str:
    if isinstance(recovery_timeout, bool) or not isinstance(recovery_timeout, (int, float)) \
            or not recovery_timeout >= 0:
        raise invalid(f"recovery_timeout must be a number of seconds, at least 0, not {recovery_timeout!r}")
    if not isinstance(shared, bool):
        raise invalid(f"shared must be True or False, not {shared!r}")
    config: Dict[str, Any] = {"failure_threshold": failure_threshold,
                              "recovery_timeout_ms": round(recovery_timeout * 1000),
                              "success_threshold": success_threshold,
                              "shared": shared}
    for key, value in (("failure_rate", failure_rate), ("window", window), ("min_calls", min_calls)):
        if value is not None:
            config[key] = value
    return json.dumps(config)


class CircuitBreaker:
    """The engine's breaker ``name``: closed → open after ``failure_threshold`` consecutive
    failures (or, with ``failure_rate``, when that fraction of the last ``window`` calls
    failed, once ``min_calls`` were made); open → half-open after ``recovery_timeout``
    seconds; half-open → closed after ``success_threshold`` successful trial calls, → open on
    a failure. The settings apply when the engine makes the breaker, the first time the name
    is asked for; later breakers of the same name share it (:attr:`config` shows what is in
    force).

    Only exceptions that are instances of ``expected_exception`` count as failures; others —
    and wflo's own refusals, which say nothing about the protected service (whatever the
    engine's rule calls one: a budget, another open breaker, a busy resource, a denied or
    pending approval) — pass through without being recorded, neither a failure nor a success.
    ``engine``: default the package's default engine.

    ``shared=True`` keeps the state in the store: every process on the store sees one breaker
    (a failure through one engine counts for all, an open breaker refuses everywhere, a reset
    closes it everywhere); give them all the same settings; each check/outcome is a store
    transaction. A store that fails then raises wflo's error (:class:`~wflo.StorageError`,
    :class:`~wflo.ClosedError` once the engine is closed) from
    :meth:`check`, :meth:`record_success`, :meth:`record_failure`, :meth:`reset`,
    :attr:`state` and :meth:`get_state`. Default ``False``: the breaker is this engine's alone
    (its changes of state are still recorded in the store)."""

    def __init__(self, name: str, failure_threshold: int = 5, recovery_timeout: float = 60.0,
                 success_threshold: int = 2, expected_exception: ExceptionTypes = Exception, *,
                 failure_rate: Optional[float] = None, window: Optional[int] = None,
                 min_calls: Optional[int] = None, shared: bool = False,
                 engine: Optional[Engine] = None) -> None:
        if not isinstance(name, str):
            raise invalid("a circuit breaker's name must be a string")
        if engine is not None and not isinstance(engine, Engine):
            raise invalid("engine must be a wflo.Engine")
        config = _settings(failure_threshold, recovery_timeout, success_threshold, failure_rate, window, min_calls,
                           shared)
        self.native = native((engine or get_default_engine()).native.breaker, name, config)
        self.name = name
        self.expected_exception = expected_exception

    # -- the engine's breaker ------------------------------------------------------------------

    def check(self) -> None:
        """Raises :class:`CircuitBreakerOpenError` while the breaker is open (a breaker past
        its recovery timeout turns half-open and lets the call through). For code that makes
        the call itself: check, call, then :meth:`record_success` or :meth:`record_failure`."""
        try:
            self.native.check()
        except _ffi.WfloError.CircuitOpen as e:
            raise CircuitBreakerOpenError(e.message, e.name, e.failures, e.retry_in_ms) from None
        except _ffi.WfloError as e:
            raise from_native(e) from None

    def record_success(self) -> None:
        """The call :meth:`check` let through succeeded."""
        native(self.native.record_success)

    def record_failure(self) -> None:
        """The call :meth:`check` let through failed."""
        native(self.native.record_failure)

    def reset(self) -> None:
        """Closes the breaker and forgets its counts (a shared one: for every process on the
        store)."""
        native(self.native.reset)

    @property
    def state(self) -> CircuitState:
        """The state now (an open breaker past its recovery timeout reads as half-open; a
        shared breaker's, read from the store)."""
        return CircuitState(native(self.native.state))

    def get_state(self) -> Dict[str, Any]:
        """The breaker's figures: ``name``, ``shared``, ``state``, ``failure_count``,
        ``success_count``, ``total_calls``, ``total_failures``, ``rejected``, ``opened_at_ms``,
        ``retry_in_ms``, ``transitions`` (the latest changes of state: ``breaker``, ``shared``,
        ``from``, ``to``, ``at_ms``, ``reason``, ``holder``) — a shared breaker's as the store
        has them."""
        return json.loads(native(self.native.status_json))

    @property
    def failure_count(self) -> int:
        return self.get_state()["failure_count"]

    @property
    def success_count(self) -> int:
        return self.get_state()["success_count"]

    @property
    def config(self) -> Dict[str, Any]:
        """The settings in force (``failure_threshold``, ``recovery_timeout_ms``,
        ``success_threshold``, ``failure_rate``, ``window``, ``min_calls``, ``shared``)."""
        return json.loads(self.native.config_json())

    @property
    def failure_threshold(self) -> int:
        return self.config["failure_threshold"]

    @property
    def recovery_timeout(self) -> float:
        """Seconds."""
        return self.config["recovery_timeout_ms"] / 1000

    @property
    def success_threshold(self) -> int:
        return self.config["success_threshold"]

    @property
    def shared(self) -> bool:
        """Whether the state is kept in the store (one breaker for every process on it)."""
        return self.config["shared"]

    # -- running a call through it ----------------------------------------------------------------

    def _counts(self, error: BaseException) -> bool:
        return isinstance(error, self.expected_exception) and not is_refusal(error)

    async def call(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``func(*args, **kwargs)`` (sync or async) through the breaker: refused with
        :class:`CircuitBreakerOpenError` while it is open, without calling ``func``; its
        outcome recorded otherwise — a success, or a failure when it raised an instance of
        ``expected_exception`` that is not a wflo refusal (a refusal is recorded as neither:
        see :class:`CircuitBreaker`)."""
        self.check()
        try:
            result = func(*args, **kwargs)
            if inspect.isawaitable(result):
                result = await result
        except BaseException as e:
            if self._counts(e):
                self.record_failure()
            raise
        self.record_success()
        return result

    def call_sync(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """:meth:`call` for a plain function."""
        if _is_async(func):
            raise invalid("call_sync takes a plain function; await call() for an async one")
        self.check()
        try:
            result = func(*args, **kwargs)
        except BaseException as e:
            if self._counts(e):
                self.record_failure()
            raise
        self.record_success()
        return result

    def __repr__(self) -> str:
        try:
            state = self.state.value
        except WfloError as e:  # a shared breaker whose store fails: repr must not raise
            state = f"unknown ({type(e).__name__})"
        return f"CircuitBreaker(name={self.name!r}, state={state!r})"


def _is_async(func: Any) -> bool:
    return inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(getattr(func, "__call__", None))


# One CircuitBreaker object per name per engine (the engine holds one breaker per name; this
# keeps the Python object, its expected_exception with it). A breaker holds no reference to its
# engine, so an engine that goes away takes its entry with it.
_registry: "weakref.WeakKeyDictionary[Engine, Dict[str, CircuitBreaker]]" = weakref.WeakKeyDictionary()
_registry_lock = threading.Lock()


def get_circuit_breaker(name: str, *, engine: Optional[Engine] = None, shared: bool = False,
                        **settings: Any) -> CircuitBreaker:
    """The breaker ``name`` of ``engine`` (default the package's default engine), made with
    ``settings`` (:class:`CircuitBreaker`'s) the first time; later calls return the same
    object, whatever settings they pass. ``shared=True`` keeps the state in the store: every
    process on the store sees one breaker; give them all the same settings; each
    check/outcome is a store transaction."""
    if engine is not None and not isinstance(engine, Engine):
        raise invalid("engine must be a wflo.Engine")
    engine = engine or get_default_engine()
    with _registry_lock:
        named = _registry.setdefault(engine, {})
        breaker = named.get(name)
        if breaker is None:
            breaker = named[name] = CircuitBreaker(name, engine=engine, shared=shared, **settings)
        return breaker


def circuit_breaker(name: Optional[str] = None, failure_threshold: int = 5, recovery_timeout: float = 60.0,
                    success_threshold: int = 2, expected_exception: ExceptionTypes = Exception, *,
                    shared: bool = False, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorates a function (sync or async) so each call goes through the breaker ``name``
    (default the function's qualified name), got with :func:`get_circuit_breaker` when the
    call is made (``options``: ``failure_rate``, ``window``, ``min_calls``, ``engine``).
    ``shared=True`` keeps the state in the store: every process on the store sees one
    breaker; give them all the same settings; each check/outcome is a store transaction."""
    settings = dict(failure_threshold=failure_threshold, recovery_timeout=recovery_timeout,
                    success_threshold=success_threshold, expected_exception=expected_exception, shared=shared,
                    **options)

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        label = name or getattr(func, "__qualname__", None) or repr(func)

        if _is_async(func):
            @functools.wraps(func)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                return await get_circuit_breaker(label, **settings).call(func, *args, **kwargs)
            return run_async

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            return get_circuit_breaker(label, **settings).call_sync(func, *args, **kwargs)
        return run

    return decorate


__all__ = ["CircuitBreaker", "CircuitBreakerOpenError", "CircuitState", "circuit_breaker", "get_circuit_breaker"]
