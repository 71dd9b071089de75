"""Backend deviations: what a backend's replies do that the YKC spec does not allow.

A pure analysis of one run's captured chunks, per pile (issue 11 item 4). Every finding
is the *backend's* doing as seen on the wire — never folded into an anomaly code:

================  ===========================================================================
kind              the downlink (backend → pile) shows
================  ===========================================================================
non_ykc           bytes outside any YKC frame (no 0x68 start, bad length) — §1.2
crc               a frame whose CRC-16/MODBUS does not match — §1.4
crc_swapped       CRC bytes high byte first (JCPP's habit; accepted, noted) — §1.4, §8 item 1
frame             a frame the tolerant decoder rejects: unknown type, body length, encrypted,
                  bad field, truncated at the end of the capture — §1.2, §2
field             a field the tolerant decoder accepted with a deviation (non-BCD digits,
                  CP56Time2a flag bits, extra body bytes) — §1.5, §1.6
direction         a pile→platform (odd) frame type sent down — §2
enum              a one-byte code outside its table (0x40 result, 0x02 result, …) — §4
range             billing-model fields out of range (loss ratio, period bytes) — §5
seq_not_echoed    a reply whose 2 sequence bytes are not its request's (byte-swapped is
                  named as such) — §1.3
coalesced_write   a request the pile wrote together with other requests in one write got no
                  reply, while another request of that same write was answered: the backend
                  read the write but may not split several frames arriving in one TCP
                  segment. Inferred from the capture (a write is not always one segment;
                  a write the backend never read at all is not flagged) — §1.1
================  ===========================================================================

With ``link_corrupts`` (the scenario's own link corrupts bytes) ``crc``/``non_ykc``
findings say that they may have been injected by the rig.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum

from simrig.capture.record import Chunk
from simrig.oracle.pushed_tariff import model_problems
from simrig.protocol.ykc import ErrorKind, Frame, FrameError, Framer, ModelReply
from simrig.protocol.ykc.wire import Enum8

__all__ = ["REPLY_TO", "BackendDeviation", "PileDeviations", "backend_deviations"]

#: reply type → the request type it answers (§2)
REPLY_TO: dict[int, int] = {0x02: 0x01, 0x04: 0x03, 0x06: 0x05, 0x0A: 0x09, 0x32: 0x31, 0x40: 0x3B}
_REQUESTS = frozenset(REPLY_TO.values()) | {0x3D}
#: a request still unanswered this long after it was written counts as unanswered
ANSWER_WITHIN_S = 30.0
#: hex evidence is cut to this many bytes
EVIDENCE_BYTES = 64


@dataclass(frozen=True, slots=True)
class BackendDeviation:
    """One reply (or run of bytes) from the backend that breaks the spec."""

    pile_no: str
    at: datetime
    kind: str
    detail: str
    frame_hex: str = ""

    def line(self) -> str:
        return f"{self.at:%H:%M:%S} {self.kind}: {self.detail}"


@dataclass
class _Request:
    type: int
    seq: int
    at: datetime
    write: int  # index of the uplink write that carried it
    coalesced: bool
    hex: str


def _hex(data: bytes) -> str:
    return data[:EVIDENCE_BYTES].hex()


def _error(pile: str, at: datetime, err: FrameError, link_corrupts: bool) -> BackendDeviation:
    kind = {
        ErrorKind.BAD_CRC: "crc",
        ErrorKind.GARBAGE: "non_ykc",
        ErrorKind.BAD_LENGTH: "non_ykc",
    }.get(err.kind, "frame")
    detail = str(err)
    if link_corrupts and kind in ("crc", "non_ykc"):
        detail += " (the scenario's link corrupts bytes: may be the rig's doing)"
    return BackendDeviation(pile, at, kind, detail, _hex(err.raw))


def _frame_findings(pile: str, at: datetime, frame: Frame) -> list[BackendDeviation]:
    msg, raw = frame.message, _hex(frame.raw)
    found = []
    if frame.type % 2 == 1:
        found.append(
            BackendDeviation(
                pile, at, "direction", f"0x{frame.type:02X} {msg.NAME} is pile→platform", raw
            )
        )
    for dev in frame.deviations:
        what = "crc_swapped" if dev == "crc_swapped" else "field"
        found.append(BackendDeviation(pile, at, what, f"{msg.NAME}: {dev}", raw))
    for name, field_kind in msg.codec.fields:
        if isinstance(field_kind, Enum8):
            value = getattr(msg, name)
            if not isinstance(value, IntEnum):
                allowed = ", ".join(f"0x{int(m):02X}" for m in field_kind.enum)
                found.append(
                    BackendDeviation(
                        pile, at, "enum",
                        f"0x{frame.type:02X} {msg.NAME}.{name} = 0x{int(value):02X}, "
                        f"{msg.SECTION} allows {allowed}",
                        raw,
                    )
                )  # fmt: skip
    if isinstance(msg, ModelReply):
        for problem in model_problems(msg):
            found.append(
                BackendDeviation(
                    pile, at, "range", f"0x{frame.type:02X} {msg.NAME}: {problem}", raw
                )
            )
    return found


def _seq(seq: int) -> str:
    return f"{seq >> 8:02X} {seq & 0xFF:02X}"


def _swap(seq: int) -> int:
    return (seq & 0xFF) << 8 | seq >> 8


class _Pile:
    """One pile's two byte streams, read in capture order."""

    def __init__(self, pile: str, link_corrupts: bool) -> None:
        self.pile = pile
        self.link_corrupts = link_corrupts
        self.up = Framer(tolerant=True, only=_REQUESTS)
        self.down = Framer(tolerant=True)
        self.pending: dict[int, deque[_Request]] = defaultdict(deque)
        self.unanswered: list[_Request] = []
        self.answered_writes: set[int] = set()
        self.writes = 0
        self.found: list[BackendDeviation] = []
        self.last: datetime | None = None

    def feed(self, chunk: Chunk) -> None:
        self.last = chunk.at
        if chunk.direction == "up":
            self._up(chunk)
            return
        for item in self.down.feed(chunk.data):
            if isinstance(item, FrameError):
                self.found.append(_error(self.pile, chunk.at, item, self.link_corrupts))
                continue
            self.found += _frame_findings(self.pile, chunk.at, item)
            request = REPLY_TO.get(item.type)
            if request is not None:
                self._reply(chunk.at, item, request)

    def _up(self, chunk: Chunk) -> None:
        frames = [f for f in self.up.feed(chunk.data) if isinstance(f, Frame)]
        # frames of other types are skipped by the framer: count every frame start
        coalesced = len(frames) > 1 or (frames and len(chunk.data) > len(frames[0].raw))
        self.writes += 1
        for frame in frames:
            kind = 0x3B if frame.type == 0x3D else frame.type
            self.pending[kind].append(
                _Request(kind, frame.seq, chunk.at, self.writes, bool(coalesced), _hex(chunk.data))
            )

    def _reply(self, at: datetime, frame: Frame, request: int) -> None:
        queue = self.pending[request]
        match = next((r for r in queue if r.seq == frame.seq), None)  # late replies count too
        if match is None:
            self._expire(queue, at)
            if not queue:
                return  # unsolicited (or its request predates the capture)
            match = queue[0]
            swapped = any(r.seq == _swap(frame.seq) for r in queue)
            how = "byte-swapped (JCPP's habit, §1.3)" if swapped else "not echoed"
            self.found.append(
                BackendDeviation(
                    self.pile, at, "seq_not_echoed",
                    f"0x{frame.type:02X} {frame.name} seq {_seq(frame.seq)}"
                    f" to 0x{request:02X} seq {_seq(match.seq)}: {how}",
                    _hex(frame.raw),
                )
            )  # fmt: skip
        queue.remove(match)
        self._expire(queue, at)
        self.answered_writes.add(match.write)

    def _expire(self, queue: deque[_Request], now: datetime) -> None:
        limit = timedelta(seconds=ANSWER_WITHIN_S)
        while queue and now - queue[0].at > limit:
            self.unanswered.append(queue.popleft())

    def close(self) -> list[BackendDeviation]:
        for item in self.down.close():
            self.found.append(
                _error(self.pile, self.last or datetime.min, item, self.link_corrupts)
            )
        if self.last is not None:
            for queue in self.pending.values():
                self._expire(queue, self.last)
        for req in self.unanswered:
            if req.coalesced and req.write in self.answered_writes:
                self.found.append(
                    BackendDeviation(
                        self.pile, req.at, "coalesced_write",
                        f"0x{req.type:02X} got no reply within {ANSWER_WITHIN_S:.0f} s, while "
                        f"another request written with it was answered (the backend may not "
                        f"split frames sharing a TCP segment)",
                        req.hex,
                    )
                )  # fmt: skip
        self.found.sort(key=lambda d: d.at)
        return self.found


#: one pile's analysis, fed chunk by chunk (a load run streams a sample of piles through it)
PileDeviations = _Pile


def backend_deviations(
    chunks: Iterable[Chunk], *, link_corrupts: bool = False
) -> dict[str, list[BackendDeviation]]:
    """Per pile (only piles with findings), the backend's departures from the spec."""
    piles: dict[str, _Pile] = {}
    for chunk in chunks:
        state = piles.get(chunk.pile_no)
        if state is None:
            state = piles[chunk.pile_no] = _Pile(chunk.pile_no, link_corrupts)
        state.feed(chunk)
    out = {}
    for pile, state in piles.items():
        found = state.close()
        if found:
            out[pile] = found
    return out
