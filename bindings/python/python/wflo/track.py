"""``@track_llm_call``: meter a function that makes one LLM call."""
from __future__ import annotations

import functools
import inspect
import os
from typing import Any, Callable, Optional, TypeVar

from .context import current_frame
from .errors import invalid
from .reservation import Reservation
from .instrument.common import request_json, unmetered
from .instrument.reach import reaches_metered_client
from .workflow import current_reserve_request, current_reserve_request_async

F = TypeVar("F", bound=Callable[..., Any])


def tracked_input(args: tuple, kwargs: dict) -> Any:
    """What a tracked function was given as its prompt: its ``messages=`` or ``prompt=``
    keyword, else its first argument. The engine reads it (a string is the user's message, a
    list the messages, a mapping may carry "messages")."""
    if "messages" in kwargs:
        return kwargs["messages"]
    return kwargs.get("prompt", args[0] if args else None)


#: ``WFLO_AUTO_INSTRUMENT=0`` (or false/no/off) keeps ``@track_llm_call`` from instrumenting
#: the installed provider SDKs: every decorated call is then reserved up front.
AUTO_INSTRUMENT_ENV = "WFLO_AUTO_INSTRUMENT"


def _auto_instrument() -> bool:
    """Instruments the installed openai/anthropic SDKs (once; idempotent) unless opted out;
    whether calls through them are metered now."""
    if os.environ.get(AUTO_INSTRUMENT_ENV, "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    from .instrument import instrument

    instrument()
    return True


def track_llm_call(model: str, *, max_tokens: Optional[int] = None, provider: Optional[str] = None,
                   format: str = "auto") -> Callable[[F], F]:
    """Meters a function that makes one LLM call, inside a workflow, before anything is sent.

    * When the function holds an ``openai``/``anthropic`` client itself (an argument, an
      attribute of ``self``, a closure or global variable), the call it makes through that
      client is budgeted from its actual request — its messages, its ``max_tokens`` — because
      wflo instruments those SDKs while a workflow runs (``WFLO_AUTO_INSTRUMENT=0`` opts out).
      The decorator then reserves nothing itself: the call is attributed to the running step.
    * Otherwise — a plain HTTP client, a client reached through another function — the
      decorator cannot see the request and reserves up front: the prompt counted from its
      arguments (``messages=``/``prompt=``, else the first) plus ``max_tokens`` of output
      (None: the model's maximum), settled from the result's usage (an OpenAI or Anthropic
      response, a LangChain message, a dict; without usage the output is estimated and
      flagged). SDK calls inside are then not metered again. A refusal says how to make the
      call precise.

    Either way a call that could overspend is refused with BudgetExceededError before it is
    sent. Sync and async functions; outside a workflow the function runs unmetered."""
    if not isinstance(model, str) or not model:
        raise invalid("track_llm_call needs model=, the model the function calls")

    def request(args: tuple, kwargs: dict) -> str:
        asked: dict = {"model": model, "input": tracked_input(args, kwargs)}
        if max_tokens is not None:
            asked["max_tokens"] = max_tokens
        if provider:
            asked["ls_provider"] = provider
        return request_json(asked)

    def reserve(args: tuple, kwargs: dict) -> Optional[Reservation]:
        # upfront: a refusal says, in the engine's words, how the call was sized and how to
        # make it precise.
        made = current_reserve_request("langchain", request(args, kwargs), upfront=True)
        return made.reservation if made is not None else None

    async def reserve_async(args: tuple, kwargs: dict) -> Optional[Reservation]:
        # Off the event loop when the reservation may wait (an approval gate, a stored budget).
        made = await current_reserve_request_async("langchain", request(args, kwargs), upfront=True)
        return made.reservation if made is not None else None

    def precise(fn: Any, args: tuple, kwargs: dict) -> bool:
        """Inside a workflow: whether the call inside is budgeted from its own request."""
        return _auto_instrument() and reaches_metered_client(fn, args, kwargs)

    def decorate(fn: F) -> F:
        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def tracked_async(*args: Any, **kwargs: Any) -> Any:
                if current_frame() is None or precise(fn, args, kwargs):
                    return await fn(*args, **kwargs)
                reservation = await reserve_async(args, kwargs)
                if reservation is None:
                    return await fn(*args, **kwargs)
                with reservation, unmetered():  # an exception or cancellation releases it
                    result = await fn(*args, **kwargs)
                    reservation.settle_result(format, result)
                return result

            return tracked_async  # type: ignore[return-value]

        @functools.wraps(fn)
        def tracked(*args: Any, **kwargs: Any) -> Any:
            if current_frame() is None or precise(fn, args, kwargs):
                return fn(*args, **kwargs)
            reservation = reserve(args, kwargs)
            if reservation is None:
                return fn(*args, **kwargs)
            with reservation, unmetered():
                result = fn(*args, **kwargs)
                reservation.settle_result(format, result)
            return result

        return tracked  # type: ignore[return-value]

    return decorate
