"""The CrewAI environment's tests (CrewAI pins openai<3). pytest finds ../pytest.ini
(asyncio_mode=auto) and loads ../conftest.py (the `mock` and `engine` fixtures) for this
directory too; this file makes CrewAI run offline, before anything imports it: no telemetry,
tracing or version check (each would wait on the network), a private home for its storage, and
no terminal to prompt on."""
from __future__ import annotations

import importlib.util
import os
import tempfile

_spec = importlib.util.find_spec("crewai")
if _spec is None or _spec.origin is None:  # (this very directory passes for a namespace package)
    # The main environment has no CrewAI: nothing here to collect, nothing to change.
    collect_ignore_glob = ["test_*.py"]
else:
    _home = tempfile.mkdtemp(prefix="wflo-crewai-home-")
    os.environ.update(
        CREWAI_DISABLE_TELEMETRY="true",
        OTEL_SDK_DISABLED="true",
        CREWAI_TRACING_ENABLED="false",
        CREWAI_DISABLE_VERSION_CHECK="true",
        HOME=_home,
        CREWAI_STORAGE_DIR=os.path.join(_home, "crewai"),
        OPENAI_API_KEY="not-a-key",  # every LLM in the tests gets its own base_url and key
    )
    # CrewAI may ask on the terminal (trace consent): stdin is /dev/null, as under `make`.
    _null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(_null, 0)
    os.close(_null)
