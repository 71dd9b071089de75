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

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from simrig.capture.record import Chunk, LinkEvent
from simrig.protocol.ykc import (
    Frame,
    FrameError,
    Framer,
    GunHealth,
    Heartbeat,
    Login,
    LoginReply,
    LoginResult,
    encode_frame,
)

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

#: requests of a type a reply may answer (the latest ones: a reply may come after the
#: next request went out)
OUTSTANDING = 8
#: the pile's heartbeat period (protocol §3 item 2)
HEARTBEAT_S = 10.0
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
    #: the time of the request this frame answers (the one whose number it carries, else
    #: the latest), else of the other side's last frame
    since: datetime | None = None
    #: a reply carrying the sequence number of one of the latest requests it answers (§1.3)
    echo: bool = False

    @property
    def type(self) -> int:
        return self.frame.type if self.frame is not None else -1

    @property
    def seq(self) -> int:
        return self.frame.seq if self.frame is not None else -1

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
    #: opened by a chunk, not by a ``connected`` event (a capture without them)
    implicit: bool = False
    frames: int = 0
    last: datetime | None = None


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

    def until(self, at: datetime) -> Framed:
        """What the capture holds up to ``at``, and the replies to the requests sent by
        then (an interrupted replay's share of it)."""
        frames = [
            f
            for f in self.frames
            if f.at <= at or (f.type in REQUESTS_OF and f.since is not None and f.since <= at)
        ]
        end = max((f.at for f in frames), default=at)
        return Framed(
            frames,
            [c for c in self.connections if c.opened <= end],
            list(self.errors),
            [c for c in self.chunks if c.at <= end],
        )

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
        self.requests: dict[tuple[str, str, int], deque[tuple[int, datetime]]] = {}
        self.last_at: dict[tuple[str, str], datetime] = {}
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
        connection = self.open.get(chunk.pile_no)
        if connection is None:
            connection = self.connect(chunk.pile_no, chunk.at, None)
            connection.implicit = True
        key = (chunk.pile_no, chunk.direction)
        framer = self.framers.get(key)
        if framer is None:
            framer = self.framers[key] = Framer(tolerant=True)
        for item in framer.feed(chunk.data):
            if isinstance(item, Frame):
                if connection.implicit and connection.frames and item.type == Login.TYPE:
                    # no connection events (.jsonl): a pile logs in once per connection (§3
                    # item 1; a refused login is closed by the platform), so this is a new one
                    connection.closed = connection.last  # its last frame: no later sign
                    connection = self.connect(chunk.pile_no, chunk.at, None)
                    connection.implicit = True
                connection.frames += 1
                connection.last = chunk.at
                self.frame(chunk, connection, item)
            else:
                self.error(chunk.pile_no, chunk.direction, connection, chunk.at, item)

    def frame(self, chunk: Chunk, connection: Connection, frame: Frame) -> None:
        pile_no, direction, code = chunk.pile_no, chunk.direction, frame.type
        other = "down" if direction == "up" else "up"
        index = self.counts.get((pile_no, direction, code), 0)
        self.counts[pile_no, direction, code] = index + 1
        since, echo = self.last_at.get((pile_no, other)), False
        asked = [
            item
            for req in REQUESTS_OF.get(code, ())
            for item in self.requests.get((pile_no, other, req), ())
        ]
        if asked:  # the latest request with this reply's number, else the latest
            echoed = [item for item in asked if item[0] == frame.seq]
            since, echo = max(echoed or asked, key=lambda item: item[1])[1], bool(echoed)
        if code in REPLIES:
            recent = self.requests.get((pile_no, direction, code))
            if recent is None:
                recent = self.requests[pile_no, direction, code] = deque(maxlen=OUTSTANDING)
            recent.append((frame.seq, chunk.at))
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
    files hold no connection events: a pile's login then starts a new one). Bytes of the
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
    #: a heartbeat the recording sent on paper, put back (not sent as fast as replies)
    synthetic: bool = False


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
        return sum(1 for c in self.connections for s in c.steps if not s.synthetic)


@dataclass(frozen=True)
class ReplayPlan:
    """What a replay sends (``piles``) and what the recording received (``recorded``)."""

    start: datetime
    piles: dict[str, PileScript]
    recorded: Framed
    #: piles with heartbeats put back (sent on paper in the recording)
    paper_heartbeats: frozenset[str] = frozenset()

    @property
    def frames(self) -> int:
        return sum(p.frames for p in self.piles.values())


class _PaperBeats:
    """The heartbeats of one connection that the recording sent on paper: the pile's
    schedule (every period from its login, §3 item 2) where no recorded 0x03 falls
    within half a period of the due time; a recorded one re-anchors the schedule."""

    def __init__(
        self,
        conn: Connection,
        real: list[datetime],
        guns: int,
        beats: dict[str, int],
        period_s: float,
        offset: Callable[[datetime], float],
    ) -> None:
        self.conn, self.real, self.guns, self.beats = conn, real, guns, beats
        self.offset = offset
        self.period = timedelta(seconds=period_s)
        self.next: datetime | None = None
        self._i = 0
        self._frames: dict[int, Frame] = {}

    def start(self, logged_in: datetime) -> None:
        if self.next is None:
            self.next = logged_in + self.period

    def until(self, t: datetime, counts: dict[int, int]) -> list[Step]:
        """The heartbeats due before ``t`` (each gated on what was received so far)."""
        out: list[Step] = []
        pile, half = self.conn.pile_no, self.period / 2
        gate = tuple(sorted(counts.items()))
        while self.next is not None and self.next < t:
            while self._i < len(self.real) and self.real[self._i] < self.next - half:
                self._i += 1
            if self._i < len(self.real) and self.real[self._i] <= self.next + half:
                self.next = self.real[self._i] + self.period  # sent for real: re-anchor
                continue
            k = self.beats.get(pile, 0)
            self.beats[pile] = k + 1
            frame = self._frame(k % self.guns + 1)
            beat = WireFrame(self.next, pile, "up", self.conn.conn, frame.raw, frame, k)
            out.append(Step(beat, self.offset(self.next), gate, synthetic=True))
            self.next += self.period
        return out

    def _frame(self, gun: int) -> Frame:
        frame = self._frames.get(gun)
        if frame is None:
            message = Heartbeat(self.conn.pile_no, gun, GunHealth.NORMAL)
            raw = encode_frame(message, 0)
            frame = self._frames[gun] = Frame(message, 0, raw)
        return frame


def build_plan(
    recorded: Framed, source: str = "capture", heartbeat_s: float = HEARTBEAT_S
) -> ReplayPlan:
    """One script per pile of ``recorded``: its connections with their pile frames.

    Heartbeats a virtual run sent *on paper* (:mod:`simrig.heartbeat_plan`) are not in
    its capture: they are put back where the pile's schedule (every ``heartbeat_s``
    from each successful login reply to the connection's end) has no recorded 0x03,
    round-robin over the guns of its login (§4.3), as :attr:`Step.synthetic` steps, so
    a backend's liveness watch sees the pile the recording's platform saw.
    """
    start = recorded.start
    if start is None or not any(f.direction == "up" for f in recorded.frames):
        raise ReplayInputError(f"{source}: no pile frame to replay")

    def offset(at: datetime) -> float:
        return (at - start).total_seconds()

    by_conn: dict[tuple[str, int], list[WireFrame]] = {}
    guns: dict[str, int] = {}
    for wf in recorded.frames:
        by_conn.setdefault((wf.pile_no, wf.conn), []).append(wf)
        if wf.direction == "up" and isinstance(wf.frame and wf.frame.message, Login):
            guns[wf.pile_no] = max(1, wf.frame.message.gun_count)  # type: ignore[union-attr]
    received: dict[str, dict[int, int]] = {}
    beats: dict[str, int] = {}
    piles: dict[str, list[ConnectionScript]] = {}
    for c in recorded.connections:
        counts = received.setdefault(c.pile_no, {})
        frames = by_conn.get((c.pile_no, c.conn), [])
        real = [f.at for f in frames if f.direction == "up" and f.type == Heartbeat.TYPE]
        paper = _PaperBeats(c, real, guns.get(c.pile_no, 1), beats, heartbeat_s, offset)
        steps: list[Step] = []
        for wf in frames:
            steps += paper.until(wf.at, counts)
            if wf.direction == "down":
                counts[wf.type] = counts.get(wf.type, 0) + 1
                message = wf.frame.message if wf.frame is not None else None
                login_ok = isinstance(message, LoginReply) and message.result == LoginResult.OK
                if login_ok:
                    paper.start(wf.at)
            else:
                steps.append(Step(wf, offset(wf.at), tuple(sorted(counts.items()))))
        steps += paper.until(c.closed or (frames[-1].at if frames else c.opened), counts)
        piles.setdefault(c.pile_no, []).append(
            ConnectionScript(
                c.pile_no,
                c.conn,
                offset(c.opened),
                offset(c.closed) if c.closed is not None else None,
                tuple(steps),
                tuple(sorted(counts.items())),
            )
        )
    return ReplayPlan(
        start,
        {pile: PileScript(pile, tuple(conns)) for pile, conns in piles.items()},
        recorded,
        frozenset(beats),
    )
