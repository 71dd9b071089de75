"""The device view: orders and bills rebuilt from the bytes a pile really exchanged.

Built from the capture (what crossed the link), not from the firmware model's memory, so
the oracle judges the wire the backend saw. Frames are decoded tolerantly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime

from simrig.capture.record import Chunk
from simrig.oracle.views import DeviceBill, DeviceOrder
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


@dataclass
class _Order:
    serial: str
    pile_no: str
    gun: int
    first_seen: datetime
    executed: bool = False
    first_charging: datetime | None = None
    last_charging: datetime | None = None
    last_energy: float = 0.0
    realtime: int = 0
    bills: list[DeviceBill] = field(default_factory=list)


#: the frames the device view reads (orders, realtime, bills, acks)
ORDER_FRAMES = frozenset(
    cls.TYPE
    for cls in (CardAuthReply, RemoteStartReply, RealtimeData, TransactionRecord, RecordAck)
)


def decode_chunks(
    chunks: Iterable[Chunk], only: frozenset[int] | None = None
) -> list[tuple[Chunk, Frame]]:
    """Split each pile's byte streams into frames, in order of arrival (``only``: these types)."""
    framers: dict[tuple[str, str], Framer] = {}
    out: list[tuple[Chunk, Frame]] = []
    for chunk in chunks:
        key = (chunk.pile_no, chunk.direction)
        framer = framers.get(key)
        if framer is None:
            framer = framers[key] = Framer(tolerant=True, only=only)
        for item in framer.feed(chunk.data):
            if isinstance(item, Frame):
                out.append((chunk, item))
    return out


def device_orders(chunks: Iterable[Chunk]) -> list[DeviceOrder]:
    """Every order a pile took part in, with its realtime summary and the bills it sent.

    An order is *executed* when the pile accepted it: a card authorisation it acted on
    (0x32 success), a 0x33 success, realtime data with its serial, or a bill.
    """
    orders: dict[str, _Order] = {}
    acked: set[str] = set()
    for chunk, frame in decode_chunks(chunks, ORDER_FRAMES):
        msg = frame.message
        serial = getattr(msg, "serial", ZERO_SERIAL)
        if serial == ZERO_SERIAL:
            continue
        if isinstance(msg, RecordAck):
            if msg.result == AckResult.OK:
                acked.add(serial)
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
                order.last_charging = chunk.at
        elif isinstance(msg, TransactionRecord) and chunk.direction == "up":
            order.executed = True
            if not any(b.serial == serial for b in order.bills):
                order.bills.append(_bill(msg, chunk, frame))
    result = []
    for order in orders.values():
        if not order.executed:
            continue
        bills = tuple(replace(b, acked=b.serial in acked) for b in order.bills)
        result.append(
            DeviceOrder(
                serial=order.serial,
                pile_no=order.pile_no,
                gun=order.gun,
                first_seen=order.first_seen,
                first_charging=order.first_charging,
                last_charging=order.last_charging,
                last_energy_kwh=order.last_energy,
                realtime_frames=order.realtime,
                bills=bills,
            )
        )
    return result


def _bill(msg: TransactionRecord, chunk: Chunk, frame: Frame) -> DeviceBill:
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
