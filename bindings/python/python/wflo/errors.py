"""wflo's errors: one class per stable code, all under :class:`WfloError`.

The engine raises its typed error through UniFFI; :func:`native` maps it here, once.
"""
from __future__ import annotations

from typing import Any, Callable, List, Optional, TypeVar

from . import _ffi

T = TypeVar("T")


class WfloError(Exception):
    """Any wflo error. ``code`` is the stable code ("BUDGET_EXCEEDED", ...)."""

    code = "INTERNAL"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidArgumentError(WfloError, ValueError):
    code = "INVALID_ARGUMENT"


class NotFoundError(WfloError, LookupError):
    code = "NOT_FOUND"


class ConflictError(WfloError):
    code = "CONFLICT"


class StorageError(WfloError):
    code = "STORAGE"


class ClosedError(WfloError):
    code = "CLOSED"


class InternalError(WfloError):
    code = "INTERNAL"


class UnknownModelError(WfloError, LookupError):
    """The model is not in the price table; ``suggestions`` lists up to three close names."""

    code = "UNKNOWN_MODEL"

    def __init__(self, message: str, model: str = "", suggestions: Optional[List[str]] = None) -> None:
        super().__init__(message, model=model, suggestions=list(suggestions or []))
        self.model = model
        self.suggestions = list(suggestions or [])


class BudgetExceededError(WfloError):
    """A call was refused BEFORE it was made: it could have passed the limit of ``scope``.

    ``spent_usd`` and ``budget_usd`` are the scope's figures when it refused; ``requested_usd``
    is what the call could have cost.
    """

    code = "BUDGET_EXCEEDED"

    def __init__(
        self,
        message: str,
        scope: str = "",
        limit_nanos: int = 0,
        spent_nanos: int = 0,
        reserved_nanos: int = 0,
        requested_nanos: int = 0,
    ) -> None:
        super().__init__(message, scope=scope, limit_nanos=limit_nanos, spent_nanos=spent_nanos,
                         reserved_nanos=reserved_nanos, requested_nanos=requested_nanos)
        self.scope = scope
        self.limit_nanos = limit_nanos
        self.spent_nanos = spent_nanos
        self.reserved_nanos = reserved_nanos
        self.requested_nanos = requested_nanos
        self.budget_usd = limit_nanos / 1e9
        self.spent_usd = spent_nanos / 1e9
        self.reserved_usd = reserved_nanos / 1e9
        self.requested_usd = requested_nanos / 1e9


class CircuitOpenError(WfloError):
    """A circuit breaker is open: the call was refused BEFORE anything was reserved or sent.

    ``name`` is the breaker's name, ``failures`` the failures it counted when it opened, and
    ``retry_in_ms`` how long until it lets a trial call through (``retry_in`` in seconds).
    """

    code = "CIRCUIT_OPEN"

    def __init__(self, message: str, name: str = "", failures: int = 0, retry_in_ms: int = 0) -> None:
        super().__init__(message, name=name, failures=failures, retry_in_ms=retry_in_ms)
        self.name = name
        self.failures = failures
        self.retry_in_ms = retry_in_ms
        self.retry_in = retry_in_ms / 1000


class ResourceBusyError(WfloError):
    """No slot of the resource ``resource`` freed before the acquisition's timeout.

    ``waited_ms`` is how long it waited (``wait_time`` in seconds) and ``holders`` who held
    the resource then, each as ``"<workflow id> (<host>:<pid>)"``. The resource's state is in
    the store, so the holders may be other processes.
    """

    code = "RESOURCE_BUSY"

    def __init__(self, message: str, resource: str = "", waited_ms: int = 0,
                 holders: Optional[List[str]] = None) -> None:
        super().__init__(message, resource=resource, waited_ms=waited_ms, holders=list(holders or []))
        self.resource = resource
        self.waited_ms = waited_ms
        self.holders = list(holders or [])
        self.wait_time = waited_ms / 1000


class ApprovalDeniedError(WfloError):
    """An approval gate was denied, or not answered before its timeout (``timed_out``).

    ``approval_id`` and ``gate`` name the approval; ``by`` is who decided (``"timeout"``
    when it timed out) and ``note`` what they wrote.
    """

    code = "APPROVAL_DENIED"

    def __init__(self, message: str, approval_id: str = "", gate: str = "", timed_out: bool = False,
                 by: Optional[str] = None, note: Optional[str] = None) -> None:
        super().__init__(message, approval_id=approval_id, gate=gate, timed_out=timed_out, by=by, note=note)
        self.approval_id = approval_id
        self.gate = gate
        self.timed_out = timed_out
        self.by = by
        self.note = note


class ApprovalPendingError(WfloError):
    """A call over the execution's approval threshold met its gate and approval
    ``approval_id`` is not decided yet: nothing was reserved or sent. ``gate`` names the gate
    (``"call #1 over $0.50"``) and ``what`` the call as the approver sees it.

    Python's engines wait at the gate (a sync call blocks its thread until a person decides;
    async code reserves in a worker thread), so this is raised only by an engine told not to
    wait: :meth:`WfloWorkflow.wait_for_approval <wflo.WfloWorkflow.wait_for_approval>` for
    ``approval_id``, then reserve again. Like a denial it is a refusal: a breaker does not
    count it, a retry never retries it."""

    code = "APPROVAL_PENDING"

    def __init__(self, message: str, approval_id: str = "", gate: str = "", what: str = "") -> None:
        super().__init__(message, approval_id=approval_id, gate=gate, what=what)
        self.approval_id = approval_id
        self.gate = gate
        self.what = what


class CallLimitError(WfloError):
    """The execution made as many LLM calls as it may (``max_calls``: the workflow's
    ``max_iterations``): this one was refused BEFORE anything was reserved or sent.

    ``execution`` is the execution's id. Like a budget refusal it is a refusal: a breaker does
    not count it, a retry never retries it.
    """

    code = "CALL_LIMIT"

    def __init__(self, message: str, execution: str = "", max_calls: int = 0) -> None:
        super().__init__(message, execution=execution, max_calls=max_calls)
        self.execution = execution
        self.max_calls = max_calls


#: The one table: each stable code of the engine and the class it is raised as.
_BY_CODE = {cls.code: cls for cls in (InvalidArgumentError, UnknownModelError, BudgetExceededError, NotFoundError,
                                     ConflictError, StorageError, ClosedError, InternalError, CircuitOpenError,
                                     ResourceBusyError, ApprovalDeniedError, ApprovalPendingError, CallLimitError)}


def from_details(d: dict) -> WfloError:
    """The typed error for an engine error's details: ``{"code": "BUDGET_EXCEEDED", "message":
    …, "scope": …, "limit_nanos": …}`` (the C ABI's ``wflo_last_error_json``; UniFFI's errors
    are turned into the same by :func:`from_native`)."""
    code, message = d.get("code", "INTERNAL"), d.get("message", "wflo error")
    cls = _BY_CODE.get(code, InternalError)
    if cls is BudgetExceededError:
        return BudgetExceededError(message, d.get("scope", ""), d.get("limit_nanos", 0), d.get("spent_nanos", 0),
                                   d.get("reserved_nanos", 0), d.get("requested_nanos", 0))
    if cls is UnknownModelError:
        return UnknownModelError(message, d.get("model", ""), d.get("suggestions"))
    if cls is CircuitOpenError:
        return CircuitOpenError(message, d.get("name", ""), d.get("failures", 0), d.get("retry_in_ms", 0))
    if cls is ResourceBusyError:
        return ResourceBusyError(message, d.get("resource", ""), d.get("waited_ms", 0), d.get("holders"))
    if cls is ApprovalDeniedError:
        return ApprovalDeniedError(message, d.get("id", ""), d.get("gate", ""), bool(d.get("timed_out", False)),
                                   d.get("by"), d.get("note"))
    if cls is ApprovalPendingError:
        return ApprovalPendingError(message, d.get("id", ""), d.get("gate", ""), d.get("what", ""))
    if cls is CallLimitError:
        return CallLimitError(message, d.get("execution", ""), d.get("max_calls", 0))
    return cls(message)


_FIELDS = ("scope", "limit_nanos", "spent_nanos", "reserved_nanos", "requested_nanos", "model", "suggestions", "name",
           "failures", "retry_in_ms", "resource", "waited_ms", "holders", "id", "gate", "timed_out", "by", "note",
           "what", "execution", "max_calls")


def from_native(e: BaseException) -> BaseException:
    """The typed error for a UniFFI engine error (other exceptions are returned as they are):
    its variant (``BudgetExceeded``) names the code, its fields are the details."""
    if not isinstance(e, _ffi.WfloError):
        return e
    code = "".join("_" + c if c.isupper() else c.upper() for c in type(e).__name__).lstrip("_")
    details = {name: getattr(e, name) for name in _FIELDS if hasattr(e, name)}
    return from_details({**details, "code": code, "message": getattr(e, "message", str(e))})


def codes_of(e: Optional[BaseException]) -> List[str]:
    """The wflo error codes along ``e``'s chain of causes (``__cause__``, else
    ``__context__``), outermost first — what core's finish rule reads. Empty for an error that
    is not wflo's and wraps none."""
    codes: List[str] = []
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, _ffi.WfloError):
            e = from_native(e)
        if isinstance(e, WfloError):
            codes.append(e.code)
        e = e.__cause__ or e.__context__
    return codes


def is_refusal(e: Optional[BaseException]) -> bool:
    """Whether ``e`` is one of wflo's own refusals (a budget, an open breaker, a busy resource,
    a denied or not yet given approval, the execution's call limit) rather than a failure of what was called: a wflo error
    whose code the engine's rule (``ErrorCode::is_refusal``, asked through the native module)
    calls a refusal. A circuit breaker does not count one; a retry never retries one. Any other
    exception (or None): False."""
    if isinstance(e, _ffi.WfloError):
        e = from_native(e)
    code = getattr(e, "code", None) if isinstance(e, WfloError) else None
    return isinstance(code, str) and _ffi.is_refusal(code)


def native(fn: Callable[..., T], *args: Any) -> T:
    """Calls the engine, raising its errors as wflo's classes."""
    try:
        return fn(*args)
    except _ffi.WfloError as e:
        raise from_native(e) from None
    except (TypeError, ValueError) as e:
        # UniFFI's argument checks: a str where an int was expected, a negative count, …
        raise InvalidArgumentError(f"invalid argument: {e}") from None


async def native_async(fn: Callable[..., Any], *args: Any) -> Any:
    """Awaits an async engine call, raising its errors as wflo's classes."""
    try:
        return await fn(*args)
    except _ffi.WfloError as e:
        raise from_native(e) from None
    except (TypeError, ValueError) as e:
        raise InvalidArgumentError(f"invalid argument: {e}") from None


def invalid(message: str) -> InvalidArgumentError:
    return InvalidArgumentError(f"invalid argument: {message}")
