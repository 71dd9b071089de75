"""The platform view: frozen records the reference platform stores (issue 3).

Every record is a frozen dataclass. Datetimes are naive wall-clock times of the
platform (the scenario epoch + ``now``) or the pile's own times as sent in a bill, and
carry milliseconds (zpd_case#20 lost them and mis-sorted 2-2-3-3 as 2-3-2-3).

Units are the billing module's exact integers: energy in 1e-4 kWh, money in 1e-4 yuan
(see :mod:`simrig.domain.tariff`). ``*_yuan`` / ``*_kwh`` helpers are for display only.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, get_type_hints

from simrig.fastdata import fast_init

__all__ = [
    "OPEN_STATES",
    "Account",
    "AnomalyRecord",
    "Bill",
    "Card",
    "Notification",
    "NotificationKind",
    "RealtimeSample",
    "RegisteredGun",
    "RegisteredPile",
    "Session",
    "SessionState",
    "record_from_dict",
    "record_to_dict",
]


class SessionState(StrEnum):
    """Lifecycle of an order on the platform."""

    STARTING = "starting"  #: start sent (0x34) or card authorised (0x32), no charging yet
    CHARGING = "charging"  #: a 0x13 with status charging arrived
    STOPPING = "stopping"  #: 0x36 sent, charge end not yet seen
    FINISHED = "finished"  #: charge end seen (or read from a fault/offline status)
    CANCELLED = "cancelled"  #: start failed or timed out (auto-cancel)


#: states in which a session is an open order (blocks the gun and the card)
OPEN_STATES = frozenset({SessionState.STARTING, SessionState.CHARGING, SessionState.STOPPING})


class NotificationKind(StrEnum):
    """Every user-visible effect (issue 3: "so a test can see a false notice")."""

    CHARGE_STARTED = "charge_started"
    CHARGE_FINISHED = "charge_finished"
    OCCUPANCY_NOTICE = "occupancy_notice"  #: the free period started; fee after it
    OCCUPANCY_FEE = "occupancy_fee"  #: a fee was charged with the bill
    BALANCE_CHANGE = "balance_change"
    AUTO_CANCEL = "auto_cancel"
    START_FAILED = "start_failed"
    BALANCE_STOP = "balance_stop"
    TARGET_STOP = "target_stop"


@fast_init
@dataclass(frozen=True, slots=True)
class RegisteredPile:
    pile_no: str
    pile_type: str = "DC"  #: "DC" or "AC"
    guns: int = 1
    model_no: str = "0100"  #: billing model (tariff) used by this pile
    enabled: bool = True  #: 0x52 work params; a disabled pile refuses card starts (0x05)
    max_power_kw: float = 120.0
    station: str = ""
    online: bool = False
    firmware: str = ""
    protocol_version: float = 0.0
    last_login: datetime | None = None
    last_seen: datetime | None = None


@fast_init
@dataclass(frozen=True, slots=True)
class RegisteredGun:
    pile_no: str
    gun: int
    status: int = 0  #: last 0x13 status (0 offline, 1 fault, 2 idle, 3 charging)
    plugged: bool = False
    serial: str = ""  #: order serial of the last 0x13 ("" when none)
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Account:
    account_id: str
    name: str = ""
    balance: int = 0  #: 1e-4 yuan; may go negative (zpd_case#12)
    frozen: bool = False
    logical_card: str = "0" * 16  #: shown on the pile screen (0x32 / 0x34)
    vins: tuple[str, ...] = ()  #: vehicles that may start by VIN (0x31 mode 0x03)


@dataclass(frozen=True, slots=True)
class Card:
    physical: str  #: 16 upper-case hex digits (opaque, protocol §8 item 5)
    logical: str  #: 16 digits
    account_id: str
    frozen: bool = False
    password_md5: str = ""  #: 32 hex digits; "" = no password


@fast_init
@dataclass(frozen=True, slots=True)
class Session:
    """The platform's own record of one order (from 0x32/0x34, 0x33, 0x13, 0x36, 0x3B)."""

    serial: str
    pile_no: str
    gun: int
    source: str  #: "app" or "card"
    account_id: str
    card: str = ""  #: physical card of a card start
    state: SessionState = SessionState.STARTING
    created_at: datetime | None = None
    start_confirmed: bool = False  #: 0x33 success (app) / authorised (card)
    started_at: datetime | None = None  #: first 0x13 with status charging
    stop_requested_at: datetime | None = None  #: first 0x36
    stop_count: int = 0
    charge_end_at: datetime | None = None  #: platform's charge end (may be a false one)
    unplugged_at: datetime | None = None  #: platform's own unplug observation (0x13 plugged 0)
    last_rt_at: datetime | None = None
    last_status: int = -1
    last_energy: int = 0  #: 1e-4 kWh, last realtime energy
    last_amount: int = 0  #: 1e-4 yuan, last realtime amount
    rt_samples: int = 0
    max_energy_seen: int = 0
    charging_after_finish: bool = False  #: status 3 after the platform read an end (igo_case#30)
    energy_target: int | None = None  #: 1e-4 kWh
    amount_target: int | None = None  #: 1e-4 yuan
    time_target_min: int | None = None
    bill_serial: str | None = None
    close_reason: str = ""
    closed_at: datetime | None = None
    offline_at_end: bool = False
    lost_flagged: bool = False  #: anomaly 1/2 already raised by the sweep
    parallel_id: str = ""  #: the parallel (dual-gun) charge it belongs to (0xA1-0xA4)
    vin: str = ""  #: the vehicle of a VIN start (0x31 mode 0x03)
    idle_seen: int = 0  #: idle 0x13 during the order (counted when the rule is on)

    @property
    def key(self) -> str:
        return self.serial


@fast_init
@dataclass(frozen=True, slots=True)
class RealtimeSample:
    session_key: str
    pile_no: str
    gun: int
    at: datetime
    status: int
    plugged: bool
    voltage: float
    current: float
    soc: int
    charge_minutes: int
    energy: int  #: 1e-4 kWh
    loss_energy: int
    amount: int  #: 1e-4 yuan
    faults: int = 0


@dataclass(frozen=True, slots=True)
class BmsSample:
    """A BMS frame kept for its order (issue 15 item 7): 0x23 demand and output or 0x25
    BMS information (protocol §4.18), every 15 s while charging; ``values`` are the
    frame's fields after the serial, pile and gun, in their units."""

    session_key: str
    pile_no: str
    gun: int
    at: datetime
    kind: str  #: the frame's name: "demand_output" or "bms_info"
    values: dict[str, float | int] = field(default_factory=dict)


@fast_init
@dataclass(frozen=True, slots=True)
class Bill:
    """A transaction record (0x3B / 0x3D) as received, checked and charged.

    ``lines`` are the four tiers sharp, peak, flat, valley as
    ``(unit_price 1e-5 yuan/kWh, energy, loss_energy, amount)``.
    """

    serial: str
    pile_no: str
    gun: int
    start_time: datetime | None
    end_time: datetime | None
    trade_time: datetime | None
    lines: tuple[tuple[int, int, int, int], ...]
    meter_start: int
    meter_end: int
    total_energy: int
    total_loss_energy: int
    total_amount: int  #: the pile's amount (electricity + service), 1e-4 yuan
    stop_reason: int
    source: int  #: 0x3B transaction source (1 app, 2 card, 4 offline card, 5 VIN)
    vin: str
    physical_card: str
    received_at: datetime
    raw_hex: str
    frame_type: int = 0x3B
    session_source: str = ""  #: "app" / "card" of the platform's session ("" if unknown)
    account_id: str = ""
    platform_amount: int = 0  #: the tariff's amount for the bill's band energies
    charge_end: datetime | None = None  #: used for the occupancy fee
    service_end: datetime | None = None  #: used for the occupancy fee (rule-dependent)
    occupancy_fee: int = 0
    charged_total: int = 0  #: debited from the account (energy basis + occupancy fee)
    balance_after: int | None = None
    duplicates: int = 0
    last_duplicate_at: datetime | None = None
    illegal: bool = False  #: unknown serial: acked "illegal bill", kept for review
    anomaly_codes: tuple[int, ...] = ()


@fast_init
@dataclass(frozen=True, slots=True)
class Notification:
    at: datetime
    kind: str
    account_id: str
    session_key: str = ""
    pile_no: str = ""
    gun: int = 0
    text: str = ""
    amount: int | None = None  #: 1e-4 yuan when the notice is about money
    id: int = 0  #: assigned by the repository


@fast_init
@dataclass(frozen=True, slots=True)
class AnomalyRecord:
    """One of the platform's own anomaly flags (codes 1-11, field-incidents.md)."""

    code: int
    session_key: str
    detail: str
    detected_at: datetime
    pile_no: str = ""
    gun: int = 0
    bill_serial: str = ""
    id: int = 0


# --------------------------------------------------------------------------- (de)serialise

_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = get_type_hints(cls)
    return hints


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds")
    if isinstance(value, StrEnum):
        return str(value)
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def record_to_dict(record: Any) -> dict[str, Any]:
    """JSON-ready dict of a record: datetimes as ISO 8601 with milliseconds."""
    return {f.name: _plain(getattr(record, f.name)) for f in dataclasses.fields(record)}


def _tuple(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tuple(v) for v in value)
    return value


def record_from_dict(cls: type[Any], data: dict[str, Any]) -> Any:
    """Inverse of :func:`record_to_dict` (unknown keys are ignored)."""
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        hint = str(hints[f.name])
        if value is not None and "datetime" in hint and isinstance(value, str):
            value = datetime.fromisoformat(value)
        elif hint.endswith("SessionState'>") or "SessionState" in hint:
            value = SessionState(value)
        elif isinstance(value, list):
            value = _tuple(value)
        kwargs[f.name] = value
    return cls(**kwargs)
