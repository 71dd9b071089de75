"""The money domain, shared by pile, platform and oracle (pure).

Exact integer energy, money and rates on the YKC wire scales (:mod:`.money`), the
time-of-use tariff and occupancy rule (:mod:`.tariff`), and the anomaly codes 1-11 that
the platform's own checks and the oracle both speak (:mod:`.anomaly`).
"""

from simrig.domain.anomaly import Anomaly, AnomalyCode, combo_label, describe, parse_combo
from simrig.domain.money import (
    ENERGY_SCALE,
    MONEY_SCALE,
    RATE_SCALE,
    Energy,
    Money,
    Rate,
    div_round_half_up,
    energy_from_kwh,
    energy_to_kwh,
    money_from_yuan,
    money_to_yuan,
    rate_from_yuan,
    rate_to_yuan,
)
from simrig.domain.tariff import (
    SLOTS_PER_DAY,
    Band,
    BandLine,
    BandRate,
    BillLines,
    OccupancyRule,
    RunningBill,
    Tariff,
    TariffError,
    default_tariff,
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
    "RunningBill",
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
