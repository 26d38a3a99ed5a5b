"""Where integrations plug into the base layer.

``WfloWorkflow.execute`` runs targets (a function, a LangGraph graph, a CrewAI crew, an AutoGen
team) through a *runner*, and a workflow that starts installs the frameworks' *hooks* (e.g.
LangChain's configure hook) so calls made inside it are metered. Both come from the
integrations, which register them here when they are imported: on the first question asked
here (so ``import wflo`` stays light; ``wflo.integrations`` imports no framework either). The
base modules (``context``, ``workflow``) only ask this registry, so they never import an
integration themselves.
"""
from __future__ import annotations

from importlib import import_module
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


def _registered() -> None:
    """Imports the integrations, which register their runners and hooks, unless they have."""
    if _runner_lookup is None:
        import_module("wflo.integrations")
    if _runner_lookup is None:
        raise invalid("wflo.integrations registered no runners")


def runner_for(target: Any) -> Any:
    """The runner for ``target``."""
    _registered()
    assert _runner_lookup is not None
    return _runner_lookup(target)


def install_hooks() -> None:
    """Installs every registered framework hook (each is idempotent)."""
    _registered()
    for install in _hooks:
        install()
