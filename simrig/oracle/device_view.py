"""The device view: orders and bills rebuilt from the bytes a pile really exchanged.

Built from the capture (what crossed the link), not from the firmware model's memory, so
the oracle judges the wire the backend saw. Frames are decoded tolerantly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import ClassVar, cast

from simrig.capture.record import Chunk
from simrig.fastdata import fast_init
from simrig.oracle.views import AckState, DeviceBill, DeviceOrder
from simrig.protocol.ykc import (
    AckResult,
    CardAuthReply,
    Confirm,
    Frame,
    Framer,
    GunStatus,
    RealtimeData,
    RecordAck,
    RemoteStartReply,
    TransactionRecord,
)

ZERO_SERIAL = "0" * 32
#: S1 §8.7: without a 0x40 the pile retries the 0x3B every 30 s; a later ack is "late"
ACK_LATE_S = 30.0
#: 0x40 result bytes of §4.12: 0x00 received, 0x01 illegal bill
_ACK_RESULTS = frozenset(int(r) for r in AckResult)


@dataclass
class _Ack:
    """The 0x40 frames seen for one serial: the first in-spec ack, else the first other."""

    at: datetime
    result: int
    hex: str


@dataclass
class _Order:
    serial: str
    pile_no: str
    gun: int
    first_seen: datetime
    executed: bool = False
    first_charging: datetime | None = None
    #: what carried its last charging 0x13 (its time read once, at the end)
    last_charging: Chunk | PaperFrame | None = None
    last_energy: float = 0.0
    realtime: int = 0
    bills: list[DeviceBill] = field(default_factory=list)


#: the frames the device view reads (orders, realtime, bills, acks)
ORDER_FRAMES = frozenset(
    cls.TYPE
    for cls in (CardAuthReply, RemoteStartReply, RealtimeData, TransactionRecord, RecordAck)
)


@fast_init  # one per 0x13 on paper
@dataclass(frozen=True, slots=True)
class PaperFrame:
    """A frame a pile sent up decoded instead of as bytes (a virtual run's 0x13 on
    paper, :mod:`simrig.adapters.virtual`): sent ``t`` scenario seconds after ``epoch``,
    just before the capture's chunk number ``position``. In :func:`decode_chunks` it
    stands for its chunk (one without bytes): its wall time is worked out only when read
    (the device view reads few)."""

    position: int
    t: float
    epoch: datetime
    pile_no: str
    frame: Frame
    direction: ClassVar[str] = "up"
    data: ClassVar[bytes] = b""

    @property
    def at(self) -> datetime:
        """When it was sent (as :meth:`simrig.sim.world.World.wall` tells a chunk's)."""
        return self.epoch + timedelta(seconds=self.t)


def decode_chunks(
    chunks: Iterable[Chunk], only: frozenset[int] | None = None
) -> list[tuple[Chunk, Frame]]:
    """Split each pile's byte streams into frames, in order of arrival (``only``: these
    types)."""
    return cast("list[tuple[Chunk, Frame]]", decode_with_paper(chunks, only, ()))


def decode_with_paper(
    chunks: Iterable[Chunk],
    only: frozenset[int] | None,
    paper: Sequence[PaperFrame],
) -> list[tuple[Chunk | PaperFrame, Frame]]:
    """:func:`decode_chunks` with the ``paper`` frames in their places, each standing
    for its chunk."""
    framers: dict[tuple[str, str], Framer] = {}
    out: list[tuple[Chunk | PaperFrame, Frame]] = []
    pending = iter(paper)
    nxt = next(pending, None)
    for index, chunk in enumerate(chunks):
        while nxt is not None and nxt.position <= index:
            _add_paper(out, nxt, only)
            nxt = next(pending, None)
        key = (chunk.pile_no, chunk.direction)
        framer = framers.get(key)
        if framer is None:
            framer = framers[key] = Framer(tolerant=True, only=only)
        for item in framer.feed(chunk.data):
            if isinstance(item, Frame):
                out.append((chunk, item))
    while nxt is not None:
        _add_paper(out, nxt, only)
        nxt = next(pending, None)
    return out


def _add_paper(
    out: list[tuple[Chunk | PaperFrame, Frame]],
    paper: PaperFrame,
    only: frozenset[int] | None,
) -> None:
    if only is None or paper.frame.type in only:
        out.append((paper, paper.frame))


def device_orders(
    chunks: Iterable[Chunk],
    ack_late_s: float = ACK_LATE_S,
    paper: Sequence[PaperFrame] = (),
) -> list[DeviceOrder]:
    """Every order a pile took part in, with its realtime summary and the bills it sent
    (the frames of ``chunks`` and the ``paper`` frames among them).

    An order is *executed* when the pile accepted it: a card authorisation it acted on
    (0x32 success), a 0x33 success, realtime data with its serial, or a bill. Each bill
    carries its :class:`AckState` (``ack_late_s``: what "late" means for a 0x40).
    """
    orders: dict[str, _Order] = {}
    acks: dict[str, _Ack] = {}
    sent: dict[str, int] = {}
    for chunk, frame in decode_with_paper(chunks, ORDER_FRAMES, paper):
        msg = frame.message
        serial = getattr(msg, "serial", ZERO_SERIAL)
        if serial == ZERO_SERIAL:
            continue
        if isinstance(msg, RecordAck):
            if chunk.direction == "down":
                _note_ack(acks, serial, chunk.at, int(msg.result), frame.raw.hex())
            continue
        gun = getattr(msg, "gun", 1)
        order = orders.get(serial)
        if order is None:
            order = orders[serial] = _Order(serial, chunk.pile_no, gun, chunk.at)
        if (isinstance(msg, CardAuthReply) and msg.result == Confirm.OK) or (
            isinstance(msg, RemoteStartReply) and msg.result == Confirm.OK
        ):
            order.executed = True
        elif isinstance(msg, RealtimeData):
            order.executed = True
            order.realtime += 1
            order.last_energy = max(order.last_energy, msg.energy)
            if msg.status == GunStatus.CHARGING:
                order.first_charging = order.first_charging or chunk.at
                order.last_charging = chunk
        elif isinstance(msg, TransactionRecord) and chunk.direction == "up":
            order.executed = True
            sent[serial] = sent.get(serial, 0) + 1
            if not any(b.serial == serial for b in order.bills):
                order.bills.append(_bill(msg, chunk, frame))
    result = []
    late = timedelta(seconds=ack_late_s)
    for order in orders.values():
        if not order.executed:
            continue
        bills = tuple(_with_ack(b, acks.get(b.serial), sent[b.serial], late) for b in order.bills)
        result.append(
            DeviceOrder(
                serial=order.serial,
                pile_no=order.pile_no,
                gun=order.gun,
                first_seen=order.first_seen,
                first_charging=order.first_charging,
                last_charging=None if order.last_charging is None else order.last_charging.at,
                last_energy_kwh=order.last_energy,
                realtime_frames=order.realtime,
                bills=bills,
            )
        )
    return result


def _note_ack(acks: dict[str, _Ack], serial: str, at: datetime, result: int, hex_: str) -> None:
    """Keep the first 0x00 ack, else the first in-spec one, else the first of all."""
    seen = acks.get(serial)
    if seen is None or (
        seen.result != AckResult.OK
        and (result == AckResult.OK or (seen.result not in _ACK_RESULTS and result in _ACK_RESULTS))
    ):
        acks[serial] = _Ack(at, result, hex_)


def _with_ack(bill: DeviceBill, ack: _Ack | None, sent: int, late: timedelta) -> DeviceBill:
    if ack is None:
        return replace(bill, transmissions=sent)
    if ack.result == AckResult.OK:
        state = AckState.ACKED_LATE if ack.at - bill.sent_at > late else AckState.ACKED
    elif ack.result == AckResult.ILLEGAL:
        state = AckState.ILLEGAL
    else:
        state = AckState.UNKNOWN_RESULT
    return replace(
        bill,
        acked=ack.result == AckResult.OK,
        ack_state=state,
        ack_result=ack.result,
        acked_at=ack.at,
        transmissions=sent,
        ack_hex=ack.hex,
    )


def _bill(msg: TransactionRecord, chunk: Chunk | PaperFrame, frame: Frame) -> DeviceBill:
    return DeviceBill(
        serial=msg.serial,
        pile_no=msg.pile_no,
        gun=msg.gun,
        start=msg.start_time,
        end=msg.end_time,
        trade_time=msg.trade_time,
        energy_kwh=msg.total_energy,
        amount_yuan=msg.total_amount,
        stop_reason=int(msg.stop_reason),
        sent_at=chunk.at,
        acked=False,
        frame_hex=frame.raw.hex(),
    )


def refused_card_starts(
    chunks: Iterable[Chunk], pile_no: str, gun: int
) -> list[tuple[Chunk, CardAuthReply]]:
    """The 0x32 authorisation failures a pile's gun received (igo_case#21)."""
    return [
        (chunk, frame.message)
        for chunk, frame in decode_chunks(
            (c for c in chunks if c.pile_no == pile_no), frozenset({CardAuthReply.TYPE})
        )
        if isinstance(frame.message, CardAuthReply)
        and frame.message.gun == gun
        and frame.message.result != Confirm.OK
    ]
