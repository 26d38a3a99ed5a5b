"""Whether a function reaches a metered SDK client: what ``@track_llm_call`` asks to decide
between budgeting the call inside from its actual request and reserving up front.

A decorated function can be budgeted precisely only when its LLM call goes through a client
that ``instrument()`` meters: that call reserves from its real request (messages,
``max_tokens``). The decorator cannot see the call before it is made, so it looks at what the
function itself refers to — its arguments (and ``self``'s attributes), the variables its
closure captured and the globals its code names — for an ``openai``/``anthropic`` client (or
one of their metered resources) whose methods are metered now. Anything it cannot see — a
client reached through another function, a plain HTTP client — leaves the decorator reserving
up front, the side that can never send a call without a reservation.
"""
from __future__ import annotations

import sys
from typing import Any, Iterable, Iterator

from .common import Sdk


def _sdks() -> Iterator[Sdk]:
    """The SDKs already imported (a function cannot hold a client of one that is not)."""
    from . import anthropic, openai

    for module in (openai, anthropic):
        if module.__name__.rsplit(".", 1)[1] in sys.modules:
            sdk = module.load()
            if sdk is not None:
                yield sdk


def _metered(method: Any) -> bool:
    patch = getattr(getattr(method, "__func__", method), "__wflo_patch__", None)
    return patch is not None and patch.on


def _resources(sdk: Sdk, value: Any) -> Iterator[Any]:
    """The metered resources ``value`` is or holds (a client: along its resource paths)."""
    if sdk.endpoints(value):
        yield value
        return
    for path in sdk.client_paths:
        node = value
        for name in path:
            node = getattr(node, name, None) if type(node).__module__.split(".")[0] == sdk.name else None
            if node is None:
                break
        if node is not None and sdk.endpoints(node):
            yield node


def _reaches(sdk: Sdk, value: Any) -> bool:
    if type(value).__module__.split(".")[0] != sdk.name:
        return False
    return any(_metered(getattr(r, name, None)) for r in _resources(sdk, value) for name in sdk.endpoints(r))


def _candidates(fn: Any, args: tuple, kwargs: dict) -> Iterable[Any]:
    yield from args
    yield from kwargs.values()
    if args:  # a method: the client is often an attribute of self
        yield from getattr(args[0], "__dict__", {}).values()
    fn = getattr(fn, "__wrapped__", fn)
    for cell in getattr(fn, "__closure__", None) or ():
        try:
            yield cell.cell_contents
        except ValueError:  # an empty cell
            continue
    code, names = getattr(fn, "__code__", None), getattr(fn, "__globals__", {})
    for name in code.co_names if code is not None else ():
        if name in names:
            yield names[name]


def reaches_metered_client(fn: Any, args: tuple, kwargs: dict) -> bool:
    """Whether ``fn`` called with ``args``/``kwargs`` visibly holds a client whose calls are
    metered now (so its LLM call is budgeted from its actual request)."""
    sdks = list(_sdks())
    if not sdks:
        return False
    return any(_reaches(sdk, value) for value in _candidates(fn, args, kwargs) for sdk in sdks)
