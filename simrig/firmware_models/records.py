"""What pile firmware keeps: per gun, per session, per bill (RAM and non-volatile
storage), plus the device view of a session it hands to the oracle."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from simrig.domain import RunningBill, Tariff
from simrig.protocol.ykc import (
    Execution,
    RemoteStart,
    StopReason,
    TransactionRecord,
    TransactionSource,
)

from .phases import BillState, Phase
from .profile import FirmwareProfile

if TYPE_CHECKING:
    from simrig.plant import Gun

__all__ = [
    "BillRecord",
    "DeviceSession",
    "GunRecord",
    "PendingRemote",
    "PendingUpgrade",
    "Reading",
    "SessionRecord",
]

_INF = math.inf


@dataclass(frozen=True, slots=True)
class DeviceSession:
    """The device view of one session: what the pile knows and reported.

    Times are the pile's clock. ``bill_state``: ``open`` (running), ``pending`` (bill
    made, not yet acknowledged), ``acked``, ``dropped`` (``bill_why`` names the cause).
    ``energy_kwh`` is the energy in the bill (None until it was built).
    """

    serial: str
    gun: int
    source: str
    card: str
    vin: str
    authorised_at: datetime
    start_time: datetime | None
    stop_time: datetime | None
    stop_reason: int | None
    energy_kwh: float | None
    meter_start_kwh: float
    meter_end_kwh: float | None
    bill_state: str
    bill_why: str
    stops_received: int
    quirks: tuple[str, ...]


@dataclass(slots=True)
class SessionRecord:
    serial: str
    gun: int
    source: TransactionSource
    card: str
    logical_card: str
    balance: float
    tariff: Tariff
    auth_t: float
    auth_wall: datetime
    meter_start: int  # 1e-4 kWh register
    phase: Phase = Phase.AUTHORISED
    phase_until: float = _INF
    ready_delay: float = 0.0
    hide_plug: bool = False
    vin: str = ""
    charge_start_t: float | None = None
    charge_start_wall: datetime | None = None
    samples: list[tuple[datetime, int]] = field(default_factory=list)
    sample_times: list[float] = field(default_factory=list)
    running: RunningBill | None = None  # 0x13 totals of ``samples`` + now
    end_t: float | None = None
    end_wall: datetime | None = None
    meter_end: int | None = None
    stop_reason: StopReason | None = None
    stops: int = 0
    #: the session's bill once it ended (its state lives there: BillStore owns it)
    bill: BillRecord | None = None
    no_bill: bool = False
    no_bill_why: str = ""  # the quirk that made the order serial-less
    blip_at: float | None = None
    blip_done: bool = False
    inflate: float | None = None
    prev_end_wall: datetime | None = None
    quirks: list[str] = field(default_factory=list)
    sent_bms_stop: bool = False


@dataclass(slots=True)
class BillRecord:
    session: SessionRecord
    due_at: float
    state: BillState = BillState.SCHEDULED
    msg: TransactionRecord | None = None
    why: str = ""  # dropped: the cause; acked: "" or "illegal"
    hold: str = ""  # held: until the gun is returned ("unplug") or the next "login"
    retry_at: float = _INF
    retries_left: int = 0


@dataclass(slots=True)
class PendingRemote:
    msg: RemoteStart
    seq: int
    deadline: float


@dataclass(slots=True)
class Reading:
    """Wire-rounded plant readings of one gun at one plant state (a 0x13 and the BMS
    frames of the same poll share them)."""

    at: float
    version: int
    volts: float
    amps: float
    amps_capped: float  # the BMS frames' current fields stop at 400 A
    gun_c: float
    remaining: float | None  # seconds until the BMS stops (DC)
    battery_c: float | None  # None: no BMS data (AC, or before the handshake is done)


@dataclass(slots=True)
class GunRecord:
    number: int
    plant: Gun
    session: SessionRecord | None = None
    last_session: SessionRecord | None = None
    plug_session: SessionRecord | None = None
    pending_remote: PendingRemote | None = None
    card_pending: tuple[str, float] | None = None
    last_reported: tuple[int, bool] | None = None
    next_rt: float = _INF
    next_bms: float = _INF
    next_boundary: float = _INF
    masked_unplug: bool = False
    stale_plug_until: float | None = None
    reading: Reading | None = None


@dataclass(slots=True)
class PendingUpgrade:
    target: FirmwareProfile
    ready_at: float
    execution: Execution
