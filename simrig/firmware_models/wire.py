"""The pile's outbound side: frames (with sequence numbers) and domain events."""

from __future__ import annotations

from collections import deque
from typing import Any

from simrig.endpoint import Event
from simrig.protocol.ykc import Message, encode_frame

__all__ = ["Wire"]


class Wire:
    """Outbox of one pile: encodes frames while the link is up, queues events."""

    __slots__ = (
        "connected",
        "emit_frame_events",
        "events",
        "out",
        "paper_frames",
        "pile_no",
        "seq",
        "telemetry_on_paper",
    )

    def __init__(self, pile_no: str) -> None:
        self.pile_no = pile_no
        self.seq = 0
        self.out = bytearray()
        self.events: deque[Event] = deque()
        #: frame_sent / frame_received events (off for long runs: the capture has the bytes)
        self.emit_frame_events = True
        #: the link is up (frames are dropped silently otherwise)
        self.connected = False
        #: BMS telemetry (0x23 / 0x25) counted, not sent (fleet shards: :meth:`on_paper`)
        self.telemetry_on_paper = False
        #: frames counted as sent by :meth:`on_paper`
        self.paper_frames = 0

    def send(self, msg: Message, now: float, seq: int | None = None) -> None:
        """Frame ``msg`` (next sequence number unless ``seq``, a reply's) into the outbox."""
        if not self.connected:
            return
        if seq is None:
            self.seq = (self.seq + 1) & 0xFFFF
            seq = self.seq
        raw = encode_frame(msg, seq)
        self.out += raw
        if self.emit_frame_events:
            self.events.append(
                Event(
                    now,
                    "frame_sent",
                    self.pile_no,
                    getattr(msg, "gun", None),
                    {"type": msg.TYPE, "name": msg.NAME, "hex": raw.hex()},
                )
            )

    def on_paper(self, count: int) -> None:
        """``count`` frames sent on paper: their sequence numbers are taken, no bytes."""
        if self.connected:
            self.seq = (self.seq + count) & 0xFFFF
            self.paper_frames += count

    def event(self, now: float, kind: str, gun: int | None, data: dict[str, Any]) -> None:
        self.events.append(Event(now, kind, self.pile_no, gun, data))

    def drain(self) -> bytes:
        data = bytes(self.out)
        self.out.clear()
        return data
