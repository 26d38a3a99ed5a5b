"""How ``WfloWorkflow.execute`` runs each kind of target.

Frameworks are recognised by their real classes (``isinstance`` against the framework's own
base class), never by the shape of an object, and only when the framework is already imported
— a program that does not use CrewAI never imports it.
"""
from __future__ import annotations

import asyncio
import inspect
import sys
from typing import Any, Callable, List, Optional, Tuple

from .. import runners as _runners
from ..errors import invalid


class Runner:
    """Runs one kind of target inside a workflow (the workflow's context is already set)."""

    name = "function"

    async def run_async(self, workflow: Any, target: Any, inputs: Any, config: Optional[dict]) -> Any:
        if config is not None:
            raise invalid("config is for LangGraph graphs and LangChain runnables")
        if _is_async(target):
            return await target(inputs)
        # A plain function runs in a worker thread (to_thread copies the context), so a
        # blocking agent never stalls the event loop; an awaitable it returns is awaited.
        result = await asyncio.to_thread(target, inputs)
        return await result if inspect.isawaitable(result) else result

    def run_sync(self, workflow: Any, target: Any, inputs: Any, config: Optional[dict]) -> Any:
        if config is not None:
            raise invalid("config is for LangGraph graphs and LangChain runnables")
        result = target(inputs)
        if inspect.isawaitable(result):
            return _run_coroutine(result)
        return result


def _is_async(fn: Any) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(fn, "__call__", None))


def _run_coroutine(awaitable: Any) -> Any:
    """Runs an awaitable to completion from sync code (in a fresh event loop)."""

    async def wait() -> Any:
        return await awaitable

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(wait())
    raise invalid("execute_sync was called from a running event loop with an async target: use await execute()")


def _loaded(module: str) -> bool:
    return module in sys.modules


# (is it this framework's object?, the runner's module) in the order they are tried.
def _framework_runners() -> List[Tuple[Callable[[Any], bool], str]]:
    return [
        (_is_crew, "crewai"),
        (_is_autogen, "autogen"),
        (_is_runnable, "langchain"),
    ]


def _is_runnable(target: Any) -> bool:
    if not _loaded("langchain_core.runnables"):
        return False
    from langchain_core.runnables import Runnable

    return isinstance(target, Runnable)


def _is_crew(target: Any) -> bool:
    if not _loaded("crewai"):
        return False
    from crewai import Crew

    return isinstance(target, Crew)


def _is_autogen(target: Any) -> bool:
    if not _loaded("autogen_agentchat"):
        return False
    # TaskRunner is a plain (not runtime-checkable) Protocol: check its two real bases.
    from autogen_agentchat.base import ChatAgent, Team

    return isinstance(target, (ChatAgent, Team))


_hooked = False


def install_hooks() -> None:
    """Installs the process-wide hooks of frameworks already imported — today LangChain's
    configure hook, which meters LangChain calls made anywhere inside a workflow without
    passing callbacks. Called whenever code enters a workflow; cheap once done."""
    global _hooked
    if not _hooked and _loaded("langchain_core"):
        _hooked = True
        try:
            from . import langchain  # noqa: F401  (registers the hook on import)
        except ImportError as e:  # never break the workflow itself over it
            import warnings

            warnings.warn(f"wflo cannot install its LangChain handler, so LangChain calls are not metered: {e}",
                          RuntimeWarning)


def runner_for(target: Any) -> Runner:
    """The runner for ``target``; a clear error for what ``execute`` cannot run."""
    for matches, module in _framework_runners():
        if matches(target):
            import importlib

            return importlib.import_module(f"{__name__}.{module}").RUNNER
    if callable(target):
        return Runner()
    raise invalid(f"execute cannot run a {type(target).__name__}: give it a function, a LangGraph graph or "
                  "LangChain runnable, a CrewAI Crew, or an AutoGen team or agent")


# The base layer finds runners and hooks through wflo.runners; registering here (wflo's
# package imports this module) keeps the base modules free of imports of the integrations.
_runners.provide_runners(runner_for)
_runners.provide_hooks(install_hooks)
