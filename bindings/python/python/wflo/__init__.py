"""wflo: meter every LLM call, refuse it BEFORE it could overspend the budget, record what each
execution cost, and keep checkpoints to roll back to — on the wflo engine, in-process.

    import wflo
    workflow = wflo.WfloWorkflow(name="research", budget_usd=2.0)
    result = await workflow.execute(my_agent, inputs)
    print((await workflow.breakdown())["total_usd"])
"""
from ._ffi import wflo_version as _version
from .checkpoints import checkpoint, checkpoint_after_agent
from .context import (
    ContextThreadPoolExecutor,
    ExecutionContext,
    current_workflow,
    get_current_execution_id,
    wrap,
)
from .engine import (
    Engine,
    approval,
    approvals,
    approve,
    cost,
    cost_usd,
    count_tokens,
    deny,
    get_default_engine,
    parse_usage,
    price,
    set_default_engine,
)
from .errors import (
    ApprovalDeniedError,
    ApprovalPendingError,
    BudgetExceededError,
    CallLimitError,
    CircuitOpenError,
    ClosedError,
    ConflictError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    ResourceBusyError,
    StorageError,
    UnknownModelError,
    WfloError,
)
from .events import _from_env as _log_from_env, log_events
from . import integrations as _integrations  # registers the runners and hooks (no framework is imported)
from .instrument import instrument, uninstrument
from .reservation import Reservation, Stream
from . import resilience
from .scope import Scope
from .telemetry import Alert
from .track import track_llm_call
from .types import (
    Approval,
    CallRequest,
    PriceChange,
    PriceChanges,
    PriceFieldChange,
    PriceFile,
    PriceTable,
    Settled,
    SkippedPrice,
    TokenCount,
    Usage,
)
from .workflow import WfloWorkflow

__version__ = _version()
_log_from_env()  # WFLO_LOG: the engine's events on the "wflo" logger (silent when unset)

__all__ = [
    "Alert", "Approval", "ApprovalDeniedError", "ApprovalPendingError", "BudgetExceededError", "CallLimitError",
    "CallRequest", "CircuitOpenError", "ClosedError", "ConflictError", "ContextThreadPoolExecutor", "Engine",
    "ExecutionContext", "InternalError",
    "InvalidArgumentError", "NotFoundError", "PriceChange", "PriceChanges", "PriceFieldChange", "PriceFile",
    "PriceTable", "Reservation", "ResourceBusyError", "Scope", "Settled", "SkippedPrice", "StorageError", "Stream",
    "TokenCount", "UnknownModelError", "Usage", "WfloError", "WfloWorkflow", "approval", "approvals", "approve",
    "checkpoint", "checkpoint_after_agent", "cost", "cost_usd", "count_tokens", "current_workflow", "deny",
    "get_current_execution_id", "get_default_engine", "instrument",
    "log_events", "parse_usage", "price", "resilience", "set_default_engine", "track_llm_call", "uninstrument", "wrap",
]
