"""Pydantic AI (``pydantic-ai-slim``): budget every model request an agent run makes.

:class:`WfloModel` is a ``WrapperModel``: before each ``request`` / ``request_stream`` it hands
the request to the engine — the run's messages (system prompts and instructions, user
prompts, earlier replies and tool calls, tool results), the function and output tools and
``max_tokens``, converted to OpenAI chat messages, format "openai_chat" — and reserves its
worst case on the running workflow. A refusal raises :class:`~wflo.BudgetExceededError` out
of ``agent.run(...)`` before any request is sent. The output limit the reservation covers is
written into the request's ``ModelSettings`` (the model's maximum when none was set, lower when
clamped). After, the call is settled from the response's ``RequestUsage`` (cache reads and
writes, reasoning), a stream once when its block ends.

The agent: ``RunContext.agent.name`` of the run in progress, sent as the request's ``agent``
(the call is recorded under the execution's scope ``agent:<name>``, limited by that agent's
budget when the workflow has one). Unnamed agents are charged to the step.

    agent = Agent(WfloModel(OpenAIChatModel("gpt-4o-mini", provider=...)), name="writer")
    result = await workflow.execute(lambda _: agent.run("hi"))

Pydantic AI's own ``UsageLimits`` checks counts after each response; wflo refuses before the
request (see the README).
"""
from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Dict, List, Optional

from pydantic_ai.messages import (ModelRequest, ModelResponse, RetryPromptPart, SystemPromptPart, TextPart,
                                  ToolCallPart, ToolReturnPart, UserPromptPart)
from pydantic_ai.models.wrapper import WrapperModel

from ..context import current_frame
from ..instrument.common import UNMETERED, release, request_json, status_of
from ..workflow import current_reserve_request_async as reserve_async

FORMAT = "openai_chat"

__all__ = ["WfloModel", "current_agent_name"]


def current_agent_name(run_context: Any = None) -> Optional[str]:
    """The running agent's name (``RunContext.agent.name``), or None."""
    if run_context is None:
        try:
            from pydantic_ai._run_context import get_current_run_context
        except ImportError:  # pragma: no cover
            return None
        run_context = get_current_run_context()
    agent = getattr(run_context, "agent", None)
    return getattr(agent, "name", None) or None


def _user_content(content: Any) -> Any:
    if isinstance(content, str):
        return content
    parts: List[Any] = []
    for item in content if isinstance(content, (list, tuple)) else [content]:
        parts.append({"type": "text", "text": item} if isinstance(item, str) else {"type": "text", "text": str(item)})
    return parts


def chat_messages(messages: List[Any]) -> List[Dict[str, Any]]:
    """Pydantic AI's message history as OpenAI chat messages (what the engine reads)."""
    out: List[Dict[str, Any]] = []
    for m in messages:
        if isinstance(m, ModelRequest):
            if getattr(m, "instructions", None):
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
    body: Dict[str, Any] = {"model": model, "messages": chat_messages(messages)}
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


class WfloModel(WrapperModel):
    """Wraps any Pydantic AI model: each request reserved before, settled after.
    ``clamp_max_tokens``: lower the output limit to what the budget allows instead of refusing."""

    def __init__(self, wrapped: Any, *, clamp_max_tokens: bool = False) -> None:
        super().__init__(wrapped)
        self._clamp = clamp_max_tokens

    async def _reserve(self, messages: List[Any], settings: Any, params: Any, stream: bool,
                       run_context: Any = None) -> Any:
        if current_frame() is None:
            return None, settings
        body = _request(self.wrapped.model_name, messages, settings, params)
        base_url = getattr(self.wrapped, "base_url", None)
        made = await reserve_async(FORMAT, request_json(body), base_url=base_url, stream=stream or None,
                                   agent=current_agent_name(run_context), clamp_max_tokens=self._clamp or None)
        limit = made.body.get("max_completion_tokens", made.body.get("max_tokens"))
        if isinstance(limit, int) and limit != (settings or {}).get("max_tokens"):
            settings = {**(settings or {}), "max_tokens": limit}
        return made.reservation, settings

    async def request(self, messages: List[Any], model_settings: Any, model_request_parameters: Any) -> Any:
        reservation, settings = await self._reserve(messages, model_settings, model_request_parameters, False)
        if reservation is None:
            return await self.wrapped.request(messages, model_settings, model_request_parameters)
        token = UNMETERED.set(True)
        try:
            response = await self.wrapped.request(messages, settings, model_request_parameters)
        except BaseException as e:
            release(reservation, e)
            raise
        finally:
            UNMETERED.reset(token)
        try:
            _settle(reservation, response)
        except BaseException as e:
            release(reservation, e)
            raise
        return response

    @asynccontextmanager
    async def request_stream(self, messages: List[Any], model_settings: Any, model_request_parameters: Any,
                             run_context: Any = None) -> AsyncIterator[Any]:
        reservation, settings = await self._reserve(messages, model_settings, model_request_parameters, True,
                                                    run_context)
        if reservation is None:
            async with self.wrapped.request_stream(messages, model_settings, model_request_parameters,
                                                   run_context) as streamed:
                yield streamed
            return
        streamed = None
        try:
            async with self.wrapped.request_stream(messages, settings, model_request_parameters,
                                                   run_context) as streamed:
                yield streamed
        except BaseException as e:
            if not reservation.ended:
                if streamed is None:
                    release(reservation, e)
                else:
                    _settle(reservation, streamed.get(), status_of(e))
            raise
        if not reservation.ended:
            _settle(reservation, streamed.get())
