"""wflo for LangChain (and LangGraph, whose nodes call LangChain models): a callback handler
that reserves a model call's worst case BEFORE its request is sent, settles it from the
provider's usage after, and releases it when the call fails.

LangChain rethrows a handler's error only when the handler sets ``raise_error``, and under
sync ``invoke`` an async handler's error is lost (the request is sent anyway) — so the handler
is SYNC: a :class:`BudgetExceededError` raised from ``on_chat_model_start`` rejects ``invoke``,
``ainvoke``, ``stream`` and ``astream`` before any HTTP request is made.

A workflow whose reservations may wait — on a person (``approval_above_usd``) or on the store
(shared scopes) — must not hold the event loop: on LangChain's async path (a loop runs on the
calling thread) the start events are then coroutines, which LangChain awaits in the caller's
context, and the reservation runs in a worker thread.

Importing this module also installs the handler process-wide through LangChain's configure
hook, so LangChain calls made inside any wflo workflow (``execute``, ``step``) are metered
without passing callbacks — and only once when the handler is also passed by hand.
"""
from __future__ import annotations

import asyncio
import json
import sys
import threading
from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Optional
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler, BaseCallbackManager
from langchain_core.tracers.context import register_configure_hook

from ..context import current_frame
from ..errors import invalid
from ..instrument.common import UNMETERED, Sending, request_json
from ..reservation import RequestReserved, Reservation
from ..usage import _fields
from ..workflow import WfloWorkflow, agent_of, current_reserve_request
from . import Runner

__all__ = ["RUNNER", "WfloCallbackHandler"]


# LangChain's functions that dispatch an event to a handler and await a coroutine method
# (langchain_core.callbacks.manager); its sync `handle_event` calls a method and swallows what
# a returned coroutine raises, so it is always given the plain method.
_ASYNC_DISPATCHERS = frozenset({"_ahandle_event_for_handler"})


class _Run:
    """A metered run: its reservation, the batch it belongs to (the invocation params object
    LangChain passes for every prompt of one call; None for a single prompt) and whether its
    response started streaming (then the provider bills it, even if it is cut)."""

    __slots__ = ("reservation", "batch", "sending", "streamed")

    def __init__(self, reservation: Reservation, batch: Optional[object], sending: Optional[Sending]) -> None:
        self.reservation, self.batch, self.sending = reservation, batch, sending
        self.streamed = False

    def sent(self) -> None:
        if self.sending is not None:
            self.sending.active = False


class _Call(NamedTuple):
    """A model call about to be reserved: on ``workflow`` (``frame``: the caller's, or None),
    as the "langchain" request ``body``; ``batch`` as for :class:`_Run`; ``agent`` the
    LangGraph node making it (None outside a graph), whose share of ``per_agent_budgets``
    it draws on."""

    workflow: WfloWorkflow
    frame: Any
    body: str
    batch: Optional[object]
    agent: Optional[str] = None


# Reservations by LangChain run id, shared by every handler in the process: a run is reserved
# once and settled once even when two wflo handlers see it. LangChain may call the handler
# from several threads at once (graph nodes, executors), hence the lock.
_runs: Dict[UUID, _Run] = {}
_runs_lock = threading.Lock()


def _json(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _message(m: Any) -> Any:
    """A LangChain message as plain JSON (its fields: type, content, tool_calls, name…), which
    the engine reads as the "langchain" request format."""
    return m if isinstance(m, (str, dict)) else _fields(m)


class WfloCallbackHandler(BaseCallbackHandler):
    """Budgets every LangChain model call of a wflo workflow.

    ``workflow``: the workflow calls are metered on (default: the one the call runs in —
    ``workflow.execute(…)``, ``workflow.step(…)`` — and outside any, the handler does
    nothing). ``model``: the model to price calls with when LangChain does not say which.
    """

    raise_error = True
    # Inline: a batch's prompts are reserved one after the other (so a refusal can give back
    # the ones already held), and streamed tokens cost no thread hop. The work is the
    # engine reading the request and an in-memory reservation.
    run_inline = True
    ignore_chain = True
    ignore_agent = True
    ignore_retriever = True
    ignore_retry = True
    ignore_custom_event = True

    def __init__(self, workflow: Optional[WfloWorkflow] = None, *, model: Optional[str] = None) -> None:
        if workflow is not None and not isinstance(workflow, WfloWorkflow):
            raise invalid("WfloCallbackHandler: workflow must be a wflo.WfloWorkflow")
        if model is not None and (not isinstance(model, str) or not model):
            raise invalid("WfloCallbackHandler: model must be a non-empty string")
        self.workflow = workflow
        self.model = model
        # The workflow `execute` runs, for calls whose context lost it (a bare thread).
        self._fallback: Optional[WfloWorkflow] = None

    # -- the call starts: reserve ------------------------------------------------------------

    # LangChain's async path awaits a coroutine method (in the caller's context), its sync path
    # calls a plain one. When LangChain's async dispatcher asks, and the workflow's reservation
    # may wait, the start events are coroutines that reserve in a worker thread; otherwise
    # plain methods that reserve here. Only the async dispatcher gets the coroutine: LangChain's
    # sync path (`invoke` called on an event loop's thread included) runs a coroutine handler
    # apart and only logs what it raises, so a refusal or a denied approval would not stop the
    # request. There a pending gate holds the thread until decided — run sync LangChain code
    # in a worker thread, as execute() does, to keep the loop free.

    @property
    def on_chat_model_start(self) -> Callable[..., Any]:
        return self._chat_model_start_async if self._awaited_off_loop() else self._chat_model_start

    @property
    def on_llm_start(self) -> Callable[..., Any]:
        return self._llm_start_async if self._awaited_off_loop() else self._llm_start

    def _awaited_off_loop(self) -> bool:
        """Whether LangChain's async dispatcher is asking (it awaits the coroutine and honours
        ``raise_error``) for a workflow whose reservation may wait."""
        caller = sys._getframe(2).f_code.co_name  # the property's caller
        return caller in _ASYNC_DISPATCHERS and self._reserves_off_loop()

    def _chat_model_start(self, serialized: Any, messages: List[List[Any]], *, run_id: UUID,
                          metadata: Optional[Dict[str, Any]] = None, **kwargs: Any) -> None:
        self._start(run_id, metadata, kwargs, _chat_prompt(messages))

    async def _chat_model_start_async(self, serialized: Any, messages: List[List[Any]], *, run_id: UUID,
                                      metadata: Optional[Dict[str, Any]] = None, **kwargs: Any) -> None:
        await self._start_async(run_id, metadata, kwargs, _chat_prompt(messages))

    def _llm_start(self, serialized: Any, prompts: List[str], *, run_id: UUID,
                   metadata: Optional[Dict[str, Any]] = None, **kwargs: Any) -> None:
        self._start(run_id, metadata, kwargs, {"prompts": [str(p) for p in prompts]})

    async def _llm_start_async(self, serialized: Any, prompts: List[str], *, run_id: UUID,
                               metadata: Optional[Dict[str, Any]] = None, **kwargs: Any) -> None:
        await self._start_async(run_id, metadata, kwargs, {"prompts": [str(p) for p in prompts]})

    def _workflow(self) -> tuple:
        """The workflow a call now is metered on (None: none), and the caller's frame."""
        frame = current_frame()
        return self.workflow or (frame.workflow if frame is not None else self._fallback), frame

    def _reserves_off_loop(self) -> bool:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return False  # no event loop on this thread: nothing to keep running
        workflow, _ = self._workflow()
        return workflow is not None and workflow._reserves_off_loop()

    def _start(self, run_id: UUID, metadata: Optional[Dict[str, Any]], kwargs: Dict[str, Any],
               prompt: Dict[str, Any]) -> None:
        call = self._call(run_id, metadata, kwargs, prompt)
        if call is None:
            return
        try:
            made = self._reserve(call)
        except BaseException:
            if call.batch is not None:
                _abandon(call.batch)
            raise
        self._hold(run_id, call, made)

    async def _start_async(self, run_id: UUID, metadata: Optional[Dict[str, Any]], kwargs: Dict[str, Any],
                           prompt: Dict[str, Any]) -> None:
        call = self._call(run_id, metadata, kwargs, prompt)
        if call is None:
            return
        try:
            made = await call.workflow._reserving(self._reserve, call)
        except BaseException:
            if call.batch is not None:
                _abandon(call.batch)
            raise
        self._hold(run_id, call, made)

    def _call(self, run_id: UUID, metadata: Optional[Dict[str, Any]], kwargs: Dict[str, Any],
              prompt: Dict[str, Any]) -> Optional[_Call]:
        with _runs_lock:
            if run_id in _runs:
                return None  # another wflo handler holds this run
        params = kwargs.get("invocation_params") or {}
        workflow, frame = self._workflow()
        if workflow is None:
            return None
        # The call as LangChain describes it — its invocation parameters, the LangSmith ls_*
        # metadata and the prompt — read by the engine (the "langchain" request format).
        request = {**params, **{k: v for k, v in (metadata or {}).items() if k.startswith("ls_")}, **prompt}
        if self.model is not None:
            # The handler's model, under the last key the engine looks at: used only when
            # LangChain names none.
            request.setdefault("modelId", self.model)
        batch = params if (kwargs.get("batch_size") or 1) > 1 else None
        # The agent is the LangGraph node the call runs in (LangGraph's run metadata).
        agent = agent_of((metadata or {}).get("langgraph_node"))
        return _Call(workflow, frame, request_json(request), batch, agent)

    def _reserve(self, call: _Call) -> RequestReserved:
        # LangChain sends its own request: the body the engine would send instead is unused.
        if self.workflow is None and call.frame is not None:
            # charged to the running step, or to the node's agent scope
            return current_reserve_request("langchain", call.body, agent=call.agent)
        return call.workflow.reserve_request("langchain", call.body, agent=call.agent)

    def _hold(self, run_id: UUID, call: _Call, made: RequestReserved) -> None:
        """Keeps the run's reservation; the SDK request LangChain makes next, in the caller's
        context, is this call's (``wflo.instrument()`` must not bill it again)."""
        sending = None
        if not UNMETERED.get():  # (already set: an enclosing `with wflo.instrument.unmetered()`)
            sending = Sending()
            UNMETERED.set(sending)
        with _runs_lock:
            _runs[run_id] = _Run(made.reservation, call.batch, sending)

    # -- the call ends: settle or release ----------------------------------------------------

    def on_llm_new_token(self, token: str, *, run_id: UUID, **kwargs: Any) -> None:
        run = _runs.get(run_id)  # (a dict read is atomic; this runs for every streamed token)
        if run is not None and not run.streamed:
            run.streamed = True
            run.sent()  # the request went out: SDK calls made from here on are others'

    def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:
        run = _take(run_id)
        if run is None or run.reservation.ended:
            return
        # The usage in the LLMResult (its generations' usage_metadata, or llm_output's), else
        # its generated text estimated: read by the engine.
        run.reservation.settle_result("langchain", response)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        run = _take(run_id)
        if run is None or run.reservation.ended:
            return
        # Cancelled, interrupted, or a stream its consumer left: "aborted"; an exception: "error".
        status = "error" if isinstance(error, Exception) else "aborted"
        if run.streamed:
            # A stream cut midway: the provider billed the prompt and what it streamed, which
            # LangChain hands over as the partial LLMResult (usage if it came, else its text).
            run.reservation.settle_result("langchain", kwargs.get("response"), status)
        else:  # the call failed before the provider produced anything (an HTTP error)
            run.reservation.release(status, f"{type(error).__name__}: {error}"[:500])


def _chat_prompt(messages: List[List[Any]]) -> Dict[str, Any]:
    return {"messages": [_message(m) for prompt in messages for m in prompt]}


def _take(run_id: UUID) -> Optional[_Run]:
    with _runs_lock:
        run = _runs.pop(run_id, None)
    if run is not None:
        run.sent()
    return run


def _abandon(batch: object) -> None:
    """One prompt of a batch was refused, so the model call is abandoned as a whole: give back
    the prompts already reserved (LangChain never ends their runs)."""
    with _runs_lock:
        held = [run_id for run_id, run in _runs.items() if run.batch is batch]
        runs = [_runs.pop(run_id) for run_id in held]
    for run in runs:
        run.sent()
        if not run.reservation.ended:
            run.reservation.release("aborted", "another prompt of the batch was refused")


# -- installed process-wide -------------------------------------------------------------------


class _InWorkflow:
    """What LangChain's configure hook reads (it only calls ``get()``, as on a ContextVar):
    wflo's handler while the calling code runs in a workflow, else None. The workflow itself
    travels in wflo's own ContextVar, so threads and tasks see what they inherited."""

    def __init__(self, handler: WfloCallbackHandler) -> None:
        self._handler = handler

    def get(self, default: Any = None) -> Any:
        return self._handler if current_frame() is not None else default


_HOOK_HANDLER = WfloCallbackHandler()
# handle_class: LangChain adds the hook's handler only when no WfloCallbackHandler is attached
# already, so a handler passed by hand is not doubled.
register_configure_hook(_InWorkflow(_HOOK_HANDLER), True, WfloCallbackHandler)  # type: ignore[arg-type]


# -- execute(graph, inputs) -------------------------------------------------------------------


def _with_handler(config: Optional[Mapping[str, Any]], workflow: WfloWorkflow) -> Dict[str, Any]:
    """``config`` with a wflo handler among its callbacks (unless one is there already)."""
    if config is not None and not isinstance(config, Mapping):
        raise invalid("config must be a dict (a LangChain RunnableConfig)")
    out = dict(config or {})
    handler = WfloCallbackHandler()
    handler._fallback = workflow
    callbacks = out.get("callbacks")
    if callbacks is None:
        out["callbacks"] = [handler]
    elif isinstance(callbacks, BaseCallbackManager):
        if not any(isinstance(h, WfloCallbackHandler) for h in callbacks.handlers):
            manager = callbacks.copy()
            manager.add_handler(handler, inherit=True)
            out["callbacks"] = manager
    else:
        listed = list(callbacks)
        if not any(isinstance(h, WfloCallbackHandler) for h in listed):
            listed.append(handler)
        out["callbacks"] = listed
    return out


class _LangChainRunner(Runner):
    """A LangChain runnable or LangGraph compiled graph: ``ainvoke``/``invoke(inputs, config)``
    with wflo's handler added to the config's callbacks."""

    name = "langchain"

    async def run_async(self, workflow: Any, target: Any, inputs: Any, config: Optional[dict]) -> Any:
        return await target.ainvoke(inputs, _with_handler(config, workflow))

    def run_sync(self, workflow: Any, target: Any, inputs: Any, config: Optional[dict]) -> Any:
        return target.invoke(inputs, _with_handler(config, workflow))


RUNNER = _LangChainRunner()
