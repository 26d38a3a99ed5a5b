"""``wflo.instrument()``: meter the official ``openai``, ``anthropic`` and ``google-genai``
clients (google-genai: ``models.generate_content`` / ``generate_content_stream``, sync and
``aio``; see ``instrument/genai.py``).

    wflo.instrument()          # every client of both SDKs, existing and future (class level)
    wflo.instrument(client)    # only this client (instance level) and its with_options() copies
    wflo.uninstrument()        # removes both; wflo.uninstrument(client) only that client's

Inside a workflow (``execute``, ``step``), every call is reserved BEFORE its request is sent —
the prompt counted, ``max_tokens`` (None: the model's maximum) of output — and refused with
:class:`wflo.BudgetExceededError` when it could overspend: no request reaches the provider.
After, it is settled from the response's usage. Streams are metered event by event (openai
chat streams get ``stream_options.include_usage``) and settled when they end; a stream cut
before its usage is estimated, never free. An exception from the SDK releases the
reservation ("error"); cancellation records it "aborted". Outside a workflow calls pass
through untouched. Covered: openai ``chat.completions`` and ``responses`` (``create``,
``parse``, ``stream()``, ``with_raw_response``), anthropic ``messages`` and ``beta.messages``
(``create``, ``parse``, ``stream()``, ``with_raw_response``); sync and async.

Code that meters SDK calls another way can wrap them in :func:`unmetered` so they are never
charged twice.
"""
from __future__ import annotations

import sys
from typing import Any, List, Optional

from ..errors import invalid
from .common import Sdk, unmetered
from .patching import patch_class, patch_client, unpatch

__all__ = ["instrument", "uninstrument", "unmetered"]


def _sdks(imported_only: bool = False) -> List[Sdk]:
    """The SDKs installed — or, for one client, those already imported (its own is, and
    importing the other would cost a second for nothing)."""
    from . import anthropic, openai

    modules = [m for m in (openai, anthropic) if not imported_only or m.__name__.rsplit(".", 1)[1] in sys.modules]
    return [sdk for sdk in (m.load() for m in modules) if sdk is not None]


def instrument(client: Optional[Any] = None) -> Any:
    """Meters the openai and anthropic SDKs: all their clients (``client`` None), or only
    ``client`` (an ``OpenAI``/``AsyncOpenAI``/``Anthropic``/``AsyncAnthropic`` or any client of
    theirs). Idempotent. Returns ``client``."""
    sdks = _sdks(imported_only=client is not None)
    if client is None:
        for sdk in sdks:
            for cls, methods in sdk.targets.items():
                for name, endpoint in methods.items():
                    patch_class(sdk, cls, name, endpoint)
        _genai().instrument_class()
        return None
    if not any([patch_client(sdk, client) for sdk in sdks]) and not _genai_client(client):
        raise invalid(f"instrument() meters openai, anthropic and google-genai clients, not a {type(client).__name__}")
    return client


# -- google-genai (its own hook point: the SDK's API client; see instrument/genai.py) ----------

def _genai() -> Any:
    from . import genai

    return genai


def _genai_client(client: Any) -> bool:
    return "google.genai" in sys.modules and _genai().instrument_client(client)


def uninstrument(client: Optional[Any] = None) -> None:
    """Undoes :func:`instrument`: everything, or only what ``instrument(client)`` did."""
    unpatch(client)
