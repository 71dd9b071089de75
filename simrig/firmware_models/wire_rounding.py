"""How the pile rounds plant readings for the wire: the meter register (1e-4 kWh) and
the 0x13/0x23/0x25 values (protocol-ykc §4, resolutions per field)."""

from __future__ import annotations

import math

from simrig.domain import energy_from_kwh

__all__ = ["meter_units", "steady"]


def meter_units(kwh: float) -> int:
    """Meter register in 1e-4 kWh: ``energy_from_kwh(round(kwh, 6))`` in integers.

    ``round(kwh, 6)`` has at most 6 decimals, so times 1e6 it is an exact integer after
    ``round``; half up to 1e-4 kWh is then integer division (registers are >= 0)."""
    micro = round(round(kwh, 6) * 1_000_000)
    if micro < 0:
        return energy_from_kwh(round(kwh, 6))
    return (micro + 50) // 100


def steady(value: float, digits: int) -> float:
    """Round a plant reading half up to ``digits`` decimals for the wire, without float
    noise deciding a digit: the plant integrates analytically, so the same instant can
    differ in the 1e-12th place depending on how often it was advanced. Noise below
    1e-6 is dropped first (in integers: two ``round(x, n)`` cost four times as much)."""
    micro = math.floor(value * 1_000_000.0 + 0.5)
    step = _STEADY_STEP[digits]
    return (micro + step // 2) // step / _STEADY_SCALE[digits]


_STEADY_STEP = {0: 1_000_000, 1: 100_000, 2: 10_000}
_STEADY_SCALE = {0: 1, 1: 10, 2: 100}
