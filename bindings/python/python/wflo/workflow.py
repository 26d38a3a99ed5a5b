"""WfloWorkflow: the seed's API, with the promises kept.

A workflow has a name and a budget. Each :meth:`~WfloWorkflow.execute` runs one execution
(``execution_id``, "exec-" + 12 hex) in which every LLM call is reserved BEFORE it is made —
refused with :class:`BudgetExceededError` when it could overspend — and settled from the
provider's usage after. Checkpoints and rollbacks belong to the execution.
"""
from __future__ import annotations

import asyncio
import inspect
import json
import threading
from contextlib import asynccontextmanager, contextmanager
from typing import Any, AsyncIterator, Callable, Dict, Iterable, Iterator, List, Optional, Tuple, TypeVar

from . import _fast, _ffi
from .context import Frame, current_frame, use
from .engine import Engine, get_default_engine
from .errors import BudgetExceededError, ClosedError, codes_of, invalid, native, native_async
from .money import Dollars, to_nanos
from .reservation import RequestReserved, Reservation
from .types import Approval, BinaryState, CallRequest, Settled
from .usage import usage_json
from .runners import runner_for
from .scope import Scope, _check_label
from .telemetry import AlertCallback, AlertListener, check_callback, current_traceparent

T = TypeVar("T")


def state_json(state: Any) -> str:
    """JSON text of a checkpoint state; what JSON cannot hold is refused, not stringified.
    Pydantic models and dataclasses are saved as their fields."""

    def fields(value: Any) -> Any:
        dump = getattr(value, "model_dump", None)
        if callable(dump):
            return dump(mode="json")
        import dataclasses

        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return dataclasses.asdict(value)
        raise TypeError(f"{type(value).__name__} is not JSON-serialisable")

    # libwflo writes json.dumps's very bytes for plain states (dicts, lists, str, int, float,
    # bool, None), 2-3x faster; it declines ("") anything else, which json.dumps then encodes
    # or refuses as always (test_state_json.py compares the two byte for byte).
    try:
        return _fast.json_dumps(state, default=fields, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise invalid(f"checkpoint state is not JSON-serialisable: {e}") from None


class WfloWorkflow:
    """A named, budgeted workflow.

    ``budget_usd``: dollars (a number, Decimal or "2.50"); None: no limit of its own.
    ``shared_scopes``: names of budgets shared with other executions and processes
    (:meth:`Engine.define_shared_scope`), drawn from as well. ``engine``: default the
    process-wide one. ``execution_id``: the id its execution starts with ("exec-" + 12 lower-case
    hex; default a fresh one).

    Budget alerts: ``on_threshold(alert)`` is called with each :class:`~wflo.Alert` of this
    workflow's execution, in order — when spend on the execution or one of its step scopes
    reaches a percent of its limit (``alert_thresholds``, default ``[50, 80, 95]``; each fires
    once; ``[]``: none) or the ``soft_budget_usd`` (a warning: nothing is refused). It runs on
    the thread that settled the call; what it raises is logged on the ``wflo`` logger and
    affects nothing else.

    Tracing: the execution joins the trace of ``traceparent`` (a W3C header value), else of
    the current OpenTelemetry span when the host uses OpenTelemetry, else starts its own;
    :meth:`get_trace_id` says which.

    Approvals: with ``approval_above_usd`` (dollars, like ``budget_usd``) a call whose worst
    case passes that amount first meets a numbered approval gate (``"call #1 over $0.50"``)
    and waits for a person to decide it (``wflo approve ID``, :func:`wflo.approve`) before it
    is reserved and sent: sync code waits on its thread; async code awaits in a worker thread,
    so the event loop keeps running. Denied (or unanswered by the gate's timeout) it raises
    :class:`~wflo.ApprovalDeniedError` and nothing is reserved or sent. The threshold is kept
    with the execution: a resumed one gates as before.

    The seed SDK's arguments, kept with the execution (a resumed one enforces them):

    * ``max_iterations`` (default 100, as the seed SDK had it; None: no cap): the most LLM
      calls the execution may make. The next is refused BEFORE anything is reserved or sent
      with :class:`~wflo.CallLimitError`; a refused call does not use one up.
    * ``per_agent_budgets`` (``{agent name: dollars}``): each agent's own share of the budget.
      A call an integration makes for an agent — named as its framework names it: the
      LangGraph node, the CrewAI agent's role, the AutoGen agent's name — is charged to the
      execution's scope ``agent:<name>``, limited by that agent's share and by the execution's
      budget, so one agent cannot spend another's share.
    * ``enable_checkpointing=False``: the workflow's checkpoint calls (:meth:`checkpoint`,
      :meth:`checkpoint_sync`, ``@checkpoint``, ``checkpoint_after_agent``) save nothing and
      return None, as the seed SDK's did; reading and rolling back still work.
    * ``enable_observability``: accepted for the seed SDK's code. The engine's records (calls,
      breakdown, metrics, the OpenTelemetry export when the host configures one) are what the
      budget and checkpoints rest on, so they are kept either way.
    """

    def __init__(self, name: str = "workflow", budget_usd: Optional[Dollars] = None, *,
                 engine: Optional[Engine] = None, shared_scopes: Iterable[str] = (),
                 execution_id: Optional[str] = None, on_threshold: Optional[AlertCallback] = None,
                 alert_thresholds: Optional[Iterable[int]] = None, soft_budget_usd: Optional[Dollars] = None,
                 traceparent: Optional[str] = None, approval_above_usd: Optional[Dollars] = None,
                 per_agent_budgets: Optional[Dict[str, Dollars]] = None, max_iterations: Optional[int] = 100,
                 enable_checkpointing: bool = True, enable_observability: bool = True) -> None:
        if not isinstance(name, str) or not name:
            raise invalid("name must be a non-empty string")
        if engine is not None and not isinstance(engine, Engine):
            raise invalid("engine must be a wflo.Engine")
        if isinstance(shared_scopes, str):
            raise invalid("shared_scopes must be a list of names, not a string")
        self.name = name
        self._budget_nanos = to_nanos(budget_usd)
        self.budget_usd = None if self._budget_nanos is None else self._budget_nanos / 1e9
        self._engine = engine
        self._shared_scopes = list(shared_scopes)
        if execution_id is not None and not isinstance(execution_id, str):
            raise invalid("execution_id must be a string")
        self._execution_id = execution_id
        self._on_threshold = None if on_threshold is None else check_callback(on_threshold, "on_threshold")
        self._alert_thresholds = _thresholds(alert_thresholds)
        self._soft_budget_nanos = to_nanos(soft_budget_usd, "soft_budget_usd")
        self._approval_above_nanos = to_nanos(approval_above_usd, "approval_above_usd")
        if traceparent is not None and not isinstance(traceparent, str):
            raise invalid("traceparent must be a string (a W3C traceparent header value)")
        self._traceparent = traceparent
        self._agent_budgets = _agent_budgets(per_agent_budgets)
        self.per_agent_budgets = {k: v / 1e9 for k, v in (self._agent_budgets or {}).items()}
        if max_iterations is not None and (isinstance(max_iterations, bool) or not isinstance(max_iterations, int)
                                           or not 0 <= max_iterations < 2 ** 64):
            raise invalid(f"max_iterations must be a whole number of calls, at least 0, or None, not {max_iterations!r}")
        self.max_iterations = max_iterations
        if not isinstance(enable_checkpointing, bool) or not isinstance(enable_observability, bool):
            raise invalid("enable_checkpointing and enable_observability must be True or False")
        self.enable_checkpointing = enable_checkpointing
        self.enable_observability = enable_observability
        self._listener: Optional[int] = None  # the engine's id for on_threshold's listener
        self._native: Any = None  # the UniFFI execution
        self._c = 0  # the same execution's C handle (hot path)
        self._id_of: Any = None  # the native execution whose id ``_id`` is
        self._id = ""
        self._running = False
        self._scopes: Dict[str, Scope] = {}
        self._lock = threading.Lock()

    # -- the execution -----------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = get_default_engine()
        return self._engine

    @property
    def execution_id(self) -> Optional[str]:
        """The execution's id, "exec-" + 12 hex; None before it starts."""
        native = self._native
        if native is None:
            return None
        if self._id_of is not native:  # read once per execution (a foreign call each time otherwise)
            self._id_of, self._id = native, native.id()
        return self._id

    def get_trace_id(self) -> Optional[str]:
        """The W3C trace id (32 lower-case hex) the execution belongs to — the host's trace when
        it joined one (``traceparent``, or the OpenTelemetry span current when it started),
        else its own. Before it starts there is no trace yet: the execution id it will start
        with (``execution_id=``), else None."""
        return self._native.trace_id() if self._native is not None else self._execution_id

    @property
    def trace_id(self) -> Optional[str]:
        """:meth:`get_trace_id` as a property."""
        return self.get_trace_id()

    @classmethod
    def resume(cls, execution_id: str, *, engine: Optional[Engine] = None,
               shared_scopes: Iterable[str] = (), on_threshold: Optional[AlertCallback] = None) -> "WfloWorkflow":
        """Opens a stored execution again — in this process or a new one after a crash — with
        its spend, budget and checkpoints (``latest_checkpoint`` says where to continue).
        ``on_threshold`` as for a new workflow (thresholds passed before the resume do not fire
        again); a resumed execution starts a trace of its own."""
        wf = cls("resumed", engine=engine, shared_scopes=shared_scopes, on_threshold=on_threshold)
        wf._adopt(native(wf.engine.native.resume_execution, execution_id, wf._shared_scopes))
        wf.name = wf._native.name()
        breakdown = json.loads(native(wf._native.breakdown_json))
        wf._budget_nanos = breakdown.get("budget_nanos")
        wf.budget_usd = breakdown.get("budget_usd")
        # The engine gates the resumed execution by its stored threshold; async code must know
        # there is one (it reserves off the event loop then).
        stored = json.loads(native(wf.engine.native.execution_json, execution_id))["execution"]
        wf._approval_above_nanos = stored.get("approval_above_nanos")
        wf.max_iterations = stored.get("max_calls")
        wf._agent_budgets = stored.get("agent_budgets") or None
        wf.per_agent_budgets = {k: v / 1e9 for k, v in (wf._agent_budgets or {}).items()}
        return wf

    def _adopt(self, execution: Any) -> None:
        if self._on_threshold is not None and self._listener is None:
            # Registered before any call can settle; the listener holds the callback and the
            # id, not the workflow (which removes it when it goes).
            listener = AlertListener(self._on_threshold, execution.id())
            self._listener = native(self.engine.native.add_alert_listener, listener)
        old, self._native, self._c = self._c, execution, execution.c_handle()
        self._running = True
        self._scopes = {}  # each Scope frees its own handle
        if old:
            _fast.execution_free(old)

    def start_sync(self) -> "WfloWorkflow":
        """Starts the workflow's execution (``execute`` does this itself).

        A workflow is ONE execution: after ``execute`` finishes it, the next ``execute`` (or
        ``start``) reopens it — same id, same budget, spend and checkpoints. For a separate run
        with a budget of its own, make a new ``WfloWorkflow``.
        """
        with self._lock:
            if not self._running:
                if self._native is None:
                    self._adopt(native(self.engine.native.start_execution, self.name, self._budget_nanos,
                                       self._start_options()))
                else:
                    self._adopt(native(self.engine.native.resume_execution, self._native.id(), self._shared_scopes))
        return self

    def _start_options(self) -> Any:
        """The engine's start options; the trace is read here, where the caller's context is."""
        return _ffi.StartOptions(id=self._execution_id, shared_scopes=self._shared_scopes,
                                 traceparent=self._traceparent or current_traceparent(),
                                 alert_thresholds=self._alert_thresholds, soft_budget_nanos=self._soft_budget_nanos,
                                 approval_above_nanos=self._approval_above_nanos, max_calls=self.max_iterations,
                                 agent_budgets=self._agent_budgets)

    async def start(self) -> "WfloWorkflow":
        if not self._running:
            if self._native is None:
                execution = await native_async(self.engine.native.start_execution_async, self.name,
                                               self._budget_nanos, self._start_options())
                with self._lock:
                    if not self._running and self._native is None:
                        self._adopt(execution)
            else:
                # Reopening a live execution touches no storage beyond one status write.
                self.start_sync()
        return self

    def finish_sync(self, status: str = "completed") -> None:
        """Ends the execution with an explicit status: "completed", "failed" or
        "budget_exceeded" (:meth:`end_sync` lets the engine choose from how the run ended)."""
        if self._running:
            self._running = False
            native(self._native.finish, status)

    async def finish(self, status: str = "completed") -> None:
        if self._running:
            self._running = False
            await native_async(self._native.finish_async, status)

    def end_sync(self, error: Optional[BaseException] = None) -> Optional[str]:
        """Ends the execution the way its body ended — ``error`` None: it returned; else the
        exception it raised — by the engine's one rule: a budget refusal anywhere along the
        exception's causes is "budget_exceeded" (a framework that wrapped it does not hide it),
        any other error "failed", no error "completed". Returns the status chosen (None when
        the execution was not running)."""
        if not self._running:
            return None
        self._running = False
        raised = None if error is None else json.dumps(codes_of(error))
        return _fast.execution_end(self._c, raised)

    async def end(self, error: Optional[BaseException] = None) -> Optional[str]:
        """:meth:`end_sync` off the event loop (the status is one store write)."""
        if not self._running:
            return None
        return await asyncio.to_thread(self.end_sync, error)

    def _started(self) -> Any:
        if self._native is None:
            raise ClosedError("the workflow has not started: call execute() or start() first")
        return self._native

    def _started_c(self) -> int:
        """The execution's C handle, once started."""
        self._started()
        return self._c

    # -- running code inside it --------------------------------------------------------------

    async def execute(self, target: Any, inputs: Any = None, *, config: Optional[Dict[str, Any]] = None) -> Any:
        """Runs ``target`` as one execution and returns its result.

        ``target``: an async or plain function called with ``inputs`` (a plain one runs in a
        worker thread, so the event loop never blocks); a LangGraph compiled graph or any
        LangChain runnable (run with wflo's callback handler, ``config`` passed on); a CrewAI
        ``Crew`` (``kickoff(inputs=…)``); an AutoGen team or agent (``run(task=inputs)``).
        Ends the execution "completed", "failed" or "budget_exceeded"; a refusal raises
        :class:`BudgetExceededError` with ``spent_usd`` and ``budget_usd``.
        """
        run = runner_for(target)
        await self.start()
        try:
            with use(Frame(self, None, None)):
                result = await run.run_async(self, target, inputs, config)
        except BaseException as e:
            await self._end_after(e)
            raise
        await self.end()
        return result

    def execute_sync(self, target: Any, inputs: Any = None, *, config: Optional[Dict[str, Any]] = None) -> Any:
        """``execute`` for code without an event loop (an async ``target`` gets one of its own)."""
        run = runner_for(target)
        self.start_sync()
        try:
            with use(Frame(self, None, None)):
                result = run.run_sync(self, target, inputs, config)
        except BaseException as e:
            self._end_sync_after(e)
            raise
        self.end_sync()
        return result

    async def _end_after(self, e: BaseException) -> None:
        try:
            await asyncio.shield(self.end(e))
        except Exception:  # the original error matters more than a failed status write
            pass

    def _end_sync_after(self, e: BaseException) -> None:
        try:
            self.end_sync(e)
        except Exception:
            pass

    @contextmanager
    def step_sync(self, label: str, budget_usd: Optional[Dollars] = None) -> Iterator[Scope]:
        """Runs the block in the step scope ``label`` (and its own budget, if given): calls
        made in it are recorded under that step. Yields the :class:`Scope`."""
        scope = self.scope(label, budget_usd)
        with use(Frame(self, scope, scope.label)):
            yield scope

    @asynccontextmanager
    async def step(self, label: str, budget_usd: Optional[Dollars] = None) -> AsyncIterator[Scope]:
        """``async with workflow.step("research") as scope:`` — calls in the block (and in
        tasks it starts) are recorded under that step; ``scope.step(...)`` nests."""
        await self.start()
        with self.step_sync(label, budget_usd) as scope:
            yield scope

    def scope(self, label: str, budget_usd: Optional[Dollars] = None) -> Scope:
        """The step scope ``label`` of this execution, created on first use; ``budget_usd``
        gives it a limit of its own inside the execution's (None: none; 0 is a limit of
        zero). The same label returns the same scope."""
        _check_label(label)
        if not self._running:
            self.start_sync()
        key = f"{label}\0{budget_usd}"
        scope = self._scopes.get(key)
        if scope is None:
            made = Scope(self, native(self._native.scope, label, to_nanos(budget_usd)))
            with self._lock:
                scope = self._scopes.setdefault(key, made)
        return scope

    def _target(self, scope: Optional[Scope]) -> Optional[int]:
        """The C handle of the scope a call is charged to: ``scope``, else the running step,
        else None (the execution itself)."""
        if scope is None:
            frame = current_frame()
            scope = frame.scope if frame is not None and frame.workflow is self else None
        elif not isinstance(scope, Scope) or scope.workflow is not self:
            raise invalid("scope must be a wflo.Scope of this workflow")
        return scope._c if scope is not None else None

    # -- calls ---------------------------------------------------------------------------------

    def reserve(self, request: Optional[CallRequest] = None, *, model: Optional[str] = None, input_tokens: int = 0,
                max_output_tokens: Optional[int] = None, provider: Optional[str] = None,
                input_estimated: Optional[bool] = None, cache_write: Optional[str] = None, stream: bool = False,
                clamp_max_tokens: bool = False, scope: Optional[Scope] = None) -> Reservation:
        """Reserves the worst case of a call BEFORE it is made (a :class:`CallRequest` or its
        fields as keywords); raises :class:`BudgetExceededError` when it could overspend, and
        then the request must not be sent. Charged to ``scope``, else the running step, else
        the execution."""
        if request is not None:
            if not isinstance(request, CallRequest):
                raise invalid("request must be a wflo.CallRequest")
            model, input_tokens, max_output_tokens = request.model, request.input_tokens, request.max_output_tokens
            provider, input_estimated, cache_write = request.provider, request.input_estimated, request.cache_write
            stream, clamp_max_tokens = request.stream, request.clamp_max_tokens
        if not self._running:
            self.start_sync()
        return Reservation(_reserve(self._c, self._target(scope), model, input_tokens, max_output_tokens, provider, input_estimated,
                                    cache_write, stream, clamp_max_tokens))

    def _reserves_off_loop(self) -> bool:
        """Whether a reservation may wait — on the store (shared scopes live there) or on a
        person (an approval threshold: the engine holds the reserving thread at the gate until
        someone decides). Async code then reserves in a worker thread, never on the event loop."""
        return bool(self._shared_scopes) or self._approval_above_nanos is not None

    async def _reserving(self, reserve: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``reserve(*args, **kwargs)`` for async code: on the event loop when it cannot wait,
        else in a worker thread (which sees the caller's context: its workflow and step)."""
        if not self._running:
            await self.start()
        if not self._reserves_off_loop():
            return reserve(*args, **kwargs)
        return await asyncio.to_thread(reserve, *args, **kwargs)

    async def reserve_async(self, request: Optional[CallRequest] = None, **fields: Any) -> Reservation:
        """``reserve`` for async code: when the reservation may wait (shared scopes, which live
        in the store; an approval gate, which waits for a person) it runs in a worker thread,
        so the event loop never waits."""
        return await self._reserving(self.reserve, request, **fields)

    def reserve_request(self, format: str, request: Any, *, base_url: Optional[str] = None,
                        provider: Optional[str] = None, model: Optional[str] = None, stream: Optional[bool] = None,
                        clamp_max_tokens: bool = False, scope: Optional[Scope] = None,
                        agent: Optional[str] = None, upfront: bool = False) -> RequestReserved:
        """Reserves a provider request BEFORE it is sent, read by the engine: ``format`` is the
        API it is written for ("openai_chat", "openai_responses", "anthropic", "gemini",
        "langchain", "ai_sdk") and ``request`` its body (a dict or JSON text). The prompt
        (messages, system, tools, schemas, images), the output limit in force and the number
        of choices decide the worst case. Returns the reservation and the body to SEND — the
        output limit written in when clamped or absent, ``stream_options.include_usage`` on an
        OpenAI chat stream. ``base_url`` (the client's) names the provider; ``provider``,
        ``model`` and ``stream`` say what the body does not. ``agent``: the agent the call is
        made for (its framework's name for it): the call is charged to the execution's scope
        ``agent:<name>`` instead, limited by that agent's share (``per_agent_budgets``) and the
        execution's budget. ``upfront``: the request is not the one sent but what a tracker that
        cannot see it was told (``@track_llm_call``); a refusal then says how the call was sized
        and how to make it precise. Raises :class:`BudgetExceededError` when the call could
        overspend, :class:`CallLimitError` past ``max_iterations``: then nothing may be sent."""
        if not self._running:
            self.start_sync()
        return _reserve_request(self._c, self._target(scope), format, request, _options(base_url, provider, model, stream,
                                                                         clamp_max_tokens, agent, upfront))

    async def reserve_request_async(self, format: str, request: Any, **options: Any) -> RequestReserved:
        """``reserve_request`` for async code (in a worker thread when the reservation may wait:
        see :meth:`reserve_async`)."""
        return await self._reserving(self.reserve_request, format, request, **options)

    def record_call(self, model: str, response: Any, format: str = "auto") -> Settled:
        """Records a call made without a reservation, from its response or usage."""
        if not self._running:
            self.start_sync()
        text = response if isinstance(response, str) else usage_json(response)
        s = native(self._native.record_call_json, model, format, text)
        from .types import Usage

        u = s.usage
        return Settled(s.seq, s.cost_nanos, s.reserved_nanos, s.overrun_nanos, s.estimated, s.usage_missing,
                       Usage(u.input, u.output, u.cache_read, u.cache_write_5m, u.cache_write_1h, u.reasoning))

    # -- checkpoints ---------------------------------------------------------------------------

    async def checkpoint(self, name: str, state: Any, *, content_type: Optional[str] = None) -> Optional[Dict[str, Any]]:
        """Saves ``state`` as checkpoint ``name``; committed to the store when this returns,
        which returns the checkpoint's record. ``state`` is anything JSON can hold, or a binary
        state kept byte for byte: a :class:`wflo.BinaryState`, or ``bytes`` with
        ``content_type`` (omitted: the engine stores them as ``"application/octet-stream"``). With
        ``enable_checkpointing=False`` it saves nothing and returns None."""
        # The state is checked and encoded here, before the await (a caller may change it after);
        # the save itself is the sync one, off the event loop.
        binary = _binary_state(state, content_type)
        if binary is None and self._native is not None and self.enable_checkpointing and _fast.py_state_encode:
            # Encoded here, as the state is now, by libwflo; saved on a worker thread without a
            # second check. A state the library declines goes the text way below.
            name = _check_name(name)
            encoded = _fast.py_state_encode(state)
            if encoded is not None:
                return await asyncio.to_thread(encoded.save, self._c, self.execution_id, name)
        text = _checkpoint_args(name, state) if binary is None else _check_name(name)
        if not self.enable_checkpointing:
            return None
        if self._native is None:
            await self.start()
        return await asyncio.to_thread(self._save_checkpoint, name, binary, text)

    def checkpoint_sync(self, name: str, state: Any, *, content_type: Optional[str] = None) -> Optional[Dict[str, Any]]:
        binary = _binary_state(state, content_type)
        if binary is None and self._native is not None and self.enable_checkpointing and _fast.py_checkpoint_save:
            # Encoded and saved in one call, the text not checked again (libwflo wrote it); a
            # state the library declines is encoded by json.dumps below and saved as text.
            info = _fast.py_checkpoint_save(self._c, self.execution_id, _check_name(name), state)
            if info is not None:
                return info
        text = _checkpoint_args(name, state) if binary is None else _check_name(name)
        if not self.enable_checkpointing:
            return None
        if self._native is None:
            self.start_sync()
        return self._save_checkpoint(name, binary, text)

    def _save_checkpoint(self, name: str, binary: Optional[Tuple[Optional[str], bytes]], text: str) -> Dict[str, Any]:
        """One save, either kind, through the C ABI (both the sync and the async call end here)."""
        if binary is not None:
            return _fast.checkpoint_save_binary(self._c, self.execution_id, name, *binary)
        return _fast.checkpoint_save(self._c, self.execution_id, name, text)

    async def rollback_to_checkpoint(self, name: str) -> Any:
        """The state saved in the latest live checkpoint ``name`` (the JSON value, or a
        :class:`wflo.BinaryState`). Later checkpoints become history (kept, no longer live);
        money spent since stays spent."""
        self._started()
        return await asyncio.to_thread(self.rollback_to_checkpoint_sync, name)

    def rollback_to_checkpoint_sync(self, name: str) -> Any:
        if not isinstance(name, str):
            raise invalid("checkpoint name must be a string")
        return _state_of(_fast.checkpoint_rollback_any(self._started_c(), name))

    async def latest_checkpoint(self) -> Any:
        """The latest live checkpoint's state (where a resumed workflow continues), or None."""
        return await asyncio.to_thread(self.latest_checkpoint_sync)

    def latest_checkpoint_sync(self) -> Any:
        found = _fast.checkpoint_latest_any(self._started_c())
        return None if found is None else _state_of(found)

    async def rollback_to_last_checkpoint(self) -> Any:
        """Rolls back to the newest live checkpoint (:meth:`rollback_to_checkpoint` of its
        name) and returns its state; None when the execution has none (or has not started)."""
        return await asyncio.to_thread(self.rollback_to_last_checkpoint_sync)

    def rollback_to_last_checkpoint_sync(self) -> Any:
        if self._native is None:
            return None
        live = [c for c in self.checkpoints() if not c["superseded"]]
        if not live:
            return None
        newest = max(live, key=lambda c: c["sequence"])
        return self.rollback_to_checkpoint_sync(newest["name"])

    def list_checkpoints(self) -> List[Dict[str, Any]]:
        """The seed SDK's list: one dict per checkpoint of the execution, oldest first —
        ``name``, ``version`` (its order in the execution, from 1), ``created_at`` (ISO 8601,
        UTC), ``id``, ``spent_usd`` (the execution's spend when it was saved) and
        ``superseded`` (a rollback to an earlier one made it history). [] before the
        execution starts."""
        if self._native is None:
            return []
        import datetime

        out = []
        for c in self.checkpoints():
            created = datetime.datetime.fromtimestamp(c["created_at_ms"] / 1000, tz=datetime.timezone.utc)
            out.append({"name": c["name"], "version": c["sequence"], "created_at": created.isoformat(),
                        "id": c["id"], "execution_id": c["execution_id"], "spent_usd": c["spent_nanos"] / 1e9,
                        "superseded": c["superseded"]})
        return out

    def checkpoint_state(self, checkpoint_id: int) -> Any:
        """One checkpoint's state by its id (superseded ones included): the JSON value, or a
        :class:`wflo.BinaryState`."""
        return _state_of(_fast.checkpoint_state_any(self._started_c(), checkpoint_id))

    @property
    def started(self) -> bool:
        """True once the workflow's execution exists (reads never start one)."""
        return self._native is not None

    def checkpoints(self, after_sequence: int = 0) -> List[Dict[str, Any]]:
        """The execution's checkpoints, superseded ones included; with ``after_sequence``, only
        those saved after that one (what a reader keeping its own index has not seen)."""
        return self.checkpoints_since(after_sequence)[0]

    def checkpoints_since(self, after_sequence: int) -> Tuple[List[Dict[str, Any]], int]:
        """``(checkpoints after after_sequence, how many rollbacks the execution has had)`` in
        one call: a reader keeping an index of the checkpoints reads only what is new, and
        all again when the number of rollbacks grows (a rollback changes which are live)."""
        _check_sequence(after_sequence)
        return _fast.checkpoints_after(self._started_c(), after_sequence)

    def checkpoints_since_with_state(self, after_sequence: int,
                                     checkpoint_id: int) -> Tuple[List[Dict[str, Any]], int, Any]:
        """:meth:`checkpoints_since` and :meth:`checkpoint_state` of ``checkpoint_id`` in one
        call (one crossing into the library): ``(checkpoints, rollbacks, state)``. For a reader
        that keeps an index and loads the state it names: a state never changes, so it stands
        even when the checkpoints show the index was out of date."""
        _check_sequence(after_sequence)
        listed, rollbacks, found = _fast.checkpoint_since_with_state(self._started_c(), after_sequence, checkpoint_id)
        return listed, rollbacks, _state_of(found)

    def calls(self) -> List[Dict[str, Any]]:
        """The execution's call records (settled, refused, aborted, estimated)."""
        return json.loads(native(self._started().calls_json))

    # -- approval gates --------------------------------------------------------------------------

    def request_approval(self, gate: str, *, why: str = "", what: Optional[str] = None,
                         worst_case_usd: Optional[Dollars] = None, timeout: Optional[float] = 3600.0,
                         on_timeout: str = "deny", requested_by: Optional[str] = None) -> Approval:
        """Asks a person to approve ``gate`` (a step's name) without waiting: the pending
        :class:`~wflo.Approval`, recorded in the store with ``what`` (default "run <gate>"),
        ``why``, the ``worst_case_usd`` behind it and who asks (``requested_by``, default this
        process) — or the approval this execution already has for that gate, decided or not
        (a restarted workflow finds its decision). Unanswered for ``timeout`` seconds (None: an
        hour) it counts as ``on_timeout``: "deny" or "approve". Anyone on the store decides:
        ``wflo approve ID``, :func:`wflo.approve`, :func:`wflo.deny`."""
        text = _approval_request(gate, why, what, worst_case_usd, timeout, on_timeout, requested_by)
        if not self._running:
            self.start_sync()
        return Approval._of(json.loads(native(self._native.request_approval, text)))

    async def wait_for_approval(self, approval_id: str, timeout: Optional[float] = None) -> Approval:
        """Waits (without blocking the event loop) for approval ``approval_id`` to be decided,
        at most ``timeout`` seconds (None: until the approval's own timeout). Returns the
        approval when approved — or still pending when ``timeout`` ran out first (ask again
        later); raises :class:`~wflo.ApprovalDeniedError` when it was denied or timed out under
        ``on_timeout="deny"``."""
        wait_ms = _wait_ms(timeout)
        return Approval._of(json.loads(await native_async(self._started().wait_for_approval, approval_id, wait_ms)))

    def wait_for_approval_sync(self, approval_id: str, timeout: Optional[float] = None) -> Approval:
        """:meth:`wait_for_approval` blocking the calling thread."""
        wait_ms = _wait_ms(timeout)
        return Approval._of(json.loads(native(self._started().wait_for_approval_blocking, approval_id, wait_ms)))

    async def require_approval(self, gate: str, *, why: str = "", what: Optional[str] = None,
                               worst_case_usd: Optional[Dollars] = None, timeout: Optional[float] = 3600.0,
                               on_timeout: str = "deny", requested_by: Optional[str] = None) -> Approval:
        """``await workflow.require_approval("publish", why="emails customers")``: asks for
        approval of ``gate`` (:meth:`request_approval`) and waits for the decision without
        blocking the event loop. Returns the approved :class:`~wflo.Approval`; raises
        :class:`~wflo.ApprovalDeniedError` (``by``, ``note``, ``timed_out``) when it is denied
        or not answered within ``timeout`` seconds under ``on_timeout="deny"``."""
        text = _approval_request(gate, why, what, worst_case_usd, timeout, on_timeout, requested_by)
        await self.start()
        asked = json.loads(await asyncio.to_thread(native, self._native.request_approval, text))
        return await self.wait_for_approval(asked["id"])

    def require_approval_sync(self, gate: str, **options: Any) -> Approval:
        """:meth:`require_approval` blocking the calling thread."""
        return self.wait_for_approval_sync(self.request_approval(gate, **options).id)

    # -- the bill ------------------------------------------------------------------------------

    def breakdown_sync(self) -> Dict[str, Any]:
        """total_usd, budget_usd, remaining_usd, reserved_usd, calls, by_model, by_step,
        price_table (the engine's prices in one line: the built-in table's source and date, and
        the price files loaded over it), …"""
        return json.loads(native(self._started().breakdown_json))

    async def breakdown(self) -> Dict[str, Any]:
        return self.breakdown_sync()

    def check_budget_sync(self) -> None:
        """Raises :class:`BudgetExceededError` when the execution's spend has passed its budget
        — or a step's or agent's spend its own limit — by the engine's breakdown (a call that
        used more than its reservation, or one recorded without a reservation, can pass it:
        reservations themselves never do). Nothing to check before the execution starts."""
        if self._native is None:
            return
        b = self.breakdown_sync()
        over = [("", b.get("budget_nanos"), b["total_nanos"])]
        over += [(s["step"], s.get("budget_nanos"), s["cost_nanos"]) for s in b.get("by_step", [])]
        for scope, limit, spent in over:
            if limit is not None and spent > limit:
                where = f"step {scope!r}" if scope else f"execution {b['execution_id']}"
                raise BudgetExceededError(f"budget exceeded on {where}: spent ${spent / 1e9:.6f} of "
                                          f"${limit / 1e9:.6f}", scope or b["execution_id"], limit, spent,
                                          b.get("reserved_nanos", 0), 0)

    async def check_budget(self) -> None:
        """:meth:`check_budget_sync` for async code (the seed SDK's ``await check_budget()``)."""
        self.check_budget_sync()

    # The seed SDK's names for the breakdown, kept for its users' code.
    get_cost_breakdown_sync = breakdown_sync
    get_cost_breakdown = breakdown

    def __del__(self) -> None:
        if _fast is None:
            return
        c = getattr(self, "_c", 0)
        if c:
            _fast.execution_free(c)
        listener = getattr(self, "_listener", None)
        if listener is not None and self._engine is not None:
            try:
                self._engine.native.remove_alert_listener(listener)
            except Exception:
                pass

    def __repr__(self) -> str:
        return f"WfloWorkflow(name={self.name!r}, budget_usd={self.budget_usd!r}, execution_id={self.execution_id!r})"

    @property
    def approval_above_usd(self) -> Optional[float]:
        """The approval threshold in dollars (None: calls meet no approval gate)."""
        return None if self._approval_above_nanos is None else self._approval_above_nanos / 1e9


def _agent_budgets(budgets: Optional[Dict[str, Dollars]]) -> Optional[Dict[str, int]]:
    """``per_agent_budgets`` in nano-USD, each amount parsed like ``budget_usd``."""
    if budgets is None:
        return None
    if not isinstance(budgets, dict):
        raise invalid("per_agent_budgets must be a dict of agent name to dollars")
    out: Dict[str, int] = {}
    for name, dollars in budgets.items():
        if not isinstance(name, str):
            raise invalid(f"per_agent_budgets: an agent's name must be a string, not {name!r}")
        nanos = to_nanos(dollars, f"per_agent_budgets[{name!r}]")
        if nanos is None:
            raise invalid(f"per_agent_budgets[{name!r}] must be an amount of dollars, not None")
        out[name] = nanos
    return out


def _thresholds(thresholds: Optional[Iterable[int]]) -> Optional[List[int]]:
    """Alert thresholds as the engine takes them (a list of whole percents; the engine checks
    them: 1 to 100, ascending)."""
    if thresholds is None:
        return None
    if isinstance(thresholds, (str, bytes)) or not isinstance(thresholds, Iterable):
        raise invalid("alert_thresholds must be a list of whole percents such as [50, 80, 95]")
    out = list(thresholds)
    if not all(isinstance(t, int) and not isinstance(t, bool) and 0 <= t < 2 ** 32 for t in out):
        raise invalid(f"alert_thresholds must be whole percents from 1 to 100 in ascending order, not {out!r}")
    return out


def _seconds_ms(seconds: Any, what: str) -> int:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds >= 0:
        raise invalid(f"{what} must be a number of seconds, at least 0, not {seconds!r}")
    return round(seconds * 1000)


def _wait_ms(timeout: Optional[float]) -> Optional[int]:
    return None if timeout is None else _seconds_ms(timeout, "timeout")


def _approval_request(gate: Any, why: Any, what: Any, worst_case_usd: Optional[Dollars], timeout: Optional[float],
                      on_timeout: Any, requested_by: Any) -> str:
    """The engine's approval request as JSON; the engine checks its texts and ``on_timeout``."""
    if not isinstance(gate, str):
        raise invalid("an approval gate must be a string")
    request: Dict[str, Any] = {"gate": gate, "why": why, "on_timeout": on_timeout}
    if what is not None:
        request["what"] = what
    worst = to_nanos(worst_case_usd, "worst_case_usd")
    if worst is not None:
        request["worst_case_nanos"] = worst
    if timeout is not None:
        request["timeout_ms"] = _seconds_ms(timeout, "timeout")
    if requested_by is not None:
        request["requested_by"] = requested_by
    try:
        return json.dumps(request)
    except (TypeError, ValueError) as e:
        raise invalid(f"approval request: {e}") from None


def _binary_state(state: Any, content_type: Optional[str]) -> Optional[Tuple[Optional[str], bytes]]:
    """The binary state ``checkpoint`` was given as ``(content type or None, bytes)``, or None
    for a JSON one. Bytes without a content type go down without one: the engine names them."""
    if isinstance(state, BinaryState):
        if content_type is not None:
            raise invalid("a BinaryState names its own content type: do not pass content_type too")
        if not isinstance(state.content_type, str) or not isinstance(state.data, (bytes, bytearray, memoryview)):
            raise invalid("BinaryState needs content_type (str) and data (bytes)")
        return state.content_type, bytes(state.data)
    if isinstance(state, (bytes, bytearray, memoryview)):
        if content_type is not None and not isinstance(content_type, str):
            raise invalid(f"content_type must be a string, got {type(content_type).__name__}")
        return content_type, bytes(state)
    if content_type is not None:
        raise invalid(f"content_type is for a binary state (bytes), not a {type(state).__name__}")
    return None


def _state_of(found: Tuple[Optional[str], bytes]) -> Any:
    """A stored state as Python has it: the JSON value, or a BinaryState."""
    content_type, data = found
    if content_type is not None:
        return BinaryState(content_type, data)
    # libwflo builds json.loads's very objects (ints beyond 64 bits as ints, floats as float()
    # reads them), faster; it leaves anything unusual to json.loads (test_state_json.py).
    return json.loads(data) if _fast.py_json_loads is None else _fast.py_json_loads(data)


def _check_sequence(after_sequence: Any) -> None:
    if not isinstance(after_sequence, int) or isinstance(after_sequence, bool) or not 0 <= after_sequence < 2**64:
        raise invalid(f"after_sequence is a non-negative integer, got {after_sequence!r}")


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise invalid("checkpoint name must be a non-empty string")
    return name


def _checkpoint_args(name: Any, state: Any) -> str:
    _check_name(name)
    return state_json(state)


def _reserve(execution: int, scope: Optional[int], model: Any, input_tokens: int, max_output_tokens: Optional[int],
             provider: Optional[str], input_estimated: Optional[bool], cache_write: Optional[str], stream: bool,
             clamp: bool) -> int:
    if not isinstance(model, str) or not model:
        raise invalid("model must be a non-empty string")
    code = _fast.CACHE_WRITE.get(cache_write)
    if code is None:
        raise invalid(f"cache_write must be None, '5m' or '1h', got {cache_write!r}")
    count = _fast.COUNT_AUTO if input_estimated is None else (
        _fast.COUNT_ESTIMATED if input_estimated else _fast.COUNT_EXACT)
    return _fast.reserve(execution, scope, model, provider, input_tokens, count, max_output_tokens or 0, code,
                         stream, clamp)


def _request_args(r: CallRequest) -> tuple:
    return (r.model, r.input_tokens, r.max_output_tokens, r.provider, r.input_estimated, r.cache_write, r.stream,
            r.clamp_max_tokens)


def _options(base_url: Optional[str], provider: Optional[str], model: Optional[str], stream: Optional[bool],
             clamp: bool, agent: Optional[str] = None, upfront: bool = False) -> Optional[str]:
    given = {k: v for k, v in (("base_url", base_url), ("provider", provider), ("model", model), ("stream", stream),
                               ("agent", agent)) if v is not None}
    if clamp:
        given["clamp_max_tokens"] = True
    if upfront:
        given["upfront"] = True
    return json.dumps(given) if given else None


def _reserve_request(execution: int, scope: Optional[int], format: Any, request: Any,
                     options: Optional[str]) -> RequestReserved:
    if not isinstance(format, str):
        raise invalid("format must be a string such as 'openai_chat'")
    if isinstance(request, (bytes, bytearray)):
        request = request.decode()
    if not isinstance(request, str):
        try:
            request = json.dumps(request, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise invalid(f"the request is not JSON-serialisable: {e}") from None
    handle, body = _fast.reserve_request(execution, scope, format, request, options)
    return RequestReserved(Reservation(handle), json.loads(body))


def current_reserve_request(format: str, request: Any, **options: Any) -> Optional[RequestReserved]:
    """A provider request reserved on the running workflow (its current step), or None outside
    any: the reservation and the body to send."""
    frame = current_frame()
    if frame is None:
        return None
    wf = frame.workflow
    if not wf._running:
        wf.start_sync()
    return _reserve_request(wf._c, frame.scope._c if frame.scope else None, format, request,
                            _options(options.get("base_url"), options.get("provider"), options.get("model"),
                                     options.get("stream"), options.get("clamp_max_tokens", False),
                                     options.get("agent"), options.get("upfront", False)))


async def current_reserve_request_async(format: str, request: Any, **options: Any) -> Optional[RequestReserved]:
    """:func:`current_reserve_request` for async code: off the event loop when the running
    workflow's reservation may wait (its one rule, :meth:`WfloWorkflow._reserving`)."""
    frame = current_frame()
    if frame is None:
        return None
    return await frame.workflow._reserving(current_reserve_request, format, request, **options)


def agent_of(name: Any) -> Optional[str]:
    """The ``agent`` request option for a call an integration makes for the agent its framework
    calls ``name`` (None for no name). Where the call is charged is the engine's rule: to the
    agent's scope when asked on the execution, on the step when asked in a ``step(...)``."""
    return name if isinstance(name, str) and name else None


def current_reserve(request: CallRequest) -> Optional[Reservation]:
    """A reservation on the running workflow (its current step), or None outside any."""
    frame = current_frame()
    if frame is None:
        return None
    wf = frame.workflow
    if not wf._running:
        wf.start_sync()
    return Reservation(_reserve(wf._c, frame.scope._c if frame.scope else None, *_request_args(request)))


def is_coroutine_function(fn: Any) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(fn, "__call__", None))
