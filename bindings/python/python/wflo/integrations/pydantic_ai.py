"""Pydantic AI (``pydantic-ai-slim``): budget every model request an agent run makes.

Two ways in, one code path (``_reserve`` / ``_settle`` / ``_end`` below):

* :class:`WfloCapability`, given to ``Agent(capabilities=[...])`` (or to one run): the agent's
  own request lifecycle. ``prepare_model_request`` — once per attempt, when the model that will
  serve it is known and every ``before_model_request`` hook has shaped it — hands the request to
  the engine and reserves its worst case; ``after_model_request`` settles from the response's
  ``RequestUsage``; ``wrap_model_request`` encloses the step, releasing what an error left open.
  Streamed runs (``run_stream``, ``run_stream_events``, event handlers) go through the same
  hooks: the response is settled once, when the stream has been consumed.
* :class:`WfloModel`, a ``WrapperModel``: the same around ``request`` / ``request_stream`` of
  one model, for code that builds models rather than agents.

Either way the request — the run's messages (instructions, system and user prompts, earlier
replies and tool calls, tool results), the function and output tools and ``max_tokens``,
converted to OpenAI chat messages, format "openai_chat" — is read by the engine, which
reserves its worst case on the running workflow. A refusal raises :class:`~wflo.BudgetExceededError`
out of ``agent.run(...)`` before any request is sent. The output limit the reservation covers
is written into the request's ``ModelSettings`` (the model's maximum when none was set, lower
when clamped). A response without usage is estimated from its text, never free.

The agent: ``RunContext.agent.name``, sent as the request's ``agent`` (the call is recorded
under the execution's scope ``agent:<name>``, limited by that agent's share in
``per_agent_budgets``). Unnamed agents are charged to the step.

    agent = Agent(OpenAIChatModel("gpt-4o-mini", provider=...), name="writer",
                  capabilities=[WfloCapability()])
    result = await workflow.execute(lambda _: agent.run("hi"))

Pydantic AI's own ``UsageLimits(cost_limit=...)`` compares the run's cost after each response
(and before the next request with what was already spent); wflo refuses before the request
from its worst case (see the README).
"""
from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import KW_ONLY, dataclass, field, replace
from typing import Any, AsyncIterator, Dict, List, Optional, Tuple

from pydantic_ai.messages import (ModelRequest, ModelResponse, RetryPromptPart, SystemPromptPart, TextPart,
                                  ToolCallPart, ToolReturnPart, UserPromptPart)
from pydantic_ai.capabilities import AbstractCapability, CapabilityOrdering
from pydantic_ai.models.wrapper import WrapperModel

from ..context import current_frame
from ..instrument.common import UNMETERED, Sending, release, request_json, status_of
from ..workflow import agent_of, current_reserve_request_async as reserve_async

FORMAT = "openai_chat"

__all__ = ["WfloCapability", "WfloModel", "current_agent_name"]


def current_agent_name(run_context: Any = None) -> Optional[str]:
    """The running agent's name: ``RunContext.agent.name`` of ``run_context``, or of the run in
    progress when none is given. None for an unnamed agent or outside a run."""
    if run_context is None:
        run_context = _ambient_run_context()
    agent = getattr(run_context, "agent", None)
    return agent_of(getattr(agent, "name", None))


def _ambient_run_context() -> Any:
    # Only for WfloModel.request: Pydantic AI passes a model's ``request`` no RunContext (only
    # ``request_stream`` gets one), and the run in progress is published only by the private
    # ``pydantic_ai._run_context``. The capability reads the public ``RunContext`` its hooks
    # are given instead; WfloModel(agent=...) names the agent without either.
    try:
        from pydantic_ai._run_context import get_current_run_context
    except ImportError:  # pragma: no cover - moved in a later release: the call goes to the step
        return None
    return get_current_run_context()


def _user_content(content: Any) -> Any:
    if isinstance(content, str):
        return content
    parts: List[Any] = []
    for item in content if isinstance(content, (list, tuple)) else [content]:
        parts.append({"type": "text", "text": item} if isinstance(item, str) else {"type": "text", "text": str(item)})
    return parts


def chat_messages(messages: List[Any], instructions: Optional[str] = None) -> List[Dict[str, Any]]:
    """Pydantic AI's message history as OpenAI chat messages (what the engine reads).
    ``instructions``: the request's instructions when its parameters carry them (the source of
    truth in an agent run), in place of those recorded on the messages."""
    out: List[Dict[str, Any]] = [{"role": "system", "content": instructions}] if instructions else []
    for m in messages:
        if isinstance(m, ModelRequest):
            if instructions is None and getattr(m, "instructions", None):
                out.append({"role": "system", "content": m.instructions})
            for p in m.parts:
                if isinstance(p, SystemPromptPart):
                    out.append({"role": "system", "content": p.content})
                elif isinstance(p, UserPromptPart):
                    out.append({"role": "user", "content": _user_content(p.content)})
                elif isinstance(p, ToolReturnPart):
                    out.append({"role": "tool", "tool_call_id": p.tool_call_id, "content": p.model_response_str()})
                elif isinstance(p, RetryPromptPart):
                    out.append({"role": "user", "content": p.model_response()})
        elif isinstance(m, ModelResponse):
            text = "".join(p.content for p in m.parts if isinstance(p, TextPart))
            calls = [{"id": p.tool_call_id, "type": "function",
                      "function": {"name": p.tool_name, "arguments": p.args_as_json_str()}}
                     for p in m.parts if isinstance(p, ToolCallPart)]
            msg: Dict[str, Any] = {"role": "assistant", "content": text or None}
            if calls:
                msg["tool_calls"] = calls
            out.append(msg)
    return out


def _request(model: str, messages: List[Any], settings: Optional[Dict[str, Any]], params: Any) -> Dict[str, Any]:
    parts = getattr(params, "instruction_parts", None)
    instructions = None if parts is None else "\n\n".join(p.content for p in parts if p.content)
    body: Dict[str, Any] = {"model": model, "messages": chat_messages(messages, instructions)}
    tools = list(getattr(params, "function_tools", []) or []) + list(getattr(params, "output_tools", []) or [])
    if tools:
        body["tools"] = [{"type": "function", "function": {"name": t.name, "description": t.description or "",
                                                           "parameters": t.parameters_json_schema}} for t in tools]
    if settings and settings.get("max_tokens") is not None:
        body["max_tokens"] = settings["max_tokens"]
    return body


def _usage(u: Any) -> Optional[Dict[str, Any]]:
    """A ``RequestUsage`` as LangChain-style usage metadata (inputs include cache reads and
    writes, outputs include reasoning), which the engine splits; None when it is empty."""
    if u is None or not (u.input_tokens or u.output_tokens):
        return None
    details = getattr(u, "details", None) or {}
    return {"usage_metadata": {
        "input_tokens": u.input_tokens, "output_tokens": u.output_tokens,
        "total_tokens": u.input_tokens + u.output_tokens,
        "input_token_details": {"cache_read": u.cache_read_tokens or 0, "cache_creation": u.cache_write_tokens or 0},
        "output_token_details": {"reasoning": details.get("reasoning_tokens", 0)}}}


def _text(response: Any) -> str:
    return "".join(getattr(p, "content", "") or "" for p in getattr(response, "parts", []) if isinstance(p, TextPart))


def _settle(reservation: Any, response: Any, status: str = "ok") -> None:
    usage = _usage(getattr(response, "usage", None))
    if usage is not None:
        reservation.settle_result("langchain", usage, status)
    else:  # no usage came back: estimated from the text produced
        reservation.settle_text(_text(response), status)


# -- the one code path both faces use ------------------------------------------------------------

async def _reserve(model: Any, messages: List[Any], settings: Any, params: Any, *, stream: bool,
                   agent: Optional[str], clamp: bool) -> Tuple[Any, Any]:
    """Reserves ``model``'s request on the running workflow: (the reservation, the settings to
    send it with — the output limit it covers written in). (None, settings) outside a workflow.
    Raises BudgetExceededError when the worst case does not fit."""
    if current_frame() is None:
        return None, settings
    body = _request(model.model_name, messages, settings, params)
    made = await reserve_async(FORMAT, request_json(body), base_url=getattr(model, "base_url", None),
                               stream=stream or None, agent=agent_of(agent), clamp_max_tokens=clamp or None)
    limit = made.body.get("max_completion_tokens", made.body.get("max_tokens"))
    if isinstance(limit, int) and limit != (settings or {}).get("max_tokens"):
        settings = {**(settings or {}), "max_tokens": limit}
    return made.reservation, settings


def _end(reservation: Any, e: BaseException, partial: Any = None) -> None:
    """Ends a reservation its call left open by raising ``e``: what came back (``partial``, a
    response cut short) is booked, an estimate from its text when it carries no usage; with
    nothing back, the budget is released. Never masks ``e``."""
    if reservation is None or reservation.ended:
        return
    if partial is None:
        release(reservation, e)
        return
    try:
        _settle(reservation, partial, status_of(e))
    except Exception:
        release(reservation, e)


class WfloModel(WrapperModel):
    """Wraps any Pydantic AI model: each request reserved before, settled after.
    ``clamp_max_tokens``: lower the output limit to what the budget allows instead of refusing.
    ``agent``: the agent its requests are charged to (by default the running agent's name;
    :class:`WfloCapability` reads it from the run without help)."""

    def __init__(self, wrapped: Any, *, clamp_max_tokens: bool = False, agent: Optional[str] = None) -> None:
        super().__init__(wrapped)
        self._clamp = clamp_max_tokens
        self._agent = agent

    def _metered(self) -> bool:
        # Not when a WfloCapability (or anything else) meters this request already.
        return current_frame() is not None and not UNMETERED.get()

    async def request(self, messages: List[Any], model_settings: Any, model_request_parameters: Any) -> Any:
        if not self._metered():
            return await self.wrapped.request(messages, model_settings, model_request_parameters)
        reservation, settings = await _reserve(self.wrapped, messages, model_settings, model_request_parameters,
                                               stream=False, agent=self._agent or current_agent_name(),
                                               clamp=self._clamp)
        token = UNMETERED.set(True)
        try:
            response = await self.wrapped.request(messages, settings, model_request_parameters)
        except BaseException as e:
            _end(reservation, e)
            raise
        finally:
            UNMETERED.reset(token)
        try:
            _settle(reservation, response)
        except BaseException as e:
            _end(reservation, e)
            raise
        return response

    @asynccontextmanager
    async def request_stream(self, messages: List[Any], model_settings: Any, model_request_parameters: Any,
                             run_context: Any = None) -> AsyncIterator[Any]:
        if not self._metered():
            async with self.wrapped.request_stream(messages, model_settings, model_request_parameters,
                                                   run_context) as streamed:
                yield streamed
            return
        reservation, settings = await _reserve(self.wrapped, messages, model_settings, model_request_parameters,
                                               stream=True, agent=self._agent or current_agent_name(run_context),
                                               clamp=self._clamp)
        streamed = None
        # Keeps instrument() off the SDK call, which a lazily opened stream makes on its first
        # pull: a shared flag, dropped when the stream ends (not a reset token: the agent may
        # close the stream from another task than the one that opened it).
        sending = Sending()
        UNMETERED.set(sending)
        try:
            async with self.wrapped.request_stream(messages, settings, model_request_parameters,
                                                   run_context) as streamed:
                yield streamed
        except BaseException as e:
            _end(reservation, e, streamed.get() if streamed is not None else None)
            raise
        finally:
            sending.sent()
        if not reservation.ended:
            _settle(reservation, streamed.get())


@dataclass
class WfloCapability(AbstractCapability[Any]):
    """Meters every model request of the agent (or run) it is given to: reserved per attempt
    once the serving model and the final request are known, settled from the response's usage,
    released when the request failed before costing anything. A refusal is
    :class:`~wflo.BudgetExceededError`, raised by ``agent.run`` / ``run_stream`` with nothing sent.
    Outside a running workflow it does nothing.

    ``clamp_max_tokens``: lower the output limit to what the budget allows instead of refusing."""

    clamp_max_tokens: bool = False
    _: KW_ONLY
    id: Optional[str] = "wflo"
    # The open reservation of the request step in progress (per run: see for_run).
    _open: Any = field(default=None, init=False, repr=False, compare=False)
    _sending: Any = field(default=None, init=False, repr=False, compare=False)

    def get_ordering(self) -> CapabilityOrdering:
        # Innermost: its before hook runs after the others have shaped the request, and its
        # after hook sees the response first (before another hook can reject it).
        return CapabilityOrdering(position="innermost")

    async def for_run(self, ctx: Any) -> "WfloCapability":
        # A run makes one request at a time; concurrent runs of one agent each get their own.
        return replace(self)

    async def wrap_model_request(self, ctx: Any, *, request_context: Any, handler: Any) -> Any:
        if current_frame() is None or UNMETERED.get():
            return await handler(request_context)
        try:
            response = await handler(request_context)
        except BaseException as e:
            # A stream the consumer stopped was sent (its prompt billed): booked as cut short.
            cut = request_context.streaming and not isinstance(e, Exception) and self._open is not None
            _end(self._open, e, _EMPTY if cut else None)
            raise
        finally:
            if self._sending is not None:
                self._sending.sent()
            self._open = self._sending = None
        return response

    async def before_model_request(self, ctx: Any, request_context: Any) -> Any:
        if current_frame() is not None and not UNMETERED.get():
            # Keeps instrument() off the SDK call this step makes (a stream is opened in the
            # consuming task, which sees what this hook sets); dropped when the step ends.
            self._sending = Sending()
            UNMETERED.set(self._sending)
        return request_context

    async def prepare_model_request(self, ctx: Any, request_context: Any) -> Any:
        if self._sending is None:
            return request_context
        # An earlier attempt that raised before any response (a fallback moving on) cost nothing.
        _end(self._open, _AttemptReplaced())
        self._open = None
        self._open, settings = await _reserve(request_context.model, request_context.messages,
                                              request_context.model_settings,
                                              request_context.model_request_parameters,
                                              stream=request_context.streaming, agent=current_agent_name(ctx),
                                              clamp=self.clamp_max_tokens)
        if settings is not request_context.model_settings:
            request_context.model_settings = settings
        return request_context

    async def after_model_request(self, ctx: Any, *, request_context: Any, response: Any) -> Any:
        if self._open is not None and not self._open.ended:
            reservation, self._open = self._open, None
            _settle(reservation, response)
        return response


class _AttemptReplaced(Exception):
    """Why an attempt's reservation is released when the next attempt starts without it."""


_EMPTY = ModelResponse(parts=[])
