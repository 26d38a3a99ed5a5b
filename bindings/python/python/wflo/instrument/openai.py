"""The official ``openai`` SDK (2.x on httpx, 3.x on httpx2 — the resource methods are the
same): which methods are metered.

* ``chat.completions.create`` / ``parse`` (sync and async), and ``stream()``, which calls
  ``create`` itself; ``with_raw_response`` / ``with_streaming_response`` call ``create`` too.
* ``responses.create`` / ``parse``, and ``responses.stream()`` (over ``create``).

The engine reads each request (format "openai_chat" or "openai_responses") and returns the
body to send: chat streams get ``stream_options.include_usage`` (without it the API sends no
usage), and a request without an output limit gets the one its reservation covers.
"""
from __future__ import annotations

from typing import Optional

from .common import Endpoint, Sdk


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
        chat = {"create": Endpoint("openai_chat"), "parse": Endpoint("openai_chat"),
                "stream": Endpoint("openai_chat", kind="helper")}
        responses = {"create": Endpoint("openai_responses"), "parse": Endpoint("openai_responses"),
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
