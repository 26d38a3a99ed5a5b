"""The structs the hot path packs by hand (``struct`` formats in ``wflo._fast``) are checked
against the layout libwflo reports (``wflo_layout_json``) when the package loads: a field the C
ABI moved would otherwise be read at the wrong offset, silently."""
from __future__ import annotations

import copy

import pytest

from wflo import _fast


def test_the_packed_layouts_are_the_librarys():
    library = _fast._library_layouts()
    for name, fields in _fast.LAYOUTS.items():
        assert _fast.layout_of(fields) == library[name], name
    _fast.check_layouts(library, _fast.LAYOUTS)  # what the import did


@pytest.mark.parametrize("wrong", ["moved", "missing", "size", "unknown struct"])
def test_a_wrong_layout_is_refused(wrong):
    library = _fast._library_layouts()
    ours = copy.deepcopy(_fast.LAYOUTS)
    if wrong == "moved":  # C's padding after input_count forgotten: every later field shifts
        ours["wflo_call_request"].remove((None, "4x"))
        ours["wflo_call_request"].append((None, "4x"))
    elif wrong == "missing":  # a field the library has and this package does not pack
        ours["wflo_settled"] = [f for f in ours["wflo_settled"] if f[0] != "usage_missing"] + [(None, "x")]
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
