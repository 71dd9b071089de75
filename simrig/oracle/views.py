"""The three views the oracle compares (design.md principle 4), as plain records.

*Truth* comes from the plant, the *device view* from the frames the pile really sent
(decoded here, not taken from the firmware model's memory), the *platform view* from
the backend through a :class:`PlatformView` — built in for the reference platform, a
plugin for other backends, or absent (frames-only judgement).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol


@dataclass(frozen=True, slots=True)
class TruthRecord:
    """One plug-in as it really happened (wall times, real energy)."""

    pile_no: str
    gun: int
    index: int  # 1-based plug-in number on this gun
    plug_at: datetime
    unplug_at: datetime | None
    charge_start: datetime | None
    charge_end: datetime | None
    energy_kwh: float  # metered energy (what an honest meter reading gives)
    link_down_at_charge_end: bool = False
    #: when the pile really stopped serving: charge end, or a failed start's last handshake
    service_stop: datetime | None = None
    #: the charging episodes of the plug-in (one per contactor close in which current
    #: flowed: first current start, last current end); a restart within one plug-in is a
    #: second episode, judged on its own (issue 14 item 7)
    episodes: tuple[tuple[datetime, datetime | None], ...] = ()


class AckState(StrEnum):
    """What became of a 0x3B the pile sent, read from the frames alone (protocol §4.12, §3 item 8).

    ``acked_late``: the first 0x40 came later than the pile's retry interval after the
    first 0x3B (S1 §8.7: the pile retries every 30 s without a 0x40), so the pile had
    (or would have) sent it again. ``unknown_result``: a 0x40 whose result byte is
    neither 0x00 (received) nor 0x01 (illegal bill) — the rig cannot tell what the
    backend meant, so it is never counted as a lost bill (issue 11 item 4).
    """

    ACKED = "acked"
    ACKED_LATE = "acked_late"
    ILLEGAL = "illegal"
    UNKNOWN_RESULT = "unknown_result"
    UNACKED = "unacked"


@dataclass(frozen=True, slots=True)
class DeviceBill:
    """A 0x3B record as the pile sent it (first transmission), plus what became of it."""

    serial: str
    pile_no: str
    gun: int
    start: datetime | None
    end: datetime | None
    trade_time: datetime | None
    energy_kwh: float
    amount_yuan: float
    stop_reason: int
    sent_at: datetime
    acked: bool  # a 0x40 with result 0x00 (received) came back, in time or late
    frame_hex: str
    ack_state: AckState = AckState.UNACKED
    #: the result byte of the first 0x40 that decided ``ack_state`` (None: no 0x40)
    ack_result: int | None = None
    acked_at: datetime | None = None
    transmissions: int = 1  # 0x3B frames with this serial (first + retries)
    ack_hex: str = ""


@dataclass(frozen=True, slots=True)
class DeviceOrder:
    """An order the pile took part in, seen in its frames (0x32/0x34 serial, 0x13 data)."""

    serial: str
    pile_no: str
    gun: int
    first_seen: datetime
    first_charging: datetime | None
    last_charging: datetime | None
    last_energy_kwh: float
    realtime_frames: int
    bills: tuple[DeviceBill, ...] = ()


@dataclass(frozen=True, slots=True)
class PlatformBill:
    serial: str
    pile_no: str
    gun: int
    start: datetime | None
    end: datetime | None
    service_end: datetime | None
    energy_kwh: float
    amount_yuan: float
    occupancy_fee_yuan: float
    total_charged_yuan: float
    received_at: datetime | None
    illegal: bool = False
    balance_after_yuan: float | None = None


@dataclass(frozen=True, slots=True)
class PlatformSession:
    serial: str
    pile_no: str
    gun: int
    state: str
    created_at: datetime | None
    charge_start: datetime | None
    charge_end: datetime | None
    service_end: datetime | None
    last_energy_kwh: float
    close_reason: str = ""


@dataclass(frozen=True, slots=True)
class PlatformNotification:
    at: datetime
    kind: str
    pile_no: str
    gun: int | None
    serial: str | None
    text: str = ""


class PlatformView(Protocol):
    """What the oracle reads of a backend. Implement it to judge your own backend."""

    def bills(self) -> list[PlatformBill]: ...

    def sessions(self) -> list[PlatformSession]: ...

    def notifications(self) -> list[PlatformNotification]: ...


@dataclass
class StaticPlatformView:
    """A :class:`PlatformView` over lists already read (tests, JSON dumps, plugins)."""

    bill_list: list[PlatformBill] = field(default_factory=list)
    session_list: list[PlatformSession] = field(default_factory=list)
    notification_list: list[PlatformNotification] = field(default_factory=list)

    def bills(self) -> list[PlatformBill]:
        return list(self.bill_list)

    def sessions(self) -> list[PlatformSession]:
        return list(self.session_list)

    def notifications(self) -> list[PlatformNotification]:
        return list(self.notification_list)
