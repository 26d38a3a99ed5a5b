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
import struct
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


# The by-value structs, field by field, as ``struct`` codes: the formats the hot path packs and
# unpacks are built from these, and at load they are compared with the layout the library
# itself reports (``wflo_layout_json``) — a field moved or added in the C ABI can never be read
# at the wrong offset here. ``None`` names padding.
LAYOUTS = {
    "wflo_usage": [("input", "Q"), ("output", "Q"), ("cache_read", "Q"), ("cache_write_5m", "Q"),
                   ("cache_write_1h", "Q"), ("reasoning", "Q")],
    "wflo_settled": [("seq", "Q"), ("cost_nanos", "Q"), ("reserved_nanos", "Q"), ("overrun_nanos", "Q"),
                     ("usage", "6Q"), ("estimated", "?"), ("usage_missing", "?"), (None, "6x")],
    "wflo_call_request": [("model", "Q"), ("model_len", "Q"), ("provider", "Q"), ("provider_len", "Q"),
                          ("input_tokens", "Q"), ("input_count", "I"), (None, "4x"), ("max_output_tokens", "Q"),
                          ("cache_write", "I"), ("stream", "?"), ("clamp_max_tokens", "?"), (None, "2x")],
    "wflo_cost_args": [("engine", "Q"), ("model", "Q"), ("model_len", "Q"), ("usage", "6Q"), ("nanos", "Q")],
    "wflo_checkpoint_saved": [("id", "Q"), ("sequence", "Q"), ("parent_id", "Q"), ("spent_nanos", "Q"),
                              ("created_at_ms", "Q"), ("state_bytes", "Q"), ("has_parent", "?"), (None, "7x")],
    # Filled once by ctypes (_PyApi, below, takes its fields from here), never packed: a size_t,
    # then the type and object pointers, then the C API function pointers.
    "wflo_py_api": [(name, "Q") for name in (
        "ob_type_offset", "dict_type", "list_type", "tuple_type", "str_type", "int_type", "float_type", "none",
        "true_", "false_", "declined", "dict_next", "dict_new", "dict_set_item", "list_size", "list_get_item",
        "list_new", "list_set_item", "tuple_size", "tuple_get_item", "unicode_as_utf8_and_size",
        "unicode_from_string_and_size", "long_as_long_long_and_overflow", "long_from_long_long",
        "long_from_string", "float_as_double", "float_from_double", "inc_ref", "dec_ref", "err_clear",
        "bytes_from_string_and_size", "save_thread", "restore_thread")],
}


def layout_format(fields: list) -> str:
    """The little-endian ``struct`` format of a struct's fields (C's padding spelled out)."""
    return "<" + "".join(code for _, code in fields)


def layout_of(fields: list) -> dict:
    """``{"size": …, "fields": {name: offset}}`` of a field list, as ``wflo_layout_json`` says it."""
    offsets, codes = {}, "<"
    for name, code in fields:
        if name is not None:
            offsets[name] = struct.calcsize(codes)
        codes += code
    return {"size": struct.calcsize(codes), "fields": offsets}


def check_layouts(library: dict, ours: dict) -> None:
    """Raises ImportError unless every struct in ``ours`` has the library's size and offsets."""
    wrong = []
    for name, fields in ours.items():
        mine, theirs = layout_of(fields), library.get(name)
        if theirs != mine:
            wrong.append(f"{name}: libwflo has {json.dumps(theirs, sort_keys=True)}, "
                         f"this package packs {json.dumps(mine, sort_keys=True)}")
    if wrong:
        raise ImportError("wflo: this Python package and the libwflo it loaded disagree on the C ABI's struct "
                          "layouts (a wheel built from mixed versions?); refusing to run rather than read "
                          "fields at the wrong offsets. " + "; ".join(wrong))


class _CUsage(ctypes.Structure):
    _fields_ = [(name, c_uint64) for name, _ in LAYOUTS["wflo_usage"]]


class _CSettled(ctypes.Structure):
    _fields_ = [("seq", c_uint64), ("cost_nanos", c_uint64), ("reserved_nanos", c_uint64),
                ("overrun_nanos", c_uint64), ("usage", _CUsage), ("estimated", c_bool),
                ("usage_missing", c_bool)]


class _CRequest(ctypes.Structure):
    _fields_ = [("model", c_char_p), ("model_len", c_size_t), ("provider", c_char_p),
                ("provider_len", c_size_t), ("input_tokens", c_uint64), ("input_count", c_uint32),
                ("max_output_tokens", c_uint64), ("cache_write", c_uint32), ("stream", c_bool),
                ("clamp_max_tokens", c_bool)]


class _CCostArgs(ctypes.Structure):
    # wflo_cost_args with its wflo_usage flattened (same layout).
    _fields_ = [("engine", c_void_p), ("model", c_void_p), ("model_len", c_size_t)] + \
        _CUsage._fields_ + [("nanos", c_uint64)]


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
_string_free = _fn("wflo_string_free", [c_void_p], None)
_layout_json = _fn("wflo_layout_json", [POINTER(c_void_p)])
engine_free = _fn("wflo_engine_free", [c_void_p], None)
execution_free = _fn("wflo_execution_free", [c_void_p], None)
scope_free = _fn("wflo_scope_free", [c_void_p], None)

class _Scratch(threading.local):
    """Each thread's own argument structs (a call never shares them with another thread), with
    byte views so ``struct`` can fill or read a whole struct in one C call — setting ctypes
    fields one by one costs more than the engine's work."""

    def __init__(self) -> None:
        self.usage, self.settled, self.request, self.handle = _CUsage(), _CSettled(), _CRequest(), c_void_p()
        self.usage_ref, self.settled_ref = byref(self.usage), byref(self.settled)
        self.request_ref, self.handle_ref = byref(self.request), byref(self.handle)
        self.usage_bytes = memoryview(self.usage).cast("B")
        self.settled_bytes = memoryview(self.settled).cast("B")
        self.request_bytes = memoryview(self.request).cast("B")
        self.saved = ctypes.create_string_buffer(layout_of(LAYOUTS["wflo_checkpoint_saved"])["size"])
        self.saved_ref = byref(self.saved)


_scratch = _Scratch()


def _library_layouts() -> dict:
    out = c_void_p()
    if _layout_json(byref(out)):
        raise ImportError("wflo: libwflo could not report its struct layouts (wflo_layout_json)")
    try:
        return json.loads(ctypes.string_at(out.value))
    finally:
        _string_free(out.value)


_LIBRARY_LAYOUTS = _library_layouts()
check_layouts(_LIBRARY_LAYOUTS, LAYOUTS)


def _check_ctypes_size(name: str, c: type) -> None:
    # The ctypes structs the library reads or writes into must be as large as its own.
    if ctypes.sizeof(c) != layout_of(LAYOUTS[name])["size"]:
        raise ImportError(f"wflo: ctypes lays {name} out in {ctypes.sizeof(c)} bytes, libwflo in "
                          f"{layout_of(LAYOUTS[name])['size']}")


for _name, _c in (("wflo_usage", _CUsage), ("wflo_settled", _CSettled), ("wflo_call_request", _CRequest),
                  ("wflo_cost_args", _CCostArgs)):
    _check_ctypes_size(_name, _c)

# "Q" refuses negative and non-integer counts, which ctypes fields would silently wrap around.
_pack_usage = struct.Struct(layout_format(LAYOUTS["wflo_usage"])).pack_into
_unpack_settled = struct.Struct(layout_format(LAYOUTS["wflo_settled"])).unpack_from
_pack_request = struct.Struct(layout_format(LAYOUTS["wflo_call_request"])).pack_into
_unpack_saved = struct.Struct(layout_format(LAYOUTS["wflo_checkpoint_saved"])).unpack_from


def _error() -> WfloError:
    text = _last_error_json()
    return from_details(json.loads(text) if text else {"code": "INTERNAL", "message": "unknown error"})


def _bad_counts() -> WfloError:
    return from_details({"code": "INVALID_ARGUMENT",
                         "message": "invalid argument: token counts must be non-negative integers"})


def _settled() -> Settled:
    v = _unpack_settled(_scratch.settled_bytes)
    return Settled(v[0], v[1], v[2], v[3], v[10], v[11], Usage(v[4], v[5], v[6], v[7], v[8], v[9]))


_cost_packed = _fn("wflo_cost_packed", [c_void_p])
# One struct.pack_into fills the engine, the model and the usage in a single C call (setting
# nine ctypes fields one by one costs more than the cost computation itself); "Q" refuses
# negative and non-integer counts, which ctypes would silently wrap around. The result field
# (nanos, last) is written by the library.
_pack_cost = struct.Struct(layout_format(LAYOUTS["wflo_cost_args"][:-1])).pack_into
_cost_scratch = threading.local()
# Model names as NUL-terminated bytes the library can read, kept alive here: (address, length).
_models: dict = {}


def _model_ref(model: str) -> tuple:
    if len(_models) > 4096:
        _models.clear()  # a program inventing model names must not grow this forever
    data = model.encode()
    buf = ctypes.create_string_buffer(data)
    ref = _models[model] = (ctypes.addressof(buf), len(data), buf)
    return ref


def cost(engine: int, model: str, input: int = 0, output: int = 0, cache_read: int = 0, cache_write_5m: int = 0,
         cache_write_1h: int = 0, reasoning: int = 0) -> int:
    """The cost in nano-USD of a usage on a model: the hottest path, kept to one foreign call
    with one argument."""
    try:
        buf, args, addr = _cost_scratch.args
    except AttributeError:
        args = _CCostArgs()
        buf, args, addr = _cost_scratch.args = (memoryview(args).cast("B"), args, ctypes.addressof(args))
    m = _models.get(model) or _model_ref(model)
    try:
        _pack_cost(buf, 0, engine, m[0], m[1], input, output, cache_read, cache_write_5m, cache_write_1h, reasoning)
    except struct.error:
        raise _bad_counts() from None
    if _cost_packed(addr):
        raise _error()
    return args.nanos


COUNT_AUTO, COUNT_EXACT, COUNT_ESTIMATED = 0, 1, 2
CACHE_WRITE = {None: 0, "none": 0, "5m": 1, "1h": 2}


def reserve(execution: int, scope: Optional[int], model: str, provider: Optional[str], input_tokens: int,
            input_count: int, max_output_tokens: int, cache_write: int, stream: bool, clamp: bool) -> int:
    """A reservation handle (an int), or the typed error (a refusal is BudgetExceededError)."""
    sc = _scratch
    m = _models.get(model) or _model_ref(model)
    p = (_models.get(provider) or _model_ref(provider)) if provider else (0, 0)
    try:
        _pack_request(sc.request_bytes, 0, m[0], m[1], p[0], p[1], input_tokens, input_count, max_output_tokens,
                      cache_write, stream, clamp)
    except struct.error:
        raise _bad_counts() from None
    if _reserve(execution, scope, sc.request_ref, sc.handle_ref):
        raise _error()
    return sc.handle.value


def amount_nanos(reservation: int) -> int:
    return _amount(reservation)


def max_output_tokens(reservation: int) -> int:
    return _max_output(reservation)


def settle(reservation: int, usage: Usage) -> Settled:
    sc = _scratch
    try:
        _pack_usage(sc.usage_bytes, 0, *usage)
    except struct.error:
        raise _bad_counts() from None
    if _settle(reservation, sc.usage_ref, sc.settled_ref):
        raise _error()
    return _settled()


def settle_json(reservation: int, format: str, text: str) -> Settled:
    f, t = format.encode(), text.encode()
    if _settle_json(reservation, f, len(f), t, len(t), _scratch.settled_ref):
        raise _error()
    return _settled()


_reserve_request = _fn("wflo_reserve_request", [c_void_p, c_void_p, c_char_p, c_size_t, c_char_p, c_size_t, c_char_p,
                                                 c_size_t, POINTER(c_void_p), POINTER(c_void_p)])
_settle_result = _fn("wflo_reservation_settle_result",
                     [c_void_p, c_char_p, c_size_t, c_char_p, c_size_t, c_char_p, c_size_t, POINTER(_CSettled)])
_settle_text = _fn("wflo_reservation_settle_text", [c_void_p, c_char_p, c_size_t, c_char_p, c_size_t, POINTER(_CSettled)])
_execution_end = _fn("wflo_execution_end", [c_void_p, c_char_p, c_size_t, POINTER(c_char_p)])


def reserve_request(execution: int, scope: Optional[int], format: str, body_json: str,
                    options_json: Optional[str]) -> tuple:
    """Core reads the provider request and reserves its worst case: (the reservation handle,
    the JSON text of the body to send). A refusal is BudgetExceededError: nothing is sent."""
    f, b = format.encode(), body_json.encode()
    o = options_json.encode() if options_json else None
    handle, body = c_void_p(), c_void_p()
    if _reserve_request(execution, scope, f, len(f), b, len(b), o, len(o) if o else 0, byref(handle), byref(body)):
        raise _error()
    return handle.value, _take_string(body).decode()


def settle_result(reservation: int, format: str, result_json: str, status: str) -> Settled:
    f, t, st = format.encode(), result_json.encode(), status.encode()
    if _settle_result(reservation, f, len(f), t, len(t), st, len(st), _scratch.settled_ref):
        raise _error()
    return _settled()


def settle_text(reservation: int, text: str, status: str) -> Settled:
    t, st = text.encode(), status.encode()
    if _settle_text(reservation, t, len(t), st, len(st), _scratch.settled_ref):
        raise _error()
    return _settled()


def execution_end(execution: int, raised_json: Optional[str]) -> str:
    """Finishes the execution by core's rule; the status it chose."""
    r = raised_json.encode() if raised_json is not None else None
    status = c_char_p()
    if _execution_end(execution, r, len(r) if r is not None else 0, byref(status)):
        raise _error()
    return (status.value or b"").decode()


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
    st = status.encode()
    if _settle_stream(reservation, stream, st, len(st), _scratch.settled_ref):
        raise _error()
    return _settled()


def stream_free(stream: int) -> None:
    _stream_free(stream)


_checkpoint_save_binary = _fn("wflo_checkpoint_save_binary", [c_void_p, c_char_p, c_size_t, c_char_p, c_size_t,
                                                              c_char_p, c_size_t, POINTER(c_void_p)])
# The readers of a state of either kind: content type (NULL for JSON), bytes, length.
_ANY_OUT = [POINTER(c_void_p), POINTER(c_void_p), POINTER(c_size_t)]
_checkpoint_state_any = _fn("wflo_checkpoint_state_any", [c_void_p, c_uint64] + _ANY_OUT)
_checkpoint_latest_any = _fn("wflo_checkpoint_latest_any", [c_void_p] + _ANY_OUT)
_checkpoint_rollback_any = _fn("wflo_checkpoint_rollback_any", [c_void_p, c_char_p, c_size_t] + _ANY_OUT)
_bytes_free = _fn("wflo_bytes_free", [c_void_p, c_size_t], None)
_checkpoint_list_after = _fn("wflo_checkpoint_list_after_json", [c_void_p, c_uint64, POINTER(c_void_p), POINTER(c_uint64)])
_checkpoint_since_with_state = _fn("wflo_checkpoint_since_with_state",
                                   [c_void_p, c_uint64, c_uint64, POINTER(c_void_p), POINTER(c_uint64)] + _ANY_OUT)


def _take_string(out: c_void_p) -> bytes:
    try:
        return ctypes.string_at(out.value)
    finally:
        _string_free(out.value)


_checkpoint_save_into = _fn("wflo_checkpoint_save_into", [c_void_p, c_char_p, c_size_t, c_char_p, c_size_t, c_void_p])
_checkpoint_save_binary_into = _fn("wflo_checkpoint_save_binary_into", [c_void_p, c_char_p, c_size_t, c_char_p,
                                                                        c_size_t, c_char_p, c_size_t, c_void_p])


# A checkpoint's info has core's keys in core's order, as the library reads them off core's own
# type (wflo_layout_json's "checkpoint_info_keys"): _saved copies this dict and sets each value,
# which keeps each key in its place, so the binding never restates the order. Every key must be
# one _saved sets: the struct's fields (has_parent aside) and what the save was given.
_INFO = dict.fromkeys(_LIBRARY_LAYOUTS["checkpoint_info_keys"])
if set(_INFO) != {n for n, _ in LAYOUTS["wflo_checkpoint_saved"] if n not in (None, "has_parent")} | {
        "execution_id", "name", "superseded", "content_type"}:
    raise ImportError(f"wflo: libwflo's checkpoint info has the keys {list(_INFO)}, which this package "
                      "does not all fill (a wheel built from mixed versions?)")


def _saved(execution_id: str, name: str, content_type: Optional[str]) -> dict:
    """The info of the checkpoint just saved: the library's fixed-size facts (a struct, not a
    JSON string to parse: that cost more than a 1 KB save) with the name, execution id and
    content type the save was given — the same dict, key for key, as the library's JSON info."""
    cid, sequence, parent, spent, created, size, has_parent = _unpack_saved(_scratch.saved)
    info = _INFO.copy()
    info["id"] = cid
    info["execution_id"] = execution_id
    info["name"] = name
    info["sequence"] = sequence
    info["parent_id"] = parent if has_parent else None
    info["spent_nanos"] = spent
    info["created_at_ms"] = created
    # Only a rollback to an earlier checkpoint supersedes one, and a checkpoint just saved is
    # the execution's latest: nothing can have passed over it yet.
    info["superseded"] = False
    info["state_bytes"] = size
    if content_type is None:
        del info["content_type"]  # a JSON state's info has none (core leaves the key out)
    else:
        info["content_type"] = content_type
    return info


def checkpoint_save(execution: int, execution_id: str, name: str, state_json: str) -> dict:
    """Saves a checkpoint (committed when this returns); its info. A checkpoint is the other
    frequent call of an agent loop: a UniFFI call would cost more than SQLite's insert."""
    n, s = name.encode(), state_json.encode()
    if _checkpoint_save_into(execution, n, len(n), s, len(s), _scratch.saved_ref):
        raise _error()
    return _saved(execution_id, name, None)


def checkpoint_save_binary(execution: int, execution_id: str, name: str, content_type: Optional[str],
                           data: bytes) -> dict:
    """Saves a binary state (the bytes as they are) as a checkpoint; its info. ``content_type``
    None crosses as NULL: the engine's default names the bytes (and its info says which)."""
    n = name.encode()
    if content_type is None:
        out = c_void_p()
        if _checkpoint_save_binary(execution, n, len(n), None, 0, data, len(data), byref(out)):
            raise _error()
        return json.loads(_take_string(out))
    t = content_type.encode()
    if _checkpoint_save_binary_into(execution, n, len(n), t, len(t), data, len(data), _scratch.saved_ref):
        raise _error()
    return _saved(execution_id, name, content_type)


def _check_id(checkpoint_id: object) -> None:
    # ctypes would wrap a negative id around to a huge one.
    if not isinstance(checkpoint_id, int) or isinstance(checkpoint_id, bool) or not 0 <= checkpoint_id < 2**64:
        raise from_details({"code": "INVALID_ARGUMENT",
                            "message": f"invalid argument: a checkpoint id is a non-negative integer, got {checkpoint_id!r}"})


class _AnyOut:
    """The out-parameters of a state of either kind, read into ``(content_type or None, bytes)``
    (None: JSON text) and freed."""

    def __init__(self) -> None:
        self.content_type, self.data, self.len = c_void_p(), c_void_p(), c_size_t()
        self.refs = (byref(self.content_type), byref(self.data), byref(self.len))

    def take(self) -> "tuple[Optional[str], bytes]":
        try:
            kind = None if self.content_type.value is None else ctypes.string_at(self.content_type.value).decode()
            return kind, (ctypes.string_at(self.data.value, self.len.value) if self.len.value else b"")
        finally:
            _string_free(self.content_type.value)
            _bytes_free(self.data.value, self.len.value)

    @staticmethod
    def mine() -> "_AnyOut":
        """This thread's own (a read fills and empties it before returning: made once, not on
        every read)."""
        out = getattr(_any_outs, "out", None)
        if out is None:
            out = _any_outs.out = _AnyOut()
        return out


_any_outs = threading.local()


def checkpoint_state_any(execution: int, checkpoint_id: int) -> "tuple[Optional[str], bytes]":
    """One checkpoint's state by id: ``(content_type, bytes)``, content type None for JSON."""
    _check_id(checkpoint_id)
    out = _AnyOut.mine()
    if _checkpoint_state_any(execution, checkpoint_id, *out.refs):
        raise _error()
    return out.take()


def checkpoint_latest_any(execution: int) -> "Optional[tuple[Optional[str], bytes]]":
    """The latest live checkpoint's state as :func:`checkpoint_state_any`; None when none."""
    out = _AnyOut.mine()
    if _checkpoint_latest_any(execution, *out.refs):
        error = _error()
        if error.code == "NOT_FOUND":
            return None
        raise error
    return out.take()


def checkpoint_rollback_any(execution: int, name: str) -> "tuple[Optional[str], bytes]":
    """Rolls back to the latest live checkpoint ``name``; its state as :func:`checkpoint_state_any`."""
    n, out = name.encode(), _AnyOut.mine()
    if _checkpoint_rollback_any(execution, n, len(n), *out.refs):
        raise _error()
    return out.take()


def checkpoints_after(execution: int, after_sequence: int) -> "tuple[list, int]":
    """The checkpoints after a sequence (0: all) and how many rollbacks the execution has had —
    what a reader keeping its own index of checkpoints needs, in one call."""
    listed, rollbacks, _, _ = _since(execution, after_sequence, 0, False)
    return listed, rollbacks


def _since_out(execution: int, after_sequence: int, checkpoint_id: int, with_state: bool) -> list:
    """``[listed, rollbacks, content_type, data]`` through the C ABI's out-parameters: what
    wflo_py_checkpoints_since answers (below), where the library cannot make Python objects."""
    listed, rollbacks = c_void_p(), c_uint64()
    if not with_state:
        if _checkpoint_list_after(execution, after_sequence, byref(listed), byref(rollbacks)):
            raise _error()
        return [_listed(listed), rollbacks.value, None, None]
    out = _AnyOut.mine()
    if _checkpoint_since_with_state(execution, after_sequence, checkpoint_id, byref(listed), byref(rollbacks),
                                    *out.refs):
        raise _error()
    content_type, data = out.take()
    return [_listed(listed), rollbacks.value, content_type, data]


def _listed(out: c_void_p) -> list:
    """A list of checkpoint infos the library returned as JSON, taken and freed. Nothing new is
    the common answer of a reader polling for changes: no parse for it."""
    text = _take_string(out)
    return [] if text == b"[]" else json.loads(text)


# The Python side of libwflo's JSON encoder and parser below (ffi/src/python_json.rs): one
# wflo_py_api with every type, singleton and C API function either direction needs, filled once
# here and handed to both wflo_py_json_dumps and wflo_py_json_loads. Its fields, in their order,
# are LAYOUTS["wflo_py_api"] (checked against the library's at import); values are given by
# name. The functions come from ctypes.pythonapi: field -> C API name.
_PY_FUNCTIONS = {"dict_next": "PyDict_Next", "dict_new": "PyDict_New", "dict_set_item": "PyDict_SetItem",
                 "list_size": "PyList_Size", "list_get_item": "PyList_GetItem", "list_new": "PyList_New",
                 "list_set_item": "PyList_SetItem", "tuple_size": "PyTuple_Size",
                 "tuple_get_item": "PyTuple_GetItem", "unicode_as_utf8_and_size": "PyUnicode_AsUTF8AndSize",
                 "unicode_from_string_and_size": "PyUnicode_FromStringAndSize",
                 "long_as_long_long_and_overflow": "PyLong_AsLongLongAndOverflow",
                 "long_from_long_long": "PyLong_FromLongLong", "long_from_string": "PyLong_FromString",
                 "float_as_double": "PyFloat_AsDouble", "float_from_double": "PyFloat_FromDouble",
                 "inc_ref": "Py_IncRef", "dec_ref": "Py_DecRef", "err_clear": "PyErr_Clear",
                 "bytes_from_string_and_size": "PyBytes_FromStringAndSize", "save_thread": "PyEval_SaveThread",
                 "restore_thread": "PyEval_RestoreThread"}


class _PyApi(ctypes.Structure):
    _fields_ = [(n, c_size_t if n == "ob_type_offset" else c_void_p) for n, _ in LAYOUTS["wflo_py_api"]]


_check_ctypes_size("wflo_py_api", _PyApi)


class _Declined:
    """What wflo_py_json_loads answers when it leaves the text to json.loads."""


_DECLINED = _Declined()


def _py_api() -> Optional[_PyApi]:
    """This interpreter's wflo_py_api, or None where libwflo cannot read its objects: not
    CPython, or a free-threaded build (another object layout, and no GIL to keep the values
    still)."""
    import sys

    if sys.implementation.name != "cpython" or not getattr(sys, "_is_gil_enabled", lambda: True)():
        return None
    try:
        offset = ctypes.sizeof(ctypes.c_ssize_t)  # PyObject: ob_refcnt, then ob_type
        for probe in ({}, [], (), "", 0, 0.5, None, True, _PyApi):
            if c_void_p.from_address(id(probe) + offset).value != id(type(probe)):
                return None
        values = {"ob_type_offset": offset, "dict_type": id(dict), "list_type": id(list), "tuple_type": id(tuple),
                  "str_type": id(str), "int_type": id(int), "float_type": id(float), "none": id(None),
                  "true_": id(True), "false_": id(False), "declined": id(_DECLINED)}
        values.update((n, ctypes.cast(getattr(ctypes.pythonapi, f), c_void_p).value) for n, f in _PY_FUNCTIONS.items())
    except (AttributeError, OSError, ValueError):
        return None
    fields = [n for n, _ in _PyApi._fields_]
    if sorted(values) != sorted(fields):  # a field left NULL would crash the library
        raise ImportError(f"wflo: wflo_py_api has the fields {fields}, this package fills {sorted(values)}")
    return _PyApi(**values)


_PY_API = _py_api()  # kept here for as long as the module lives: the library reads it on every call


def checkpoint_since_with_state(execution: int, after_sequence: int,
                                checkpoint_id: int) -> "tuple[list, int, tuple[Optional[str], bytes]]":
    """:func:`checkpoints_after` and :func:`checkpoint_state_any` of one checkpoint in one call:
    a reader keeping an index loads the state its index names and learns whether the index is
    still current in one crossing instead of two."""
    _check_id(checkpoint_id)
    listed, rollbacks, content_type, data = _since(execution, after_sequence, checkpoint_id, True)
    return listed, rollbacks, (content_type, data)


# json.dumps of a checkpoint state, in libwflo (wflo_py_json_dumps, ffi/src/python_json.rs):
# the library walks the Python objects with the C API functions of _PY_API, the GIL held (a
# PYFUNCTYPE call), and writes the bytes json.dumps writes. It encodes only exact dict (str
# keys), list, tuple, str, int (64-bit), finite float, bool and None; on anything else it
# declines ("") and the caller runs json.dumps. Floats are written as float.__repr__ writes them
# (shortest round-trip digits, ties to even; test_state_json.py compares 5 million with repr).
def _py_json_dumps():
    """``value -> str`` ("" when it declines), or None where it cannot run (no _PY_API)."""
    if _PY_API is None:
        return None
    try:
        dumps = ctypes.PYFUNCTYPE(ctypes.py_object, POINTER(_PyApi), ctypes.py_object)(("wflo_py_json_dumps", _lib))
    except (AttributeError, OSError, ValueError):
        return None
    ref = byref(_PY_API)
    return lambda value: dumps(ref, value)


py_json_dumps = _py_json_dumps()


def json_dumps(value, **options) -> str:
    """``json.dumps(value, **options)``'s text: libwflo's for a plain value (py_json_dumps,
    the same bytes), json.dumps itself for anything the library declines."""
    text = py_json_dumps(value) if py_json_dumps is not None else ""
    return text or json.dumps(value, **options)


# json.loads of a stored checkpoint state, in libwflo (wflo_py_json_loads,
# ffi/src/python_json_loads.rs): the library parses the text and makes the objects with the C
# API functions of _PY_API, the GIL held. It returns what json.loads returns, type for type (ints
# beyond 64 bits through PyLong_FromString, floats correctly rounded as float()); on anything
# unusual (invalid text, NaN, a lone surrogate escaped, deep nesting) it answers _DECLINED and
# json.loads reads the text.
def _py_json_loads():
    """``bytes -> value``, json.loads's, or None where it cannot run (as _py_json_dumps)."""
    if py_json_dumps is None:
        return None
    try:
        fn = ctypes.PYFUNCTYPE(ctypes.py_object, POINTER(_PyApi), ctypes.c_char_p, c_size_t)(
            ("wflo_py_json_loads", _lib))
    except (AttributeError, OSError, ValueError):
        return None
    ref, loads = byref(_PY_API), json.loads

    def py_json_loads(data: bytes):
        value = fn(ref, data, len(data))
        return loads(data) if value is _DECLINED else value

    py_json_loads.raw = lambda data: fn(ref, data, len(data))  # _DECLINED as it is (tests)
    return py_json_loads


py_json_loads = _py_json_loads()


# A checkpoint of a Python value as a JSON state in one ctypes call (wflo_py_checkpoint_save,
# ffi/src/python_checkpoint.rs): the library encodes the value as json_dumps does and saves that
# text without checking it again (it is JSON by construction) or making a str of it; it writes the
# store with the interpreter lock released. It declines (-1, nothing saved) what json_dumps would
# hand to json.dumps: the caller then encodes the state itself and saves the text.
def _py_checkpoint_save():
    """``(execution, execution_id, name, state) -> info``, or None when the library declined
    the state; None where it cannot run (as _py_json_dumps)."""
    if py_json_dumps is None:
        return None
    try:
        fn = ctypes.PYFUNCTYPE(ctypes.c_int, POINTER(_PyApi), c_void_p, c_char_p, c_size_t, ctypes.py_object,
                               c_void_p)(("wflo_py_checkpoint_save", _lib))
    except (AttributeError, OSError, ValueError):
        return None
    ref = byref(_PY_API)

    def save(execution: int, execution_id: str, name: str, state: object) -> Optional[dict]:
        n = name.encode()
        status = fn(ref, execution, n, len(n), state, _scratch.saved_ref)
        if status == _PY_DECLINED:
            return None
        if status:
            raise _error()
        return _saved(execution_id, name, None)

    return save


_PY_DECLINED = -1  # WFLO_PY_DECLINED
py_checkpoint_save = _py_checkpoint_save()


_checkpoint_save_encoded = _fn("wflo_checkpoint_save_encoded", [c_void_p, c_char_p, c_size_t, c_void_p, c_void_p])
_encoded_state_free = _fn("wflo_encoded_state_free", [c_void_p], None)


class EncodedState:
    """A state libwflo encoded (wflo_py_state_encode) on the caller's thread, as it was then,
    saved later on any thread (the async checkpoint's worker) without a second check."""

    __slots__ = ("_handle",)

    def __init__(self, handle: int) -> None:
        self._handle = handle

    def save(self, execution: int, execution_id: str, name: str) -> dict:
        n = name.encode()
        if _checkpoint_save_encoded(execution, n, len(n), self._handle, _scratch.saved_ref):
            raise _error()
        return _saved(execution_id, name, None)

    def __del__(self) -> None:
        handle, self._handle = self._handle, None
        free = _encoded_state_free  # None only while the interpreter shuts down
        if handle and free is not None:
            free(handle)


def _py_state_encode():
    """``state -> EncodedState``, or None when the library declined the state; None where it
    cannot run (as _py_json_dumps)."""
    if py_json_dumps is None:
        return None
    try:
        fn = ctypes.PYFUNCTYPE(c_void_p, POINTER(_PyApi), ctypes.py_object)(("wflo_py_state_encode", _lib))
    except (AttributeError, OSError, ValueError):
        return None
    ref = byref(_PY_API)

    def encode(state: object) -> Optional[EncodedState]:
        handle = fn(ref, state)
        return EncodedState(handle) if handle else None

    return encode


py_state_encode = _py_state_encode()


# checkpoints_after and checkpoint_since_with_state answered with Python objects
# (wflo_py_checkpoints_since, ffi/src/python_checkpoint.rs): a saver's load, or its check for
# changes, in one ctypes call, the state copied once — the out-parameter path (_since_out) costs
# six more calls (three copies out, three frees) and a second copy. The library reads the store
# with the interpreter lock released.
def _py_checkpoints_since():
    """``(execution, after, id, with_state) -> [listed, rollbacks, content_type, data]``, as
    _since_out, raising the library's error; None where it cannot run (as _py_json_dumps)."""
    if py_json_dumps is None:
        return None
    try:
        fn = ctypes.PYFUNCTYPE(ctypes.py_object, POINTER(_PyApi), c_void_p, c_uint64, c_uint64, ctypes.c_bool)(
            ("wflo_py_checkpoints_since", _lib))
    except (AttributeError, OSError, ValueError):
        return None
    ref = byref(_PY_API)

    def since(execution: int, after: int, checkpoint_id: int, with_state: bool) -> list:
        found = fn(ref, execution, after, checkpoint_id, with_state)
        if found is None:
            raise _error()
        return found

    return since


_since = _py_checkpoints_since() or _since_out


# A LangGraph saver's operations, decided in the engine (wflo_core::langgraph, ffi/src/langgraph.rs):
# one call per operation with a JSON request and the bytes of its values one after another
# (each value's [type, length] listed under the request's "values"); the answer alike.
langgraph_new = _fn("wflo_langgraph_new", [], c_void_p)
langgraph_free = _fn("wflo_langgraph_free", [c_void_p], None)
_langgraph_call = _fn("wflo_langgraph_call", [c_void_p, c_void_p, c_char_p, c_size_t, c_char_p, c_size_t,
                                              POINTER(c_void_p), POINTER(c_void_p), POINTER(c_size_t)])


def _langgraph_out(saver: int, execution: int, request: bytes, values: bytes) -> list:
    """``[answer, [[type, bytes], ...]]`` through the C ABI's out-parameters: what
    wflo_py_langgraph_call answers (below), where the library cannot make Python objects."""
    answer, data, size = c_void_p(), c_void_p(), c_size_t()
    if _langgraph_call(saver, execution, request, len(request), values, len(values), byref(answer), byref(data),
                       byref(size)):
        raise _error()
    try:
        joined = ctypes.string_at(data.value, size.value) if size.value else b""
    finally:
        _bytes_free(data.value, size.value)
    answer = json.loads(_take_string(answer))
    found, at = [], 0
    for kind, length in (answer.get("values", ()) if isinstance(answer, dict) else ()):
        found.append([kind, joined[at:at + length]])
        at += length
    return [answer, found]


def _py_langgraph_call():
    """``(saver, execution, request, values) -> [answer, [[type, bytes], ...]]`` answered with
    Python objects (one ctypes call, no copies out), raising the library's error; None where it
    cannot run."""
    if py_json_dumps is None:
        return None
    try:
        fn = ctypes.PYFUNCTYPE(ctypes.py_object, POINTER(_PyApi), c_void_p, c_void_p, c_char_p, c_size_t, c_char_p,
                               c_size_t)(("wflo_py_langgraph_call", _lib))
    except (AttributeError, OSError, ValueError):
        return None
    ref = byref(_PY_API)

    def call(saver: int, execution: int, request: bytes, values: bytes) -> list:
        found = fn(ref, saver, execution, request, len(request), values, len(values))
        if found is None:
            raise _error()
        return found

    return call


langgraph_call = _py_langgraph_call() or _langgraph_out


def _py_langgraph_request():
    """``(saver, execution, request, values) -> [answer, [[type, bytes], ...]]`` with the
    request as its dict: libwflo encodes it in the same call (wflo_py_langgraph_request); a
    request it declines to encode goes through json_dumps and langgraph_call."""
    if py_json_dumps is None or langgraph_call is _langgraph_out:
        return None
    try:
        fn = ctypes.PYFUNCTYPE(ctypes.py_object, POINTER(_PyApi), c_void_p, c_void_p, ctypes.py_object, c_char_p,
                               c_size_t)(("wflo_py_langgraph_request", _lib))
    except (AttributeError, OSError, ValueError):
        return None
    ref = byref(_PY_API)

    def call(saver: int, execution: int, request: dict, values: bytes) -> list:
        found = fn(ref, saver, execution, request, values, len(values))
        if found is None:
            raise _error()
        if found is _DECLINED:
            return _langgraph_request_text(saver, execution, request, values)
        return found

    return call


def _langgraph_request_text(saver: int, execution: int, request: dict, values: bytes) -> list:
    """langgraph_request in two steps: the request's JSON text, then langgraph_call."""
    return langgraph_call(saver, execution, json_dumps(request).encode(), values)


langgraph_request = _py_langgraph_request() or _langgraph_request_text
