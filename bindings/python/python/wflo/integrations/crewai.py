"""CrewAI: ``execute(crew, inputs)`` runs ``crew.kickoff(inputs=inputs)`` in a worker thread,
and every LLM call the crew's agents make is budgeted.

How a call is metered, with CrewAI's public seams only:

* BEFORE: a global ``before_llm_call`` hook (``crewai.hooks``). CrewAI runs it before every
  model call — in the agent executor, and in the LLM layer for calls made outside one — and a
  hook that raises ``HookAborted`` stops the call before any request: CrewAI never retries it
  and never absorbs it as a provider error. Inside a workflow the hook hands the call (its
  messages and the LLM's settings, as an OpenAI chat request) to the engine, which reserves
  its worst case; a refusal raises :class:`CrewAIBudgetExceededError`, which
  is both CrewAI's ``HookAborted`` and wflo's ``BudgetExceededError``.
  The hook's context names the agent making the call: its ``role`` goes to the engine as the
  request's ``agent``, so the call draws on that agent's share (``per_agent_budgets``).
* AFTER: ``LLMCallCompletedEvent`` (settled from its usage) and ``LLMCallFailedEvent``
  (released) on ``crewai_event_bus``. CrewAI runs these handlers later, on its own thread pool,
  in a copy of the context the event was emitted from: the pending call is found there (a
  context variable the hook set), matched by the event's ``call_id`` when the hook knew it.

Because settling is asynchronous, the budget a call sees could still hold the worst case of
a call that is over (the previous turn of an agent's tool loop, say). So while the workflow has
unsettled calls, the hook first lets the bus finish the handlers of the events already emitted
(``crewai_event_bus.flush``, bounded; calls still in flight emitted nothing yet and are not
waited for). CrewAI drains its bus between tasks too, and the runner waits for every call of
the kickoff before the execution ends. ("The previous call" cannot be tracked by thread or
context: CrewAI runs an agent's steps on varying threads, each in a fresh copy of the context —
always copying it, so the workflow reaches every one of them.)

Why not patch CrewAI's LLM classes: the hook and the events are CrewAI's documented
interception points, fire for every provider (OpenAI, Anthropic, Gemini, Azure, Bedrock,
LiteLLM), and carry the normalised usage; the call path itself is private and per provider.

Not seen by these seams: a request CrewAI makes without its LLM events (``InternalInstructor``,
structured output for LLMs without function calling: reserved, then released when the kickoff
ends) and a rate-limit retry of a call (not reserved again, but billed from its event).
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
from contextvars import ContextVar
from typing import Any, Dict, List, Optional, Set, Tuple

from crewai import Crew
from crewai.events import LLMCallCompletedEvent, LLMCallFailedEvent, crewai_event_bus
from crewai.hooks import HookAborted, get_before_llm_call_hooks, register_before_llm_call_hook

from ..context import current_frame, use
from ..errors import BudgetExceededError, WfloError, invalid
from ..instrument.common import UNMETERED, Sending, request_json
from ..reservation import Reservation
from ..types import Usage
from ..workflow import agent_of, current_reserve_request
from . import Runner

#: How long a call waits for the bus to settle the workflow's finished calls (normally ms).
SETTLE_WAIT_S = 2.0
#: How long the end of a kickoff waits for its calls' events before releasing what is left.
DRAIN_WAIT_S = 10.0


class CrewAIBudgetExceededError(HookAborted, BudgetExceededError):
    """A refusal as both frameworks read it: CrewAI's ``HookAborted`` (the call is denied,
    not retried, and the task stops) and wflo's ``BudgetExceededError`` (with ``spent_usd``,
    ``budget_usd``… of the scope that refused)."""

    def __init__(self, e: BudgetExceededError) -> None:
        BudgetExceededError.__init__(self, e.message, e.scope, e.limit_nanos, e.spent_nanos, e.reserved_nanos,
                                     e.requested_nanos)
        self.reason = e.message
        self.source = "wflo"


class _Call:
    """One reserved call, from the hook to the event that settles or releases it."""

    __slots__ = ("reservation", "call_id", "workflow", "ended", "sending")

    def __init__(self, reservation: Optional[Reservation], call_id: Optional[str], workflow: Any = None,
                 sending: Optional[Sending] = None) -> None:
        self.reservation = reservation
        self.sending = sending
        self.call_id = call_id  # None until an event claims it (the executor's hook runs before the id exists)
        self.workflow = workflow
        self.ended = reservation is None  # a refused call, kept only so its "failed" event finds it

    def end(self, settle: Any) -> bool:
        """Settles or releases the reservation once: False when another event got there first."""
        with _lock:
            if self.ended:
                return False
            self.ended = True
            _open.discard(self)
        if self.sending is not None:
            self.sending.sent()
        try:
            settle(self.reservation)
        except WfloError:  # the execution has ended: nothing left to book it on
            pass
        return True


class _Run:
    """One kickoff under ``execute``: its calls, and the wflo error that refused one."""

    def __init__(self) -> None:
        self.calls: List[_Call] = []
        self.error: Optional[BaseException] = None

    def fail(self, error: BaseException) -> None:
        with _lock:
            if self.error is None:
                self.error = error

    def drain(self) -> None:
        """Lets the bus handle the events of the kickoff's calls, then releases the calls CrewAI
        never reported (a request made without the LLM layer's events)."""
        with _lock:
            unsettled = any(not c.ended for c in self.calls)
        if unsettled:
            crewai_event_bus.flush(timeout=DRAIN_WAIT_S)
        for call in self.calls:
            call.end(lambda r: r.release("aborted", "CrewAI reported no outcome for this call"))


_lock = threading.Lock()
# The calls the hook reserved in this context, oldest first (finished ones are dropped).
_pending: ContextVar[Tuple[_Call, ...]] = ContextVar("wflo_crewai_pending", default=())
_run: ContextVar[Optional[_Run]] = ContextVar("wflo_crewai_run", default=None)
# Every reserved call not settled or released yet.
_open: Set[_Call] = set()


# -- the hook --------------------------------------------------------------------------------

def _before_llm_call(ctx: Any) -> None:
    frame = current_frame()
    if frame is None:
        return None  # not in a workflow: CrewAI goes on unmetered
    run = _run.get()
    with _lock:
        unsettled = any(c.workflow is frame.workflow for c in _open)
    if unsettled:
        crewai_event_bus.flush(timeout=SETTLE_WAIT_S)
    llm = ctx.llm
    model = llm if isinstance(llm, str) else getattr(llm, "model", None)
    call_id = _call_id(ctx)
    try:
        if not isinstance(model, str) or not model:
            raise invalid(f"cannot tell the model of CrewAI's {type(llm).__name__}")
        with use(frame):
            # CrewAI sends its own request: the body the engine would send instead is unused.
            made = current_reserve_request("openai_chat", _request(ctx, llm, model), **_options(llm),
                                           agent=agent_of(getattr(ctx.agent, "role", None)))
        reservation = made.reservation
    except BudgetExceededError as e:
        refusal = CrewAIBudgetExceededError(e)
        if call_id is not None:  # its "failed" event must not release another call
            _remember(_Call(None, call_id), run)
        if run is not None:
            run.fail(refusal)
        raise refusal from None
    except WfloError as e:
        if run is not None:
            run.fail(e)
        raise HookAborted(f"wflo: {e}", source="wflo") from e
    # The SDK request CrewAI makes next is this call: `wflo.instrument()` must not bill it again
    # (an explicit `unmetered()` block stays as it is).
    sending = None
    if UNMETERED.get() is not True:
        sending = Sending()
        UNMETERED.set(sending)
    _remember(_Call(reservation, call_id, frame.workflow, sending), run)
    return None


def _remember(call: _Call, run: Optional[_Run]) -> None:
    _pending.set(tuple(c for c in _pending.get() if not c.ended) + (call,))
    if call.reservation is not None:
        with _lock:
            _open.add(call)
            if run is not None:
                run.calls.append(call)


def _request(ctx: Any, llm: Any, model: str) -> str:
    """The call as the OpenAI-style chat request CrewAI's messages are written in: the model,
    the messages, the LLM's output limits, choices and streaming, and (in an agent) its tools'
    descriptions — the schemas go out with the request (counted twice in a text-only ReAct
    prompt: a worst case may be high, never low)."""
    request: Dict[str, Any] = {"model": model, "messages": list(ctx.messages or [])}
    # Gemini's LLM calls its limit max_output_tokens; CrewAI also allows a float.
    limits = (("max_tokens", "max_tokens"), ("max_completion_tokens", "max_completion_tokens"),
              ("max_completion_tokens", "max_output_tokens"), ("n", "n"))
    for key, attribute in limits:
        value = getattr(llm, attribute, None)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool) and key not in request:
            request[key] = value
    if getattr(llm, "stream", None) is True:
        request["stream"] = True
    tools = getattr(getattr(ctx, "executor", None), "tools_description", None)
    if isinstance(tools, str) and tools:
        request["tools"] = tools
    return request_json(request)


def _options(llm: Any) -> Dict[str, Any]:
    """What the LLM says beside the request: its provider and endpoint (which names the
    provider too)."""
    options: Dict[str, Any] = {}
    provider = getattr(llm, "provider", None)
    if isinstance(provider, str) and provider:
        options["provider"] = provider
    base_url = getattr(llm, "base_url", None) or getattr(llm, "api_base", None)
    if isinstance(base_url, str) and base_url:
        options["base_url"] = base_url
    return options


def _call_id(ctx: Any) -> Optional[str]:
    """The id CrewAI's events will carry, when the hook runs inside the LLM's call (the LLM
    layer's dispatch); the executor dispatches before the call has one."""
    if getattr(ctx, "executor", None) is not None:
        return None
    from crewai.llms import base_llm

    var = getattr(base_llm, "_current_call_id", None)
    return var.get() if var is not None else None


# -- the events ------------------------------------------------------------------------------

def _claim(call_id: str) -> Optional[_Call]:
    """The pending call an event (emitted in this context) reports: the one with its id, else
    the latest one no event has claimed yet."""
    with _lock:
        pending = _pending.get()
        for call in pending:
            if call.call_id == call_id:
                return call
        for call in reversed(pending):
            if call.call_id is None and not call.ended:
                call.call_id = call_id
                return call
    return None


def _on_completed(source: Any, event: Any) -> None:
    usage = _usage(event.usage)
    call = _claim(event.call_id)
    if call is not None and call.end(lambda r: r.settle(usage) if usage is not None else _estimate(r, event.response)):
        return
    # A call that did not pass the hook (a rate-limit retry), or whose reservation a "failed"
    # event for the same call released first: what it used is still billed.
    frame = current_frame()
    if frame is not None and usage is not None and event.model:
        try:
            frame.workflow.record_call(event.model, json.dumps(dataclasses.asdict(usage)), "wflo")
        except WfloError:
            pass


def _on_failed(source: Any, event: Any) -> None:
    call = _claim(event.call_id)
    if call is not None:
        call.end(lambda r: r.release("error", str(event.error)[:500]))


def _usage(raw: Optional[dict]) -> Optional[Usage]:
    """wflo's disjoint usage from CrewAI's normalised report, where ``prompt_tokens`` includes
    the cached and cache-creation tokens and ``completion_tokens`` the reasoning tokens.
    None when the provider reported nothing (CrewAI then sends ``{"total_tokens": 0}``)."""
    from crewai.types.usage_metrics import UsageMetrics

    m = UsageMetrics.from_provider_dict(raw)
    if m is None or (m.prompt_tokens == 0 and m.completion_tokens == 0):
        return None
    cache_read, cache_write, reasoning = m.cached_prompt_tokens, m.cache_creation_tokens, m.reasoning_tokens
    return Usage(input=max(0, m.prompt_tokens - cache_read - cache_write), output=max(0, m.completion_tokens - reasoning),
                 cache_read=cache_read, cache_write_5m=cache_write, reasoning=reasoning)


def _estimate(reservation: Reservation, response: Any) -> None:
    """No usage came back (a stream cut before it): the engine estimates the output from what
    CrewAI returned — its text, or the tool calls it holds (names and arguments)."""
    if response is None or isinstance(response, str):
        reservation.settle_text(response or "")
    else:
        reservation.settle_result("auto", response)


# -- installing ------------------------------------------------------------------------------

def install() -> None:
    """Registers the hook and the event handlers (idempotent; again after CrewAI's
    ``clear_all_global_hooks`` or a ``scoped_handlers`` block)."""
    with _lock:
        if _before_llm_call not in get_before_llm_call_hooks():
            register_before_llm_call_hook(_before_llm_call)
    crewai_event_bus.on(LLMCallCompletedEvent)(_on_completed)  # a set: registering twice is once
    crewai_event_bus.on(LLMCallFailedEvent)(_on_failed)


def _adopt_executors(crew: Any) -> None:
    """Agent executors copy the global hooks when they are created: one created before wflo
    was installed gets the hook added."""
    agents = list(getattr(crew, "agents", None) or [])
    manager = getattr(crew, "manager_agent", None)
    if manager is not None:
        agents.append(manager)
    for agent in agents:
        hooks = getattr(getattr(agent, "agent_executor", None), "before_llm_call_hooks", None)
        if isinstance(hooks, list) and _before_llm_call not in hooks:
            hooks.append(_before_llm_call)


class CrewAIRunner(Runner):
    """Runs ``crew.kickoff(inputs=inputs)``: in a worker thread under ``execute`` (the event loop
    never blocks; the thread gets the workflow's context), directly under ``execute_sync``.

    A wflo error that refused a call reaches the caller as itself, even when CrewAI wrapped it
    or the crew carried on without that call. A streaming crew (``stream=True``) is run to
    its end and its final output returned.
    """

    name = "crewai"

    async def run_async(self, workflow: Any, target: Any, inputs: Any, config: Optional[dict]) -> Any:
        return await asyncio.to_thread(self.run_sync, workflow, target, inputs, config)

    def run_sync(self, workflow: Any, target: Any, inputs: Any, config: Optional[dict]) -> Any:
        if config is not None:
            raise invalid("config is for LangGraph graphs and LangChain runnables")
        if inputs is not None and not isinstance(inputs, dict):
            raise invalid("a Crew's inputs must be a dict (or None)")
        if not isinstance(target, Crew):
            raise invalid("the CrewAI runner runs a crewai.Crew")
        if current_frame() is None:
            raise invalid("the CrewAI runner runs inside a workflow: use workflow.execute(crew, inputs)")
        install()
        _adopt_executors(target)
        run = _Run()
        token = _run.set(run)
        try:
            result = _finished(target.kickoff(inputs=inputs))
        except BaseException as e:
            run.drain()
            if isinstance(e, Exception) and run.error is not None and run.error is not e:
                raise run.error from e
            raise
        finally:
            _run.reset(token)
        run.drain()
        if run.error is not None:
            raise run.error
        return result


def _finished(result: Any) -> Any:
    """A streaming crew's output, consumed to its end; any other result as it is."""
    from crewai.types.streaming import CrewStreamingOutput

    if isinstance(result, CrewStreamingOutput):
        for _ in result:
            pass
        return result.result
    return result


RUNNER = CrewAIRunner()
install()
