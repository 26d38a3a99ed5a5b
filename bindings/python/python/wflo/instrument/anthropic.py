"""The official ``anthropic`` SDK: ``messages.create`` / ``parse`` / ``stream`` and the same
on ``beta.messages`` (sync and async).

``messages.stream()`` posts by itself (not through ``create``), so it is reserved when called
and its raw stream metered when its manager opens it. The engine reads each request (format
"anthropic": the system prompt, the messages, tool definitions, ``cache_control`` marks that
price the prompt as a cache write) and returns the body to send.
"""
from __future__ import annotations

from typing import Dict, Optional

from .common import Endpoint, Sdk


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
        methods = {"create": Endpoint("anthropic"), "parse": Endpoint("anthropic"),
                   "stream": Endpoint("anthropic", kind="stream", stream=True)}
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
