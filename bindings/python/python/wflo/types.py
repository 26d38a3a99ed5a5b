"""The small value types of the API."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, NamedTuple, Optional, Tuple


class Usage(NamedTuple):
    """Token usage in wflo's six DISJOINT fields: each token counted once, at its own price.

    ``input`` excludes cache reads and writes; ``output`` excludes reasoning. (A named tuple:
    immutable and cheap to make, as one is made for every call.)
    """

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write_5m: int = 0
    cache_write_1h: int = 0
    reasoning: int = 0


class BinaryState(NamedTuple):
    """A checkpoint state in your own format: ``data`` (bytes) named by ``content_type`` (e.g.
    ``"application/msgpack"``). Saved and returned byte for byte, never wrapped in JSON:
    ``workflow.checkpoint(name, BinaryState("application/msgpack", packed))``; the rollback,
    latest and by-id reads return one for a binary state (and the JSON value for a JSON one)."""

    content_type: str
    data: bytes


class Settled(NamedTuple):
    """What a settled (or recorded) call came to."""

    seq: int
    cost_nanos: int
    reserved_nanos: int
    overrun_nanos: int
    #: The usage is an estimate (a stream cut before the provider's usage, no usage returned).
    estimated: bool
    usage_missing: bool
    usage: Usage = Usage()

    @property
    def cost_usd(self) -> float:
        return self.cost_nanos / 1e9


@dataclass(frozen=True)
class TokenCount:
    tokens: int
    encoding: str
    #: True when the model's provider has no offline tokenizer and cl100k_base stood in.
    estimated: bool


@dataclass(frozen=True)
class CallRequest:
    """What is known about a call before it is made.

    ``max_output_tokens`` None: the model's maximum output is assumed. ``input_estimated``
    None: decided by the model's tokenizer. ``cache_write``: None, "5m" or "1h".
    """

    model: str
    input_tokens: int = 0
    max_output_tokens: Optional[int] = None
    provider: Optional[str] = None
    input_estimated: Optional[bool] = None
    cache_write: Optional[str] = None
    stream: bool = False
    clamp_max_tokens: bool = False


# -- price files -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PriceFieldChange:
    """One field of a model's entry before and after a price file (None: absent). Prices are
    pico-USD per token, as in :meth:`Engine.price`."""

    field: str
    before: Any
    after: Any


@dataclass(frozen=True)
class PriceChange:
    """A model whose entry a price file changes, field by field."""

    name: str
    fields: Tuple[PriceFieldChange, ...]


@dataclass(frozen=True)
class SkippedPrice:
    """An entry of a price file that is not a per-token price (LiteLLM's image, audio, search
    prices…): reported, never an error. ``line`` is its line in the file."""

    name: str
    line: int
    reason: str


@dataclass(frozen=True)
class PriceChanges:
    """What :meth:`Engine.load_prices` changed in the table.

    ``format`` is "wflo" or "litellm"; ``models`` the price entries in the file; ``added`` the
    names the table did not have; ``unchanged`` the entries equal to what it had.
    """

    origin: str
    format: str
    models: int
    added: Tuple[str, ...]
    changed: Tuple[PriceChange, ...]
    unchanged: int
    skipped: Tuple[SkippedPrice, ...]

    @classmethod
    def _of(cls, d: Dict[str, Any]) -> "PriceChanges":
        return cls(
            d["origin"], d["format"], d["models"], tuple(d["added"]),
            tuple(PriceChange(c["name"], tuple(PriceFieldChange(f["field"], f["before"], f["after"])
                                               for f in c["fields"])) for c in d["changed"]),
            d["unchanged"], tuple(SkippedPrice(s["name"], s["line"], s["reason"]) for s in d["skipped"]),
        )


@dataclass(frozen=True)
class PriceFile:
    """A price file loaded over the built-in table (``version``/``retrieved``: what it states,
    else the day it was last written; None when unknown)."""

    origin: str
    format: str
    models: int
    version: Optional[str] = None
    retrieved: Optional[str] = None


@dataclass(frozen=True)
class PriceTable:
    """Where an engine's prices come from: the built-in table's ``source``, ``version`` and
    ``retrieved`` date, the ``files`` loaded over it in order, and ``overrides`` (names priced
    at run time by files and :meth:`Engine.set_prices`). A breakdown's ``price_table`` is the
    same in one line."""

    source: str
    version: str
    retrieved: str
    models: int
    files: Tuple[PriceFile, ...]
    overrides: int

    @classmethod
    def _of(cls, d: Dict[str, Any]) -> "PriceTable":
        return cls(
            d["source"], d["version"], d["retrieved"], d["models"],
            tuple(PriceFile(f["origin"], f["format"], f["models"], f.get("version"), f.get("retrieved"))
                  for f in d["files"]),
            d["overrides"],
        )


# -- approval gates ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Approval:
    """An approval gate's record, as the store holds it (every process sees the same).

    ``status``: "pending", "approved", "denied" or "expired" (no decision before
    ``expires_at_ms``; ``on_timeout`` — "deny" or "approve" — says what that meant).
    ``gate`` is the step it guards within execution ``execution_id``: the same gate asked
    again finds this record. ``worst_case_nanos`` (``worst_case_usd``) is the spend behind the
    gate when it was given; approved spend still goes through the budget. Times are ms since
    the Unix epoch.
    """

    id: str
    execution_id: str
    gate: str
    what: str
    why: str
    status: str
    requested_by: str
    on_timeout: str
    worst_case_nanos: Optional[int] = None
    decided_by: Optional[str] = None
    note: Optional[str] = None
    created_at_ms: int = 0
    expires_at_ms: Optional[int] = None
    decided_at_ms: Optional[int] = None

    @property
    def worst_case_usd(self) -> Optional[float]:
        return None if self.worst_case_nanos is None else self.worst_case_nanos / 1e9

    @classmethod
    def _of(cls, d: Dict[str, Any]) -> "Approval":
        return cls(d["id"], d["execution_id"], d["gate"], d["what"], d["why"], d["status"], d["requested_by"],
                   d["on_timeout"], d.get("worst_case_nanos"), d.get("decided_by"), d.get("note"),
                   d.get("created_at_ms", 0), d.get("expires_at_ms"), d.get("decided_at_ms"))
