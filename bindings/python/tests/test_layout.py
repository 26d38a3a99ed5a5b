"""The structs the hot path packs by hand (``struct`` formats in ``wflo._fast``) are checked
against the layout libwflo reports (``wflo_layout_json``) when the package loads: a field the C
ABI moved would otherwise be read at the wrong offset, silently."""
from __future__ import annotations

import copy
import ctypes

import pytest

from wflo import _fast


def test_the_packed_layouts_are_the_librarys():
    library = _fast._library_layouts()
    for name, fields in _fast.LAYOUTS.items():
        assert _fast.layout_of(fields) == library[name], name
    _fast.check_layouts(library, _fast.LAYOUTS)  # what the import did


@pytest.mark.parametrize("wrong", ["moved", "missing", "size", "unknown struct", "py_api order"])
def test_a_wrong_layout_is_refused(wrong):
    library = _fast._library_layouts()
    ours = copy.deepcopy(_fast.LAYOUTS)
    if wrong == "moved":  # C's padding after input_count forgotten: every later field shifts
        ours["wflo_call_request"].remove((None, "4x"))
        ours["wflo_call_request"].append((None, "4x"))
    elif wrong == "missing":  # a field the library has and this package does not pack
        ours["wflo_settled"] = [f for f in ours["wflo_settled"] if f[0] != "usage_missing"] + [(None, "x")]
    elif wrong == "py_api order":  # two of wflo_py_api's pointers swapped: each would get the other's value
        fields = ours["wflo_py_api"]
        fields[1], fields[2] = fields[2], fields[1]
    elif wrong == "size":
        ours["wflo_usage"] = ours["wflo_usage"] + [("extra", "Q")]
    else:
        ours["wflo_nothing"] = [("x", "Q")]
    with pytest.raises(ImportError, match="disagree on the C ABI's struct layouts"):
        _fast.check_layouts(library, ours)


def test_the_library_side_is_compared_too():
    library = copy.deepcopy(_fast._library_layouts())
    library["wflo_cost_args"]["fields"]["nanos"] += 8
    with pytest.raises(ImportError, match="wflo_cost_args"):
        _fast.check_layouts(library, _fast.LAYOUTS)


def test_the_py_api_struct_ctypes_fills_is_the_librarys():
    # _PyApi takes its fields from LAYOUTS["wflo_py_api"], which the import compared.
    library = _fast._library_layouts()["wflo_py_api"]
    assert {name: getattr(_fast._PyApi, name).offset for name, _ in _fast._PyApi._fields_} == library["fields"]
    assert ctypes.sizeof(_fast._PyApi) == library["size"]
    assert [name for name, _ in _fast._PyApi._fields_] == [name for name, _ in _fast.LAYOUTS["wflo_py_api"]]


def test_a_saves_info_takes_the_librarys_key_order(monkeypatch):
    # The library reads the keys off core's CheckpointInfo; _saved follows whatever order it says.
    keys = _fast._library_layouts()["checkpoint_info_keys"]
    assert list(_fast._INFO) == keys and "content_type" in keys
    monkeypatch.setattr(_fast, "_INFO", dict.fromkeys(reversed(keys)))  # a core writing them the other way
    assert list(_fast._saved("e", "n", "application/x-test")) == keys[::-1]
    assert list(_fast._saved("e", "n", None)) == [k for k in keys[::-1] if k != "content_type"]
