"""Price files from Python: Engine.load_prices (LiteLLM's JSON as published, wflo's own schema),
what a load reports, a bad file refused whole with its line, WFLO_PRICES read by every new
engine, and the table a breakdown names. The rules are core's; this checks the face carries them."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import wflo

# What next week's LiteLLM file looks like: a model the built-in table lacks, a new price for
# one it has, and an image-priced entry (not a per-token price: skipped, on line 19).
NEXT_RELEASE = """{
    "sample_spec": {
        "input_cost_per_token": 0.0,
        "output_cost_per_token": 0.0,
        "litellm_provider": "one of https://docs.litellm.ai/docs/providers"
    },
    "acme-frontier-9": {
        "litellm_provider": "openai",
        "mode": "chat",
        "max_output_tokens": 32000,
        "input_cost_per_token": 3e-06,
        "output_cost_per_token": 1.5e-05
    },
    "gpt-4o": {
        "litellm_provider": "openai", "mode": "chat", "max_input_tokens": 128000, "max_output_tokens": 16384,
        "input_cost_per_token": 5e-06, "output_cost_per_token": 1e-05, "cache_read_input_token_cost": 1.25e-06,
        "deprecation_date": "2027-01-14"
    },
    "acme-image-3": {"litellm_provider": "openai", "mode": "image_generation", "input_cost_per_image": 0.04}
}
"""

# The third entry's price is a string: the file is refused at line 4, and acme-a (line 2) and
# gpt-4o (line 3) are not applied either.
BAD = (
    '{\n'
    '  "acme-a": {"litellm_provider": "openai", "input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6},\n'
    '  "gpt-4o": {"input_cost_per_token": 9e-6, "output_cost_per_token": 9e-6},\n'
    '  "acme-b": {"input_cost_per_token": "0.000001", "output_cost_per_token": 2e-6}\n'
    '}\n'
)


@pytest.fixture
def next_release(tmp_path):
    path = tmp_path / "next.json"
    path.write_text(NEXT_RELEASE)
    return path


def test_a_litellm_file_adds_a_model_that_is_then_priced(engine, next_release):
    with pytest.raises(wflo.UnknownModelError):
        engine.cost("acme-frontier-9", input=1)
    gpt4o = engine.cost("gpt-4o", input=1_000_000)

    changes = engine.load_prices(next_release)  # a pathlib.Path: any os.PathLike
    assert isinstance(changes, wflo.PriceChanges)
    assert changes.origin == str(next_release)
    assert changes.format == "litellm"
    assert changes.models == 2
    assert changes.added == ("acme-frontier-9",)
    assert changes.changed == (
        wflo.PriceChange("gpt-4o", (wflo.PriceFieldChange("input", 2_500_000, 5_000_000),)),
    )
    assert changes.unchanged == 0
    (skipped,) = changes.skipped
    assert isinstance(skipped, wflo.SkippedPrice)
    assert (skipped.name, skipped.line) == ("acme-image-3", 19)
    assert skipped.reason

    # $3 + $15 per million, and gpt-4o's input at the file's $5/M (twice the table's).
    assert engine.cost("acme-frontier-9", input=1_000_000, output=1_000_000) == 18_000_000_000
    assert engine.cost("gpt-4o", input=1_000_000) == 2 * gpt4o == 5_000_000_000
    assert engine.price("acme-frontier-9")["resolved"] == "acme-frontier-9"

    table = engine.price_table()
    assert isinstance(table, wflo.PriceTable)
    (loaded,) = table.files
    assert isinstance(loaded, wflo.PriceFile)
    assert (loaded.origin, loaded.format, loaded.models) == (str(next_release), "litellm", 2)
    assert loaded.version is None and loaded.retrieved  # LiteLLM's file states no date: when it was written
    assert table.overrides >= 2

    # Loading the same file again changes nothing.
    again = engine.load_prices(str(next_release))
    assert again.added == () and again.changed == () and again.unchanged == 2


def test_a_call_is_reserved_and_settled_at_the_files_prices(engine, next_release):
    engine.load_prices(next_release)
    wf = wflo.WfloWorkflow("priced", budget_usd="0.05", engine=engine)

    def body(_):
        reservation, _body = wf.reserve_request("openai_chat", {
            "model": "acme-frontier-9", "max_tokens": 400,
            "messages": [{"role": "user", "content": "Plan the migration."}],
        })
        reservation.settle_result("openai_chat", {
            "model": "acme-frontier-9",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Done."}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 14, "completion_tokens": 300, "total_tokens": 314},
        })

    wf.execute_sync(body)
    b = wf.breakdown_sync()
    assert b["total_nanos"] == 14 * 3_000 + 300 * 15_000
    assert b["price_table"].startswith(engine.price_table().source)
    assert " + next.json (LiteLLM, " in b["price_table"]


def test_a_bad_file_raises_the_typed_error_naming_the_line_and_nothing_is_applied(engine, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(BAD)
    gpt4o = engine.cost("gpt-4o", input=1000)

    with pytest.raises(wflo.InvalidArgumentError) as err:
        engine.load_prices(bad)
    assert err.value.code == "INVALID_ARGUMENT"
    message = str(err.value)
    assert "bad.json, line 4" in message and "acme-b" in message and "must be a number" in message, message

    with pytest.raises(wflo.UnknownModelError):
        engine.cost("acme-a", input=1)
    assert engine.cost("gpt-4o", input=1000) == gpt4o
    assert engine.price_table().files == ()

    with pytest.raises(wflo.InvalidArgumentError, match="cannot read the price file"):
        engine.load_prices(tmp_path / "missing.json")
    with pytest.raises(wflo.InvalidArgumentError, match="path must be"):
        engine.load_prices(42)  # type: ignore[arg-type]
    with pytest.raises(wflo.InvalidArgumentError, match="path must be"):
        engine.load_prices(b"/tmp/prices.json")  # type: ignore[arg-type]


def test_the_breakdown_names_the_table_and_the_file(engine, tmp_path):
    wf = wflo.WfloWorkflow("named", engine=engine)
    wf.start_sync()
    table = engine.price_table()
    assert table.files == () and table.models > 1000
    assert wf.breakdown_sync()["price_table"] == f"{table.source} {table.version} ({table.retrieved})"

    ours = tmp_path / "ours.json"
    ours.write_text(json.dumps({
        "schema_version": 1,
        "source": {"version": "2026-12-01", "retrieved": "2026-12-01"},
        "models": [{"name": "in-house-llm", "provider": "vllm", "input": 100000, "output": 200000}],
    }))
    changes = engine.load_prices(os.fspath(ours))
    assert changes.format == "wflo" and changes.added == ("in-house-llm",)
    (loaded,) = engine.price_table().files
    assert (loaded.version, loaded.retrieved) == ("2026-12-01", "2026-12-01")
    assert wf.breakdown_sync()["price_table"].endswith(" + ours.json (wflo 2026-12-01, 2026-12-01)")


# Run in a fresh interpreter: WFLO_PRICES is read from the process environment when an engine opens.
CHILD = """
import json, wflo
try:
    engine = wflo.Engine.open("memory://")
except wflo.InvalidArgumentError as e:
    print(json.dumps({"error": e.code, "message": str(e)}))
else:
    wf = wflo.WfloWorkflow("env", engine=engine)
    wf.execute_sync(lambda _: None)
    print(json.dumps({
        "cost": engine.cost("acme-frontier-9", input=1_000_000),
        "files": [f.origin for f in engine.price_table().files],
        "price_table": wf.breakdown_sync()["price_table"],
    }))
"""


def run_child(prices: str) -> dict:
    env = {**os.environ, "WFLO_PRICES": prices}
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_wflo_prices_is_loaded_by_every_new_engine(next_release, tmp_path):
    got = run_child(str(next_release))
    assert got["cost"] == 3_000_000_000
    assert got["files"] == [str(next_release)]
    assert " + next.json (LiteLLM, " in got["price_table"]

    bad = tmp_path / "bad.json"
    bad.write_text(BAD)
    got = run_child(str(bad))
    assert got["error"] == "INVALID_ARGUMENT"
    assert "WFLO_PRICES: price file" in got["message"] and "line 4" in got["message"], got["message"]
