"""The official ``anthropic`` SDK: ``messages.create`` / ``parse`` / ``stream`` and the same
on ``beta.messages`` (sync and async), and how a request becomes a :class:`CallRequest`.

``messages.stream()`` posts by itself (not through ``create``), so it is reserved when called
and its raw stream metered when its manager opens it. The prompt counted is the ``system``
prompt plus the messages; tool definitions count as estimated input. ``cache_control`` marks
(top level, system, messages, tools) make the reservation price the prompt as a cache write,
at the 1-hour rate when any of them asks ``ttl="1h"``.
"""
from __future__ import annotations

from typing import Any, Dict, Iterator, List, Optional, Tuple

from ..types import CallRequest
from .common import Endpoint, Sdk, count_prompt, extras_of, int_arg, listed, model_of, plain


def _cache_marks(value: Any) -> Iterator[Any]:
    """Every ``cache_control`` value in a request part (blocks nest inside messages)."""
    value = plain(value)
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "cache_control":
                yield inner
            elif isinstance(inner, (dict, list)):
                yield from _cache_marks(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _cache_marks(inner)


def cache_write(kwargs: Dict[str, Any], sdk: Sdk) -> Optional[str]:
    """"1h", "5m" or None: the dearest cache write the request asks for."""
    found: Optional[str] = None
    parts = [kwargs.get(name) for name in ("system", "messages", "tools")]
    top = kwargs.get("cache_control")
    for mark in ([top] if sdk.given(top) else []) + [m for p in parts if sdk.given(p) for m in _cache_marks(p)]:
        if not isinstance(mark, dict):
            continue
        if mark.get("ttl") == "1h":
            return "1h"
        found = "5m"
    return found


def messages_request(engine: Any, kwargs: Dict[str, Any], sdk: Sdk, stream: bool = False) -> Tuple[CallRequest, Dict[str, Any]]:
    model = model_of(kwargs, sdk)
    messages, kwargs = listed(kwargs, "messages", sdk)
    system = kwargs.get("system")
    if sdk.given(system) and not isinstance(system, str):
        system = [plain(block) for block in system]
        kwargs = {**kwargs, "system": system}
    prompt: List[Any] = ([{"role": "system", "content": system}] if sdk.given(system) and system else []) + messages
    extras, kwargs = extras_of(kwargs, sdk, ("tools",))
    tokens, estimated = count_prompt(engine, model, prompt, extras)
    return CallRequest(model=model, provider="anthropic", input_tokens=tokens, input_estimated=estimated,
                       max_output_tokens=int_arg(kwargs, "max_tokens"), cache_write=cache_write(kwargs, sdk),
                       stream=stream or kwargs.get("stream") is True), kwargs


def stream_request(engine: Any, kwargs: Dict[str, Any], sdk: Sdk) -> Tuple[CallRequest, Dict[str, Any]]:
    return messages_request(engine, kwargs, sdk, stream=True)


_sdk: Optional[Sdk] = None


def load() -> Optional[Sdk]:
    """The anthropic SDK's description, or None when it is not installed."""
    global _sdk
    if _sdk is None:
        try:
            import anthropic
            from anthropic import _resource, _response
            from anthropic.resources.messages import AsyncMessages, Messages
        except ImportError:
            return None
        methods = {"create": Endpoint("anthropic", messages_request), "parse": Endpoint("anthropic", messages_request),
                   "stream": Endpoint("anthropic", stream_request, kind="stream")}
        targets: Dict[type, Dict[str, Endpoint]] = {Messages: methods, AsyncMessages: methods}
        try:
            from anthropic.resources.beta.messages import AsyncMessages as BetaAsyncMessages
            from anthropic.resources.beta.messages import Messages as BetaMessages

            targets.update({BetaMessages: methods, BetaAsyncMessages: methods})
        except ImportError:
            pass
        _sdk = Sdk(
            name="anthropic",
            async_resource=_resource.AsyncAPIResource,
            sync_stream=anthropic.Stream,
            async_stream=anthropic.AsyncStream,
            raw_sync=(_response.APIResponse,),
            raw_async=(_response.AsyncAPIResponse,),
            missing=(anthropic.NotGiven, anthropic.Omit),
            targets=targets,
            client_paths=[("messages",), ("beta", "messages")],
        )
    return _sdk
