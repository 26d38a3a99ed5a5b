"""The running workflow travels in a ``contextvars.ContextVar``.

asyncio tasks inherit it, so calls made deep inside an agent's code are attributed to the
workflow that runs them and concurrent workflows never mix. Plain threads do NOT inherit
context: frameworks that start worker threads need the context copied in, which the helpers
here do (``asyncio.to_thread`` and ``loop.run_in_executor`` with :func:`wrap` already do).
"""
from __future__ import annotations

import concurrent.futures
import contextvars
import functools
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Iterator, NamedTuple, Optional, TypeVar
from .runners import install_hooks

if TYPE_CHECKING:
    from .scope import Scope
    from .workflow import WfloWorkflow

T = TypeVar("T")


class Frame(NamedTuple):
    workflow: "WfloWorkflow"
    #: The step scope calls are charged to, or None for the execution itself.
    scope: Optional["Scope"]
    label: Optional[str]


_current: contextvars.ContextVar[Optional[Frame]] = contextvars.ContextVar("wflo_current", default=None)


def current_frame() -> Optional[Frame]:
    return _current.get()


def current_workflow() -> Optional["WfloWorkflow"]:
    """The workflow the calling code runs in, or None."""
    frame = _current.get()
    return frame.workflow if frame else None


class _Named(NamedTuple):
    execution_id: str
    workflow_name: Optional[str]


# What an ExecutionContext block names (the seed SDK's context variables).
_named: contextvars.ContextVar[Optional[_Named]] = contextvars.ContextVar("wflo_named_execution", default=None)


def get_current_execution_id() -> Optional[str]:
    """The id of the execution the calling code runs in: the running workflow's ("exec-" + 12
    hex) once it has started, else the id an enclosing :class:`ExecutionContext` names, else
    None. (The seed SDK made up a "temp-…" id outside any execution; wflo says there is none.)"""
    frame = _current.get()
    if frame is not None and frame.workflow.execution_id is not None:
        return frame.workflow.execution_id
    named = _named.get()
    return named.execution_id if named is not None else None


def get_current_workflow_name() -> Optional[str]:
    """The running workflow's name, else the name an enclosing :class:`ExecutionContext`
    gives, else None."""
    frame = _current.get()
    if frame is not None:
        return frame.workflow.name
    named = _named.get()
    return named.workflow_name if named is not None else None


class ExecutionContext:
    """The seed SDK's context manager naming the current execution:
    ``with ExecutionContext(execution_id, workflow_name):`` (or ``async with``) — code in the
    block (and tasks it starts) reads the id from :func:`get_current_execution_id` and the
    name from :func:`get_current_workflow_name`; the previous values come back after.

    It only names an execution: it does not meter anything. Calls are budgeted inside a
    running workflow (``workflow.execute(...)``, ``workflow.step(...)``), whose own id
    :func:`get_current_execution_id` returns first.
    """

    def __init__(self, execution_id: str, workflow_name: Optional[str] = None) -> None:
        if not isinstance(execution_id, str) or not execution_id:
            from .errors import invalid

            raise invalid("execution_id must be a non-empty string")
        self.execution_id = execution_id
        self.workflow_name = workflow_name
        self._tokens: list = []

    def __enter__(self) -> "ExecutionContext":
        self._tokens.append(_named.set(_Named(self.execution_id, self.workflow_name)))
        return self

    def __exit__(self, *exc: Any) -> None:
        _named.reset(self._tokens.pop())

    async def __aenter__(self) -> "ExecutionContext":
        return self.__enter__()

    async def __aexit__(self, *exc: Any) -> None:
        self.__exit__(*exc)


@contextmanager
def use(frame: Frame) -> Iterator[Frame]:
    install_hooks()  # e.g. LangChain's configure hook, so its calls in here are metered
    token = _current.set(frame)
    try:
        yield frame
    finally:
        _current.reset(token)


def wrap(fn: Callable[..., T]) -> Callable[..., T]:
    """``fn`` bound to a copy of the caller's context, to run in another thread."""
    ctx = contextvars.copy_context()

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> T:
        return ctx.run(fn, *args, **kwargs)

    return run


class ContextThreadPoolExecutor(concurrent.futures.ThreadPoolExecutor):
    """A ThreadPoolExecutor whose tasks run in the context of the code that submitted them,
    so LLM calls made in its threads are charged to the right workflow."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> "concurrent.futures.Future[T]":
        return super().submit(contextvars.copy_context().run, fn, *args, **kwargs)
