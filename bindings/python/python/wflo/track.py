"""``@track_llm_call``: meter a function that makes one LLM call."""
from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Optional, TypeVar

from .context import current_frame
from .errors import invalid
from .reservation import Reservation
from .types import CallRequest
from .workflow import current_reserve

F = TypeVar("F", bound=Callable[..., Any])


def prompt_messages(args: tuple, kwargs: dict) -> list:
    """The prompt a tracked function was given: ``messages=``/``prompt=`` keywords, else its
    first argument (a string, a list of messages, or a dict with "messages")."""
    if "messages" in kwargs:
        return list(kwargs["messages"])
    first = kwargs.get("prompt", args[0] if args else None)
    if isinstance(first, str):
        return [{"role": "user", "content": first}]
    if isinstance(first, list):
        return first
    if isinstance(first, dict) and isinstance(first.get("messages"), list):
        return first["messages"]
    return []


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

    def reserve(args: tuple, kwargs: dict) -> Optional[Reservation]:
        frame = current_frame()
        if frame is None:
            return None
        count = frame.workflow.engine.count_chat_tokens(model, prompt_messages(args, kwargs))
        return current_reserve(CallRequest(model=model, provider=provider, input_tokens=count.tokens,
                                           input_estimated=count.estimated, max_output_tokens=max_tokens))

    def decorate(fn: F) -> F:
        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def tracked_async(*args: Any, **kwargs: Any) -> Any:
                reservation = reserve(args, kwargs)
                if reservation is None:
                    return await fn(*args, **kwargs)
                with reservation:  # an exception or cancellation releases it
                    result = await fn(*args, **kwargs)
                    reservation.settle_result(result, format)
                return result

            return tracked_async  # type: ignore[return-value]

        @functools.wraps(fn)
        def tracked(*args: Any, **kwargs: Any) -> Any:
            reservation = reserve(args, kwargs)
            if reservation is None:
                return fn(*args, **kwargs)
            with reservation:
                result = fn(*args, **kwargs)
                reservation.settle_result(result, format)
            return result

        return tracked  # type: ignore[return-value]

    return decorate
