"""The hot path: cost, reserve and settle through libwflo's C ABI with ctypes.

Everything else goes through the UniFFI objects, but a UniFFI call from Python lowers each
string and record into a buffer the library allocates (three or four foreign calls and a few
dozen Python operations: ~30 µs for a cost). These three operations run on every LLM call, so
they call the same library's C functions directly with preallocated structs (~1 µs). Both doors
lead to the same engine: the UniFFI objects hand out C handles to themselves (``c_handle()``).
"""
from __future__ import annotations

import ctypes
import json
import os
import threading
from ctypes import POINTER, byref, c_bool, c_char_p, c_int32, c_size_t, c_uint32, c_uint64, c_void_p
from typing import Optional

from . import _ffi
from .errors import WfloError, from_details
from .types import Settled, Usage


def _library() -> ctypes.CDLL:
    # The very file UniFFI loaded (dlopen returns the same instance), so handles are shared.
    here = os.path.dirname(_ffi.__file__)
    for name in ("libwflo.so", "libwflo.dylib", "wflo.dll"):
        path = os.path.join(here, name)
        if os.path.exists(path):
            return ctypes.CDLL(path)
    raise ImportError(f"libwflo not found next to {_ffi.__file__}")


class _CUsage(ctypes.Structure):
    _fields_ = [(name, c_uint64) for name in
                ("input", "output", "cache_read", "cache_write_5m", "cache_write_1h", "reasoning")]


class _CSettled(ctypes.Structure):
    _fields_ = [("seq", c_uint64), ("cost_nanos", c_uint64), ("reserved_nanos", c_uint64),
                ("overrun_nanos", c_uint64), ("usage", _CUsage), ("estimated", c_bool),
                ("usage_missing", c_bool)]


class _CRequest(ctypes.Structure):
    _fields_ = [("model", c_char_p), ("model_len", c_size_t), ("provider", c_char_p),
                ("provider_len", c_size_t), ("input_tokens", c_uint64), ("input_count", c_uint32),
                ("max_output_tokens", c_uint64), ("cache_write", c_uint32), ("stream", c_bool),
                ("clamp_max_tokens", c_bool)]


_lib = _library()


def _fn(name: str, argtypes: list, restype=c_int32):
    f = getattr(_lib, name)
    f.argtypes = argtypes
    f.restype = restype
    return f


_last_error_json = _fn("wflo_last_error_json", [], c_char_p)
_cost = _fn("wflo_cost", [c_void_p, c_char_p, c_size_t, POINTER(_CUsage), POINTER(c_uint64)])
_reserve = _fn("wflo_reserve", [c_void_p, c_void_p, POINTER(_CRequest), POINTER(c_void_p)])
_settle = _fn("wflo_reservation_settle", [c_void_p, POINTER(_CUsage), POINTER(_CSettled)])
_settle_json = _fn("wflo_reservation_settle_json",
                   [c_void_p, c_char_p, c_size_t, c_char_p, c_size_t, POINTER(_CSettled)])
_release = _fn("wflo_reservation_release", [c_void_p, c_char_p, c_size_t, c_char_p, c_size_t])
_amount = _fn("wflo_reservation_amount_nanos", [c_void_p], c_uint64)
_max_output = _fn("wflo_reservation_max_output_tokens", [c_void_p], c_uint64)
_reservation_free = _fn("wflo_reservation_free", [c_void_p], None)
engine_free = _fn("wflo_engine_free", [c_void_p], None)
execution_free = _fn("wflo_execution_free", [c_void_p], None)
scope_free = _fn("wflo_scope_free", [c_void_p], None)

# Each thread fills its own structs (a call never shares them with another thread).
_scratch = threading.local()


def _structs():
    try:
        return _scratch.structs
    except AttributeError:
        usage, settled, request, out = _CUsage(), _CSettled(), _CRequest(), c_uint64()
        _scratch.structs = s = (usage, settled, request, out, byref(usage), byref(settled), byref(request),
                                byref(out))
        return s


def _error() -> WfloError:
    text = _last_error_json()
    return from_details(json.loads(text) if text else {"code": "INTERNAL", "message": "unknown error"})


def _bad_counts() -> WfloError:
    return from_details({"code": "INVALID_ARGUMENT",
                         "message": "invalid argument: token counts must be non-negative integers"})


def _fill(u: _CUsage, usage: Usage) -> None:
    try:
        if min(usage.input, usage.output, usage.cache_read, usage.cache_write_5m, usage.cache_write_1h,
               usage.reasoning) < 0:
            raise TypeError
    except TypeError:
        raise _bad_counts() from None
    u.input, u.output, u.cache_read = usage.input, usage.output, usage.cache_read
    u.cache_write_5m, u.cache_write_1h, u.reasoning = usage.cache_write_5m, usage.cache_write_1h, usage.reasoning


def _settled(s: _CSettled) -> Settled:
    u = s.usage
    return Settled(s.seq, s.cost_nanos, s.reserved_nanos, s.overrun_nanos, bool(s.estimated),
                   bool(s.usage_missing),
                   Usage(u.input, u.output, u.cache_read, u.cache_write_5m, u.cache_write_1h, u.reasoning))


def cost(engine: int, model: str, input: int = 0, output: int = 0, cache_read: int = 0, cache_write_5m: int = 0,
         cache_write_1h: int = 0, reasoning: int = 0) -> int:
    """The cost in nano-USD of a usage on a model."""
    u, _, _, out, uref, _, _, oref = _structs()
    try:
        # ctypes would wrap a negative count around to 2^64 - 1 silently.
        if min(input, output, cache_read, cache_write_5m, cache_write_1h, reasoning) < 0:
            raise TypeError
        u.input, u.output, u.cache_read = input, output, cache_read
        u.cache_write_5m, u.cache_write_1h, u.reasoning = cache_write_5m, cache_write_1h, reasoning
    except TypeError:
        raise _bad_counts() from None
    m = model.encode()
    if _cost(engine, m, len(m), uref, oref):
        raise _error()
    return out.value


COUNT_AUTO, COUNT_EXACT, COUNT_ESTIMATED = 0, 1, 2
CACHE_WRITE = {None: 0, "none": 0, "5m": 1, "1h": 2}


def reserve(execution: int, scope: Optional[int], model: str, provider: Optional[str], input_tokens: int,
            input_count: int, max_output_tokens: int, cache_write: int, stream: bool, clamp: bool) -> int:
    """A reservation handle (an int), or the typed error (a refusal is BudgetExceededError)."""
    _, _, r, _, _, _, rref, _ = _structs()
    m = model.encode()
    r.model, r.model_len = m, len(m)
    if provider:
        p = provider.encode()
        r.provider, r.provider_len = p, len(p)
    else:
        r.provider, r.provider_len = None, 0
    if input_tokens < 0 or max_output_tokens < 0:
        raise _bad_counts()
    r.input_tokens, r.input_count, r.max_output_tokens = input_tokens, input_count, max_output_tokens
    r.cache_write, r.stream, r.clamp_max_tokens = cache_write, stream, clamp
    handle = c_void_p()
    if _reserve(execution, scope, rref, byref(handle)):
        raise _error()
    return handle.value


def amount_nanos(reservation: int) -> int:
    return _amount(reservation)


def max_output_tokens(reservation: int) -> int:
    return _max_output(reservation)


def settle(reservation: int, usage: Usage) -> Settled:
    u, s, _, _, uref, sref, _, _ = _structs()
    _fill(u, usage)
    if _settle(reservation, uref, sref):
        raise _error()
    return _settled(s)


def settle_json(reservation: int, format: str, text: str) -> Settled:
    _, s, _, _, _, sref, _, _ = _structs()
    f, t = format.encode(), text.encode()
    if _settle_json(reservation, f, len(f), t, len(t), sref):
        raise _error()
    return _settled(s)


def release(reservation: int, status: str, reason: Optional[str]) -> None:
    st = status.encode()
    why = reason.encode() if reason else None
    if _release(reservation, st, len(st), why, len(why) if why else 0):
        raise _error()


def free_reservation(reservation: int) -> None:
    _reservation_free(reservation)


_stream_new = _fn("wflo_stream_new", [c_char_p, c_size_t, POINTER(c_void_p)])
_stream_push = _fn("wflo_stream_push", [c_void_p, c_char_p, c_size_t])
_stream_state_json = _fn("wflo_stream_state_json", [c_void_p, POINTER(c_void_p)])
_stream_free = _fn("wflo_stream_free", [c_void_p], None)
_settle_stream = _fn("wflo_reservation_settle_stream", [c_void_p, c_void_p, c_char_p, c_size_t, POINTER(_CSettled)])
_string_free = _fn("wflo_string_free", [c_void_p], None)


def stream_new(format: str) -> int:
    f = format.encode()
    handle = c_void_p()
    if _stream_new(f, len(f), byref(handle)):
        raise _error()
    return handle.value


def stream_push(stream: int, data: str) -> None:
    d = data.encode()
    if _stream_push(stream, d, len(d)):
        raise _error()


def stream_state(stream: int) -> dict:
    """{"usage": {...} or None, "complete": bool, "text": str} of what the stream told so far."""
    out = c_void_p()
    if _stream_state_json(stream, byref(out)):
        raise _error()
    try:
        return json.loads(ctypes.string_at(out.value))
    finally:
        _string_free(out.value)


def settle_stream(reservation: int, stream: int, status: str) -> Settled:
    _, s, _, _, _, sref, _, _ = _structs()
    st = status.encode()
    if _settle_stream(reservation, stream, st, len(st), sref):
        raise _error()
    return _settled(s)


def stream_free(stream: int) -> None:
    _stream_free(stream)
