"""wflo: meter every LLM call, refuse it BEFORE it could overspend the budget, record what each
execution cost, and keep checkpoints to roll back to — on the wflo engine, in-process.

    import wflo
    workflow = wflo.WfloWorkflow(name="research", budget_usd=2.0)
    result = await workflow.execute(my_agent, inputs)
    print((await workflow.breakdown())["total_usd"])

``import wflo`` loads nothing but this file: each name below comes from its module on first use
(the native library, the price table, asyncio and the integrations included), so a program pays
only for what it touches, and a CLI that imports wflo without using it starts as fast as
without.
"""
import os as _os
import sys as _sys
from importlib import import_module as _import
from types import ModuleType as _ModuleType

# typing.TYPE_CHECKING without importing typing (15–30 ms here): type checkers treat this name
# as true, the interpreter as false.
TYPE_CHECKING = False

# Where each public name lives.
_HOMES = {
    ".checkpoints": ("checkpoint", "checkpoint_after_agent"),
    ".context": ("ContextThreadPoolExecutor", "ExecutionContext", "current_workflow", "get_current_execution_id",
                 "wrap"),
    ".engine": ("Engine", "approval", "approvals", "approve", "cost", "cost_usd", "count_tokens", "deny",
                "get_default_engine", "parse_usage", "price", "set_default_engine"),
    ".errors": ("ApprovalDeniedError", "ApprovalPendingError", "BudgetExceededError", "CallLimitError",
                "CircuitOpenError", "ClosedError", "ConflictError", "InternalError", "InvalidArgumentError",
                "NotFoundError", "ResourceBusyError", "StorageError", "UnknownModelError", "WfloError"),
    ".events": ("log_events",),
    ".instrument": ("instrument", "uninstrument"),
    ".reservation": ("Reservation", "Stream"),
    ".scope": ("Scope",),
    ".telemetry": ("Alert",),
    ".track": ("track_llm_call",),
    ".types": ("Approval", "BinaryState", "CallRequest", "PriceChange", "PriceChanges", "PriceFieldChange", "PriceFile",
               "PriceTable", "Settled", "SkippedPrice", "TokenCount", "Usage"),
    ".workflow": ("WfloWorkflow",),
}
_HOME = {name: module for module, names in _HOMES.items() for name in names}
_SUBMODULES = ("resilience",)

__all__ = sorted([*_HOME, *_SUBMODULES])


def __getattr__(name: str):  # PEP 562: a name is imported the first time it is asked for
    if name in _HOME:
        value = getattr(_import(_HOME[name], __name__), name)
    elif name in _SUBMODULES:
        value = _import(f".{name}", __name__)
    elif name == "__version__":
        value = _import("._ffi", __name__).wflo_version()
    else:
        raise AttributeError(f"module 'wflo' has no attribute {name!r}")
    if name != "instrument":  # the property serves it (see _Package)
        globals()[name] = value
    return value


def __dir__():
    return sorted({*globals(), *__all__, "__version__"})


class _Package(_ModuleType):
    """The package's module type. ``wflo.instrument`` is a function and also the name of the
    subpackage it lives in; when that subpackage is first imported, the import system binds it
    as ``wflo.instrument``. The eager package rebound the function right after; here the binding
    is kept out, so the name stays the function whoever imported the subpackage first."""

    @property
    def instrument(self):
        return __getattr__("instrument")

    @instrument.setter
    def instrument(self, value):
        if not isinstance(value, _ModuleType):
            raise AttributeError("wflo.instrument is wflo's function")


_sys.modules[__name__].__class__ = _Package


if TYPE_CHECKING:  # what type checkers and editors see: the same names, imported eagerly
    from . import resilience
    from .checkpoints import checkpoint, checkpoint_after_agent
    from .context import (ContextThreadPoolExecutor, ExecutionContext, current_workflow,
                          get_current_execution_id, wrap)
    from .engine import (Engine, approval, approvals, approve, cost, cost_usd, count_tokens, deny,
                         get_default_engine, parse_usage, price, set_default_engine)
    from .errors import (ApprovalDeniedError, ApprovalPendingError, BudgetExceededError, CallLimitError,
                         CircuitOpenError, ClosedError, ConflictError, InternalError, InvalidArgumentError,
                         NotFoundError, ResourceBusyError, StorageError, UnknownModelError, WfloError)
    from .events import log_events
    from .instrument import instrument, uninstrument
    from .reservation import Reservation, Stream
    from .scope import Scope
    from .telemetry import Alert
    from .track import track_llm_call
    from .types import (Approval, CallRequest, PriceChange, PriceChanges, PriceFieldChange, PriceFile,
                        PriceTable, Settled, SkippedPrice, TokenCount, Usage)
    from .workflow import WfloWorkflow

    __version__: str

# WFLO_LOG: the engine's events on the "wflo" logger, from the start (silent when unset, and then
# nothing is loaded for it).
if _os.environ.get("WFLO_LOG") is not None:
    _import(".events", __name__)._from_env()
