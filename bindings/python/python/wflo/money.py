"""Dollars in, nano-USD out: the engine counts money in integers (1 USD = 10^9 nano-USD)."""
from __future__ import annotations

from decimal import Decimal
from typing import Optional, Union

from . import _ffi
from .errors import invalid, native

Dollars = Union[int, float, str, Decimal]


def to_nanos(usd: Optional[Dollars], what: str = "budget_usd") -> Optional[int]:
    """Nano-USD for an amount of dollars (a number, a Decimal or a string like "2.50"); None
    stays None. Negative, NaN or absurd amounts raise InvalidArgumentError."""
    if usd is None:
        return None
    if isinstance(usd, bool):
        raise invalid(f"{what} must be a number of dollars, got a bool")
    if isinstance(usd, (str, Decimal)):
        # Decimal and text go through the engine's exact decimal parser: no float rounding.
        return native(_ffi.parse_usd, str(usd).strip())
    if isinstance(usd, (int, float)):
        if usd < 0:
            raise invalid(f"{what} must not be negative, got {usd}")
        return native(_ffi.usd_to_nanos, float(usd))
    raise invalid(f"{what} must be a number of dollars, got {type(usd).__name__}")


def to_usd(nanos: Optional[int]) -> Optional[float]:
    return None if nanos is None else nanos / 1e9
