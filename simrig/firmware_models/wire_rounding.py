"""How the pile rounds plant readings for the wire: the meter register (1e-4 kWh) and
the 0x13/0x23/0x25 values (protocol-ykc §4, resolutions per field).

Every function here has a definition in terms of ``round(x, 6)`` (decimal rounding, which
drops float noise) and a fast path that gives the same integer without it whenever the
value is far enough from a rounding edge that float error cannot matter."""

from __future__ import annotations

import math

from simrig.domain import energy_from_kwh

__all__ = ["meter_units", "steady", "whole"]

#: below this, ``x * 1e6`` is within 1e-5 of its exact value (ulp(1e11) < 2e-5)
_FAST_MICRO_LIMIT = 1e11
#: distance from a rounding edge beyond which float error cannot move a result
_EDGE = 1e-3
#: below this, ``int(x)`` is exact and ``x - int(x)`` has no rounding error
_FAST_WHOLE_LIMIT = 1e15


def meter_units(kwh: float) -> int:
    """Meter register in 1e-4 kWh: ``energy_from_kwh(round(kwh, 6))`` in integers.

    ``round(kwh, 6)`` has at most 6 decimals, so times 1e6 it is an exact integer after
    ``round``; half up to 1e-4 kWh is then integer division (registers are >= 0)."""
    micro = _micro(kwh)
    if micro < 0:
        return energy_from_kwh(round(kwh, 6))
    return (micro + 50) // 100


def _micro(value: float) -> int:
    """``round(round(value, 6) * 1_000_000)``: the integer nearest to ``value × 1e6``.

    Fast path: ``y = value × 1e6`` is off its exact value by under 1e-5 (y < 1e11); when
    ``y``'s fraction is more than 1e-3 away from one half, the nearest integer is the
    same for ``y`` and the exact value (``y - int(y)`` is exact: Sterbenz)."""
    y = value * 1_000_000.0
    if 0.0 <= y < _FAST_MICRO_LIMIT:
        n = int(y)
        fraction = y - n
        if fraction < 0.5 - _EDGE:
            return n
        if fraction > 0.5 + _EDGE:
            return n + 1
    return round(round(value, 6) * 1_000_000)


def whole(value: float) -> int:
    """``int(round(value, 6))``: whole units of a reading after dropping float noise
    (SOC %). Fast path: a value >= 0 whose fraction stays 1e-3 below the next integer
    truncates to the same integer as its 6-decimal rounding."""
    if 0.0 <= value < _FAST_WHOLE_LIMIT:
        n = int(value)
        if value - n < 1.0 - _EDGE:
            return n
    return int(round(value, 6))


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
