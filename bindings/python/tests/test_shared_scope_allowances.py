"""A shared scope is served from local allowances unless told otherwise, per scope, kept in the
store: ``define_shared_scope(..., allowances=False)`` books every call in the store, and a scope
defined again without saying keeps its setting."""
import pytest

import wflo


def test_a_shared_scope_keeps_how_it_is_served(tmp_path):
    engine = wflo.Engine.open(str(tmp_path / "w.db"))
    engine.define_shared_scope("team", limit_usd=1)
    assert engine.shared_scope("team")["allowances"] is True
    engine.define_shared_scope("team", limit_usd=2, allowances=False)
    assert engine.shared_scope("team")["allowances"] is False
    engine.define_shared_scope("team", limit_usd=3)
    figures = engine.shared_scope("team")
    assert figures["allowances"] is False, "defined again without saying: kept"
    assert figures["limit_nanos"] == 3_000_000_000
    # Another process on the same store sees the setting.
    other = wflo.Engine.open(str(tmp_path / "w.db"))
    assert other.shared_scope("team")["allowances"] is False
    other.close()
    with pytest.raises(wflo.InvalidArgumentError):
        engine.define_shared_scope("team", allowances="no")
    engine.close()
