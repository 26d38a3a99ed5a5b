"""The official ``openai`` SDK (2.x on httpx, 3.x on httpx2 — the resource methods are the
same): which methods are metered and how their arguments become a :class:`CallRequest`.

* ``chat.completions.create`` / ``parse`` (sync and async), and ``stream()``, which calls
  ``create`` itself; ``with_raw_response`` / ``with_streaming_response`` call ``create`` too.
* ``responses.create`` / ``parse``, and ``responses.stream()`` (over ``create``).

Chat streams get ``stream_options={"include_usage": True}`` unless the caller set
``include_usage`` themselves: without it the API sends no usage and the call could only be
estimated.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from ..types import CallRequest
from .common import Endpoint, Sdk, count_prompt, extras_of, int_arg, listed, model_of


def _with_usage(kwargs: Dict[str, Any], sdk: Sdk) -> Dict[str, Any]:
    options = kwargs.get("stream_options")
    if not sdk.given(options):
        options = {}
    if isinstance(options, dict) and "include_usage" not in options:
        return {**kwargs, "stream_options": {**options, "include_usage": True}}
    return kwargs


def chat_request(engine: Any, kwargs: Dict[str, Any], sdk: Sdk) -> Tuple[CallRequest, Dict[str, Any]]:
    model = model_of(kwargs, sdk)
    messages, kwargs = listed(kwargs, "messages", sdk)
    extras, kwargs = extras_of(kwargs, sdk, ("tools", "functions"))
    if isinstance(kwargs.get("response_format"), dict):  # a JSON schema is part of the prompt
        extras.append(kwargs["response_format"])
    tokens, estimated = count_prompt(engine, model, messages, extras)
    max_out: Optional[int] = int_arg(kwargs, "max_completion_tokens", "max_tokens")
    choices = int_arg(kwargs, "n")
    if max_out is not None and choices is not None and choices > 1:
        max_out *= choices  # each choice may use all of max_tokens
    stream = kwargs.get("stream") is True
    if stream:
        kwargs = _with_usage(kwargs, sdk)
    return CallRequest(model=model, provider="openai", input_tokens=tokens, input_estimated=estimated,
                       max_output_tokens=max_out, stream=stream), kwargs


def responses_request(engine: Any, kwargs: Dict[str, Any], sdk: Sdk) -> Tuple[CallRequest, Dict[str, Any]]:
    model = model_of(kwargs, sdk)
    messages: List[Any] = []
    instructions = kwargs.get("instructions")
    if isinstance(instructions, str):
        messages.append({"role": "system", "content": instructions})
    given = kwargs.get("input")
    if isinstance(given, str):
        messages.append({"role": "user", "content": given})
    else:
        items, kwargs = listed(kwargs, "input", sdk)
        messages.extend(items)
    extras, kwargs = extras_of(kwargs, sdk, ("tools",))
    text = kwargs.get("text")
    if isinstance(text, dict) and isinstance(text.get("format"), dict):
        extras.append(text["format"])
    tokens, estimated = count_prompt(engine, model, messages, extras)
    stream = kwargs.get("stream") is True
    return CallRequest(model=model, provider="openai", input_tokens=tokens, input_estimated=estimated,
                       max_output_tokens=int_arg(kwargs, "max_output_tokens"), stream=stream), kwargs


_sdk: Optional[Sdk] = None


def load() -> Optional[Sdk]:
    """The openai SDK's description, or None when it is not installed."""
    global _sdk
    if _sdk is None:
        try:
            import openai
            from openai import _legacy_response, _resource, _response
            from openai.resources.chat.completions import AsyncCompletions, Completions
            from openai.resources.responses import AsyncResponses, Responses
        except ImportError:
            return None
        chat = {"create": Endpoint("openai_chat", chat_request), "parse": Endpoint("openai_chat", chat_request),
                "stream": Endpoint("openai_chat", kind="helper")}
        responses = {"create": Endpoint("openai_responses", responses_request),
                     "parse": Endpoint("openai_responses", responses_request),
                     "stream": Endpoint("openai_responses", kind="helper")}
        _sdk = Sdk(
            name="openai",
            async_resource=_resource.AsyncAPIResource,
            sync_stream=openai.Stream,
            async_stream=openai.AsyncStream,
            raw_sync=(_legacy_response.LegacyAPIResponse, _response.APIResponse),
            raw_async=(_response.AsyncAPIResponse,),
            missing=(openai.NotGiven, openai.Omit),
            targets={Completions: chat, AsyncCompletions: chat, Responses: responses, AsyncResponses: responses},
            client_paths=[("chat", "completions"), ("responses",)],
        )
    return _sdk
