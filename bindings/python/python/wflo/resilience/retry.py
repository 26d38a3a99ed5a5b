"""Budget-aware retries: the original SDK's ``RetryManager`` and ``retry_with_backoff``.

Every rule is the engine's (``core/src/resilience/retry.rs``): which failures are retried,
the backoff and its jitter, a server's ``Retry-After``/rate-limit headers, the deadline, the
words of a give-up and of a refused retry. This module runs the loop in Python's idiom
(``await asyncio.sleep`` / ``time.sleep``) and converts types: an exception becomes the
engine's ``Failure`` (:func:`failure_of`), its decision a sleep or an exception.

Each attempt is an ordinary call: inside a :class:`~wflo.WfloWorkflow` an instrumented SDK
reserves it before sending, so a retry the budget cannot cover is refused before anything is
sent — and that refusal (:class:`~wflo.BudgetExceededError`) is never retried; its message
says which attempt was not sent and what failed before it. No other wflo refusal (the engine's
rule: an open breaker, a busy resource, a denied or pending approval) is retried either: it is
raised as it is.
"""
from __future__ import annotations

import asyncio
import functools
import inspect
import json
import sys
import time
from enum import Enum
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, Type, TypeVar, Union

from .. import engine as _engine
from ..context import current_frame
from ..errors import BudgetExceededError, from_native, invalid, is_refusal, native

T = TypeVar("T")

ExceptionTypes = Union[Type[BaseException], Tuple[Type[BaseException], ...]]
OnRetry = Callable[[int, BaseException, float], Any]


class RetryStrategy(str, Enum):
    """How the delay grows from one retry to the next (the engine's ``backoff``)."""

    EXPONENTIAL = "exponential"
    LINEAR = "linear"
    FIXED = "fixed"


class RetryExhaustedError(Exception):
    """The retries ran out (or the deadline passed). ``attempts`` is how many were made,
    ``last_exception`` the last one's error (also ``__cause__``); the message is the engine's
    reason for giving up."""

    def __init__(self, attempts: int, last_exception: BaseException, reason: Optional[str] = None) -> None:
        super().__init__(reason if reason is not None else str(last_exception))
        self.attempts = attempts
        self.last_exception = last_exception


# -- an exception as the engine's Failure ---------------------------------------------------------

def _types(module: str, *names: str) -> Tuple[type, ...]:
    """The classes ``names`` of ``module`` when the program imported it (never imported here:
    an SDK the program does not use cannot have raised)."""
    mod = sys.modules.get(module)
    return tuple(c for c in (getattr(mod, n, None) for n in names) if isinstance(c, type))


def _timeout_types() -> Tuple[type, ...]:
    import concurrent.futures

    return (TimeoutError, asyncio.TimeoutError, concurrent.futures.TimeoutError) \
        + _types("httpx", "TimeoutException") + _types("openai", "APITimeoutError") \
        + _types("anthropic", "APITimeoutError")


def _connection_types() -> Tuple[type, ...]:
    return (ConnectionError,) + _types("httpx", "NetworkError", "RemoteProtocolError") \
        + _types("openai", "APIConnectionError") + _types("anthropic", "APIConnectionError")


def _status(e: BaseException) -> Tuple[Optional[int], Any]:
    """The HTTP status an exception carries and the response (or exception) with its headers:
    openai/anthropic ``APIStatusError`` (``status_code``, ``response``), httpx
    ``HTTPStatusError`` (``response.status_code``), aiohttp-style ``status``/``headers``."""
    response = getattr(e, "response", None)
    for holder, attr in ((e, "status_code"), (response, "status_code"), (e, "status")):
        status = getattr(holder, attr, None) if holder is not None else None
        if isinstance(status, int) and not isinstance(status, bool) and 100 <= status <= 599:
            return status, response if getattr(response, "headers", None) is not None else e
    return None, None


def _headers(holder: Any) -> List[List[str]]:
    headers = getattr(holder, "headers", None)
    items = getattr(headers, "items", None)
    if not callable(items):
        return []
    try:
        return [[str(k), str(v)] for k, v in items()]
    except Exception:  # a header object that cannot be listed: the retry goes by the policy alone
        return []


def failure_of(error: BaseException, retryable_exceptions: ExceptionTypes = (Exception,)) -> Dict[str, Any]:
    """The engine's ``Failure`` for an exception an attempt raised (a dict for
    :meth:`Retrier.next`): wflo's own refusals — whatever the engine's rule calls one (a
    budget, an open breaker, a busy resource, a denied or pending approval) — are "refused"; an
    exception with an HTTP status "http" with the response's headers (the engine reads
    ``Retry-After`` and the rate-limit resets); the SDKs' and the
    standard library's timeouts "timeout", connection failures "connection"; any other
    instance of ``retryable_exceptions`` "transient"; an exception that is not one of those
    "other".
    Only ids, statuses and headers are kept — never a prompt or a reply."""
    if is_refusal(error):
        return {"kind": "refused", "status": None, "headers": [], "message": from_native(error).code}
    if isinstance(retryable_exceptions, (list, set, frozenset)):
        retryable_exceptions = tuple(retryable_exceptions)
    text = f"{type(error).__name__}: {error}"[:200]
    if not isinstance(error, retryable_exceptions):
        return {"kind": "other", "status": None, "headers": [], "message": text}
    status, holder = _status(error)
    if status is not None:
        phrase = getattr(getattr(error, "response", None), "reason_phrase", None)
        message = f"{status} {phrase}" if isinstance(phrase, str) and phrase else f"{type(error).__name__} ({status})"
        return {"kind": "http", "status": status, "headers": _headers(holder), "message": message}
    if isinstance(error, _timeout_types()):
        return {"kind": "timeout", "status": None, "headers": [], "message": text}
    if isinstance(error, _connection_types()):
        return {"kind": "connection", "status": None, "headers": [], "message": text}
    return {"kind": "transient", "status": None, "headers": [], "message": text}


# -- the engine's retrier ----------------------------------------------------------------------------

def _engine_now(engine: Optional["_engine.Engine"]) -> "_engine.Engine":
    """``engine``, else the running workflow's, else the package's private in-memory one (a
    retrier only needs the engine's clock)."""
    if engine is not None:
        return engine
    frame = current_frame()
    if frame is not None:
        return frame.workflow.engine
    return _engine.pure_engine()


class Retrier:
    """The retry state of ONE logical call, the engine's: ask :meth:`next` after each failed
    attempt and do what it says. ``policy``: the engine's policy (a dict or JSON text:
    ``backoff`` "exponential"/"linear"/"fixed", ``max_retries``, ``base_delay_ms``,
    ``max_delay_ms``, ``multiplier``, ``jitter``, ``deadline_ms``, ``retry_statuses``,
    ``retry_timeouts``, ``retry_connection_errors``, ``seed``; absent keys keep the engine's
    defaults). Thread-safe. :class:`RetryManager` runs this loop for you."""

    def __init__(self, policy: Union[None, str, Dict[str, Any]] = None, *,
                 engine: Optional["_engine.Engine"] = None) -> None:
        if policy is not None and not isinstance(policy, (str, dict)):
            raise invalid("policy must be a dict or JSON text")
        text = policy if policy is None or isinstance(policy, str) else json.dumps(policy)
        self.native = native(_engine_now(engine).native.retrier, text)

    def next(self, failure: Union[str, Dict[str, Any], BaseException]) -> Dict[str, Any]:
        """The attempt just made failed: ``{"decision": "retry", "attempt", "delay_ms",
        "reason"}`` (wait ``delay_ms``, then make attempt ``attempt``) or ``{"decision":
        "give_up", "why", "reason"}`` — ``why`` the rule: "not_retryable" (the failure stands
        as it is), "exhausted" or "deadline" (the retries ran out). ``failure``: the engine's Failure (a dict or JSON text), or
        an exception (converted by :func:`failure_of`)."""
        if isinstance(failure, BaseException):
            failure = failure_of(failure)
        text = failure if isinstance(failure, str) else json.dumps(failure)
        return json.loads(native(self.native.next, text))

    @property
    def attempt(self) -> int:
        """The attempt being made now (1 for the first)."""
        return self.native.attempt()

    @property
    def refusal_note(self) -> Optional[str]:
        """What a refusal of the coming retry must say (``attempt 2 not sent: attempt 1
        failed: …``), once an attempt failed."""
        return self.native.refusal_note()

    def refused_message(self, message: str) -> str:
        """A refusal's message with :attr:`refusal_note` added (unchanged before a failure)."""
        return self.native.refused_message(message)

    def refused(self, error: BaseException) -> BaseException:
        """A refusal of the coming retry, said as the engine says it: a
        :class:`~wflo.BudgetExceededError` gets its message re-worded (in place) to name the
        attempt that was not sent and what failed before it; any other error is returned as
        it is."""
        if isinstance(error, BudgetExceededError):
            message = self.refused_message(error.message)
            if message != error.message:
                error.message = message
                error.args = (message,)
        return error

    def delay_ms(self, n: int) -> int:
        """The policy's jittered delay before retry ``n`` (1 = the first retry), in ms."""
        return native(self.native.delay_ms, n)

    @property
    def policy(self) -> Dict[str, Any]:
        """The policy in force, every field filled in."""
        return json.loads(self.native.policy_json())


# -- RetryManager ------------------------------------------------------------------------------------

def _ms(seconds: Any, what: str) -> int:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds >= 0:
        raise invalid(f"{what} must be a number of seconds, at least 0, not {seconds!r}")
    return round(seconds * 1000)


class RetryManager:
    """Retries a call with backoff — the original SDK's ``RetryManager``, its rules the
    engine's. Delays are in seconds; ``jitter_factor`` spreads each delay by ± that fraction
    when ``jitter`` is on. ``deadline``: no retry whose wait would end more than this many
    seconds after the first attempt began. ``retry_statuses``: the HTTP statuses worth
    retrying (default 408, 429 and every 5xx; a 400 is never retried). ``seed``: a fixed
    jitter sequence (tests). ``engine``: whose clock the retries go by (default the running
    workflow's engine, else a private in-memory one).

    Failures are retried when the engine says so (see :func:`failure_of`): a wflo refusal
    never; an HTTP error by its status, after the server's ``Retry-After`` when that is
    longer; timeouts, connection errors and any other instance of ``retryable_exceptions``
    while attempts last. Anything else is raised at once, as it is."""

    def __init__(self, max_retries: int = 3, base_delay: float = 1.0, max_delay: float = 60.0,
                 multiplier: float = 2.0, strategy: Union[RetryStrategy, str] = RetryStrategy.EXPONENTIAL,
                 jitter: bool = True, jitter_factor: float = 0.1, *, deadline: Optional[float] = None,
                 retry_statuses: Optional[Iterable[int]] = None, seed: Optional[int] = None,
                 engine: Optional["_engine.Engine"] = None) -> None:
        try:
            strategy = RetryStrategy(strategy)
        except ValueError:
            raise invalid(f"strategy must be one of {[s.value for s in RetryStrategy]}, not {strategy!r}") from None
        if isinstance(jitter_factor, bool) or not isinstance(jitter_factor, (int, float)):
            raise invalid(f"jitter_factor must be a number, not {jitter_factor!r}")
        policy: Dict[str, Any] = {
            "backoff": strategy.value, "max_retries": max_retries, "base_delay_ms": _ms(base_delay, "base_delay"),
            "max_delay_ms": _ms(max_delay, "max_delay"), "multiplier": multiplier,
            "jitter": float(jitter_factor) if jitter else 0.0,
        }
        if deadline is not None:
            policy["deadline_ms"] = _ms(deadline, "deadline")
        if retry_statuses is not None:
            policy["retry_statuses"] = list(retry_statuses)
        if seed is not None:
            policy["seed"] = seed
        self.max_retries = max_retries
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.multiplier = multiplier
        self.strategy = strategy
        self.jitter = jitter
        self.jitter_factor = jitter_factor
        self._engine = engine
        self._policy = json.dumps(policy)
        # Made now so a bad policy fails here, and kept for calculate_delay's jitter draws.
        self._delays = Retrier(self._policy, engine=engine)

    @property
    def policy(self) -> Dict[str, Any]:
        """The engine's policy this manager runs, every field filled in."""
        return self._delays.policy

    def retrier(self) -> Retrier:
        """A fresh :class:`Retrier` with this manager's policy (one per logical call)."""
        return Retrier(self._policy, engine=self._engine)

    def calculate_delay(self, attempt: int) -> float:
        """The delay in seconds before retry ``attempt`` (1 = the first retry) by the policy
        alone, jittered: the engine's ``delay_ms``."""
        return self._delays.delay_ms(attempt) / 1000

    async def execute(self, func: Callable[..., Any], *args: Any, retryable_exceptions: ExceptionTypes = (Exception,),
                      on_retry: Optional[OnRetry] = None, **kwargs: Any) -> Any:
        """Calls ``func(*args, **kwargs)`` (sync or async) until it succeeds or the engine
        gives up, awaiting ``asyncio.sleep`` between attempts. ``on_retry(attempt, exception,
        delay_seconds)`` (sync or async) is called before each sleep, ``attempt`` being the
        attempt that failed (1 for the first). Giving up raises :class:`RetryExhaustedError`
        from the last error — except an error the engine does not retry at all (a 400, an
        exception outside ``retryable_exceptions``, a wflo refusal), raised as it is."""
        retrier = self.retrier()
        while True:
            try:
                result = func(*args, **kwargs)
                if inspect.isawaitable(result):
                    result = await result
                return result
            except Exception as e:
                attempt, delay = _after_failure(retrier, e, retryable_exceptions)
                if on_retry is not None:
                    called = on_retry(attempt, e, delay)
                    if inspect.isawaitable(called):
                        await called
                await asyncio.sleep(delay)

    def execute_sync(self, func: Callable[..., T], *args: Any, retryable_exceptions: ExceptionTypes = (Exception,),
                     on_retry: Optional[OnRetry] = None, **kwargs: Any) -> T:
        """:meth:`execute` for synchronous code: ``func`` and ``on_retry`` are plain
        functions, and the waits are ``time.sleep``."""
        if _is_async(func):
            raise invalid("execute_sync takes a plain function; await execute() for an async one")
        retrier = self.retrier()
        while True:
            try:
                return func(*args, **kwargs)
            except Exception as e:
                attempt, delay = _after_failure(retrier, e, retryable_exceptions)
                if on_retry is not None:
                    on_retry(attempt, e, delay)
                time.sleep(delay)


def _after_failure(retrier: Retrier, error: Exception, retryable: ExceptionTypes) -> Tuple[int, float]:
    """Asks the engine about a failed attempt: the attempt that failed and the seconds to wait,
    or raises what the caller must see."""
    failure = failure_of(error, retryable)
    if failure["kind"] == "refused":
        raise retrier.refused(error)
    failed = retrier.attempt
    decision = retrier.next(failure)
    if decision["decision"] == "retry":
        return failed, decision["delay_ms"] / 1000
    if decision["why"] == "not_retryable":
        raise error
    # "exhausted" or "deadline": the retries ran out.
    raise RetryExhaustedError(failed, error, decision["reason"]) from error


def _is_async(func: Any) -> bool:
    return inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(getattr(func, "__call__", None))


def retry_with_backoff(max_retries: int = 3, base_delay: float = 1.0, max_delay: float = 60.0,
                       multiplier: float = 2.0, strategy: Union[RetryStrategy, str] = RetryStrategy.EXPONENTIAL,
                       jitter: bool = True, jitter_factor: float = 0.1,
                       retryable_exceptions: ExceptionTypes = (Exception,), on_retry: Optional[OnRetry] = None,
                       **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorates a function (sync or async) so each call runs under a :class:`RetryManager`
    with these settings (``options``: its keyword-only ones, ``deadline``, ``retry_statuses``,
    ``seed``, ``engine``)."""
    manager = RetryManager(max_retries, base_delay, max_delay, multiplier, strategy, jitter, jitter_factor, **options)

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        if _is_async(func):
            @functools.wraps(func)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                return await manager.execute(func, *args, retryable_exceptions=retryable_exceptions,
                                             on_retry=on_retry, **kwargs)
            return run_async

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            return manager.execute_sync(func, *args, retryable_exceptions=retryable_exceptions,
                                        on_retry=on_retry, **kwargs)
        return run

    return decorate


__all__ = ["Retrier", "RetryExhaustedError", "RetryManager", "RetryStrategy", "failure_of", "retry_with_backoff"]
