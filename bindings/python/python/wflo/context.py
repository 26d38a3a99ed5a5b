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
