"""``@track_llm_call``: meter a function that makes one LLM call."""
from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Optional, TypeVar

from .errors import invalid
from .reservation import Reservation
from .instrument.common import request_json
from .workflow import current_reserve_request, current_reserve_request_async

F = TypeVar("F", bound=Callable[..., Any])


def tracked_input(args: tuple, kwargs: dict) -> Any:
    """What a tracked function was given as its prompt: its ``messages=`` or ``prompt=``
    keyword, else its first argument. The engine reads it (a string is the user's message, a
    list the messages, a mapping may carry "messages")."""
    if "messages" in kwargs:
        return kwargs["messages"]
    return kwargs.get("prompt", args[0] if args else None)


def track_llm_call(model: str, *, max_tokens: Optional[int] = None, provider: Optional[str] = None,
                   format: str = "auto") -> Callable[[F], F]:
    """Inside a workflow, the decorated function's call is budgeted BEFORE it runs — its prompt
    counted from its arguments plus ``max_tokens`` of output (None: the model's maximum) — and
    refused with BudgetExceededError when that could overspend. Its result's usage (an OpenAI
    or Anthropic response, a LangChain message, a dict) is recorded after; without usage the
    output is estimated and flagged. Sync and async functions; outside a workflow the function
    runs unmetered."""
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
        made = current_reserve_request("langchain", request(args, kwargs))
        return made.reservation if made is not None else None

    async def reserve_async(args: tuple, kwargs: dict) -> Optional[Reservation]:
        # Off the event loop when the reservation may wait (an approval gate, a stored budget).
        made = await current_reserve_request_async("langchain", request(args, kwargs))
        return made.reservation if made is not None else None

    def decorate(fn: F) -> F:
        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def tracked_async(*args: Any, **kwargs: Any) -> Any:
                reservation = await reserve_async(args, kwargs)
                if reservation is None:
                    return await fn(*args, **kwargs)
                with reservation:  # an exception or cancellation releases it
                    result = await fn(*args, **kwargs)
                    reservation.settle_result(format, result)
                return result

            return tracked_async  # type: ignore[return-value]

        @functools.wraps(fn)
        def tracked(*args: Any, **kwargs: Any) -> Any:
            reservation = reserve(args, kwargs)
            if reservation is None:
                return fn(*args, **kwargs)
            with reservation:
                result = fn(*args, **kwargs)
                reservation.settle_result(format, result)
            return result

        return tracked  # type: ignore[return-value]

    return decorate
