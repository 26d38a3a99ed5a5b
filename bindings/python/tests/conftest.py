"""Fixtures shared by the Python tests: `wflo mock-llm` for the session (real SDKs talk HTTP to
it on 127.0.0.1; it counts the requests it serves) and fresh engines on real stores."""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import urllib.request

import pytest

import wflo

ROOT = pathlib.Path(__file__).resolve().parents[3]
VECTORS = ROOT / "tests" / "vectors"


def wflo_bin() -> str:
    return os.environ.get("WFLO_BIN", str(ROOT / "target" / "debug" / "wflo"))


class Mock:
    def __init__(self, url: str) -> None:
        self.url = url

    def openai_base(self, directives: str = "") -> str:
        """Base URL for OpenAI clients; `directives` like "cached=5,reply=10" (see the README)."""
        return f"{self.url}/mock/{directives}/v1" if directives else f"{self.url}/v1"

    def anthropic_base(self, directives: str = "") -> str:
        return f"{self.url}/mock/{directives}" if directives else self.url

    def stats(self) -> dict:
        """Requests served so far: {"chat.completions": n, "messages": n, "total": n, …}."""
        with urllib.request.urlopen(f"{self.url}/__mock/stats") as r:
            return json.loads(r.read())

    def requests(self) -> int:
        return self.stats().get("total", 0)


@pytest.fixture(scope="session")
def mock():
    proc = subprocess.Popen([wflo_bin(), "mock-llm", "--port", "0"], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    assert line.startswith("wflo mock-llm listening on http://127.0.0.1:"), line
    yield Mock(line.rsplit(" ", 1)[1])
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def engine(tmp_path):
    """An engine on a fresh SQLite file, closed after the test."""
    eng = wflo.Engine.open(str(tmp_path / "wflo.db"))
    yield eng
    eng.close()


@pytest.fixture
def default_engine(engine):
    """`engine`, also made the process-wide default (for code that uses the default)."""
    wflo.set_default_engine(engine)
    yield engine
    wflo.set_default_engine(None)


@pytest.fixture
def clean_patches():
    """Undoes wflo.instrument() after a test (modules that patch SDKs use it for every test)."""
    yield
    wflo.uninstrument()


@pytest.fixture
def instrumented(clean_patches):
    """wflo.instrument() for one test, undone after it."""
    wflo.instrument()
    yield
