"""CC-CV charging physics: acceptance, power, voltage, SOC over time (pure, analytic)."""

from __future__ import annotations

import math
from functools import lru_cache

from simrig.plant.specs import TAPER_FLOOR

_INF = math.inf


def acceptance_kw(soc: float, max_kw: float, knee: float) -> float:
    """Vehicle acceptance at ``soc``: flat to ``knee``, then linear down to 10 % at 100 %."""
    if soc <= knee or knee >= 100.0:
        return max_kw
    return max_kw * (1.0 - (1.0 - TAPER_FLOOR) * (soc - knee) / (100.0 - knee))


def charge_power_kw(soc: float, max_kw: float, knee: float, cap_kw: float) -> float:
    """Charging power: min(vehicle acceptance, pile-side cap)."""
    return min(cap_kw, acceptance_kw(soc, max_kw, knee))


def battery_voltage_v(soc: float, nominal_v: float) -> float:
    """Battery terminal voltage: 90 % of nominal at 0 % SOC to 110 % at 100 %."""
    return nominal_v * (0.9 + 0.2 * soc / 100.0)


@lru_cache(maxsize=256)  # a pure function of few distinct triples, on every advance
def _regions(max_kw: float, knee: float, cap_kw: float) -> tuple[float, float, float, float]:
    """(s_star, flat_kw, beta, s_inf): flat power below s_star, then ds/dt ∝ beta·(s_inf − s)."""
    flat = min(cap_kw, max_kw)
    if knee >= 100.0:
        return _INF, flat, 0.0, _INF
    beta = (1.0 - TAPER_FLOOR) * max_kw / (100.0 - knee)  # kW per % SOC
    s_inf = knee + (100.0 - knee) / (1.0 - TAPER_FLOOR)  # where acceptance would hit 0
    if cap_kw >= max_kw:
        s_star = knee
    else:
        s_star = knee + (1.0 - cap_kw / max_kw) * (100.0 - knee) / (1.0 - TAPER_FLOOR)
    return s_star, flat, beta, s_inf


def soc_after(
    soc: float, dt: float, max_kw: float, knee: float, cap_kw: float, capacity_kwh: float
) -> float:
    """SOC after charging ``dt`` seconds from ``soc`` (exact; not clamped at any target)."""
    if dt <= 0.0:
        return soc
    k = 100.0 / (3600.0 * capacity_kwh)  # % SOC per kW·s
    s_star, flat, beta, s_inf = _regions(max_kw, knee, cap_kw)
    if soc < s_star:
        t_flat = (s_star - soc) / (k * flat)
        if dt <= t_flat:
            return soc + k * flat * dt
        soc, dt = s_star, dt - t_flat
    return soc + (s_inf - soc) * -math.expm1(-k * beta * dt)


def seconds_to_soc(
    soc: float, target: float, max_kw: float, knee: float, cap_kw: float, capacity_kwh: float
) -> float:
    """Seconds of charging to go from ``soc`` to ``target`` (0 if already there)."""
    if target <= soc:
        return 0.0
    k = 100.0 / (3600.0 * capacity_kwh)
    s_star, flat, beta, s_inf = _regions(max_kw, knee, cap_kw)
    t = 0.0
    if soc < s_star:
        upto = min(target, s_star)
        t = (upto - soc) / (k * flat)
        if target <= s_star:
            return t
        soc = s_star
    return t + math.log1p((target - soc) / (s_inf - target)) / (k * beta)
