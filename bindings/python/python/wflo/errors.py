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


_SIMPLE = {
    "InvalidArgument": InvalidArgumentError,
    "NotFound": NotFoundError,
    "Conflict": ConflictError,
    "Storage": StorageError,
    "Closed": ClosedError,
    "Internal": InternalError,
}


def from_native(e: BaseException) -> BaseException:
    """The typed error for an engine error (other exceptions are returned as they are)."""
    if not isinstance(e, _ffi.WfloError):
        return e
    kind = type(e).__name__
    if kind == "BudgetExceeded":
        return BudgetExceededError(e.message, e.scope, e.limit_nanos, e.spent_nanos, e.reserved_nanos, e.requested_nanos)
    if kind == "UnknownModel":
        return UnknownModelError(e.message, e.model, e.suggestions)
    return _SIMPLE.get(kind, InternalError)(getattr(e, "message", str(e)))


_BY_CODE = {cls.code: cls for cls in (InvalidArgumentError, NotFoundError, ConflictError, StorageError,
                                     ClosedError, InternalError)}


def from_details(d: dict) -> WfloError:
    """The typed error for the C ABI's error details (``wflo_last_error_json``)."""
    code, message = d.get("code", "INTERNAL"), d.get("message", "wflo error")
    if code == "BUDGET_EXCEEDED":
        return BudgetExceededError(message, d.get("scope", ""), d.get("limit_nanos", 0), d.get("spent_nanos", 0),
                                   d.get("reserved_nanos", 0), d.get("requested_nanos", 0))
    if code == "UNKNOWN_MODEL":
        return UnknownModelError(message, d.get("model", ""), d.get("suggestions"))
    return _BY_CODE.get(code, InternalError)(message)


def native(fn: Callable[..., T], *args: Any) -> T:
    """Calls the engine, raising its errors as wflo's classes."""
    try:
        return fn(*args)
    except _ffi.WfloError as e:
        raise from_native(e) from None
    except TypeError as e:
        # UniFFI's argument checks: a str where an int was expected, and so on.
        raise InvalidArgumentError(f"invalid argument: {e}") from None


async def native_async(fn: Callable[..., Any], *args: Any) -> Any:
    """Awaits an async engine call, raising its errors as wflo's classes."""
    try:
        return await fn(*args)
    except _ffi.WfloError as e:
        raise from_native(e) from None
    except TypeError as e:
        raise InvalidArgumentError(f"invalid argument: {e}") from None


def invalid(message: str) -> InvalidArgumentError:
    return InvalidArgumentError(f"invalid argument: {message}")
