"""``@checkpoint(name=…)``: save what a step returned, so the workflow can roll back to it."""
from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Optional, TypeVar

from .context import current_workflow
from .errors import invalid
from .workflow import state_json

F = TypeVar("F", bound=Callable[..., Any])


def checkpoint(name: Optional[str] = None) -> Callable[[F], F]:
    """Saves the decorated function's return value as checkpoint ``name`` (default: the
    function's name) of the running workflow, committed before the function's caller gets it;
    ``await workflow.rollback_to_checkpoint(name)`` gives it back. A return value JSON cannot
    hold raises InvalidArgumentError. Outside a workflow the function runs without saving."""
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise invalid("checkpoint name must be a non-empty string")

    def decorate(fn: F) -> F:
        label = name or fn.__name__

        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def saving_async(*args: Any, **kwargs: Any) -> Any:
                result = await fn(*args, **kwargs)
                workflow = current_workflow()
                if workflow is not None:
                    await workflow.checkpoint(label, result)
                return result

            return saving_async  # type: ignore[return-value]

        @functools.wraps(fn)
        def saving(*args: Any, **kwargs: Any) -> Any:
            result = fn(*args, **kwargs)
            workflow = current_workflow()
            if workflow is not None:
                workflow.checkpoint_sync(label, result)
            else:
                state_json(result)  # the same error inside and outside a workflow
            return result

        return saving  # type: ignore[return-value]

    return decorate
