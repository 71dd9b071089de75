"""Sessions judged from the frames alone, for piles the rig does not run (the proxy).

No truth and no platform view: what a capture of one pile's link can say. Each session
is an order the pile executed (:func:`~simrig.oracle.device_view.device_orders`); its
bill's fate is :func:`~simrig.oracle.judge.bill_fate` (sent, acked, late, never sent,
refused, unknown result), with the pile's transmissions (retries, S1 §8.7) and the
0x40s it received, and the stop reason of its 0x3B (§4.13). Per pile, the connection
story (:func:`~simrig.oracle.diagnostics.diagnose`) and the backend's deviations from
the spec (:func:`~simrig.oracle.deviations.backend_deviations`).

The chunks are the pile's side of the link: ``up`` as the pile wrote it, ``down`` as it
reached the pile. What the pile never saw (a 0x40 an outage swallowed) counts as never
sent; the verdict does not know whether the backend billed it — it says so.

:class:`LiveSessions` is the incremental summary a live table shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from simrig.capture.record import Chunk
from simrig.endpoint import Event
from simrig.oracle.deviations import backend_deviations
from simrig.oracle.device_view import ZERO_SERIAL, decode_chunks, device_orders
from simrig.oracle.diagnostics import diagnose
from simrig.oracle.judge import bill_fate
from simrig.protocol.ykc import (
    Frame,
    Framer,
    GunStatus,
    RealtimeData,
    RecordAck,
    StopReason,
    TransactionRecord,
)

__all__ = ["LiveSessions", "SessionReport", "judge_frames"]

#: what the frames cannot tell, said once in every report
CANNOT_KNOW = (
    "judged from the frames at the pile's side of the link: whether the backend stored "
    "a bill it never acknowledged, and what it charged, cannot be known from here"
)


@dataclass(frozen=True, slots=True)
class SessionReport:
    """One session (order) of one pile, judged from the frames."""

    pile_no: str
    gun: int
    serial: str
    first_seen: datetime
    charging_from: datetime | None
    charging_to: datetime | None
    energy_kwh: float
    bill: str  # never_sent | unacked | illegal | unknown_result | acked_late | acked
    lost: bool
    transmissions: int
    acks: int
    stop_reason: str
    notes: tuple[str, ...] = ()

    @property
    def retries(self) -> int:
        return max(0, self.transmissions - 1)

    def as_dict(self) -> dict[str, Any]:
        def iso(t: datetime | None) -> str | None:
            return None if t is None else t.isoformat()

        return {
            "pile": self.pile_no,
            "gun": self.gun,
            "serial": self.serial,
            "first_seen": iso(self.first_seen),
            "charging_from": iso(self.charging_from),
            "charging_to": iso(self.charging_to),
            "energy_kwh": round(self.energy_kwh, 4),
            "bill": self.bill,
            "lost": self.lost,
            "bill_transmissions": self.transmissions,
            "retries": self.retries,
            "acks_received": self.acks,
            "duplicated_acks": max(0, self.acks - 1),
            "stop_reason": self.stop_reason,
            "notes": list(self.notes),
        }


def stop_reason_name(code: int) -> str:
    try:
        return f"0x{code:02X} {StopReason(code).name.lower()}"
    except ValueError:
        return f"0x{code:02X}"


def _ack_counts(chunks: Sequence[Chunk]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for chunk, frame in decode_chunks(chunks, frozenset({RecordAck.TYPE})):
        serial = getattr(frame.message, "serial", ZERO_SERIAL)
        if chunk.direction == "down" and serial != ZERO_SERIAL:
            counts[serial] = counts.get(serial, 0) + 1
    return counts


def judge_frames(
    chunks: Sequence[Chunk], events: Sequence[Event] = (), piles: Iterable[str] = ()
) -> dict[str, Any]:
    """Sessions, piles (connection story, backend deviations) and the totals, as JSON."""
    acks = _ack_counts(chunks)
    sessions = []
    for order in device_orders(chunks):
        state, lost, notes = bill_fate(order)
        bill = order.bills[0] if order.bills else None
        sessions.append(
            SessionReport(
                pile_no=order.pile_no,
                gun=order.gun,
                serial=order.serial,
                first_seen=order.first_seen,
                charging_from=order.first_charging,
                charging_to=order.last_charging,
                energy_kwh=bill.energy_kwh if bill else order.last_energy_kwh,
                bill=state,
                lost=lost,
                transmissions=max((b.transmissions for b in order.bills), default=0),
                acks=acks.get(order.serial, 0),
                stop_reason=stop_reason_name(bill.stop_reason) if bill else "",
                notes=tuple(notes),
            )
        )
    sessions.sort(key=lambda s: (s.first_seen, s.pile_no, s.gun))
    names = sorted({*piles, *(c.pile_no for c in chunks)})
    diagnoses = diagnose(names, events, chunks)
    deviations = backend_deviations(chunks)
    pile_rows = []
    for pile in names:
        d = diagnoses[pile]
        pile_rows.append(
            {
                "pile": pile,
                "problems": [p.text() for p in d.problems],
                "backend_deviations": [x.line() for x in deviations.get(pile, [])],
            }
        )
    return {
        "sessions": [s.as_dict() for s in sessions],
        "piles": pile_rows,
        "totals": {
            "sessions": len(sessions),
            "bills_lost": sum(s.lost for s in sessions),
            "bills_late": sum(s.bill == "acked_late" for s in sessions),
            "bills_retried": sum(s.retries > 0 for s in sessions),
        },
        "note": CANNOT_KNOW,
    }


@dataclass
class _LiveSession:
    pile_no: str
    gun: int
    serial: str
    charging: bool = False
    energy_kwh: float = 0.0
    bills_sent: int = 0
    acked: bool = False

    @property
    def state(self) -> str:
        if self.acked:
            return "bill acked"
        if self.bills_sent:
            return f"bill sent ×{self.bills_sent}, no ack"
        return "charging" if self.charging else "started"


@dataclass
class _LivePile:
    pile_no: str
    peer: str = ""
    connected: bool = False
    frames_up: int = 0
    frames_down: int = 0
    errors: int = 0


@dataclass
class LiveSessions:
    """The live table's rows, updated per chunk (bounded: one framer per pile and way)."""

    piles: dict[str, _LivePile] = field(default_factory=dict)
    sessions: dict[str, _LiveSession] = field(default_factory=dict)
    _framers: dict[tuple[str, str], Framer] = field(default_factory=dict)

    def pile(self, pile_no: str) -> _LivePile:
        row = self.piles.get(pile_no)
        if row is None:
            row = self.piles[pile_no] = _LivePile(pile_no)
        return row

    def feed(self, chunk: Chunk) -> None:
        key = (chunk.pile_no, chunk.direction)
        framer = self._framers.get(key)
        if framer is None:
            framer = self._framers[key] = Framer(tolerant=True)
        row = self.pile(chunk.pile_no)
        for item in framer.feed(chunk.data):
            if not isinstance(item, Frame):
                row.errors += 1
                continue
            if chunk.direction == "up":
                row.frames_up += 1
            else:
                row.frames_down += 1
            self._session(chunk, item)

    def _session(self, chunk: Chunk, frame: Frame) -> None:
        msg = frame.message
        serial = getattr(msg, "serial", ZERO_SERIAL)
        if serial == ZERO_SERIAL or not isinstance(
            msg, RealtimeData | TransactionRecord | RecordAck
        ):
            return
        session = self.sessions.get(serial)
        if session is None:
            if isinstance(msg, RecordAck):
                return
            session = self.sessions[serial] = _LiveSession(chunk.pile_no, msg.gun, serial)
        if isinstance(msg, RealtimeData):
            session.charging = msg.status == GunStatus.CHARGING
            session.energy_kwh = max(session.energy_kwh, msg.energy)
        elif isinstance(msg, TransactionRecord) and chunk.direction == "up":
            session.bills_sent += 1
            session.energy_kwh = msg.total_energy
        elif isinstance(msg, RecordAck) and chunk.direction == "down":
            session.acked = True
