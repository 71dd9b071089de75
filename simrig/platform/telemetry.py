"""BMS telemetry: 0x23 (demand and output) and 0x25 (BMS information), protocol §4.18,
kept per order so the API can show what the battery asked for and what it got
(issue 15 item 7). Frames without an order serial are not kept."""

from __future__ import annotations

import dataclasses

from simrig.protocol.ykc import BmsInfo, DemandOutput, Frame

from .connections import Conn
from .events import EventSink
from .records import BmsSample
from .repository import Repository
from .routing import FrameHandlers, on
from .wallclock import WallClock

__all__ = ["Telemetry"]

#: the fields every BMS frame starts with (the sample's own columns)
_KEYS = frozenset({"serial", "pile_no", "gun"})


#: per BMS frame class, the fields kept as the sample's values
_VALUE_NAMES: dict[type, tuple[str, ...]] = {
    cls: tuple(f.name for f in dataclasses.fields(cls) if f.name not in _KEYS)
    for cls in (DemandOutput, BmsInfo)
}


class Telemetry(FrameHandlers):
    """Stores each BMS frame of an order as a :class:`BmsSample`."""

    def __init__(self, repo: Repository, clock: WallClock, events: EventSink) -> None:
        self._repo = repo
        self._wall = clock.wall
        self._events = events
        self.samples = 0

    @on(DemandOutput, BmsInfo)
    def _on_bms(self, conn: Conn, frame: Frame, now: float) -> None:
        """0x23 / 0x25 (protocol §4.18): no reply; kept when it names an order."""
        msg = frame.message
        assert isinstance(msg, DemandOutput | BmsInfo)
        if not msg.serial.strip("0"):
            return
        values = {name: getattr(msg, name) for name in _VALUE_NAMES[type(msg)]}
        sample = BmsSample(msg.serial, msg.pile_no, msg.gun, self._wall(now), msg.NAME, values)
        self._repo.add_bms(sample)
        self.samples += 1
