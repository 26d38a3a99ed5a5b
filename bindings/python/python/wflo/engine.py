"""The engine: prices, token counts, budgets and the store.

Most programs use the default engine (the store ``WFLO_DATABASE_URL`` or ``DATABASE_URL``
names, else the default SQLite file); tests and services open their own with
:meth:`Engine.open`.
"""
from __future__ import annotations

import json
import os
import threading
from typing import Any, Dict, List, Optional, Union

from . import _fast, _ffi
from .errors import invalid, native
from .money import Dollars, to_nanos
from .telemetry import AlertCallback, AlertListener, check_callback
from .types import Approval, PriceChanges, PriceTable, TokenCount, Usage


def _token_count(c: Any) -> TokenCount:
    return TokenCount(c.tokens, c.encoding, c.estimated)


class Engine:
    """Prices, budgets and a store. Thread-safe; one per process is the usual shape."""

    def __init__(self, native_engine: Any) -> None:
        self.native = native_engine
        # The same engine seen through the C ABI, for the hot path (see _fast).
        self._c = native_engine.c_handle()

    @classmethod
    def open(cls, url: Optional[str] = None) -> "Engine":
        """Opens the store ``url`` names: a SQLite path, "sqlite://…", ":memory:",
        "memory://", "postgres://…" (also "postgresql+asyncpg://…"). None: WFLO_DATABASE_URL,
        DATABASE_URL, else the default SQLite file."""
        if url is not None and not isinstance(url, str):
            raise invalid("url must be a string")
        return cls(native(_ffi.NativeEngine.open, url))

    def __del__(self) -> None:
        c, self._c = getattr(self, "_c", 0), 0
        if c and _fast is not None:
            _fast.engine_free(c)

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Writes what is buffered and closes the store; closing twice is fine."""
        native(self.native.close)

    def flush(self) -> None:
        native(self.native.flush)

    # -- prices and tokens ------------------------------------------------------------------

    def set_prices(self, prices: Union[str, Dict[str, Any]]) -> None:
        """Registers or overrides prices: {"models": [{"name", "input", "output", …}]} in
        pico-USD per token."""
        native(self.native.set_prices, prices if isinstance(prices, str) else json.dumps(prices))

    def load_prices(self, path: Union[str, "os.PathLike[str]"]) -> PriceChanges:
        """Loads a price file over the table: wflo's schema (``{"models": [...]}``, pico-USD
        per token) or LiteLLM's ``model_prices_and_context_window.json`` as published. The
        whole file is checked first: a bad entry raises :class:`InvalidArgumentError` naming
        the line and the reason, and nothing is applied. (Every engine also loads the file
        ``WFLO_PRICES`` names when it opens.)"""
        if not isinstance(path, (str, os.PathLike)):
            raise invalid(f"path must be a str or os.PathLike, got {type(path).__name__}")
        path = os.fspath(path)
        if not isinstance(path, str):
            raise invalid("path must be a str or os.PathLike of str, got bytes")
        return PriceChanges._of(json.loads(native(self.native.load_prices, path)))

    def price_table(self) -> PriceTable:
        """Where this engine's prices come from: the built-in table and the files loaded over it."""
        return PriceTable._of(json.loads(native(self.native.price_table_json)))

    def price(self, model: str) -> Dict[str, Any]:
        """How ``model`` resolves and every price it has."""
        return json.loads(native(self.native.price_json, model))

    def cost(self, model: str, usage: Optional[Usage] = None, *, input: int = 0, output: int = 0,
             cache_read: int = 0, cache_write_5m: int = 0, cache_write_1h: int = 0, reasoning: int = 0) -> int:
        """The cost in nano-USD of a usage: a :class:`Usage`, or its fields as keywords."""
        if usage is not None:
            if not isinstance(usage, Usage):
                raise invalid("usage must be a wflo.Usage")
            return _fast.cost(self._c, model, usage.input, usage.output, usage.cache_read, usage.cache_write_5m,
                              usage.cache_write_1h, usage.reasoning)
        return _fast.cost(self._c, model, input, output, cache_read, cache_write_5m, cache_write_1h, reasoning)

    def cost_usd(self, model: str, usage: Optional[Usage] = None, **tokens: int) -> float:
        return self.cost(model, usage, **tokens) / 1e9

    def count_tokens(self, model: str, text: str) -> TokenCount:
        """Counts ``text`` as ``model`` is billed for it (exact for OpenAI models)."""
        if not isinstance(text, str):
            raise invalid("text must be a str")
        return _token_count(native(self.native.count_tokens, model, text))

    def count_chat_tokens(self, model: str, messages: Union[str, List[Dict[str, Any]]]) -> TokenCount:
        """Counts a chat request's messages with the per-message overhead."""
        text = messages if isinstance(messages, str) else json.dumps(messages, default=str)
        return _token_count(native(self.native.count_chat_tokens, model, text))

    # -- shared budgets and stored executions -----------------------------------------------

    def define_shared_scope(self, name: str, limit_usd: Optional[Dollars] = None, period: str = "none", *,
                            allowances: Optional[bool] = None) -> None:
        """A budget every process using this store draws from ("none", "day" or "month").

        ``allowances=False`` books every call in the store (strict fairness between processes)
        instead of serving calls from local allowances; ``None`` keeps the scope's setting."""
        if allowances is not None and not isinstance(allowances, bool):
            raise invalid(f"allowances is True, False or None, not {allowances!r}")
        native(self.native.define_shared_scope, name, to_nanos(limit_usd, "limit_usd"), period, allowances)

    def shared_scope(self, name: str) -> Dict[str, Any]:
        return json.loads(native(self.native.shared_scope_json, name))

    def execution(self, execution_id: str) -> Dict[str, Any]:
        """A stored execution: its record, breakdown, calls, checkpoints and rollbacks."""
        return json.loads(native(self.native.execution_json, execution_id))

    def list_executions(self, limit: int = 20) -> List[Dict[str, Any]]:
        return json.loads(native(self.native.list_executions_json, limit))

    # -- circuit breakers on the store ------------------------------------------------------------

    def breakers_on_store(self, name: Optional[str] = None, limit: int = 50) -> Dict[str, Any]:
        """Circuit breakers as this engine's store knows them, whichever process made them:
        ``{"shared": [status…], "transitions": [change…]}`` — every shared breaker's figures
        (only ``name``'s when given; as :meth:`CircuitBreaker.get_state
        <wflo.resilience.CircuitBreaker.get_state>` has them) and the latest ``limit`` changes
        of state of every breaker, shared or one process's (only ``name``'s when given), oldest
        first: ``{"breaker", "shared", "from", "to", "at_ms", "reason", "holder"}``. What
        ``wflo breakers --json`` prints."""
        if name is not None and not isinstance(name, str):
            raise invalid("name must be a string or None")
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise invalid(f"limit must be a whole number, not {limit!r}")
        return json.loads(native(self.native.breakers_on_store_json, name, limit))

    # -- approval gates --------------------------------------------------------------------------

    def approvals(self, pending_only: bool = True) -> List[Approval]:
        """The approvals in this engine's store, newest first: the pending ones (every
        workflow waiting for a person), or all with ``pending_only=False``."""
        return [Approval._of(a) for a in json.loads(native(self.native.approvals_json, bool(pending_only)))]

    def approval(self, approval_id: str) -> Approval:
        """The approval ``approval_id`` as it stands now, pending or decided (what
        :meth:`WfloWorkflow.request_approval <wflo.WfloWorkflow.request_approval>` returns);
        :class:`NotFoundError` when there is none with that id."""
        if not isinstance(approval_id, str):
            raise invalid("an approval id must be a string")
        return Approval._of(json.loads(native(self.native.approval_json, approval_id)))

    def decide_approval(self, approval_id: str, approve: bool, *, by: Optional[str] = None,
                        note: Optional[str] = None) -> Approval:
        """Approves or denies the pending approval ``approval_id``; ``by`` who decides (None:
        USER@host), ``note`` why (the denied workflow's error carries it). Returns the decided
        approval; :class:`ConflictError` when it was already decided."""
        if not isinstance(approve, bool):
            raise invalid("approve must be True or False")
        return Approval._of(json.loads(native(self.native.decide_approval, approval_id, approve, by, note)))

    def approve(self, approval_id: str, note: Optional[str] = None, by: Optional[str] = None) -> Approval:
        """Approves ``approval_id``: the workflow waiting at its gate goes on."""
        return self.decide_approval(approval_id, True, by=by, note=note)

    def deny(self, approval_id: str, note: Optional[str] = None, by: Optional[str] = None) -> Approval:
        """Denies ``approval_id``: the workflow waiting at its gate raises
        :class:`ApprovalDeniedError` with ``by`` and ``note``."""
        return self.decide_approval(approval_id, False, by=by, note=note)

    # -- telemetry -----------------------------------------------------------------------------

    def metrics_text(self) -> str:
        """This engine's metrics in the Prometheus text exposition format: cost, calls,
        refusals, token and duration histograms, budgets remaining, alerts. Labels are bounded
        (model, provider, scope, status), never an execution id. Serve it on your own
        ``/metrics`` endpoint."""
        return native(self.native.metrics_text)

    def add_alert_listener(self, callback: AlertCallback) -> int:
        """Calls ``callback(alert)`` with each budget alert of this engine's executions, in the
        order they fire: a threshold of a limit reached (by default 50, 80 and 95%), a soft
        budget reached (see :class:`WfloWorkflow`'s ``alert_thresholds`` and
        ``soft_budget_usd``). It runs on the thread that settled the call; what it raises is
        logged on the ``wflo`` logger and affects nothing else. Returns an id for
        :meth:`remove_alert_listener`. (A workflow's own alerts: its ``on_threshold``.)"""
        return native(self.native.add_alert_listener, AlertListener(check_callback(callback, "callback")))

    def remove_alert_listener(self, listener_id: int) -> bool:
        """Stops a listener; False when the id is unknown."""
        return native(self.native.remove_alert_listener, listener_id)


_default: Optional[Engine] = None
_default_lock = threading.Lock()


def get_default_engine() -> Engine:
    """The process-wide engine (opened on first use from WFLO_DATABASE_URL / DATABASE_URL)."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Engine.open()
    return _default


def set_default_engine(engine: Optional[Engine]) -> None:
    """Replaces the process-wide engine (None: open it again from the environment on next use)."""
    global _default
    if engine is not None and not isinstance(engine, Engine):
        raise invalid("engine must be a wflo.Engine")
    _default = engine


def _current_engine(engine: Optional[Engine]) -> Engine:
    """``engine``, else the running workflow's, else the process-wide one."""
    if engine is not None:
        if not isinstance(engine, Engine):
            raise invalid("engine must be a wflo.Engine")
        return engine
    from .context import current_workflow

    wf = current_workflow()
    return wf.engine if wf is not None else get_default_engine()


def approvals(pending_only: bool = True, engine: Optional[Engine] = None) -> List[Approval]:
    """The approvals in the store of ``engine`` (default the running workflow's engine, else
    the process-wide one), newest first; pending ones only unless ``pending_only=False``."""
    return _current_engine(engine).approvals(pending_only)


def approval(approval_id: str, engine: Optional[Engine] = None) -> Approval:
    """The approval ``approval_id`` (:meth:`Engine.approval`) in the store of ``engine``
    (default the running workflow's engine, else the process-wide one)."""
    return _current_engine(engine).approval(approval_id)


def approve(approval_id: str, note: Optional[str] = None, by: Optional[str] = None,
            engine: Optional[Engine] = None) -> Approval:
    """Approves a pending approval (:meth:`Engine.approve`) — from any process on the store."""
    return _current_engine(engine).approve(approval_id, note, by)


def deny(approval_id: str, note: Optional[str] = None, by: Optional[str] = None,
         engine: Optional[Engine] = None) -> Approval:
    """Denies a pending approval (:meth:`Engine.deny`) — from any process on the store."""
    return _current_engine(engine).deny(approval_id, note, by)


_pure: Optional[Engine] = None


def pure_engine() -> Engine:
    """A private in-memory engine for what needs no store (prices, counting)."""
    global _pure
    if _pure is None:
        with _default_lock:
            if _pure is None:
                _pure = Engine.open("memory://")
    return _pure


def count_tokens(model: str, text: str) -> TokenCount:
    return pure_engine().count_tokens(model, text)


def cost(model: str, usage: Optional[Usage] = None, *, input: int = 0, output: int = 0, cache_read: int = 0,
         cache_write_5m: int = 0, cache_write_1h: int = 0, reasoning: int = 0) -> int:
    """The cost in nano-USD of a usage on ``model`` with the bundled prices."""
    return (_pure or pure_engine()).cost(model, usage, input=input, output=output, cache_read=cache_read,
                                         cache_write_5m=cache_write_5m, cache_write_1h=cache_write_1h,
                                         reasoning=reasoning)


def cost_usd(model: str, usage: Optional[Usage] = None, **tokens: int) -> float:
    return pure_engine().cost(model, usage, **tokens) / 1e9


def price(model: str) -> Dict[str, Any]:
    return pure_engine().price(model)


def parse_usage(response: Any, format: str = "auto") -> Usage:
    """wflo usage from a provider's response or usage (JSON text, a dict, or an SDK object)."""
    from .usage import usage_json

    u = native(_ffi.parse_usage, format, response if isinstance(response, str) else usage_json(response))
    return Usage(u.input, u.output, u.cache_read, u.cache_write_5m, u.cache_write_1h, u.reasoning)
