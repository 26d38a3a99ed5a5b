"""Starts `wflo mock-llm --port 0` once for the session and gives tests its base URL, plus a
helper that asks `wflo tokens` what wflo counts."""
import json
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def wflo_bin() -> str:
    return os.environ.get("WFLO_BIN", str(ROOT / "target" / "debug" / "wflo"))


@pytest.fixture(scope="session")
def mock_url():
    proc = subprocess.Popen([wflo_bin(), "mock-llm", "--port", "0"], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    assert line.startswith("wflo mock-llm listening on http://127.0.0.1:"), line
    yield line.rsplit(" ", 1)[1]
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def wflo_count():
    """wflo's count of `text` (or, with chat=True, of a messages list) for `model`."""

    def count(model, value, chat=False):
        args = [wflo_bin(), "tokens", "--model", model, "--json"] + (["--chat"] if chat else [])
        data = json.dumps(value) if chat else value
        out = subprocess.run(args, input=data, capture_output=True, text=True, check=True).stdout
        return json.loads(out)["tokens"]

    return count
