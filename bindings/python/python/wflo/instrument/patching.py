"""The wrappers that replace the SDK methods, and where they are installed.

``instrument()`` replaces the methods on the SDKs' resource CLASSES (every client, existing
or future); ``instrument(client)`` sets instance attributes on that client's resource objects
(other clients untouched) and follows its ``with_options()`` / ``copy()`` copies. Either way
the reservation is made in the wrapper, BEFORE the original method runs: a refusal is wflo's
own ``BudgetExceededError`` raised in the caller's frame, so the SDK neither wraps it
(APIConnectionError) nor retries it, and no request leaves the process.

Every wrapper carries a switch that ``uninstrument()`` turns off: a bound method an SDK
object captured while instrumented (``with_raw_response`` views cache them) then passes calls
through instead of metering behind the user's back.
"""
from __future__ import annotations

import functools
import threading
import weakref
from types import MethodType
from typing import Any, Callable, Dict, List

from ..context import current_frame
from ..workflow import current_reserve_request
from .common import Endpoint, Sdk, UNMETERED, options_of, release, sdk_request, send_kwargs
from .streams import DeferredAsyncStreamManager, finish, finish_async, manager_proxy


# -- the metered method --------------------------------------------------------------------------

class Patch:
    """One installed wrapper and what it replaced. ``on`` False: the wrapper passes through.
    Only weak references to the patched object and its client: the registry must not keep an
    instrumented client alive."""

    def __init__(self, owner: Any, name: str, original: Any, had_own: bool, client: Any = None) -> None:
        self.owner_ref = weakref.ref(owner)
        self.client_ref = weakref.ref(client) if client is not None else None
        self.name = name
        self.original = original
        self.had_own = had_own  # the owner had its own attribute (restored) or inherited it (deleted)
        self.on = True

    def is_installed(self) -> bool:
        owner = self.owner_ref()
        return owner is not None and getattr(owner.__dict__.get(self.name), "__wflo_patch__", None) is self


def _frame(patch: "Patch") -> Any:
    """The workflow frame to charge, or None when this call passes through untouched."""
    if not patch.on or UNMETERED.get():
        return None
    return current_frame()


def _declines_usage(fmt: str, asked: Dict[str, Any]) -> bool:
    """The caller said ``include_usage: False`` on a chat stream: the engine asks for the usage
    anyway (the call is billed from it), and the usage chunk is kept from the caller."""
    options = asked.get("stream_options")
    return fmt == "openai_chat" and isinstance(options, dict) and options.get("include_usage") is False


def make_wrapper(sdk: Sdk, endpoint: Endpoint, original: Callable[..., Any], patch: Patch,
                 is_async: bool) -> Callable[..., Any]:
    """The function that replaces ``original`` (an unbound function taking the resource).
    ``is_async``: the resource is an async one — known from its class, since some async SDK
    methods are plain functions that return a coroutine (a decorator in between)."""
    fmt = endpoint.format

    if endpoint.kind == "helper":
        @functools.wraps(original)
        def helper(self: Any, *args: Any, **kwargs: Any) -> Any:
            manager = original(self, *args, **kwargs)
            if _frame(patch) is None:
                return manager
            return manager_proxy(manager, None, fmt)

        wrapper: Callable[..., Any] = helper

    elif endpoint.kind == "stream":
        @functools.wraps(original)
        def stream(self: Any, *args: Any, **kwargs: Any) -> Any:
            frame = _frame(patch)
            if frame is None:
                return original(self, *args, **kwargs)
            asked, kwargs = sdk_request(kwargs, sdk)
            if is_async and frame.workflow._reserves_off_loop():
                # A reservation that may wait (a person, the store) must not run here on the
                # event loop: reserved when the block is entered, off the loop, and the SDK's
                # helper called only then.
                return DeferredAsyncStreamManager(
                    functools.partial(_open_stream, self, args, kwargs, asked, frame, endpoint, original))
            # Reserved now, synchronously: the async helper builds its request coroutine here,
            # so refusing later would leave that coroutine never awaited.
            made = current_reserve_request(fmt, asked, **options_of(self, endpoint))
            reservation = made.reservation  # type: ignore[union-attr]
            kwargs = send_kwargs(kwargs, asked, made.body)  # type: ignore[union-attr]
            try:
                manager = original(self, *args, **kwargs)
            except BaseException as e:
                release(reservation, e)  # type: ignore[arg-type]
                raise
            return manager_proxy(manager, reservation, fmt)

        wrapper = stream

    elif is_async:
        @functools.wraps(original)
        async def call_async(self: Any, *args: Any, **kwargs: Any) -> Any:
            frame = _frame(patch)
            if frame is None:
                return await original(self, *args, **kwargs)
            asked, kwargs = sdk_request(kwargs, sdk)
            # reserve_request_async: with shared scopes (stored budgets) the loop never waits on
            # the store.
            made = await frame.workflow.reserve_request_async(fmt, asked, **options_of(self, endpoint))
            reservation = made.reservation
            kwargs = send_kwargs(kwargs, asked, made.body)
            token = UNMETERED.set(True)
            try:
                result = await original(self, *args, **kwargs)
            except BaseException as e:
                release(reservation, e)
                raise
            finally:
                UNMETERED.reset(token)
            return await finish_async(sdk, result, reservation, fmt, _declines_usage(fmt, asked))

        wrapper = call_async

    else:
        @functools.wraps(original)
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            frame = _frame(patch)
            if frame is None:
                return original(self, *args, **kwargs)
            asked, kwargs = sdk_request(kwargs, sdk)
            made = current_reserve_request(fmt, asked, **options_of(self, endpoint))
            reservation = made.reservation  # type: ignore[union-attr]
            kwargs = send_kwargs(kwargs, asked, made.body)  # type: ignore[union-attr]
            token = UNMETERED.set(True)
            try:
                result = original(self, *args, **kwargs)
            except BaseException as e:
                release(reservation, e)  # type: ignore[arg-type]
                raise
            finally:
                UNMETERED.reset(token)
            return finish(sdk, result, reservation, fmt, _declines_usage(fmt, asked))  # type: ignore[arg-type]

        wrapper = call

    wrapper.__wflo_original__ = original  # type: ignore[attr-defined]
    wrapper.__wflo_patch__ = patch  # type: ignore[attr-defined]
    return wrapper


async def _open_stream(resource: Any, args: tuple, kwargs: Dict[str, Any], asked: Dict[str, Any], frame: Any,
                       endpoint: Endpoint, original: Callable[..., Any]) -> Any:
    """An async stream helper reserved off the event loop (on the step the call was made in),
    then called with the body to send: its metered manager."""
    made = await frame.workflow.reserve_request_async(endpoint.format, asked, scope=frame.scope,
                                                      **options_of(resource, endpoint))
    kwargs = send_kwargs(kwargs, asked, made.body)
    try:
        manager = original(resource, *args, **kwargs)
    except BaseException as e:
        release(made.reservation, e)
        raise
    return manager_proxy(manager, made.reservation, endpoint.format)


# -- installing and removing patches -------------------------------------------------------------

_lock = threading.RLock()
_patches: List[Patch] = []
_RAW_VIEWS = ("with_raw_response", "with_streaming_response")


def patch_class(sdk: Sdk, cls: type, name: str, endpoint: Endpoint) -> None:
    """Global: replaces ``cls.name`` so every client of the SDK is metered."""
    with _lock:
        current = cls.__dict__.get(name)
        if current is None or getattr(current, "__wflo_patch__", None) is not None:
            return  # not in this SDK version, or patched already
        patch = Patch(cls, name, current, True)
        setattr(cls, name, make_wrapper(sdk, endpoint, current, patch, issubclass(cls, sdk.async_resource)))
        _patches.append(patch)


def patch_client(sdk: Sdk, client: Any) -> bool:
    """Per client: its resources get instance attributes (the class stays untouched), and its
    ``with_options()`` / ``copy()`` copies are instrumented too. True if a resource was found."""
    found = False
    with _lock:
        _patches[:] = [p for p in _patches if p.owner_ref() is not None]  # clients since collected
        for path in sdk.client_paths:
            owners: List[Any] = [client]
            try:
                for attr in path:
                    owners.append(getattr(owners[-1], attr))
            except AttributeError:
                continue
            resource = owners[-1]
            endpoints = sdk.endpoints(resource)
            if not endpoints:
                continue
            found = True
            for name, endpoint in endpoints.items():
                _patch_instance(sdk, resource, name, endpoint, client)
            # Views built from the resource's methods before now hold the unpatched ones.
            for owner in owners:
                for view in _RAW_VIEWS:
                    vars(owner).pop(view, None)
        if found:
            for name in ("copy", "with_options"):
                _patch_copy(sdk, client, name)
    return found


def _patch_instance(sdk: Sdk, resource: Any, name: str, endpoint: Endpoint, client: Any) -> None:
    own = vars(resource).get(name)
    if own is not None and getattr(own, "__wflo_patch__", None) is not None:
        return
    function = getattr(type(resource), name, None)
    if function is None:
        return
    # The SDK's own method even when the class is patched too: one call, one reservation.
    original = getattr(function, "__wflo_original__", function)
    patch = Patch(resource, name, own, own is not None, client)
    wrapper = make_wrapper(sdk, endpoint, original, patch, isinstance(resource, sdk.async_resource))
    vars(resource)[name] = MethodType(wrapper, resource)
    _patches.append(patch)


def _patch_copy(sdk: Sdk, client: Any, name: str) -> None:
    function = getattr(type(client), name, None)
    own = vars(client).get(name)
    if function is None or (own is not None and getattr(own, "__wflo_patch__", None) is not None):
        return
    patch = Patch(client, name, own, own is not None, client)

    @functools.wraps(function)
    def copy(self: Any, *args: Any, **kwargs: Any) -> Any:
        new = function(self, *args, **kwargs)
        if patch.on:
            patch_client(sdk, new)
        return new

    copy.__wflo_patch__ = patch  # type: ignore[attr-defined]
    vars(client)[name] = MethodType(copy, client)
    _patches.append(patch)


def unpatch(client: Any = None) -> None:
    """Removes the patches: all of them, or only those ``instrument(client)`` installed."""
    with _lock:
        keep: List[Patch] = []
        for patch in _patches:
            owner = patch.owner_ref()
            mine = client is None or (patch.client_ref is not None and patch.client_ref() is client)
            if owner is None:
                continue
            if not mine:
                keep.append(patch)
                continue
            installed = patch.is_installed()
            patch.on = False
            table = vars(owner) if not isinstance(owner, type) else None
            if installed:
                if table is None:
                    setattr(owner, patch.name, patch.original)
                elif patch.had_own:
                    table[patch.name] = patch.original
                else:
                    del table[patch.name]
            if table is not None:
                for view in _RAW_VIEWS:
                    table.pop(view, None)
        _patches[:] = keep
