"""What the openai and anthropic instrumentation share: when a call is metered, how an SDK
is described (its resource methods, stream and response classes), and how a request's
arguments become a :class:`CallRequest` (the prompt counted, tools as estimated input).

The rest lives beside it: ``streams`` (metered streams, the stream helpers' managers, settling
what a call returned) and ``patching`` (the wrappers, installed on classes or on one client).
"""
from __future__ import annotations

import contextvars
import json
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from ..errors import WfloError, invalid
from ..reservation import Reservation
from ..types import CallRequest

# -- when to meter -------------------------------------------------------------------------------

#: Truthy: SDK calls in this context are not metered by ``instrument()`` (read by truthiness —
#: an integration may store an object whose truth changes once its own request has gone out).
UNMETERED: contextvars.ContextVar[Any] = contextvars.ContextVar("wflo_unmetered", default=False)


class Sending:
    """Truthy while a framework integration that metered a call itself is about to send its
    request. Stored in UNMETERED, it leaves that SDK call to the integration (one call is never
    charged twice). A shared object rather than a value to restore: frameworks end a call from
    other contexts and threads, and every copy of the context sees the flag drop."""

    __slots__ = ("active",)

    def __init__(self) -> None:
        self.active = True

    def __bool__(self) -> bool:
        return self.active

    def sent(self) -> None:
        self.active = False


@contextmanager
def unmetered() -> Iterator[None]:
    """SDK calls made in the block are not metered by ``instrument()``: for code that meters
    them another way (a framework callback), so one call is never charged twice. The metered
    wrappers also use it around the original method, so an SDK method that calls another
    patched one is metered once."""
    token = UNMETERED.set(True)
    try:
        yield
    finally:
        UNMETERED.reset(token)


def status_of(e: Optional[BaseException]) -> str:
    """How a call that ended with ``e`` is recorded: an exception is "error"; cancellation,
    KeyboardInterrupt and a closed generator (BaseException only) are "aborted"."""
    return "error" if isinstance(e, Exception) else "aborted"


def release(reservation: Reservation, e: BaseException) -> None:
    """Gives the budget back after the SDK raised (nothing was billed); never masks ``e``."""
    if not reservation.ended:
        try:
            reservation.release(status_of(e), f"{type(e).__name__}: {e}"[:500])
        except WfloError:
            pass


# -- describing an SDK ---------------------------------------------------------------------------

Builder = Callable[[Any, Dict[str, Any], "Sdk"], Tuple[CallRequest, Dict[str, Any]]]


@dataclass(frozen=True)
class Endpoint:
    """One SDK method: how its responses and stream events read (``format``), how its
    keyword arguments become a :class:`CallRequest` (``request``), and its ``kind``:

    * "call": ``create``/``parse`` — reserve, call, settle (or wrap the stream it returns);
    * "helper": a stream helper that goes through the patched ``create`` (openai's
      ``.stream()``) — only its manager is proxied so an early exit settles at once;
    * "stream": a stream helper that posts by itself (anthropic's ``.stream()``) — reserved
      here, and its raw stream metered when the manager opens it.
    """

    format: str
    request: Optional[Builder] = None
    kind: str = "call"


@dataclass
class Sdk:
    """The classes of one SDK that the wrappers need to recognise."""

    name: str
    async_resource: type  # the base class of the SDK's async resources
    sync_stream: type
    async_stream: type
    raw_sync: Tuple[type, ...]  # raw responses whose parse() is a plain method
    raw_async: Tuple[type, ...]  # raw responses whose parse() is a coroutine
    missing: Tuple[type, ...]  # the SDK's NotGiven / Omit sentinels
    targets: Dict[type, Dict[str, Endpoint]]  # resource class → method name → endpoint
    client_paths: Sequence[Tuple[str, ...]]  # attribute paths from a client to its resources

    def given(self, value: Any) -> bool:
        return value is not None and not isinstance(value, self.missing)

    def endpoints(self, resource: Any) -> Dict[str, Endpoint]:
        for klass in type(resource).__mro__:
            if klass in self.targets:
                return self.targets[klass]
        return {}


# -- counting a request --------------------------------------------------------------------------

# Content parts that are not text: kept as they are (the engine flags the count estimated)
# rather than counted as their JSON, which for an image is its base64.
_MEDIA = {"image", "image_url", "input_image", "input_audio", "audio", "document", "file", "input_file"}


def plain(value: Any) -> Any:
    """A JSON-able form of a request value (the SDKs accept pydantic objects too)."""
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            return dump(mode="json", exclude_none=True)
        except TypeError:
            return dump()
    return value


def _message(message: Any) -> Dict[str, Any]:
    m = plain(message)
    if not isinstance(m, dict):
        return {"content": m if isinstance(m, str) else json.dumps(m, default=str)}
    content = m.get("content")
    if isinstance(content, list):
        parts = []
        for part in content:
            part = plain(part)
            if isinstance(part, str) or (isinstance(part, dict) and isinstance(part.get("text"), str)):
                parts.append(part)
            elif isinstance(part, dict) and part.get("type") in _MEDIA:
                parts.append(part)
            else:  # tool calls and results, thinking blocks…: billed as their text
                parts.append({"type": "text", "text": json.dumps(part, default=str)})
        m = {**m, "content": parts}
    return m


def count_prompt(engine: Any, model: str, messages: List[Any], extras: Sequence[Any] = ()) -> Tuple[int, bool]:
    """The prompt's tokens and whether the count is an estimate. ``extras`` (tool
    definitions, schemas) are counted as their JSON text and make the count an estimate."""
    msgs = [_message(m) for m in messages]
    count = engine.count_chat_tokens(model, msgs)
    tokens, estimated = count.tokens, count.estimated
    for extra in extras:
        tokens += engine.count_tokens(model, json.dumps(plain(extra), default=str)).tokens
        estimated = True
    return tokens, estimated


def model_of(kwargs: Dict[str, Any], sdk: Sdk) -> str:
    model = kwargs.get("model")
    if not sdk.given(model):
        raise invalid("wflo meters this call from its model: pass model= (the call was not sent)")
    return model if isinstance(model, str) else str(model)


def int_arg(kwargs: Dict[str, Any], *names: str) -> Optional[int]:
    """The first of ``names`` given as an int (the SDKs' sentinels and None are skipped)."""
    for name in names:
        value = kwargs.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def listed(kwargs: Dict[str, Any], name: str, sdk: Sdk) -> Tuple[List[Any], Dict[str, Any]]:
    """``kwargs[name]`` as a list — an iterator given by the caller is consumed once here, so
    the list is what the SDK is given."""
    value = kwargs.get(name)
    if not sdk.given(value) or isinstance(value, (str, dict)):
        return [], kwargs
    if isinstance(value, list):
        return value, kwargs
    value = list(value)
    return value, {**kwargs, name: value}


def extras_of(kwargs: Dict[str, Any], sdk: Sdk, names: Tuple[str, ...]) -> Tuple[List[Any], Dict[str, Any]]:
    extras: List[Any] = []
    for name in names:
        value, kwargs = listed(kwargs, name, sdk)
        if value:
            extras.append(value)
    return extras, kwargs
