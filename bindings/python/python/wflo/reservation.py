"""A reservation: the worst case of one call, held BEFORE the call is made and settled from
the provider's usage after it. Dropped unsettled (an exception, a cancelled task), it is
released and recorded as aborted — the budget never leaks."""
from __future__ import annotations

import json
from typing import Any, Dict, NamedTuple, Optional

from . import _fast
from .errors import ConflictError, invalid
from .types import Settled, Usage
from .usage import result_json, usage_payload

class Stream:
    """Accumulates a streamed response's events ("openai_chat", "openai_responses",
    "anthropic", "gemini") so the call can be settled from the usage they carry — or, when
    the stream was cut before its usage, estimated from the text it streamed."""

    def __init__(self, format: str) -> None:
        self._h = 0
        self._h = _fast.stream_new(format)

    def push(self, event: Any) -> None:
        """Feeds one event: JSON text, a dict, or an SDK chunk/event object."""
        if isinstance(event, str):
            text = event
        else:
            dump = getattr(event, "model_dump_json", None)
            text = dump() if callable(dump) else json.dumps(event, default=str)
        _fast.stream_push(self._h, text)

    def state(self) -> dict:
        """{"usage": … or None, "complete": bool, "text": str} so far."""
        return _fast.stream_state(self._h)

    def __del__(self) -> None:
        h, self._h = getattr(self, "_h", 0), 0
        if h and _fast is not None:
            _fast.stream_free(h)


class Reservation:
    """Budget held for one call. Settle it or release it (or use it as a context manager:
    leaving the block with an exception releases it)."""

    __slots__ = ("_h", "_ended", "__weakref__")

    def __init__(self, handle: int) -> None:
        self._h = handle
        self._ended = False

    @property
    def amount_nanos(self) -> int:
        """The worst case held, nano-USD."""
        return _fast.amount_nanos(self._h)

    @property
    def amount_usd(self) -> float:
        return self.amount_nanos / 1e9

    @property
    def max_output_tokens(self) -> int:
        """The max_tokens to send (lower than asked under the clamp policy)."""
        return _fast.max_output_tokens(self._h)

    @property
    def ended(self) -> bool:
        return self._ended

    def settle(self, usage: Optional[Usage] = None, *, input: int = 0, output: int = 0, cache_read: int = 0,
               cache_write_5m: int = 0, cache_write_1h: int = 0, reasoning: int = 0) -> Settled:
        """Books the provider's usage (a :class:`Usage`, or its fields as keywords)."""
        if self._ended:
            raise ConflictError("the reservation is already settled or released")
        if usage is None:
            usage = (input, output, cache_read, cache_write_5m, cache_write_1h, reasoning)  # type: ignore[assignment]
        elif not isinstance(usage, Usage):
            raise invalid("usage must be a wflo.Usage")
        settled = _fast.settle(self._h, usage)
        self._done()
        return settled

    def settle_json(self, format: str, response: Any) -> Settled:
        """Books the usage in a provider's response body or usage (JSON text, dict or SDK object).
        Unreadable usage raises InvalidArgumentError and leaves the reservation held."""
        self._live()
        if not isinstance(response, str):
            payload = usage_payload(response)
            response = json.dumps(payload if payload is not None else {})
        settled = _fast.settle_json(self._h, format, response)
        self._done()
        return settled

    def settle_stream(self, stream: Stream, status: str = "ok") -> Settled:
        """Books a finished or cut stream ("ok", "error", "aborted"); without the provider's
        usage the output is estimated from the streamed text and flagged."""
        self._live()
        settled = _fast.settle_stream(self._h, stream._h, status)
        self._done()
        return settled

    def settle_result(self, format: str, result: Any, status: str = "ok") -> Settled:
        """Books whatever a call returned: an OpenAI or Anthropic response, a LangChain message
        or LLMResult, a dict, or its JSON text; ``format`` names its API ("auto": read from its
        shape). The engine reads the usage in it; without usage it estimates the generated
        text (every choice, tool-call names and arguments) and flags the call estimated —
        never free. Text that is not JSON is taken as the generated text itself. ``status``:
        how the call ended — "ok", or "error"/"aborted" for what a call that failed midway had
        produced (booked: the provider billed it; None as ``result`` when nothing was kept)."""
        self._live()
        if not isinstance(format, str):
            raise invalid("format must be a string such as 'openai_chat' (settle_result(format, result))")
        text = result_json(result)
        if isinstance(result, (str, bytes, bytearray)) and not _is_json(text):
            text = json.dumps(text)  # a JSON string: the engine reads it as the generated text
        settled = _fast.settle_result(self._h, format, text, status)
        self._done()
        return settled

    def settle_text(self, text: str, status: str = "ok") -> Settled:
        """Books a call whose usage never came back from the text it generated (what a stream
        delivered before it was cut, what a framework returned): the prompt as reserved, the
        output counted with the model's tokenizer, flagged estimated. ``status``: "ok",
        "error" or "aborted"."""
        self._live()
        if not isinstance(text, str):
            raise invalid("text must be a string")
        settled = _fast.settle_text(self._h, text, status)
        self._done()
        return settled

    def release(self, status: str = "error", reason: Optional[str] = None) -> None:
        """Gives the budget back: the call failed before costing anything."""
        self._live()
        _fast.release(self._h, status, reason)
        self._done()

    def _live(self) -> None:
        if self._ended:
            raise ConflictError("the reservation is already settled or released")

    def _done(self) -> None:
        self._ended = True
        h, self._h = self._h, 0
        _fast.free_reservation(h)

    def __enter__(self) -> "Reservation":
        return self

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        if not self._ended:
            self.release("error" if kind is not None else "aborted",
                         repr(exc) if exc is not None else "not settled")

    def __del__(self) -> None:
        # Freeing an unsettled reservation releases it and records the call as aborted.
        h = getattr(self, "_h", 0)
        if h and _fast is not None:
            self._h = 0
            _fast.free_reservation(h)


class RequestReserved(NamedTuple):
    """A provider request reserved: the reservation, and the request body to SEND (the
    caller's, with the output limit the reservation covers and the stream options wflo set)."""

    reservation: Reservation
    body: Dict[str, Any]


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
