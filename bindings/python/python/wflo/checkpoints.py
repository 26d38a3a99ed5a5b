"""``@checkpoint(name=…)``: save what a step returned, so the workflow can roll back to it;
``checkpoint_after_agent(task, agent_name)``: the same after a CrewAI task's agent finishes."""
from __future__ import annotations

import asyncio
import functools
import inspect
import time
from typing import Any, Callable, Optional, TypeVar, Union

from .context import current_workflow
from .errors import invalid
from .workflow import state_json

F = TypeVar("F", bound=Callable[..., Any])


def checkpoint(name: Union[str, None, Callable[..., Any]] = None) -> Any:
    """Saves the decorated function's return value as checkpoint ``name`` (default: the
    function's name) of the running workflow, committed before the function's caller gets it;
    ``await workflow.rollback_to_checkpoint(name)`` gives it back. A return value JSON cannot
    hold raises InvalidArgumentError. Outside a workflow — or in one made with
    ``enable_checkpointing=False`` — the function runs without saving. ``@checkpoint`` without
    parentheses works too, as in the seed SDK."""
    if callable(name):  # @checkpoint, bare
        return checkpoint(None)(name)
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


def checkpoint_after_agent(task: Any, agent_name: str) -> Any:
    """The seed SDK's ``task = checkpoint_after_agent(task, agent_name="researcher")``: when
    the CrewAI task (anything with a ``callback`` attribute CrewAI calls with the task's
    output) finishes, its output is saved as checkpoint ``agent_<agent_name>`` of the running
    workflow — ``{"agent", "output" (its text), "timestamp"}`` — then the task's own callback,
    if any, runs. Returns the task. No workflow, or ``enable_checkpointing=False``: nothing is
    saved."""
    if not isinstance(agent_name, str) or not agent_name.strip():
        raise invalid("checkpoint_after_agent needs agent_name, a non-empty string")
    if not hasattr(task, "callback"):
        raise invalid(f"checkpoint_after_agent wraps a task with a callback (a crewai.Task), not a "
                      f"{type(task).__name__}")
    original = task.callback
    label = f"agent_{agent_name}"

    def saving(output: Any) -> Any:
        workflow = current_workflow()
        if workflow is not None:
            text = getattr(output, "raw", None)
            workflow.checkpoint_sync(label, {"agent": agent_name, "output": text if isinstance(text, str) else str(output),
                                             "timestamp": time.time()})
        if original is not None:
            result = original(output)
            if inspect.isawaitable(result):  # the seed SDK's callbacks were coroutines; CrewAI
                return asyncio.run(_awaited(result))  # calls this on a thread of its own
            return result
        return None

    task.callback = saving
    return task


async def _awaited(awaitable: Any) -> Any:
    return await awaitable
