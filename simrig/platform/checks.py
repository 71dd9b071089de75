"""The reference platform's own bill check and anomaly flags (codes 1-11), pure.

The platform sees only two things: the pile's bill (0x3B) and its own record built from
realtime data (0x13) and its own observations (charge end, unplug). These checks flag a
bill from that view alone -- they are *not* the oracle, which also knows the truth.

Which code when (field-incidents.md "Anomaly codes"):

* 3  time anomaly: a missing time, end before start, a time later than the receive time
  plus the allowed skew, a start before the order existed, a transaction time before
  the charge end;
* 4  energy anomaly: total above the plausible session maximum or the pile's power,
  tier energies not adding up, meter end below meter start, meter delta below the total;
* 5  duration anomaly: zero duration with energy, or longer than the maximum;
* 6  occupancy anomaly: negative or longer than the maximum, or a fee after < 60 s of
  charging (zpd_case#5_20191017);
* 7  overlap with another bill on the same gun;
* 8  bill energy above the platform's realtime record by more than the tolerance;
* 9  charging duration differs from the platform's record;
* 10 occupancy duration differs from the platform's unplug observation;
* 11 energy lost: realtime record (or meter delta) above the bill's energy.

Codes 1 and 2 (no bill) are raised by the platform's sweep (:func:`lost_bill_code`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from simrig.domain import (
    ENERGY_SCALE,
    Band,
    BillLines,
    Energy,
    Money,
    OccupancyRule,
    Tariff,
)
from simrig.domain.anomaly import AnomalyCode

__all__ = [
    "BillFacts",
    "CheckLimits",
    "PlatformRecord",
    "check_bill",
    "lost_bill_code",
    "occupancy_fee",
    "recompute_amount",
]


@dataclass(frozen=True, slots=True)
class CheckLimits:
    """Thresholds of the checks (the platform rules' ``max_*`` / ``*_tolerance*``).

    The defaults here are the rules' defaults too (``PlatformRules`` takes them from here and
    builds its limits with ``PlatformRules.check_limits``); ``max_power_kw`` is per pile."""

    max_clock_skew_s: float = 300.0
    max_session_energy_kwh: float = 300.0
    max_session_hours: float = 24.0
    max_occupancy_minutes: float = 240.0
    energy_tolerance_kwh: float = 0.5
    energy_tolerance_pct: float = 3.0
    duration_tolerance_s: float = 120.0
    occupancy_tolerance_s: float = 300.0
    max_power_kw: float = 480.0

    def energy_tolerance(self, energy: Energy) -> Energy:
        absolute = round(self.energy_tolerance_kwh * ENERGY_SCALE)
        relative = round(energy * self.energy_tolerance_pct / 100)
        return max(absolute, relative)


@dataclass(frozen=True, slots=True)
class BillFacts:
    """What the bill says (integer units: energy 1e-4 kWh, money 1e-4 yuan)."""

    start_time: datetime | None
    end_time: datetime | None
    trade_time: datetime | None
    band_energies: tuple[Energy, Energy, Energy, Energy]
    total_energy: Energy
    meter_start: Energy
    meter_end: Energy
    received_at: datetime
    occupancy_fee: Money = 0


@dataclass(frozen=True, slots=True)
class PlatformRecord:
    """The platform's own record of the session (from realtime data and observations)."""

    created_at: datetime | None = None
    started_at: datetime | None = None
    charge_end_at: datetime | None = None
    unplugged_at: datetime | None = None
    realtime_energy: Energy | None = None  # None = no realtime data with energy


def recompute_amount(tariff: Tariff, band_energies: Sequence[Energy]) -> BillLines:
    """The tariff's bill for the bill's per-band energy split."""
    return tariff.price({band: band_energies[band] for band in Band})


def occupancy_fee(
    rule: OccupancyRule | None, charge_end: datetime | None, service_end: datetime | None
) -> tuple[Money, float]:
    """``(fee, billable minutes)``: (service end - (charge end + free)) × rate (zpd_case#4)."""
    if rule is None or charge_end is None or service_end is None:
        return 0, 0.0
    gap = rule.billable(charge_end, service_end)
    return rule.fee(charge_end, service_end), gap / timedelta(minutes=1)


def check_bill(
    bill: BillFacts,
    record: PlatformRecord | None,
    limits: CheckLimits,
    overlapping: Sequence[str] = (),
) -> list[tuple[AnomalyCode, str]]:
    """Anomaly codes 3-11 for one bill, each with a one-line explanation."""
    out: list[tuple[AnomalyCode, str]] = []
    skew = timedelta(seconds=limits.max_clock_skew_s)
    start, end, trade = bill.start_time, bill.end_time, bill.trade_time

    # 3 time anomaly
    times = {"start": start, "end": end, "trade": trade}
    missing = [name for name, value in times.items() if value is None and name != "trade"]
    if missing:
        out.append((AnomalyCode.TIME_ANOMALY, f"missing {', '.join(missing)} time"))
    elif start is not None and end is not None:
        if end < start:
            out.append((AnomalyCode.TIME_ANOMALY, f"end {end} before start {start}"))
        future = [n for n, v in times.items() if v is not None and v > bill.received_at + skew]
        if future:
            out.append(
                (
                    AnomalyCode.TIME_ANOMALY,
                    f"{'/'.join(future)} time after receipt {bill.received_at}",
                )
            )
        if (
            record is not None
            and record.created_at is not None
            and start < record.created_at - skew
        ):
            out.append(
                (AnomalyCode.TIME_ANOMALY, f"start {start} before the order ({record.created_at})")
            )
        if trade is not None and trade < end - skew:
            out.append((AnomalyCode.TIME_ANOMALY, f"transaction time {trade} before end {end}"))

    # 4 energy anomaly
    total = bill.total_energy
    tol_abs = round(limits.energy_tolerance_kwh * ENERGY_SCALE)
    if total > limits.max_session_energy_kwh * ENERGY_SCALE:
        out.append((AnomalyCode.ENERGY_ANOMALY, f"{total / ENERGY_SCALE} kWh in one session"))
    elif start is not None and end is not None and end > start:
        hours = (end - start) / timedelta(hours=1)
        if total / ENERGY_SCALE > limits.max_power_kw * hours + tol_abs / ENERGY_SCALE:
            out.append(
                (
                    AnomalyCode.ENERGY_ANOMALY,
                    f"{total / ENERGY_SCALE} kWh in {hours * 60:.1f} min exceeds "
                    f"{limits.max_power_kw} kW",
                )
            )
    if abs(sum(bill.band_energies) - total) > 4:
        out.append(
            (AnomalyCode.ENERGY_ANOMALY, f"tiers sum to {sum(bill.band_energies)}, total {total}")
        )
    meter_delta = bill.meter_end - bill.meter_start
    if bill.meter_end or bill.meter_start:
        if meter_delta < 0:
            out.append((AnomalyCode.ENERGY_ANOMALY, "meter end below meter start"))
        elif total - meter_delta > tol_abs:
            out.append(
                (AnomalyCode.ENERGY_ANOMALY, f"total {total} above meter delta {meter_delta}")
            )

    # 5 duration anomaly
    if start is not None and end is not None and end >= start:
        duration = end - start
        if duration == timedelta(0) and total > 0:
            out.append((AnomalyCode.DURATION_ANOMALY, "energy with zero charging time"))
        elif duration > timedelta(hours=limits.max_session_hours):
            out.append((AnomalyCode.DURATION_ANOMALY, f"charging {duration}"))

    # 6 occupancy anomaly
    if end is not None and trade is not None:
        occupancy = (trade - end) / timedelta(minutes=1)
        if occupancy > limits.max_occupancy_minutes:
            out.append((AnomalyCode.OCCUPANCY_ANOMALY, f"occupancy {occupancy:.1f} min"))
        elif start is not None and bill.occupancy_fee > 0 and end - start < timedelta(seconds=60):
            out.append((AnomalyCode.OCCUPANCY_ANOMALY, "occupancy fee after < 60 s of charging"))

    # 7 overlap
    if overlapping:
        out.append((AnomalyCode.OVERLAP, f"overlaps {', '.join(overlapping)}"))

    # 8, 11 energy vs the platform's record; 11 also from the meter
    lost = False
    if record is not None and record.realtime_energy is not None:
        seen = record.realtime_energy
        tol = limits.energy_tolerance(max(seen, total))
        if total - seen > tol:
            out.append(
                (
                    AnomalyCode.ENERGY_MISMATCH,
                    f"bill {total / ENERGY_SCALE} kWh, realtime {seen / ENERGY_SCALE} kWh",
                )
            )
        elif seen - total > tol:
            lost = True
            out.append(
                (
                    AnomalyCode.ENERGY_LOST,
                    f"realtime {seen / ENERGY_SCALE} kWh, bill only {total / ENERGY_SCALE} kWh",
                )
            )
    if not lost and (bill.meter_end or bill.meter_start) and meter_delta - total > tol_abs:
        out.append((AnomalyCode.ENERGY_LOST, f"meter delta {meter_delta} above bill total {total}"))

    # 9 charging duration vs the platform's record
    if (
        record is not None
        and record.started_at is not None
        and record.charge_end_at is not None
        and start is not None
        and end is not None
    ):
        mine = (record.charge_end_at - record.started_at).total_seconds()
        theirs = (end - start).total_seconds()
        if abs(mine - theirs) > limits.duration_tolerance_s:
            out.append(
                (
                    AnomalyCode.DURATION_MISMATCH,
                    f"bill {theirs:.0f} s, platform {mine:.0f} s",
                )
            )

    # 10 occupancy duration vs the platform's unplug observation
    if (
        record is not None
        and record.unplugged_at is not None
        and record.charge_end_at is not None
        and end is not None
        and trade is not None
    ):
        mine = (record.unplugged_at - record.charge_end_at).total_seconds()
        theirs = (trade - end).total_seconds()
        if abs(mine - theirs) > limits.occupancy_tolerance_s:
            out.append(
                (AnomalyCode.OCCUPANCY_MISMATCH, f"bill {theirs:.0f} s, platform {mine:.0f} s")
            )
    return out


def lost_bill_code(offline_at_end: bool) -> AnomalyCode:
    """1 (bill lost) or 2 (bill lost while the device was offline)."""
    return AnomalyCode.BILL_LOST_OFFLINE if offline_at_end else AnomalyCode.BILL_LOST
