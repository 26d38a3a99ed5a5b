"""The Google Gen AI SDK (``google-genai``): ``models.generate_content`` and
``generate_content_stream``, sync and async (``client.aio.models``), chats included.

Where: the SDK's API client (``BaseApiClient.request`` / ``request_streamed`` /
``async_request`` / ``async_request_streamed``), the one place every model call hands over its
finished request body — one HTTP request each, so automatic function calling (several requests
for one ``generate_content``) is reserved request by request, and the body the engine reads is
exactly what is sent. Only ``…:generateContent`` and ``…:streamGenerateContent`` are metered.

The engine reads the body (format "gemini": system instruction, contents, tools, schemas,
``generationConfig.maxOutputTokens``, ``candidateCount``; the model from the URL) and returns
the body to send (its output limit written in when absent or clamped). After, the call is
settled from the response's ``usageMetadata`` (prompt, candidates, cached content, thoughts);
a stream is settled once when it ends — from its last chunk's usage, or, cut before it,
estimated from the text it streamed.
"""
from __future__ import annotations

import functools
import re
from types import MethodType
from typing import Any, Callable, Dict, Optional, Tuple

from ..context import current_frame
from .common import UNMETERED, release
from .streams import StreamMeter
from .patching import Patch, _lock, _patches

FORMAT = "gemini"
_METHODS = ("request", "request_streamed", "async_request", "async_request_streamed")
# `models/gemini-2.5-flash:generateContent`, `projects/p/locations/l/publishers/google/models/m:…`
_PATH = re.compile(r"(?:^|/)((?:tuned)?[mM]odels/[^/:?]+):(generateContent|streamGenerateContent)(?:\?|$)")


def load() -> Optional[type]:
    """The SDK's API client class, or None when google-genai is not installed."""
    try:
        from google.genai._api_client import BaseApiClient
    except ImportError:
        return None
    return BaseApiClient


def _target(patch: Patch, path: str) -> Optional[Tuple[str, bool]]:
    """(model, stream) of a model call to meter here, or None to pass it through."""
    if not patch.on or UNMETERED.get() or current_frame() is None:
        return None
    m = _PATH.search(path)
    if m is None:
        return None
    return m.group(1).split("/", 1)[1], m.group(2) == "streamGenerateContent"


def _reserve_args(api_client: Any, request_dict: Dict[str, Any], model: str, stream: bool) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """The body the engine reads (the SDK's ``_url``/``_query`` keys left out) and its options."""
    asked = {k: v for k, v in request_dict.items() if not k.startswith("_")}
    options: Dict[str, Any] = {"model": model, "stream": stream}
    base_url = getattr(getattr(api_client, "_http_options", None), "base_url", None)
    if base_url:
        options["base_url"] = str(base_url)
    return asked, options


def _to_send(request_dict: Dict[str, Any], body: Dict[str, Any]) -> Dict[str, Any]:
    return {**{k: v for k, v in request_dict.items() if k.startswith("_")}, **body}


def _wrap(name: str, original: Callable[..., Any], patch: Patch) -> Callable[..., Any]:
    if name == "request":
        @functools.wraps(original)
        def request(self: Any, http_method: str, path: str, request_dict: Dict[str, Any],
                    http_options: Any = None) -> Any:
            target = _target(patch, path)
            if target is None:
                return original(self, http_method, path, request_dict, http_options)
            from ..workflow import current_reserve_request

            asked, options = _reserve_args(self, request_dict, *target)
            made = current_reserve_request(FORMAT, asked, **options)
            try:
                response = original(self, http_method, path, _to_send(request_dict, made.body), http_options)
            except BaseException as e:
                release(made.reservation, e)
                raise
            made.reservation.settle_result(FORMAT, response.body or "{}")
            return response

        wrapper: Callable[..., Any] = request

    elif name == "request_streamed":
        @functools.wraps(original)
        def request_streamed(self: Any, http_method: str, path: str, request_dict: Dict[str, Any],
                             http_options: Any = None) -> Any:
            target = _target(patch, path)
            if target is None:
                yield from original(self, http_method, path, request_dict, http_options)
                return
            from ..workflow import current_reserve_request

            asked, options = _reserve_args(self, request_dict, *target)
            made = current_reserve_request(FORMAT, asked, **options)
            chunks = StreamMeter(made.reservation, FORMAT)
            try:
                for chunk in original(self, http_method, path, _to_send(request_dict, made.body), http_options):
                    chunks.push(getattr(chunk, "body", chunk) or "{}")
                    yield chunk
            except BaseException as e:
                chunks.end(e)
                raise
            chunks.end(None)

        wrapper = request_streamed

    elif name == "async_request":
        @functools.wraps(original)
        async def async_request(self: Any, http_method: str, path: str, request_dict: Dict[str, Any],
                                http_options: Any = None) -> Any:
            target = _target(patch, path)
            if target is None:
                return await original(self, http_method, path, request_dict, http_options)
            from ..workflow import current_reserve_request_async

            asked, options = _reserve_args(self, request_dict, *target)
            made = await current_reserve_request_async(FORMAT, asked, **options)
            try:
                response = await original(self, http_method, path, _to_send(request_dict, made.body), http_options)
            except BaseException as e:
                release(made.reservation, e)
                raise
            made.reservation.settle_result(FORMAT, response.body or "{}")
            return response

        wrapper = async_request

    else:
        @functools.wraps(original)
        async def async_request_streamed(self: Any, http_method: str, path: str, request_dict: Dict[str, Any],
                                         http_options: Any = None) -> Any:
            target = _target(patch, path)
            if target is None:
                return await original(self, http_method, path, request_dict, http_options)
            from ..workflow import current_reserve_request_async

            asked, options = _reserve_args(self, request_dict, *target)
            made = await current_reserve_request_async(FORMAT, asked, **options)
            chunks = StreamMeter(made.reservation, FORMAT)
            try:
                inner = await original(self, http_method, path, _to_send(request_dict, made.body), http_options)
            except BaseException as e:
                release(made.reservation, e)
                raise

            async def metered() -> Any:
                try:
                    async for chunk in inner:
                        chunks.push(getattr(chunk, "body", chunk) or "{}")
                        yield chunk
                except BaseException as e:
                    chunks.end(e)
                    raise
                chunks.end(None)

            return metered()

        wrapper = async_request_streamed

    wrapper.__wflo_original__ = original  # type: ignore[attr-defined]
    wrapper.__wflo_patch__ = patch  # type: ignore[attr-defined]
    return wrapper


def instrument_class() -> bool:
    """Meters every google-genai client (class level). False when the SDK is not installed."""
    cls = load()
    if cls is None:
        return False
    with _lock:
        for name in _METHODS:
            current = cls.__dict__.get(name)
            if current is None or getattr(current, "__wflo_patch__", None) is not None:
                continue
            patch = Patch(cls, name, current, True)
            setattr(cls, name, _wrap(name, current, patch))
            _patches.append(patch)
    return True


def instrument_client(client: Any) -> bool:
    """Meters one ``google.genai.Client`` (its ``aio`` side too). False for other objects."""
    cls = load()
    api = getattr(client, "_api_client", None)
    if cls is None or not isinstance(api, cls):
        return False
    with _lock:
        for name in _METHODS:
            own = vars(api).get(name)
            if own is not None and getattr(own, "__wflo_patch__", None) is not None:
                continue
            function = getattr(type(api), name, None)
            if function is None:
                continue
            original = getattr(function, "__wflo_original__", function)
            patch = Patch(api, name, own, own is not None, client)
            vars(api)[name] = MethodType(_wrap(name, original, patch), api)
            _patches.append(patch)
    return True
