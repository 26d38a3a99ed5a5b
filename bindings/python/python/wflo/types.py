"""The small value types of the API."""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Optional


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
