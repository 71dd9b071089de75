"""Time-of-use tariff, exact bill arithmetic and the occupancy-fee rule.

Pure: no I/O, no clock, no randomness; every ``datetime`` is passed in.

Units and rounding: :mod:`simrig.domain.money` (integers on the wire scales, rounded
half up once).

Datetimes are wall-clock times of the tariff's zone (China: UTC+8, no DST); naive or
aware, but not mixed. Differences are wall-clock differences.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from enum import IntEnum
from itertools import pairwise
from typing import Any, TypeAlias

from simrig.domain.money import (
    ENERGY_SCALE,
    MONEY_SCALE,
    RATE_SCALE,
    Energy,
    Money,
    Rate,
    _to_decimal,
    div_round_half_up,
    money_from_yuan,
    rate_from_yuan,
)

__all__ = [
    "SLOTS_PER_DAY",
    "Band",
    "BandLine",
    "BandRate",
    "BillLines",
    "OccupancyRule",
    "RunningBill",
    "Tariff",
    "TariffError",
    "default_tariff",
    "tariff_from_mapping",
]

SLOTS_PER_DAY = 48
"""Half-hour slots in the YKC period table (protocol §5 items 12-59)."""

_SLOT = timedelta(minutes=30)
_US_PER_MINUTE = 60_000_000
_UINT32_MAX = 0xFFFF_FFFF
# rate (1e-5) x energy (1e-4) = 1e-9 yuan; to 1e-4 yuan divide by 1e5.
_RATE_X_ENERGY_TO_MONEY = RATE_SCALE * ENERGY_SCALE // MONEY_SCALE


class TariffError(ValueError):
    """A tariff is invalid. The message is one line and names the bad field."""


# --------------------------------------------------------------------------- model


class Band(IntEnum):
    """Tariff band; values are the YKC period-table bytes (protocol §5)."""

    SHARP = 0  #: 尖
    PEAK = 1  #: 峰
    FLAT = 2  #: 平
    VALLEY = 3  #: 谷


@dataclass(frozen=True, slots=True)
class BandRate:
    """Electricity and service rate of one band, in 1e-5 yuan/kWh."""

    electricity: Rate
    service: Rate

    @property
    def unit_price(self) -> Rate:
        """Electricity + service: the per-tier unit price of 0x3B (protocol §4.12 #6)."""
        return self.electricity + self.service


@dataclass(frozen=True, slots=True)
class OccupancyRule:
    """Occupancy fee (占桩费) after a free period following charge end (zpd_case#4).

    Minutes are counted **exactly**: the billable time is the exact gap in
    microseconds, divided by 60 s, times the rate, and the product is rounded half up
    to 1e-4 yuan once. No per-minute rounding (neither started nor whole minutes).
    """

    free_minutes: int = 15
    """Free minutes after charge end (zpd_case#4: 15)."""
    rate_per_minute: Money = 8_000
    """Fee per minute in 1e-4 yuan (zpd_case#4: 0.8 yuan/min)."""
    cap: Money | None = None
    """Maximum fee in 1e-4 yuan per session; ``None`` = uncapped (the field had none)."""

    def billable(self, charge_end: datetime, service_end: datetime) -> timedelta:
        """Billable gap: ``max(0, service_end - (charge_end + free))``."""
        gap = service_end - charge_end - timedelta(minutes=self.free_minutes)
        return max(gap, timedelta(0))

    def fee(self, charge_end: datetime, service_end: datetime) -> Money:
        """Fee in 1e-4 yuan; 0 if the gun came back within the free period (zpd_case#4)."""
        microseconds = self.billable(charge_end, service_end) // timedelta(microseconds=1)
        fee = div_round_half_up(microseconds * self.rate_per_minute, _US_PER_MINUTE)
        return fee if self.cap is None else min(fee, self.cap)


@dataclass(frozen=True, slots=True)
class BandLine:
    """One tier of a bill, as 0x3B carries it (protocol §4.12 #6-21) plus its split."""

    band: Band
    unit_price: Rate
    energy: Energy
    loss_energy: Energy
    amount: Money
    """``unit_price x loss_energy`` rounded half up to 1e-4 yuan (0x3B amount)."""
    electricity_amount: Money
    """``electricity rate x loss_energy`` rounded half up (not on the wire)."""
    service_amount: Money
    """``amount - electricity_amount`` so the two parts always add up (not on the wire)."""


@dataclass(frozen=True, slots=True)
class BillLines:
    """Priced bill: four tier lines in band order and totals (0x3B #24-26).

    Totals are sums of the tier lines (not re-rounded), so the record is
    self-consistent: ``total_amount == electricity_amount + service_amount``.
    """

    lines: tuple[BandLine, BandLine, BandLine, BandLine]
    energy: Energy
    loss_energy: Energy
    electricity_amount: Money
    service_amount: Money
    total_amount: Money

    def line(self, band: Band) -> BandLine:
        """The tier line of ``band``."""
        return self.lines[band]


Samples: TypeAlias = Iterable[tuple[datetime, Energy]]
RateTable: TypeAlias = tuple[BandRate, BandRate, BandRate, BandRate]


@dataclass(frozen=True, slots=True)
class Tariff:
    """A YKC billing model (计费模型, protocol §5) plus the platform's occupancy rule.

    Construction does not validate; call :meth:`validate` for untrusted input
    (``tariff_from_mapping`` and ``default_tariff`` do).
    """

    model_no: str
    """4-digit billing-model number (BCD2 on the wire), e.g. ``"0100"``."""
    rates: RateTable
    """Rates indexed by :class:`Band` value: sharp, peak, flat, valley."""
    periods: tuple[Band, ...]
    """48 bands, slot k covering [k x 30 min, (k+1) x 30 min) from 00:00."""
    loss_ratio_pct: int = 0
    """Loss ratio 计损比例 in percent (protocol §5 item 11); 0 = none."""
    occupancy: OccupancyRule | None = None
    """Occupancy fee rule; ``None`` = no occupancy fee."""

    def rate(self, band: Band) -> BandRate:
        """Rates of ``band``."""
        return self.rates[band]

    def band_at(self, when: datetime | time) -> Band:
        """Band of the half-hour slot that contains ``when`` (wall clock)."""
        return Band(self.periods[when.hour * 2 + when.minute // 30])

    def unit_price(self, band: Band) -> Rate:
        """Electricity + service rate of ``band`` (1e-5 yuan/kWh)."""
        return self.rates[band].unit_price

    def loss_adjusted(self, energy: Energy) -> Energy:
        """``energy x (100 + loss_ratio_pct) / 100`` rounded half up (protocol §5 item 11)."""
        if self.loss_ratio_pct == 0:
            return energy
        return div_round_half_up(energy * (100 + self.loss_ratio_pct), 100)

    def split_energy(self, samples: Samples) -> dict[Band, Energy]:
        """Split metered energy into bands (0x3B per-tier split, protocol §4.12, §13.3 #8).

        ``samples`` are ``(time, cumulative energy)`` points, non-decreasing in both.
        Between two points energy is linear in time; it is cut exactly at the
        half-hour slot boundaries. Integer-exact and conserving: the cumulative energy
        is interpolated (rounded half up) at each boundary and the pieces are
        differences, so the result sums to ``last - first`` exactly. A jump at one
        instant (equal times) goes to the band of that instant. Fewer than two points
        give zero energy.
        """
        split = dict.fromkeys(Band, 0)
        for index, ((t0, e0), (t1, e1)) in enumerate(pairwise(samples), start=1):
            if t1 < t0:
                raise ValueError(f"samples[{index}]: time {t1} is before {t0}")
            if e1 < e0:
                raise ValueError(f"samples[{index}]: energy {e1} is below {e0}")
            delta = e1 - e0
            if delta == 0:
                continue
            if t1 == t0:
                split[self.band_at(t0)] += delta
                continue
            span = (t1 - t0) // timedelta(microseconds=1)
            start, done = t0, 0
            boundary = t0.replace(minute=t0.minute // 30 * 30, second=0, microsecond=0) + _SLOT
            while start < t1:
                end = min(boundary, t1)
                elapsed = (end - t0) // timedelta(microseconds=1)
                cumulative = delta if end == t1 else div_round_half_up(delta * elapsed, span)
                split[self.band_at(start)] += cumulative - done
                start, done, boundary = end, cumulative, boundary + _SLOT
        return split

    def price(self, split: Mapping[Band, Energy]) -> BillLines:
        """Price a per-band energy split the way 0x3B carries it (protocol §4.12, §5).

        Per band: loss-adjusted energy, ``amount = unit_price x loss_energy`` rounded half
        up to 1e-4 yuan; bands absent from ``split`` have zero energy.
        """
        lines: list[BandLine] = []
        for band in Band:
            energy = split.get(band, 0)
            if energy < 0:
                raise ValueError(f"split[{band.name.lower()}]: negative energy {energy}")
            rate = self.rates[band]
            loss_energy = self.loss_adjusted(energy)
            amount = div_round_half_up(rate.unit_price * loss_energy, _RATE_X_ENERGY_TO_MONEY)
            electricity = div_round_half_up(rate.electricity * loss_energy, _RATE_X_ENERGY_TO_MONEY)
            lines.append(
                BandLine(
                    band=band,
                    unit_price=rate.unit_price,
                    energy=energy,
                    loss_energy=loss_energy,
                    amount=amount,
                    electricity_amount=electricity,
                    service_amount=amount - electricity,
                )
            )
        sharp, peak, flat, valley = lines
        return BillLines(
            lines=(sharp, peak, flat, valley),
            energy=sum(line.energy for line in lines),
            loss_energy=sum(line.loss_energy for line in lines),
            electricity_amount=sum(line.electricity_amount for line in lines),
            service_amount=sum(line.service_amount for line in lines),
            total_amount=sum(line.amount for line in lines),
        )

    def bill(self, samples: Samples) -> BillLines:
        """``price(split_energy(samples))``."""
        return self.price(self.split_energy(samples))

    def price_totals(self, split: Mapping[Band, Energy]) -> tuple[Energy, Money]:
        """``(loss_energy, total_amount)`` of :meth:`price` without building the lines."""
        loss_total = amount_total = 0
        for band, energy in split.items():
            if energy:
                loss_energy, amount = self.price_band(band, energy)
                loss_total += loss_energy
                amount_total += amount
        return loss_total, amount_total

    def price_band(self, band: Band, energy: Energy) -> tuple[Energy, Money]:
        """``(loss_energy, amount)`` of ``energy`` in one band: one term of
        :meth:`price_totals` (the totals are integer sums of these)."""
        loss_energy = self.loss_adjusted(energy)
        amount = div_round_half_up(
            self.rates[band].unit_price * loss_energy, _RATE_X_ENERGY_TO_MONEY
        )
        return loss_energy, amount

    def validate(self) -> None:
        """Raise :class:`TariffError` (``"<field>: <reason>"``) unless wire-encodable."""
        if not (isinstance(self.model_no, str) and re.fullmatch(r"[0-9]{4}", self.model_no)):
            raise TariffError(f"model_no: {self.model_no!r} is not 4 decimal digits")
        if len(self.rates) != len(Band):
            raise TariffError(f"rates: need {len(Band)} bands, got {len(self.rates)}")
        for band in Band:
            rate = self.rates[band]
            name = f"rates.{band.name.lower()}"
            for part in ("electricity", "service"):
                _check_uint(f"{name}.{part}", getattr(rate, part), _UINT32_MAX)
            _check_uint(f"{name}.unit_price", rate.unit_price, _UINT32_MAX)
        _check_uint("loss_ratio_pct", self.loss_ratio_pct, 100)
        if len(self.periods) != SLOTS_PER_DAY:
            raise TariffError(f"periods: need {SLOTS_PER_DAY} half-hour slots")
        for slot, band in enumerate(self.periods):
            if isinstance(band, bool) or band not in set(Band):
                raise TariffError(f"periods[{slot}] ({_hhmm(slot)}): {band!r} is not a band 0-3")
        if self.occupancy is not None:
            _check_uint("occupancy.free_minutes", self.occupancy.free_minutes, 24 * 60)
            _check_uint("occupancy.rate_per_minute", self.occupancy.rate_per_minute, None)
            if self.occupancy.cap is not None:
                _check_uint("occupancy.cap", self.occupancy.cap, None)


class RunningBill:
    """Totals of a growing ``(time, cumulative energy)`` series, for every 0x13.

    Equal to ``tariff.bill([*closed, point])`` but prices only the open segment: the
    split of the closed samples is kept, since :meth:`Tariff.split_energy` is a sum
    over consecutive pairs. ``closed`` may only grow by appending.

    While ``point`` stays in the half-hour slot of the last closed sample (most 0x13),
    only that slot's band changes: the priced totals of the other bands are kept too
    (:class:`_OpenSlot`, renewed whenever ``closed`` grows).
    """

    __slots__ = ("_count", "_open", "_split", "tariff")

    def __init__(self, tariff: Tariff) -> None:
        self.tariff = tariff
        self._split: dict[Band, Energy] = dict.fromkeys(Band, 0)
        self._count = 0
        self._open: _OpenSlot | None = None

    def totals(
        self, closed: Sequence[tuple[datetime, Energy]], point: tuple[datetime, Energy]
    ) -> tuple[Energy, Money]:
        """``(loss_energy, total_amount)`` of ``closed + [point]``."""
        tariff = self.tariff
        if len(closed) < self._count:
            raise ValueError("closed samples may only grow")
        if len(closed) > self._count:
            for band, energy in tariff.split_energy(closed[max(0, self._count - 1) :]).items():
                self._split[band] += energy
            self._count = len(closed)
            self._open = None
        split = self._split
        if not closed:
            return tariff.price_totals(split)
        (t0, e0), (t1, e1) = closed[-1], point
        slot = self._open
        if slot is None:
            slot = self._open = _OpenSlot.after(tariff, split, t0)
        if e1 >= e0 and t0 <= t1 and slot.holds(t0, t1):
            energy = split[slot.band] + e1 - e0  # what split_energy gives, cheaply
            if not energy:
                return slot.rest
            loss_energy, amount = tariff.price_band(slot.band, energy)
            return slot.rest[0] + loss_energy, slot.rest[1] + amount
        split = dict(split)
        for band, energy in tariff.split_energy((closed[-1], point)).items():
            split[band] += energy
        return tariff.price_totals(split)


@dataclass(frozen=True, slots=True)
class _OpenSlot:
    """The half-hour slot of the last closed sample ``t0``: its band, where it ends, and
    the priced totals of every other band of the closed split."""

    band: Band
    end: datetime
    rest: tuple[Energy, Money]

    @classmethod
    def after(cls, tariff: Tariff, split: Mapping[Band, Energy], t0: datetime) -> _OpenSlot:
        band = tariff.band_at(t0)
        others = {b: energy for b, energy in split.items() if b != band}
        start = t0.replace(minute=t0.minute // 30 * 30, second=0, microsecond=0)
        return cls(band, start + _SLOT, tariff.price_totals(others))

    def holds(self, t0: datetime, t1: datetime) -> bool:
        """``t1`` (not before ``t0``) is in the slot: :func:`_same_slot`, without reading
        five fields (wall-clock arithmetic, since ``t1`` has ``t0``'s zone)."""
        if t1.tzinfo is not t0.tzinfo:
            return _same_slot(t0, t1)
        return t1 < self.end


def _same_slot(a: datetime, b: datetime) -> bool:
    """Both in one half-hour slot of one day."""
    return (
        a.minute // 30 == b.minute // 30
        and a.hour == b.hour
        and a.day == b.day
        and a.month == b.month
        and a.year == b.year
    )


def _check_uint(field: str, value: object, maximum: int | None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TariffError(f"{field}: {value!r} is not an integer")
    if value < 0:
        raise TariffError(f"{field}: {value} is negative")
    if maximum is not None and value > maximum:
        hint = " (percent: 3 means a factor of 1.03)" if field == "loss_ratio_pct" else ""
        raise TariffError(f"{field}: {value} exceeds {maximum}{hint}")


def _hhmm(slot: int) -> str:
    return f"{slot // 2:02d}:{slot % 2 * 30:02d}"


# --------------------------------------------------------------------------- defaults


def _periods_from_hours(*ranges: tuple[float, float, Band], rest: Band) -> tuple[Band, ...]:
    periods = [rest] * SLOTS_PER_DAY
    for start, end, band in ranges:
        for slot in range(int(start * 2), int(end * 2)):
            periods[slot] = band
    return tuple(periods)


def default_tariff() -> Tariff:
    """Realistic Chinese TOU tariff (model ``"0100"``, the fixed value of S1 §6.8).

    Electricity: sharp 1.2, peak 1.0, flat 0.7, valley 0.35 yuan/kWh; service 0.8
    yuan/kWh in every band. Periods: valley 23:00-07:00; peak 10:00-12:00 and
    18:00-21:00 with sharp carved out at 11:00-12:00 and 19:00-20:00 (as in
    summer provincial tables), so all four 0x3B tiers get exercised; flat otherwise.
    No loss ratio (the platform sends 0, protocol §8 #13). Occupancy: zpd_case#4.
    """
    service = rate_from_yuan("0.8")
    tariff = Tariff(
        model_no="0100",
        rates=(
            BandRate(rate_from_yuan("1.2"), service),
            BandRate(rate_from_yuan("1.0"), service),
            BandRate(rate_from_yuan("0.7"), service),
            BandRate(rate_from_yuan("0.35"), service),
        ),
        periods=_periods_from_hours(
            (0, 7, Band.VALLEY),
            (10, 12, Band.PEAK),
            (11, 12, Band.SHARP),
            (18, 21, Band.PEAK),
            (19, 20, Band.SHARP),
            (23, 24, Band.VALLEY),
            rest=Band.FLAT,
        ),
        occupancy=OccupancyRule(free_minutes=15, rate_per_minute=money_from_yuan("0.8")),
    )
    tariff.validate()
    return tariff


# --------------------------------------------------------------------------- mapping

_BAND_NAMES: dict[str, Band] = {
    **{band.name.lower(): band for band in Band},
    **{str(band.value): band for band in Band},
    "尖": Band.SHARP,
    "峰": Band.PEAK,
    "平": Band.FLAT,
    "谷": Band.VALLEY,
}
_RANGE = re.compile(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*=\s*(\S+)\s*")
_TOP_KEYS = {"model_no", "loss_ratio_pct", "rates", "periods", "occupancy"}
_OCCUPANCY_KEYS = {"free_minutes", "rate_per_minute", "cap"}


class _FieldError(Exception):
    """Internal: ``field`` (relative path) and ``reason`` of a mapping error."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(field, reason)
        self.field = field
        self.reason = reason


def tariff_from_mapping(d: Mapping[str, Any], *, source: str, path: str = "tariff") -> Tariff:
    """Build and validate a :class:`Tariff` from a TOML-loaded table.

    Keys: ``model_no`` (``"0100"``; an int is zero-padded to 4 digits),
    ``loss_ratio_pct`` (int, default 0), ``rates`` = {sharp|peak|flat|valley =
    [electricity, service]} in yuan/kWh (numbers or strings, at most 5 decimals),
    ``periods`` = 48 band ints or a list of ``"HH:MM-HH:MM=band"`` ranges (band by
    name, 0-3 or 尖峰平谷; end may be 24:00; a range may wrap past midnight; every
    half hour covered exactly once), optional ``occupancy`` = {free_minutes = 15,
    rate_per_minute = 0.8 (yuan), cap (yuan, optional)}; absent = no occupancy fee.

    Raises :class:`TariffError` like ``"{source}: tariff.rates.peak: ..."``.
    """
    try:
        tariff = _build(d)
    except _FieldError as err:
        field = f"{path}.{err.field}" if err.field else path
        raise TariffError(f"{source}: {field}: {err.reason}") from None
    try:
        tariff.validate()
    except TariffError as err:
        raise TariffError(f"{source}: {path}.{err}") from None
    return tariff


def _build(d: Mapping[str, Any]) -> Tariff:
    if not isinstance(d, Mapping):
        raise _FieldError("", f"expected a table, got {type(d).__name__}")
    unknown = sorted(set(d) - _TOP_KEYS)
    if unknown:
        raise _FieldError(unknown[0], f"unknown key (expected one of {sorted(_TOP_KEYS)})")
    for key in ("model_no", "rates", "periods"):
        if key not in d:
            raise _FieldError(key, "missing")
    return Tariff(
        model_no=_model_no(d["model_no"]),
        rates=_rates(d["rates"]),
        periods=_periods(d["periods"]),
        loss_ratio_pct=_int("loss_ratio_pct", d.get("loss_ratio_pct", 0)),
        occupancy=_occupancy(d["occupancy"]) if "occupancy" in d else None,
    )


def _model_no(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 9999:
        return f"{value:04d}"
    if isinstance(value, str) and re.fullmatch(r"[0-9]{4}", value):
        return value
    raise _FieldError("model_no", f"{value!r} is not 4 decimal digits")


def _int(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _FieldError(field, f"{value!r} is not an integer")
    return value


def _units(field: str, value: object, scale: int) -> int:
    """Yuan value -> integer units; rejects negatives and sub-unit precision."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise _FieldError(field, f"{value!r} is not a number")
    try:
        exact = _to_decimal(value) * scale
    except (TypeError, ValueError) as err:
        raise _FieldError(field, str(err)) from None
    if exact < 0:
        raise _FieldError(field, f"{value!r} is negative")
    if exact != exact.to_integral_value():
        raise _FieldError(field, f"{value!r} is finer than the wire unit {Decimal(1) / scale}")
    return int(exact)


def _rates(value: object) -> RateTable:
    if not isinstance(value, Mapping):
        raise _FieldError("rates", "expected a table {sharp, peak, flat, valley}")
    names = [band.name.lower() for band in Band]
    unknown = sorted(set(value) - set(names))
    if unknown:
        raise _FieldError(f"rates.{unknown[0]}", f"unknown band (expected one of {names})")
    rates: list[BandRate] = []
    for name in names:
        field = f"rates.{name}"
        if name not in value:
            raise _FieldError(field, "missing")
        pair = value[name]
        if not isinstance(pair, Sequence) or isinstance(pair, str) or len(pair) != 2:
            raise _FieldError(field, f"expected [electricity, service] in yuan/kWh, got {pair!r}")
        rates.append(
            BandRate(
                electricity=_units(f"{field}[0]", pair[0], RATE_SCALE),
                service=_units(f"{field}[1]", pair[1], RATE_SCALE),
            )
        )
    sharp, peak, flat, valley = rates
    return (sharp, peak, flat, valley)


def _band(field: str, value: object) -> Band:
    if isinstance(value, bool):
        raise _FieldError(field, f"{value!r} is not a band")
    band = _BAND_NAMES.get(str(value).strip().lower()) if isinstance(value, int | str) else None
    if band is None:
        raise _FieldError(field, f"{value!r} is not a band (sharp/peak/flat/valley or 0-3)")
    return band


def _periods(value: object) -> tuple[Band, ...]:
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise _FieldError("periods", "expected 48 band ints or a list of 'HH:MM-HH:MM=band'")
    if value and all(isinstance(item, str) for item in value):
        return _periods_from_ranges(value)
    if len(value) != SLOTS_PER_DAY:
        raise _FieldError("periods", f"need {SLOTS_PER_DAY} half-hour slots, got {len(value)}")
    for slot, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, int) or item not in set(Band):
            raise _FieldError(f"periods[{slot}]", f"{item!r} is not a band 0-3 ({_hhmm(slot)})")
    return tuple(Band(item) for item in value)


def _slot_of(field: str, text: str, hours: str, minutes: str) -> int:
    hour, minute = int(hours), int(minutes)
    if minute not in (0, 30) or hour > 24 or (hour == 24 and minute):
        raise _FieldError(field, f"{text!r}: times must be half hours between 00:00 and 24:00")
    return hour * 2 + minute // 30


def _periods_from_ranges(ranges: Sequence[str]) -> tuple[Band, ...]:
    slots: list[Band | None] = [None] * SLOTS_PER_DAY
    for index, text in enumerate(ranges):
        field = f"periods[{index}]"
        match = _RANGE.fullmatch(text)
        if match is None:
            raise _FieldError(field, f"{text!r} is not 'HH:MM-HH:MM=band'")
        start = _slot_of(field, text, match[1], match[2])
        end = _slot_of(field, text, match[3], match[4])
        band = _band(field, match[5])
        if start in (SLOTS_PER_DAY, end):
            raise _FieldError(field, f"{text!r}: empty or ambiguous range")
        span = range(start, end) if start < end else [*range(start, SLOTS_PER_DAY), *range(end)]
        for slot in span:
            if slots[slot] is not None:
                raise _FieldError(field, f"{text!r}: {_hhmm(slot)} already covered")
            slots[slot] = band
    missing = [slot for slot, band in enumerate(slots) if band is None]
    if missing:
        raise _FieldError("periods", f"{_hhmm(missing[0])}-{_hhmm(missing[0] + 1)} not covered")
    return tuple(band for band in slots if band is not None)


def _occupancy(value: object) -> OccupancyRule:
    if not isinstance(value, Mapping):
        raise _FieldError("occupancy", "expected a table {free_minutes, rate_per_minute, cap}")
    unknown = sorted(set(value) - _OCCUPANCY_KEYS)
    if unknown:
        raise _FieldError(f"occupancy.{unknown[0]}", "unknown key")
    defaults = OccupancyRule()
    cap = value.get("cap")
    return OccupancyRule(
        free_minutes=_int(
            "occupancy.free_minutes", value.get("free_minutes", defaults.free_minutes)
        ),
        rate_per_minute=(
            _units("occupancy.rate_per_minute", value["rate_per_minute"], MONEY_SCALE)
            if "rate_per_minute" in value
            else defaults.rate_per_minute
        ),
        cap=None if cap is None else _units("occupancy.cap", cap, MONEY_SCALE),
    )
