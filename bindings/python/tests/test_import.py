"""``import wflo`` defers everything to first use: the native library, the price table, asyncio
and the integrations load when a name that needs them is first asked for. Each check runs in a
fresh interpreter, as the import is a process's first."""
from __future__ import annotations

import subprocess
import sys

import pytest


def fresh(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_the_import_loads_nothing_heavy():
    code = ("import sys\n"
            "before = set(sys.modules)\n"
            "import wflo\n"
            "heavy = ('wflo._ffi', 'wflo.engine', 'wflo.integrations', 'asyncio', 'typing', 'ctypes', 'json')\n"
            "print(sorted(m for m in heavy if m in sys.modules and m not in before))")
    assert fresh(code) == "[]"


def test_every_public_name_resolves_and_is_listed():
    out = fresh(
        "import wflo\n"
        "missing = [n for n in wflo.__all__ if getattr(wflo, n, None) is None]\n"
        "print(missing, set(wflo.__all__) <= set(dir(wflo)), wflo.__version__ == wflo._ffi.wflo_version())"
    )
    assert out == "[] True True"


def test_star_import_gives_the_public_names():
    assert fresh("from wflo import *\nprint(WfloWorkflow.__name__, callable(track_llm_call), resilience.__name__)") == (
        "WfloWorkflow True wflo.resilience"
    )


@pytest.mark.parametrize("first", ["import wflo.instrument.patching", "from wflo.instrument import patching",
                                   "import wflo"])
def test_wflo_instrument_stays_the_function_whoever_imports_its_subpackage_first(first):
    out = fresh(f"import warnings\nwarnings.simplefilter('error')\n{first}\nimport wflo\n"
                "print(callable(wflo.instrument), wflo.instrument.__module__)")
    assert out == "True wflo.instrument"


def test_an_unknown_name_is_an_attribute_error():
    out = fresh("import wflo\ntry:\n    wflo.no_such_name\nexcept AttributeError as e:\n    print(e)")
    assert out == "module 'wflo' has no attribute 'no_such_name'"


def test_a_workflow_runs_without_importing_the_integrations_by_hand():
    # The runners and framework hooks register on the first question asked of them.
    out = fresh(
        "import wflo\n"
        "wf = wflo.WfloWorkflow('lazy', budget_usd=1, engine=wflo.Engine.open('memory://'))\n"
        "print(wf.execute_sync(lambda x: x + 1, 41))"
    )
    assert out == "42"
