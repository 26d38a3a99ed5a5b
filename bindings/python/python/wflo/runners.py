"""Where integrations plug into the base layer.

``WfloWorkflow.execute`` runs targets (a function, a LangGraph graph, a CrewAI crew, an AutoGen
team) through a *runner*, and a workflow that starts installs the frameworks' *hooks* (e.g.
LangChain's configure hook) so calls made inside it are metered. Both come from the
integrations, which register them here when they are imported (``wflo/__init__.py`` imports
``wflo.integrations``, which imports no framework); the base modules (``context``,
``workflow``) only ask this registry, so they never import an integration.
"""
from __future__ import annotations

from typing import Any, Callable, List, Optional

from .errors import invalid

_runner_lookup: Optional[Callable[[Any], Any]] = None
_hooks: List[Callable[[], None]] = []


def provide_runners(lookup: Callable[[Any], Any]) -> None:
    """Sets how a target's runner is found (the integrations' ``runner_for``)."""
    global _runner_lookup
    _runner_lookup = lookup


def provide_hooks(install: Callable[[], None]) -> None:
    """Adds a function that installs framework hooks when a workflow's context is entered."""
    if install not in _hooks:
        _hooks.append(install)


def runner_for(target: Any) -> Any:
    """The runner for ``target``."""
    if _runner_lookup is None:
        raise invalid("no runners are registered: import wflo (the package) rather than its modules alone")
    return _runner_lookup(target)


def install_hooks() -> None:
    """Installs every registered framework hook (each is idempotent)."""
    for install in _hooks:
        install()
