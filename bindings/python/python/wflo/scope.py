"""Scope: a step (or agent) of an execution, with an optional budget of its own.

A scope's calls count toward its own limit and every limit above it (its parent scopes and
the execution). Labels are unique within an execution: asking for a label again returns the
same scope. ``workflow.scope(label)`` gives the object; ``async with workflow.step(label)``
runs a block in it (calls made anywhere in the block, and in tasks it starts, are charged
to it); ``scope.child(label)`` / ``scope.step(label)`` nest.
"""
from __future__ import annotations

from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any, AsyncIterator, Iterator, Optional

from . import _fast
from .context import Frame, use
from .errors import invalid, native
from .money import Dollars, to_nanos
from .reservation import RequestReserved, Reservation
from .types import CallRequest

if TYPE_CHECKING:
    from .workflow import WfloWorkflow


class Scope:
    """A step scope of ``workflow``'s execution (make one with :meth:`WfloWorkflow.scope`)."""

    __slots__ = ("workflow", "label", "_native", "_c", "__weakref__")

    def __init__(self, workflow: "WfloWorkflow", native_scope: Any) -> None:
        self.workflow = workflow
        self._native = native_scope  # the UniFFI scope (children, label)
        self.label: str = native_scope.label()
        self._c: int = native_scope.c_handle()  # the same scope's C handle (hot path)

    def child(self, label: str, budget_usd: Optional[Dollars] = None) -> "Scope":
        """A scope nested in this one: its calls count toward its own limit (if any), this
        scope's and the execution's."""
        _check_label(label)
        return Scope(self.workflow, native(self._native.child, label, to_nanos(budget_usd)))

    @contextmanager
    def step_sync(self, label: str, budget_usd: Optional[Dollars] = None) -> Iterator["Scope"]:
        """Runs the block in the child scope ``label``."""
        child = self.child(label, budget_usd)
        with use(Frame(self.workflow, child, child.label)):
            yield child

    @asynccontextmanager
    async def step(self, label: str, budget_usd: Optional[Dollars] = None) -> AsyncIterator["Scope"]:
        """``async with scope.step("search"):`` — the block's calls go to the child scope."""
        with self.step_sync(label, budget_usd) as child:
            yield child

    def reserve(self, request: Optional[CallRequest] = None, **fields: Any) -> Reservation:
        """:meth:`WfloWorkflow.reserve` charged to this scope."""
        return self.workflow.reserve(request, scope=self, **fields)

    async def reserve_async(self, request: Optional[CallRequest] = None, **fields: Any) -> Reservation:
        return await self.workflow.reserve_async(request, scope=self, **fields)

    def reserve_request(self, format: str, request: Any, **options: Any) -> RequestReserved:
        """:meth:`WfloWorkflow.reserve_request` charged to this scope."""
        return self.workflow.reserve_request(format, request, scope=self, **options)

    async def reserve_request_async(self, format: str, request: Any, **options: Any) -> RequestReserved:
        return await self.workflow.reserve_request_async(format, request, scope=self, **options)

    def __del__(self) -> None:
        if _fast is not None and getattr(self, "_c", 0):
            _fast.scope_free(self._c)
            self._c = 0

    def __repr__(self) -> str:
        return f"Scope(label={self.label!r}, execution_id={self.workflow.execution_id!r})"


def _check_label(label: Any) -> None:
    # The type only: what a label may hold (not empty, its length, its characters) is core's rule.
    if not isinstance(label, str):
        raise invalid("a step label must be a string")
