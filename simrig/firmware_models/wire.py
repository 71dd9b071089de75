"""The pile's outbound side: frames (with sequence numbers) and domain events."""

from __future__ import annotations

from collections import deque
from typing import Any, Protocol

from simrig.endpoint import Event
from simrig.protocol.ykc import (
    DemandOutput,
    Frame,
    FramedBytes,
    Heartbeat,
    Message,
    RealtimeData,
    encode_frame,
)

__all__ = ["BY_REFERENCE", "RealtimeSink", "Wire"]

#: the messages whose decode gives back the very values this model encodes (its readings
#: are on the wire's grid: :mod:`.wire_rounding`): handed on decoded in
#: :class:`FramedBytes`; the peer parses the others.
#: tests/protocol/test_framed_bytes.py checks every such frame of the golden runs.
BY_REFERENCE: frozenset[type[Message]] = frozenset({RealtimeData, Heartbeat, DemandOutput})


class RealtimeSink(Protocol):
    """Where a 0x13 (protocol §4.6) may go decoded at its send time instead of as bytes
    (the virtual driver's realtime on paper)."""

    #: its readers never look at a 0x13's electrical readings (voltage, current,
    #: temperatures, SoC, remaining time): the pile may leave them at their defaults
    without_readings: bool

    def takes(self, now: float) -> bool:
        """A 0x13 sent at ``now`` goes decoded; False: the wire encodes it."""
        ...

    def carry(self, frame: Frame, now: float) -> None:
        """Hand on the 0x13 ``frame`` sent at ``now``."""
        ...


class Wire:
    """Outbox of one pile: encodes frames while the link is up, queues events."""

    __slots__ = (
        "connected",
        "emit_frame_events",
        "events",
        "out",
        "paper_frames",
        "parts",
        "pile_no",
        "realtime_sink",
        "seq",
        "telemetry_on_paper",
    )

    def __init__(self, pile_no: str) -> None:
        self.pile_no = pile_no
        self.seq = 0
        self.out = bytearray()
        #: the frames ``out`` holds: decoded (:data:`BY_REFERENCE`) or raw
        self.parts: list[Frame | bytes] = []
        self.events: deque[Event] = deque()
        #: frame_sent / frame_received events (off for long runs: the capture has the bytes)
        self.emit_frame_events = True
        #: the link is up (frames are dropped silently otherwise)
        self.connected = False
        #: BMS telemetry (0x23 / 0x25) counted, not sent (fleet shards: :meth:`on_paper`)
        self.telemetry_on_paper = False
        #: frames counted as sent by :meth:`on_paper`
        self.paper_frames = 0
        #: where a 0x13 may go decoded while nothing is queued before it (None: as bytes)
        self.realtime_sink: RealtimeSink | None = None

    def send(self, msg: Message, now: float, seq: int | None = None) -> None:
        """Frame ``msg`` (next sequence number unless ``seq``, a reply's) into the outbox."""
        if not self.connected:
            return
        if seq is None:
            if type(msg) is RealtimeData and self.realtime_on_paper(now):
                self.send_decoded(msg, now)
                return
            self.seq = (self.seq + 1) & 0xFFFF
            seq = self.seq
        raw = encode_frame(msg, seq)
        self.out += raw
        self.parts.append(Frame(msg, seq, raw) if type(msg) in BY_REFERENCE else raw)
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

    def send_decoded(self, msg: RealtimeData, now: float) -> None:
        """Hand the 0x13 ``msg`` (next sequence number) to the sink decoded; only when
        :meth:`realtime_on_paper` said so at this ``now``."""
        assert self.realtime_sink is not None
        self.seq = (self.seq + 1) & 0xFFFF
        self.realtime_sink.carry(Frame(msg, self.seq), now)

    def realtime_on_paper(self, now: float) -> bool:
        """A 0x13 sent now would go to the sink decoded."""
        sink = self.realtime_sink
        return (
            sink is not None
            and self.connected
            and not self.out  # a frame queued before it would be overtaken
            and not self.emit_frame_events  # (its event shows the bytes)
            and sink.takes(now)
        )

    def bare_realtime(self, now: float) -> bool:
        """A 0x13 sent now may leave its readings out (:attr:`RealtimeSink.
        without_readings`)."""
        sink = self.realtime_sink
        return sink is not None and sink.without_readings and self.realtime_on_paper(now)

    def on_paper(self, count: int) -> None:
        """``count`` frames sent on paper: their sequence numbers are taken, no bytes."""
        if self.connected:
            self.seq = (self.seq + count) & 0xFFFF
            self.paper_frames += count

    def event(self, now: float, kind: str, gun: int | None, data: dict[str, Any]) -> None:
        self.events.append(Event(now, kind, self.pile_no, gun, data))

    def drain(self) -> bytes:
        """The bytes sent since the last drain, with their frames (:class:`FramedBytes`)."""
        out = self.out
        if not out:
            return b""
        data = FramedBytes(out, tuple(self.parts))
        out.clear()
        self.parts.clear()
        return data
