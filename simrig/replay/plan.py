"""A capture as frames per pile connection, and the pile side as a script to replay (pure).

:func:`read_frames` splits a capture's chunks into YKC frames (a framer per pile,
direction and connection) and notes for each frame its running number among the pile's
frames of its type and direction, the request it answers and whether it echoes that
request's sequence number (protocol §1.3). The recorded and the fresh capture are read
by the same function, so the diff compares like with like.

:func:`build_plan` turns the pile side into one :class:`PileScript` per pile: its
connections in order, each a list of :class:`Step` (one pile frame, its recorded time
and the replies the pile had received before it: the *gate* an as-fast replay waits for).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from simrig.capture.record import Chunk, LinkEvent
from simrig.protocol.ykc import Frame, FrameError, Framer

__all__ = [
    "REPLIES",
    "REQUESTS_OF",
    "Connection",
    "Framed",
    "PileScript",
    "ReplayInputError",
    "ReplayPlan",
    "Step",
    "WireFrame",
    "build_plan",
    "read_frames",
]

#: request type → the type that answers it (protocol §4: login §4.1-4.2, heartbeat §4.3,
#: billing model §4.4/§5, card start §4.7-4.8, remote start/stop §4.9-4.11, bill §4.12,
#: balance and cards §4.17, time sync §4.14, reboot §4.15, upgrade §4.16, parallel §4.17)
REPLIES: dict[int, int] = {
    0x01: 0x02,
    0x03: 0x04,
    0x05: 0x06,
    0x09: 0x0A,
    0x12: 0x13,
    0x31: 0x32,
    0x34: 0x33,
    0x36: 0x35,
    0x3B: 0x40,
    0x3D: 0x40,
    0x42: 0x41,
    0x44: 0x43,
    0x46: 0x45,
    0x48: 0x47,
    0x52: 0x51,
    0x56: 0x55,
    0x58: 0x57,
    0x62: 0x63,
    0x92: 0x91,
    0x94: 0x93,
    0xA1: 0xA2,
    0xA4: 0xA3,
    0xF0: 0xF1,
}
#: reply type → the request types it answers
REQUESTS_OF: dict[int, frozenset[int]] = {
    reply: frozenset(req for req, rep in REPLIES.items() if rep == reply)
    for reply in set(REPLIES.values())
}


class ReplayInputError(ValueError):
    """The capture cannot be replayed (one line naming the file and the position)."""


@dataclass(frozen=True, slots=True)
class WireFrame:
    """One frame of a capture (or bytes the framer could not read: ``frame`` None)."""

    at: datetime
    pile_no: str
    direction: str  # "up" (pile → backend) | "down"
    conn: int
    raw: bytes
    frame: Frame | None
    #: running number among the pile's frames of this type and direction (from 0)
    index: int = 0
    #: the time of the request this frame answers, else of the other side's last frame
    since: datetime | None = None
    #: a reply carrying the sequence number of the request it answers (§1.3)
    echo: bool = False

    @property
    def type(self) -> int:
        return self.frame.type if self.frame is not None else -1

    @property
    def label(self) -> str:
        if self.frame is None:
            return f"unreadable bytes #{self.index + 1}"
        return f"0x{self.type:02X} {self.frame.name} #{self.index + 1}"


@dataclass(slots=True)
class Connection:
    pile_no: str
    conn: int
    opened: datetime
    closed: datetime | None = None


@dataclass
class Framed:
    """A capture read as frames: every frame in capture order, the connections, the
    framing errors of the backend's side, and the chunks (for the device view)."""

    frames: list[WireFrame] = field(default_factory=list)
    connections: list[Connection] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    chunks: list[Chunk] = field(default_factory=list)

    @property
    def start(self) -> datetime | None:
        times = [c.opened for c in self.connections] + [f.at for f in self.frames[:1]]
        return min(times) if times else None

    def down(self, pile_no: str) -> list[WireFrame]:
        return [f for f in self.frames if f.pile_no == pile_no and f.direction == "down"]


class _Reader:
    """The state of :func:`read_frames` (framers, counters, open connections)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.out = Framed()
        self.open: dict[str, Connection] = {}
        self.framers: dict[tuple[str, str], Framer] = {}
        self.counts: dict[tuple[str, str, int], int] = {}
        self.last_request: dict[tuple[str, str, int], Frame] = {}
        self.last_at: dict[tuple[str, str], datetime] = {}
        self.last_request_at: dict[tuple[str, str, int], datetime] = {}
        self.conns = 0

    def link(self, event: LinkEvent) -> None:
        if event.kind == "connected":
            self.close(event.pile_no, event.at)
            self.connect(event.pile_no, event.at, event.conn)
        elif event.pile_no in self.open:
            self.close(event.pile_no, event.at)

    def connect(self, pile_no: str, at: datetime, conn: int | None) -> Connection:
        self.conns += 1
        connection = Connection(pile_no, conn if conn is not None else self.conns, at)
        self.open[pile_no] = connection
        self.out.connections.append(connection)
        return connection

    def close(self, pile_no: str, at: datetime | None) -> None:
        connection = self.open.pop(pile_no, None)
        if connection is None:
            return
        connection.closed = at
        for direction in ("up", "down"):
            framer = self.framers.pop((pile_no, direction), None)
            if framer is not None:
                for error in framer.close():
                    self.error(pile_no, direction, connection, at or connection.opened, error)

    def chunk(self, chunk: Chunk) -> None:
        if not chunk.pile_no:
            raise ReplayInputError(
                f"{self.source}: chunk at {chunk.at.isoformat()} names no pile "
                "(bare hex lines cannot be replayed)"
            )
        if chunk.direction not in ("up", "down"):
            raise ReplayInputError(
                f"{self.source}: chunk at {chunk.at.isoformat()}: direction {chunk.direction!r}"
            )
        self.out.chunks.append(chunk)
        connection = self.open.get(chunk.pile_no) or self.connect(chunk.pile_no, chunk.at, None)
        key = (chunk.pile_no, chunk.direction)
        framer = self.framers.get(key)
        if framer is None:
            framer = self.framers[key] = Framer(tolerant=True)
        for item in framer.feed(chunk.data):
            if isinstance(item, Frame):
                self.frame(chunk, connection, item)
            else:
                self.error(chunk.pile_no, chunk.direction, connection, chunk.at, item)

    def frame(self, chunk: Chunk, connection: Connection, frame: Frame) -> None:
        pile_no, direction, code = chunk.pile_no, chunk.direction, frame.type
        other = "down" if direction == "up" else "up"
        index = self.counts.get((pile_no, direction, code), 0)
        self.counts[pile_no, direction, code] = index + 1
        since, echo = self.last_at.get((pile_no, other)), False
        requests = REQUESTS_OF.get(code, frozenset())
        asked = [
            (self.last_request_at[pile_no, other, req], self.last_request[pile_no, other, req])
            for req in requests
            if (pile_no, other, req) in self.last_request
        ]
        if asked:
            at, request = max(asked, key=lambda pair: pair[0])
            since, echo = at, request.seq == frame.seq
        if code in REPLIES:
            self.last_request[pile_no, direction, code] = frame
            self.last_request_at[pile_no, direction, code] = chunk.at
        self.last_at[pile_no, direction] = chunk.at
        self.out.frames.append(
            WireFrame(
                chunk.at, pile_no, direction, connection.conn, frame.raw, frame, index, since, echo
            )
        )

    def error(
        self,
        pile_no: str,
        direction: str,
        connection: Connection,
        at: datetime,
        error: FrameError,
    ) -> None:
        if direction == "down":
            self.out.errors.append(f"{at.isoformat()} {pile_no} down: {error}")
            return
        if not error.raw:
            return
        index = self.counts.get((pile_no, direction, -1), 0)
        self.counts[pile_no, direction, -1] = index + 1
        self.out.frames.append(
            WireFrame(at, pile_no, direction, connection.conn, error.raw, None, index)
        )


def read_frames(items: Iterable[Chunk | LinkEvent], source: str = "capture") -> Framed:
    """The frames of a capture's items, in file order (``formats.read_capture``).

    A chunk before any ``connected`` event of its pile opens a connection (``.jsonl``
    files hold no connection events: each pile is then one connection). Bytes of the
    pile's side the framer cannot read are kept (sent verbatim by a replay); the
    backend's are listed in ``errors``.
    """
    reader = _Reader(source)
    for item in items:
        if isinstance(item, Chunk):
            reader.chunk(item)
        else:
            reader.link(item)
    for pile_no in list(reader.open):
        reader.close(pile_no, None)
    return reader.out


@dataclass(frozen=True, slots=True)
class Step:
    """Send one recorded pile frame."""

    frame: WireFrame
    #: recorded seconds since the capture's start
    offset_s: float
    #: (down type, count): the replies the pile had received before it, on this pile
    gate: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class ConnectionScript:
    pile_no: str
    conn: int
    opened_s: float
    closed_s: float | None
    steps: tuple[Step, ...]
    #: the replies received by the end of the connection
    tail_gate: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class PileScript:
    pile_no: str
    connections: tuple[ConnectionScript, ...]

    @property
    def frames(self) -> int:
        return sum(len(c.steps) for c in self.connections)


@dataclass(frozen=True)
class ReplayPlan:
    """What a replay sends (``piles``) and what the recording received (``recorded``)."""

    start: datetime
    piles: dict[str, PileScript]
    recorded: Framed

    @property
    def frames(self) -> int:
        return sum(p.frames for p in self.piles.values())


def build_plan(recorded: Framed, source: str = "capture") -> ReplayPlan:
    """One script per pile of ``recorded``: its connections with their pile frames."""
    start = recorded.start
    if start is None or not any(f.direction == "up" for f in recorded.frames):
        raise ReplayInputError(f"{source}: no pile frame to replay")

    def offset(at: datetime) -> float:
        return (at - start).total_seconds()

    received: dict[str, dict[int, int]] = {}
    steps: dict[tuple[str, int], list[Step]] = {}
    tails: dict[tuple[str, int], tuple[tuple[int, int], ...]] = {}
    for wf in recorded.frames:
        counts = received.setdefault(wf.pile_no, {})
        key = (wf.pile_no, wf.conn)
        if wf.direction == "down":
            counts[wf.type] = counts.get(wf.type, 0) + 1
        else:
            steps.setdefault(key, []).append(Step(wf, offset(wf.at), tuple(sorted(counts.items()))))
        tails[key] = tuple(sorted(counts.items()))
    piles: dict[str, list[ConnectionScript]] = {}
    for c in recorded.connections:
        key = (c.pile_no, c.conn)
        piles.setdefault(c.pile_no, []).append(
            ConnectionScript(
                c.pile_no,
                c.conn,
                offset(c.opened),
                offset(c.closed) if c.closed is not None else None,
                tuple(steps.get(key, ())),
                tails.get(key, ()),
            )
        )
    return ReplayPlan(
        start,
        {pile: PileScript(pile, tuple(conns)) for pile, conns in piles.items()},
        recorded,
    )
