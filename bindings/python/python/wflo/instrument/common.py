"""What the openai and anthropic instrumentation share: when a call is metered, how an SDK
is described (its resource methods, stream and response classes), and how a call's keyword
arguments become the request body the SDK will send — which the engine reads and reserves
(``wflo_reserve_request``), returning the body to send instead: the SDK is then called with
the keyword arguments that body differs by (the output limit, ``stream_options``).

The rest lives beside it: ``streams`` (metered streams, the stream helpers' managers, settling
what a call returned) and ``patching`` (the wrappers, installed on classes or on one client).
"""
from __future__ import annotations

import contextvars
import json
from contextlib import contextmanager
from dataclasses import dataclass
from collections.abc import Iterable, Mapping
from typing import Any, Dict, Iterator, Optional, Sequence, Tuple

from ..errors import WfloError
from ..reservation import Reservation
from ..usage import _fields

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

@dataclass(frozen=True)
class Endpoint:
    """One SDK method: the API its requests, responses and stream events are written for
    (``format``), whether it always streams (``stream``: a helper that sets no ``stream=True``
    in its request), and its ``kind``:

    * "call": ``create``/``parse`` — reserve, call, settle (or wrap the stream it returns);
    * "helper": a stream helper that goes through the patched ``create`` (openai's
      ``.stream()``) — only its manager is proxied so an early exit settles at once;
    * "stream": a stream helper that posts by itself (anthropic's ``.stream()``) — reserved
      here, and its raw stream metered when the manager opens it.
    """

    format: str
    kind: str = "call"
    stream: bool = False


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


# -- the request -----------------------------------------------------------------------------

#: Keyword arguments the SDKs take that are not part of the request body (``extra_body`` is
#: merged into it, as the SDKs do).
SDK_ONLY = frozenset({"extra_headers", "extra_query", "extra_body", "timeout"})


def sdk_request(kwargs: Dict[str, Any], sdk: Sdk) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """The body the SDK will send for ``kwargs`` (sentinels and None left out, pydantic
    objects as plain JSON), and the keyword arguments to call it with — an iterator the caller
    gave is consumed once here, so the list is what the SDK is given."""
    body: Dict[str, Any] = {}
    for key, value in kwargs.items():
        if key in SDK_ONLY or not sdk.given(value):
            continue
        if _iterator(value):
            value = list(value)
            kwargs = {**kwargs, key: value}
        body[key] = value
    extra = kwargs.get("extra_body")
    if isinstance(extra, dict):
        body.update(extra)
    return json.loads(json.dumps(body, default=_sent)), kwargs


def request_json(request: Mapping[str, Any]) -> str:
    """JSON text of a request a framework integration extracted (messages, parameters), for
    ``reserve_request``: pydantic objects and classes as the SDKs send them, anything else JSON
    cannot hold as its fields or its text."""
    return json.dumps(request, default=_sent)


def _sent(value: Any) -> Any:
    # A pydantic class (``parse(response_format=Answer)``) is sent as its JSON schema.
    if isinstance(value, type):
        schema = getattr(value, "model_json_schema", None)
        return {"type": "json_schema", "json_schema": {"name": value.__name__, "schema": schema()}} \
            if callable(schema) else value.__name__
    # A pydantic object in a request is sent as the SDKs send it: the fields that were set.
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            return dump(mode="json", exclude_unset=True, serialize_as_any=True)
        except TypeError:
            pass
    return _fields(value)


def _iterator(value: Any) -> bool:
    """An iterable the SDK would consume (a generator, a set), not a value sent as it is."""
    return isinstance(value, Iterable) and not isinstance(value, (str, bytes, bytearray, Mapping, Sequence)) \
        and not hasattr(value, "model_dump")


def send_kwargs(kwargs: Dict[str, Any], asked: Dict[str, Any], body: Dict[str, Any]) -> Dict[str, Any]:
    """``kwargs`` with what the engine changed in the body (``asked`` → ``body``): a key the
    caller gave through ``extra_body`` is changed there."""
    extra = kwargs.get("extra_body")
    extra = dict(extra) if isinstance(extra, dict) else None
    out = dict(kwargs)
    for key, value in body.items():
        if key in asked and asked[key] == value:
            continue
        if extra is not None and key in extra:
            extra[key] = value
        else:
            out[key] = value
    if extra is not None:
        out["extra_body"] = extra
    return out


def options_of(resource: Any, endpoint: Endpoint) -> Dict[str, Any]:
    """What the engine needs beside the body: the client's base URL (which names the provider:
    an OpenAI client pointed at api.x.ai is billed as xAI), and streaming for the helpers that
    stream without saying so in the body."""
    options: Dict[str, Any] = {}
    client = getattr(resource, "_client", None)
    base_url = getattr(client, "base_url", None)
    if base_url is not None:
        options["base_url"] = str(base_url)
    if endpoint.stream:
        options["stream"] = True
    return options
