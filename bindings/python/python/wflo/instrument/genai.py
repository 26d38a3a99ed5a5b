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
from contextlib import contextmanager
from types import MethodType
from typing import Any, AsyncIterator, Callable, Dict, Iterator, Optional

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


class _Call:
    """One model request being metered, whatever runs it (sync or async, streamed or not): the
    body the engine reads, then the request dict to send, the answer settled or metered."""

    def __init__(self, api_client: Any, model: str, stream: bool, request_dict: Dict[str, Any]) -> None:
        self.request_dict = request_dict
        self.stream = stream
        # The body the engine reads: the SDK's ``_url``/``_query`` keys left out.
        self.asked = {k: v for k, v in request_dict.items() if not k.startswith("_")}
        self.options: Dict[str, Any] = {"model": model, "stream": stream}
        base_url = getattr(getattr(api_client, "_http_options", None), "base_url", None)
        if base_url:
            self.options["base_url"] = str(base_url)
        self.reservation: Any = None

    @staticmethod
    def of(patch: Patch, api_client: Any, path: str, request_dict: Dict[str, Any]) -> Optional["_Call"]:
        """The call to meter, or None to pass it through (not a model call, not metered here)."""
        if not patch.on or UNMETERED.get() or current_frame() is None:
            return None
        m = _PATH.search(path)
        if m is None:
            return None
        return _Call(api_client, m.group(1).split("/", 1)[1], m.group(2) == "streamGenerateContent", request_dict)

    def reserved(self, made: Any) -> Dict[str, Any]:
        """The request dict to send: the SDK's own keys and the body the engine returned."""
        self.reservation = made.reservation
        return {**{k: v for k, v in self.request_dict.items() if k.startswith("_")}, **made.body}

    def failed(self, e: BaseException) -> None:
        release(self.reservation, e)

    def answered(self, answer: Any) -> Any:
        """The SDK's answer to hand back: a response settled from its ``usageMetadata``, a
        stream (an iterator, or an async one) metered to be settled once when it ends."""
        if not self.stream:
            self.reservation.settle_result(FORMAT, answer.body or "{}")
            return answer
        chunks = StreamMeter(self.reservation, FORMAT)
        return _metered_async(answer, chunks) if hasattr(answer, "__aiter__") else _metered(answer, chunks)


@contextmanager
def _ending(chunks: StreamMeter) -> Iterator[None]:
    """Settles the metered stream once, however the iteration inside ends (an error, the
    consumer closing it early, or its end)."""
    try:
        yield
    except BaseException as e:
        chunks.end(e)
        raise
    chunks.end(None)


def _seen(chunks: StreamMeter, chunk: Any) -> Any:
    chunks.push(getattr(chunk, "body", chunk) or "{}")
    return chunk


def _metered(inner: Iterator[Any], chunks: StreamMeter) -> Iterator[Any]:
    with _ending(chunks):
        for chunk in inner:
            yield _seen(chunks, chunk)


async def _metered_async(inner: AsyncIterator[Any], chunks: StreamMeter) -> AsyncIterator[Any]:
    with _ending(chunks):
        async for chunk in inner:
            yield _seen(chunks, chunk)


def _wrap(name: str, original: Callable[..., Any], patch: Patch) -> Callable[..., Any]:
    """The metered ``name``: the same steps for the four methods; the async two await the
    reservation (off the loop when it may wait) and the SDK."""
    if name.startswith("async_"):
        @functools.wraps(original)
        async def metered_async(self: Any, http_method: str, path: str, request_dict: Dict[str, Any],
                                http_options: Any = None) -> Any:
            from ..workflow import current_reserve_request_async

            call = _Call.of(patch, self, path, request_dict)
            if call is None:
                return await original(self, http_method, path, request_dict, http_options)
            sent = call.reserved(await current_reserve_request_async(FORMAT, call.asked, **call.options))
            try:
                answer = await original(self, http_method, path, sent, http_options)
            except BaseException as e:
                call.failed(e)
                raise
            return call.answered(answer)

        wrapper: Callable[..., Any] = metered_async
    else:
        @functools.wraps(original)
        def metered(self: Any, http_method: str, path: str, request_dict: Dict[str, Any],
                    http_options: Any = None) -> Any:
            from ..workflow import current_reserve_request

            call = _Call.of(patch, self, path, request_dict)
            if call is None:
                return original(self, http_method, path, request_dict, http_options)
            sent = call.reserved(current_reserve_request(FORMAT, call.asked, **call.options))
            try:
                # A streamed request is a generator: it fails while iterated, not here.
                answer = original(self, http_method, path, sent, http_options)
            except BaseException as e:
                call.failed(e)
                raise
            return call.answered(answer)

        wrapper = metered

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
