"""Exact integer units of the YKC wire and the one rounding rule (protocol §5, §4.12).

Pure: no I/O, no clock, no randomness. All plain ``int``:

* energy  -- 1e-4 kWh   (``ENERGY_SCALE`` = 10_000 per kWh)
* money   -- 1e-4 yuan  (``MONEY_SCALE`` = 10_000 per yuan)
* rate    -- 1e-5 yuan/kWh (``RATE_SCALE`` = 100_000 per yuan/kWh)

Rounding rule, used everywhere a result falls between two wire units: **round half up
to the wire unit** (half away from zero, i.e. ``decimal.ROUND_HALF_UP``). Every amount
is computed from exact integer products and rounded once.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TypeAlias

__all__ = [
    "ENERGY_SCALE",
    "MONEY_SCALE",
    "RATE_SCALE",
    "Energy",
    "Money",
    "Rate",
    "div_round_half_up",
    "energy_from_kwh",
    "energy_to_kwh",
    "money_from_yuan",
    "money_to_yuan",
    "rate_from_yuan",
    "rate_to_yuan",
]

Energy: TypeAlias = int
"""Energy in 1e-4 kWh (YKC 0x13 / 0x3B energy fields)."""
Money: TypeAlias = int
"""Money in 1e-4 yuan (YKC 0x3B amount fields)."""
Rate: TypeAlias = int
"""Price per kWh in 1e-5 yuan (YKC 0x0A/0x58 rates, 0x3B unit prices)."""

ENERGY_SCALE = 10_000
MONEY_SCALE = 10_000
RATE_SCALE = 100_000
# --------------------------------------------------------------------------- units


def div_round_half_up(numerator: int, denominator: int) -> int:
    """Exact ``numerator / denominator`` rounded half up (half away from zero)."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    if numerator < 0:
        return -((-2 * numerator + denominator) // (2 * denominator))
    return (2 * numerator + denominator) // (2 * denominator)


def _to_decimal(value: Decimal | float | int | str) -> Decimal:
    """Decimal of ``value``; a float is read via ``repr`` (the digits a user typed)."""
    if isinstance(value, bool):
        raise TypeError("expected a number, got bool")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, float):
        result = Decimal(repr(value))
    elif isinstance(value, int | str):
        try:
            result = Decimal(value)
        except InvalidOperation:
            raise ValueError(f"not a number: {value!r}") from None
    else:
        raise TypeError(f"expected a number, got {type(value).__name__}")
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result


def _scale(value: Decimal | float | int | str, scale: int) -> int:
    return int((_to_decimal(value) * scale).to_integral_value(rounding=ROUND_HALF_UP))


def energy_from_kwh(kwh: Decimal | float | int | str) -> Energy:
    """kWh -> 1e-4 kWh units, rounded half up."""
    return _scale(kwh, ENERGY_SCALE)


def energy_to_kwh(energy: Energy) -> Decimal:
    """1e-4 kWh units -> exact kWh."""
    return Decimal(energy) / ENERGY_SCALE


def money_from_yuan(yuan: Decimal | float | int | str) -> Money:
    """Yuan -> 1e-4 yuan units, rounded half up."""
    return _scale(yuan, MONEY_SCALE)


def money_to_yuan(money: Money) -> Decimal:
    """1e-4 yuan units -> exact yuan."""
    return Decimal(money) / MONEY_SCALE


def rate_from_yuan(yuan_per_kwh: Decimal | float | int | str) -> Rate:
    """Yuan/kWh -> 1e-5 yuan/kWh units, rounded half up."""
    return _scale(yuan_per_kwh, RATE_SCALE)


def rate_to_yuan(rate: Rate) -> Decimal:
    """1e-5 yuan/kWh units -> exact yuan/kWh."""
    return Decimal(rate) / RATE_SCALE
