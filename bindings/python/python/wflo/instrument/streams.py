"""Metered streams, the stream helpers' managers, and settling what a call returned.

Why a wrapper and not a subclass: the SDKs build their stream objects in private ways that
differ between openai 2.x, openai 3.x and anthropic (a generator made in ``__init__``, a
cached property on a copy…); a wrapper needs only ``__next__`` / ``__anext__`` and
``close``, public in all of them, and passes every other attribute through.

Why the managers are proxied: the helpers (``chat.completions.stream()``,
``messages.stream()``) close their HTTP response directly, never through the raw stream, so
without the proxy a block left early would hold its reservation until garbage collection.
"""
from __future__ import annotations

from typing import Any, Awaitable, Callable, Optional

from ..errors import WfloError
from ..reservation import Reservation, Stream
from .common import Sdk, release, status_of


class StreamMeter:
    """A stream's events fed to a :class:`wflo.Stream` of ``fmt`` and settled once: "ok" at
    the end, the exception's status on an error ("aborted" when the consumer stops early);
    before any event, an error releases the reservation (the provider answered nothing
    billable). For integrations that see a stream as events rather than as an SDK stream
    object (Google Gen AI, the OpenAI Agents SDK)."""

    def __init__(self, reservation: Reservation, fmt: str) -> None:
        self.reservation = reservation
        self.events = Stream(fmt)
        self.seen = False

    def push(self, event: Any) -> None:
        self.seen = True
        try:
            self.events.push(event)
        except (WfloError, ValueError, TypeError):
            pass  # unreadable: the settlement estimates what it misses

    def end(self, exc: Optional[BaseException]) -> None:
        if self.reservation.ended:
            return
        if exc is not None and not self.seen:
            release(self.reservation, exc)
            return
        try:
            self.reservation.settle_stream(self.events, "ok" if exc is None else status_of(exc))
        except WfloError:
            if exc is None:
                raise


class _Metered:
    """The part of a metered stream that does not depend on sync or async: every event is
    pushed to a :class:`wflo.Stream`, and the call is settled once — "ok" at the end of the
    stream, "error" on an exception, "aborted" when closed early or dropped. Without the
    provider's usage (a cut stream) the engine estimates it from the streamed text and flags
    the call estimated: never free."""

    def __init__(self, inner: Any, reservation: Reservation, fmt: str, hide_usage: bool = False) -> None:
        self._inner = inner
        self._reservation = reservation
        self._events = Stream(fmt)
        self._ended = False
        self._hide_usage = hide_usage  # the caller declined the usage chunk the engine asked for

    def _hidden(self, item: Any) -> bool:
        return self._hide_usage and getattr(item, "usage", None) is not None and not getattr(item, "choices", None)

    def _push(self, item: Any) -> None:
        try:
            self._events.push(item)
        except (WfloError, ValueError, TypeError):
            pass  # an event wflo cannot read: the settlement estimates what it misses

    def _end(self, status: str) -> None:
        if self._ended:
            return
        self._ended = True
        self._reservation.settle_stream(self._events, status)

    def _end_after(self, exc: Optional[BaseException]) -> None:
        """Ends the stream after a block or an iteration ended with ``exc`` (None: left early).
        A failed settlement never replaces the exception already on its way."""
        if exc is None:
            self._end("aborted")
            return
        try:
            self._end(status_of(exc))
        except WfloError:
            pass

    def __getattr__(self, name: str) -> Any:
        inner = self.__dict__.get("_inner")
        if inner is None:
            raise AttributeError(name)
        return getattr(inner, name)

    def __repr__(self) -> str:
        return f"<wflo metered {self.__dict__.get('_inner')!r}>"

    def __del__(self) -> None:
        # Dropped before its end (a loop left with break and the stream forgotten).
        if not self.__dict__.get("_ended", True):
            try:
                self._end("aborted")
            except Exception:
                pass


class MeteredStream(_Metered):
    """Drop-in for the SDK's ``Stream``: iteration, ``with``, ``close()`` and every other
    attribute (``response``, …) behave as the SDK's."""

    def __iter__(self) -> "MeteredStream":
        return self

    def __next__(self) -> Any:
        while True:
            try:
                item = self._inner.__next__()
            except StopIteration:
                self._end("ok")
                raise
            except BaseException as e:
                self._end_after(e)
                raise
            self._push(item)
            if not self._hidden(item):
                return item

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            self._end("aborted")

    def __enter__(self) -> "MeteredStream":
        return self

    def __exit__(self, kind: Any, exc: Optional[BaseException], tb: Any) -> None:
        try:
            self._end_after(exc)
        finally:
            self._inner.close()


class AsyncMeteredStream(_Metered):
    """Drop-in for the SDK's ``AsyncStream``: ``async for``, ``async with``, ``await close()``
    and attribute pass-through."""

    def __aiter__(self) -> "AsyncMeteredStream":
        return self

    async def __anext__(self) -> Any:
        while True:
            try:
                item = await self._inner.__anext__()
            except StopAsyncIteration:
                self._end("ok")
                raise
            except BaseException as e:
                self._end_after(e)
                raise
            self._push(item)
            if not self._hidden(item):
                return item

    async def close(self) -> None:
        try:
            await self._inner.close()
        finally:
            self._end("aborted")

    async def __aenter__(self) -> "AsyncMeteredStream":
        return self

    async def __aexit__(self, kind: Any, exc: Optional[BaseException], tb: Any) -> None:
        try:
            self._end_after(exc)
        finally:
            await self._inner.close()


# -- stream helpers (the managers .stream() returns) ---------------------------------------------

class _ManagerProxy:
    """Around a stream helper's manager. On enter, the helper's raw stream is (or becomes)
    a metered one; on exit the call is settled — "aborted" if the block left before the end,
    the exception's status if it raised — before the SDK closes the response."""

    def __init__(self, manager: Any, reservation: Optional[Reservation], fmt: str) -> None:
        self._manager = manager
        self._reservation = reservation
        self._fmt = fmt
        self._metered: Optional[_Metered] = None

    def _adopt(self, helper: Any) -> Any:
        raw = getattr(helper, "_raw_stream", None)
        if self._reservation is None:
            # openai: the raw stream came through the patched create and is metered already.
            if isinstance(raw, _Metered):
                self._metered = raw
        elif raw is not None:
            self._metered = _wrap_raw(raw, self._reservation, self._fmt)
            helper._raw_stream = self._metered
        else:
            # The helper's events are out of reach (an SDK version without `_raw_stream`):
            # settled on exit as an empty stream — estimated from the prompt, never free.
            self._metered = _Metered(None, self._reservation, self._fmt)
        return helper

    def _end(self, exc: Optional[BaseException]) -> None:
        if self._metered is not None:
            self._metered._end_after(exc)

    def _failed(self, e: BaseException) -> None:
        if self._reservation is not None:
            release(self._reservation, e)

    def __getattr__(self, name: str) -> Any:
        manager = self.__dict__.get("_manager")
        if manager is None:
            raise AttributeError(name)
        return getattr(manager, name)


def _wrap_raw(raw: Any, reservation: Reservation, fmt: str) -> _Metered:
    if hasattr(raw, "__anext__"):
        return AsyncMeteredStream(raw, reservation, fmt)
    return MeteredStream(raw, reservation, fmt)


class MeteredStreamManager(_ManagerProxy):
    def __enter__(self) -> Any:
        try:
            helper = self._manager.__enter__()
        except BaseException as e:
            self._failed(e)
            raise
        return self._adopt(helper)

    def __exit__(self, kind: Any, exc: Optional[BaseException], tb: Any) -> Any:
        try:
            self._end(exc)
        except BaseException:
            self._manager.__exit__(kind, exc, tb)
            raise
        return self._manager.__exit__(kind, exc, tb)


class AsyncMeteredStreamManager(_ManagerProxy):
    async def __aenter__(self) -> Any:
        try:
            helper = await self._manager.__aenter__()
        except BaseException as e:
            self._failed(e)
            raise
        return self._adopt(helper)

    async def __aexit__(self, kind: Any, exc: Optional[BaseException], tb: Any) -> Any:
        try:
            self._end(exc)
        except BaseException:
            await self._manager.__aexit__(kind, exc, tb)
            raise
        return await self._manager.__aexit__(kind, exc, tb)


class DeferredAsyncStreamManager:
    """An async stream helper whose reservation may wait (an approval gate, a stored budget):
    ``open`` — reserving off the event loop, then calling the SDK's helper — runs when the
    block is entered, so the loop never waits and a refusal leaves no request coroutine
    behind (the SDK builds it only then)."""

    def __init__(self, open: Callable[[], Awaitable["AsyncMeteredStreamManager"]]) -> None:
        self._open = open
        self._proxy: Optional[AsyncMeteredStreamManager] = None

    async def __aenter__(self) -> Any:
        self._proxy = await self._open()
        return await self._proxy.__aenter__()

    async def __aexit__(self, kind: Any, exc: Optional[BaseException], tb: Any) -> Any:
        if self._proxy is None:
            return None
        return await self._proxy.__aexit__(kind, exc, tb)


def manager_proxy(manager: Any, reservation: Optional[Reservation], fmt: str) -> _ManagerProxy:
    if hasattr(manager, "__aenter__"):
        return AsyncMeteredStreamManager(manager, reservation, fmt)
    return MeteredStreamManager(manager, reservation, fmt)


# -- what a call returned -------------------------------------------------------------------------

def wrap_stream(sdk: Sdk, stream: Any, reservation: Reservation, fmt: str, hide_usage: bool = False) -> Any:
    if isinstance(stream, sdk.async_stream):
        return AsyncMeteredStream(stream, reservation, fmt, hide_usage)
    return MeteredStream(stream, reservation, fmt, hide_usage)


def finish(sdk: Sdk, result: Any, reservation: Reservation, fmt: str, hide_usage: bool = False) -> Any:
    """The user's result, the call settled from its usage — or its stream wrapped, to be
    settled when the stream ends."""
    try:
        if isinstance(result, (sdk.sync_stream, sdk.async_stream)):
            return wrap_stream(sdk, result, reservation, fmt, hide_usage)
        if isinstance(result, sdk.raw_sync):
            return _raw(sdk, result, result.parse(), reservation, fmt, False, hide_usage)
        reservation.settle_result(fmt, result)
        return result
    except BaseException as e:
        release(reservation, e)
        raise


async def finish_async(sdk: Sdk, result: Any, reservation: Reservation, fmt: str, hide_usage: bool = False) -> Any:
    if not isinstance(result, sdk.raw_async):
        return finish(sdk, result, reservation, fmt, hide_usage)
    try:
        return _raw(sdk, result, await result.parse(), reservation, fmt, True, hide_usage)
    except BaseException as e:
        release(reservation, e)
        raise


def _raw(sdk: Sdk, response: Any, parsed: Any, reservation: Reservation, fmt: str, is_async: bool,
         hide_usage: bool = False) -> Any:
    """``with_raw_response`` / ``with_streaming_response``: the SDK's response object is
    returned as it is. A body is parsed now (the SDK caches the parse, so the user's own
    ``parse()`` gets the same object) and settled; a stream is wrapped, and ``parse()`` is
    shadowed on that one response object to hand the metered stream out."""
    if not isinstance(parsed, (sdk.sync_stream, sdk.async_stream)):
        reservation.settle_result(fmt, parsed)
        return response
    metered = wrap_stream(sdk, parsed, reservation, fmt, hide_usage)
    original = response.parse
    if is_async:
        async def parse_async(*, to: Any = None) -> Any:
            return metered if to is None else await original(to=to)

        response.parse = parse_async
    else:
        def parse(*, to: Any = None) -> Any:
            return metered if to is None else original(to=to)

        response.parse = parse
    return response
