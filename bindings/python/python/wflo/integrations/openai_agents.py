"""The OpenAI Agents SDK (``openai-agents``): budget every model call an agent run makes, and
charge it to the agent that made it.

A run asks its ``ModelProvider`` for a ``Model`` and calls ``get_response`` /
``stream_response`` once per turn; :class:`WfloModel` wraps that model. Before each call it
hands the request the model will send to the engine (format "openai_responses": the system
instructions, the input items, the tools and handoffs as the SDK converts them, the output
schema, ``ModelSettings.max_tokens``) and reserves its worst case on the running workflow —
a refusal raises :class:`~wflo.BudgetExceededError` out of ``Runner.run`` and no request is
sent. The output limit the reservation covers is the one the inner model sends (written into
its ``ModelSettings``: the model's maximum when none was set, lower when clamped). After, the
call is settled from ``ModelResponse.usage``; a stream once, from its final event.

The agent: the one whose turn it is when the model is called — after a handoff, the agent
handed to — read from the SDK's public tracing API (``agents.tracing.get_current_span()``: the
turn span, else the agent span; the runner keeps them current with tracing disabled too, as
no-op spans). ``Model.get_response`` is not given the agent, and the public hooks that are
(``RunHooks.on_llm_start``) must be passed to each run by its caller. Its name goes to the
engine as the request's ``agent``: the call is recorded under the execution's scope
``agent:<name>``, limited by that agent's share (``per_agent_budgets``) when it has one.

    provider = wflo_provider()                       # wraps the SDK's default (MultiProvider)
    result = await workflow.execute(lambda _: Runner.run(agent, "hi",
                                    run_config=RunConfig(model_provider=provider)))
    install_default_provider()                       # or: every run's default provider

Calls made outside a workflow pass straight through. The inner model's own OpenAI client
calls are kept from ``wflo.instrument()`` (one call, one charge).
"""
from __future__ import annotations

import dataclasses
import threading
from typing import Any, AsyncIterator, Dict, List, Optional

from agents.models.interface import Model, ModelProvider
from agents.models.multi_provider import MultiProvider

from ..context import current_frame
from ..instrument.common import UNMETERED, release, request_json
from ..instrument.streams import StreamMeter
from ..workflow import current_reserve_request_async as reserve_async

FORMAT = "openai_responses"

__all__ = ["WfloModel", "WfloModelProvider", "wflo_provider", "install_default_provider",
           "uninstall_default_provider", "current_agent_name"]


def current_agent_name() -> Optional[str]:
    """The name of the agent whose turn it is, or None: the SDK's current span (public API) — the
    turn's (``TurnSpanData.agent_name``), or the agent's own (``AgentSpanData.name``) when the
    run has no turn spans. The SDK keeps them current with tracing disabled too (no-op spans)."""
    try:
        from agents.tracing import get_current_span
    except ImportError:  # pragma: no cover
        return None
    data = getattr(get_current_span(), "span_data", None)
    if data is None:
        return None
    kind = getattr(data, "type", None)
    if kind == "turn":
        return getattr(data, "agent_name", None) or None
    if kind == "agent":
        return getattr(data, "name", None) or None
    return None


def _tools(tools: List[Any], handoffs: List[Any]) -> List[Any]:
    """The tools and handoffs as the Responses API receives them (the SDK's own converter)."""
    try:
        from agents.models.openai_responses import Converter

        return list(Converter.convert_tools(tools, handoffs).tools)
    except Exception:
        # A tool the converter rejects makes the inner model fail too; count what is readable.
        return [{"name": getattr(t, "name", ""), "parameters": getattr(t, "params_json_schema", None)}
                for t in list(tools) + list(handoffs)]


def _request(model: str, system_instructions: Optional[str], input: Any, settings: Any, tools: List[Any],
             output_schema: Any, handoffs: List[Any]) -> Dict[str, Any]:
    body: Dict[str, Any] = {"model": model, "input": input}
    if system_instructions:
        body["instructions"] = system_instructions
    if tools or handoffs:
        body["tools"] = _tools(tools, handoffs)
    if output_schema is not None and not output_schema.is_plain_text():
        body["text"] = {"format": {"type": "json_schema", "name": "final_output",
                                   "schema": output_schema.json_schema()}}
    if settings.max_tokens is not None:
        body["max_output_tokens"] = settings.max_tokens
    return body


def _usage(usage: Any) -> Optional[Dict[str, Any]]:
    """``ModelResponse.usage`` as the Responses API reports it; None when the provider sent none."""
    if usage is None or (not usage.requests and not usage.total_tokens and not usage.input_tokens
                         and not usage.output_tokens):
        return None
    cached = getattr(getattr(usage, "input_tokens_details", None), "cached_tokens", 0) or 0
    reasoning = getattr(getattr(usage, "output_tokens_details", None), "reasoning_tokens", 0) or 0
    return {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens,
            "total_tokens": usage.total_tokens, "input_tokens_details": {"cached_tokens": cached},
            "output_tokens_details": {"reasoning_tokens": reasoning}}


class WfloModel(Model):
    """Wraps ``inner`` (any Agents SDK ``Model``): each call reserved before, settled after.

    ``model``: the name wflo prices calls under (default: the inner model's ``model``).
    ``clamp_max_tokens``: lower the output limit to what the budget allows instead of refusing.
    """

    def __init__(self, inner: Model, *, model: Optional[str] = None, clamp_max_tokens: bool = False) -> None:
        self.inner = inner
        self.model = model or str(getattr(inner, "model", "") or "")
        self._clamp = clamp_max_tokens
        # The base URL tells the engine the provider (OpenAI, Azure, a proxy). The SDK's OpenAI
        # models keep their client private and no public API names it: read when present,
        # else the engine goes by the model name.
        client = getattr(inner, "_client", None)
        base_url = getattr(client, "base_url", None)
        self._base_url = str(base_url) if base_url is not None else None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["inner"], name)

    async def close(self) -> None:
        await self.inner.close()

    # The SDK's own hook on its Model interface (a run calls it on the model it was given).
    async def _cleanup_on_run_end(self, owner: object) -> None:
        await self.inner._cleanup_on_run_end(owner)

    def get_retry_advice(self, request: Any) -> Any:
        return self.inner.get_retry_advice(request)

    async def _reserve(self, system_instructions: Optional[str], input: Any, settings: Any, tools: List[Any],
                       output_schema: Any, handoffs: List[Any], stream: bool) -> Any:
        """(reservation, settings to send) — or (None, settings) outside a workflow."""
        if current_frame() is None:
            return None, settings
        body = _request(self.model, system_instructions, input, settings, tools, output_schema, handoffs)
        made = await reserve_async(FORMAT, request_json(body), base_url=self._base_url, stream=stream or None,
                                   agent=current_agent_name(), clamp_max_tokens=self._clamp or None)
        limit = made.body.get("max_output_tokens")
        if isinstance(limit, int) and limit != settings.max_tokens:
            settings = dataclasses.replace(settings, max_tokens=limit)
        if stream and settings.include_usage is None and _is_chat_model(self.inner):
            # A chat-completions stream reports usage only when asked (the SDK asks only
            # api.openai.com): asked, so the call is settled from it rather than estimated.
            settings = dataclasses.replace(settings, include_usage=True)
        return made.reservation, settings

    async def get_response(self, system_instructions: Optional[str], input: Any, model_settings: Any,
                           tools: List[Any], output_schema: Any, handoffs: List[Any], tracing: Any,
                           **kwargs: Any) -> Any:
        reservation, settings = await self._reserve(system_instructions, input, model_settings, tools,
                                                    output_schema, handoffs, stream=False)
        if reservation is None:
            return await self.inner.get_response(system_instructions, input, model_settings, tools, output_schema,
                                                  handoffs, tracing, **kwargs)
        token = UNMETERED.set(True)
        try:
            response = await self.inner.get_response(system_instructions, input, settings, tools, output_schema,
                                                     handoffs, tracing, **kwargs)
        except BaseException as e:
            release(reservation, e)
            raise
        finally:
            UNMETERED.reset(token)
        usage = _usage(response.usage)
        try:
            if usage is not None:
                reservation.settle_result(FORMAT, {"usage": usage})
            else:  # no usage came back: estimated from what the model produced
                reservation.settle_result(FORMAT, {"output": [request_json_safe(o) for o in response.output]})
        except BaseException as e:
            release(reservation, e)
            raise
        return response

    async def stream_response(self, system_instructions: Optional[str], input: Any, model_settings: Any,
                              tools: List[Any], output_schema: Any, handoffs: List[Any], tracing: Any,
                              **kwargs: Any) -> AsyncIterator[Any]:
        reservation, settings = await self._reserve(system_instructions, input, model_settings, tools,
                                                    output_schema, handoffs, stream=True)
        inner = self.inner.stream_response(system_instructions, input, settings, tools, output_schema, handoffs,
                                           tracing, **kwargs)
        if reservation is None:
            async for event in inner:
                yield event
            return
        metered = StreamMeter(reservation, FORMAT)
        try:
            while True:
                # Unmetered only while the inner model works, not between events (the caller's
                # own SDK calls stay metered).
                token = UNMETERED.set(True)
                try:
                    event = await inner.__anext__()
                except StopAsyncIteration:
                    break
                finally:
                    UNMETERED.reset(token)
                metered.push(event)
                yield event
        except BaseException as e:
            metered.end(e)
            await _aclose(inner)
            raise
        metered.end(None)


def _is_chat_model(model: Any) -> bool:
    try:
        from agents.models.openai_chatcompletions import OpenAIChatCompletionsModel
    except ImportError:  # pragma: no cover
        return False
    return isinstance(model, OpenAIChatCompletionsModel)


def request_json_safe(item: Any) -> Any:
    dump = getattr(item, "model_dump", None)
    return dump(mode="json", exclude_unset=True) if callable(dump) else item


async def _aclose(gen: Any) -> None:
    close = getattr(gen, "aclose", None)
    if close is not None:
        try:
            await close()
        except Exception:
            pass


class WfloModelProvider(ModelProvider):
    """A ``ModelProvider`` whose models are :class:`WfloModel` around ``inner``'s (default: the
    SDK's ``MultiProvider``, what a run uses when given no provider)."""

    def __init__(self, inner: Optional[ModelProvider] = None, *, clamp_max_tokens: bool = False) -> None:
        self.inner = inner if inner is not None else MultiProvider()
        self._clamp = clamp_max_tokens

    def get_model(self, model_name: Optional[str]) -> Model:
        model = self.inner.get_model(model_name)
        if isinstance(model, WfloModel):
            return model
        return WfloModel(model, clamp_max_tokens=self._clamp)

    async def aclose(self) -> None:
        close = getattr(self.inner, "aclose", None)
        if close is not None:
            await close()


def wflo_provider(inner: Optional[ModelProvider] = None, *, clamp_max_tokens: bool = False) -> WfloModelProvider:
    """The provider to give ``RunConfig(model_provider=…)``: ``inner``'s models (default: the
    SDK's default provider), each call budgeted and charged to its agent."""
    return WfloModelProvider(inner, clamp_max_tokens=clamp_max_tokens)


_default_lock = threading.Lock()
_default_original: Optional[Any] = None


def install_default_provider(*, clamp_max_tokens: bool = False) -> None:
    """Makes the SDK's default provider (``MultiProvider``, used by every run that names no
    provider) hand out :class:`WfloModel` s, so ``Runner.run(agent, …)`` inside a workflow is
    budgeted with no ``RunConfig``. Agents whose ``model`` is a ``Model`` object bypass every
    provider: wrap those in :class:`WfloModel` yourself. Undo with
    :func:`uninstall_default_provider`."""
    global _default_original
    with _default_lock:
        if _default_original is not None:
            return
        original = MultiProvider.get_model
        _default_original = original

        def get_model(self: Any, model_name: Optional[str]) -> Model:
            model = original(self, model_name)
            return model if isinstance(model, WfloModel) else WfloModel(model, clamp_max_tokens=clamp_max_tokens)

        get_model.__wflo_original__ = original  # type: ignore[attr-defined]
        MultiProvider.get_model = get_model  # type: ignore[method-assign]


def uninstall_default_provider() -> None:
    """Undoes :func:`install_default_provider`."""
    global _default_original
    with _default_lock:
        if _default_original is not None:
            MultiProvider.get_model = _default_original  # type: ignore[method-assign]
            _default_original = None
