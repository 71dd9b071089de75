"""Pure billing foundations shared by the pile side and the platform side.

Exact integer money/energy on the YKC wire scales (see :mod:`simrig.billing.tariff`)
and the platform's anomaly codes 1-11 (:mod:`simrig.billing.anomaly`).
"""

from simrig.billing.anomaly import Anomaly, AnomalyCode, combo_label, describe, parse_combo
from simrig.billing.tariff import (
    ENERGY_SCALE,
    MONEY_SCALE,
    RATE_SCALE,
    SLOTS_PER_DAY,
    Band,
    BandLine,
    BandRate,
    BillLines,
    Energy,
    Money,
    OccupancyRule,
    Rate,
    Tariff,
    TariffError,
    default_tariff,
    div_round_half_up,
    energy_from_kwh,
    energy_to_kwh,
    money_from_yuan,
    money_to_yuan,
    rate_from_yuan,
    rate_to_yuan,
    tariff_from_mapping,
)

__all__ = [
    "ENERGY_SCALE",
    "MONEY_SCALE",
    "RATE_SCALE",
    "SLOTS_PER_DAY",
    "Anomaly",
    "AnomalyCode",
    "Band",
    "BandLine",
    "BandRate",
    "BillLines",
    "Energy",
    "Money",
    "OccupancyRule",
    "Rate",
    "Tariff",
    "TariffError",
    "combo_label",
    "default_tariff",
    "describe",
    "div_round_half_up",
    "energy_from_kwh",
    "energy_to_kwh",
    "money_from_yuan",
    "money_to_yuan",
    "parse_combo",
    "rate_from_yuan",
    "rate_to_yuan",
    "tariff_from_mapping",
]
