"""Text captures: ``frames.jsonl`` (one line per YKC frame) and ``.hex`` (one line per chunk).

``frames.jsonl``: each chunk is split into frames by the tolerant framer
(:class:`~simrig.protocol.ykc.Framer`, one per pile, direction and connection, so a frame
split across chunks is one line) and each frame or framing error becomes one line::

    {"t": "2024-03-01T08:00:00.000000", "pile": "32010200000001", "dir": "up", "conn": 1,
     "chunk": 0, "seq": 0, "type": 1, "name": "login", "hex": "6822..."}
    {"t": …, "error": "bad_crc", "detail": "…", "hex": "…"}          (instead of seq…name)

``t`` is the time of the chunk that completed the frame, ``chunk`` its running number
(reading groups the lines of one chunk back together). Chunks of whole, valid frames (all
that simrig's own piles and platform write) are split by envelope alone, without decoding
bodies: ``simrig decode --file frames.jsonl`` decodes the fields. ``.hex``: a line per chunk,
``<time> <pile> <up|down> <hex bytes>``, and ``# <time> <pile> connected|disconnected
<conn>`` lines; a line of bare hex (``captures/ykc_samples.hex``) is a chunk of unknown
time, pile and direction.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, Self

from simrig.capture.record import Chunk, LinkEvent
from simrig.protocol.ykc import BODY_SIZES, MESSAGES, Frame, FrameError, Framer
from simrig.protocol.ykc.crc import crc16_residue_ok
from simrig.protocol.ykc.framer import MAX_LENGTH, START

__all__ = ["UNKNOWN_TIME", "HexWriter", "JsonlWriter", "read_hex", "read_jsonl"]

#: the time of a chunk read from a bare hex line
UNKNOWN_TIME = datetime(1970, 1, 1)
_NAMES = {code: cls.NAME for code, cls in MESSAGES.items()}
#: type → whole frame size, for the types of fixed size within the §3 length limit (or 0x3D)
_FRAME_SIZES = {
    code: size + 8
    for code, size in BODY_SIZES.items()
    if code in _NAMES and (size + 4 <= MAX_LENGTH or code == 0x3D)
}
_HEXCHARS = set(string.hexdigits + " \t:-")


class _TextWriter:
    def __init__(self, target: str | Path | IO[str]) -> None:
        if isinstance(target, str | Path):
            self._file: IO[str] = open(target, "w", encoding="utf-8")  # noqa: SIM115
            self._owned = True
        else:
            self._file, self._owned = target, False

    def close(self, at: datetime | None = None) -> None:
        if self._file.closed:
            return
        if self._owned:
            self._file.close()
        else:
            self._file.flush()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class JsonlWriter(_TextWriter):
    """Streamed ``frames.jsonl`` writer (the CaptureWriter interface); lines go out in
    batches of at most ``BATCH``."""

    BATCH = 2048

    def __init__(self, target: str | Path | IO[str]) -> None:
        super().__init__(target)
        self._framers: dict[tuple[str, str], Framer] = {}
        self._conn: dict[str, int] = {}
        self._prefix: dict[tuple[str, str], str] = {}
        self._out: list[str] = []
        self._chunks = 0
        self.frames = 0

    def connected(self, pile_no: str, at: datetime, conn: int | None = None) -> None:
        self._end(pile_no)
        self._conn[pile_no] = conn if conn is not None else self._conn.get(pile_no, 0) + 1

    def disconnected(self, pile_no: str, at: datetime, conn: int | None = None) -> None:
        if conn is None or self._conn.get(pile_no) == conn:
            self._end(pile_no)

    def write(self, chunk: Chunk) -> None:
        """Split ``chunk`` into frames: whole, valid frames at its start by their envelope
        (§3: start 0x68, the length byte, a type of fixed §4 body size, no encryption,
        CRC-16/MODBUS; bodies are not decoded here), the rest by the tolerant framer."""
        key = (chunk.pile_no, chunk.direction)
        framer = self._framers.get(key)
        if framer is None:
            framer = self._framers[key] = Framer(tolerant=True)
            self._prefix[key] = (
                f'"pile": {json.dumps(chunk.pile_no)}, "dir": {json.dumps(chunk.direction)}, '
                f'"conn": {self._conn.setdefault(chunk.pile_no, 1)}'
            )
        data = chunk.data
        head = (
            f'{{"t": "{chunk.at.isoformat(timespec="microseconds")}", {self._prefix[key]}, '
            f'"chunk": {self._chunks}'
        )
        self._chunks += 1
        out = self._out
        pos, end = 0, len(data)
        if not framer.pending:
            sizes, names, residue_ok = _FRAME_SIZES, _NAMES, crc16_residue_ok
            while pos < end - 1 and data[pos] == START:
                nxt = pos + data[pos + 1] + 4
                code = data[pos + 5] if nxt <= end and nxt - pos >= 8 else -1
                if sizes.get(code) != nxt - pos or data[pos + 4]:
                    break
                frame = data[pos:nxt]
                if not residue_ok(frame[2:]):
                    break
                out.append(
                    f'{head}, "seq": {frame[2] << 8 | frame[3]}, "type": {code}, '
                    f'"name": "{names[code]}", "hex": "{frame.hex()}"}}\n'
                )
                self.frames += 1
                pos = nxt
        if pos < end:
            self._lines(head, framer.feed(data[pos:]))
        if len(out) >= self.BATCH:
            self._file.write("".join(out))
            out.clear()

    def close(self, at: datetime | None = None) -> None:
        if not self._file.closed:
            for pile_no in {p for p, _ in self._framers}:
                self._end(pile_no)
            self._file.write("".join(self._out))
            self._out.clear()
        super().close(at)

    def _end(self, pile_no: str) -> None:
        """The connection ended: report what its framers still hold."""
        for direction in ("up", "down"):
            framer = self._framers.pop((pile_no, direction), None)
            if framer is not None:
                errors = framer.close()
                if errors:
                    prefix = self._prefix[(pile_no, direction)]
                    self._lines(f'{{"t": null, {prefix}, "chunk": {self._chunks}', list(errors))
                    self._chunks += 1

    def _lines(self, head: str, items: Sequence[Frame | FrameError]) -> None:
        for item in items:
            if isinstance(item, Frame):
                self.frames += 1
                self._out.append(
                    f'{head}, "seq": {item.seq}, "type": {item.type}, '
                    f'"name": "{item.name}", "hex": "{item.raw.hex()}"}}\n'
                )
            else:
                self._out.append(
                    f'{head}, "error": "{item.kind.value}", '
                    f'"detail": {json.dumps(item.detail)}, "hex": "{item.raw.hex()}"}}\n'
                )


def read_jsonl(path: str | Path) -> Iterator[Chunk]:
    """The chunks of a ``frames.jsonl``: the frames of each chunk number, joined (a frame
    split across chunks comes back whole, at the time it completed)."""
    with open(path, encoding="utf-8") as f:
        key: tuple[int, str, str] | None = None
        at, data = UNKNOWN_TIME, bytearray()
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                this = (row.get("chunk", -1), row.get("pile", ""), row.get("dir", "up"))
                t = row.get("t")
                when = datetime.fromisoformat(t) if t else None
                raw = bytes.fromhex(row.get("hex", ""))
            except (ValueError, TypeError, AttributeError) as exc:
                raise ValueError(f"{path}:{number}: not a frames.jsonl line ({exc})") from None
            if key is not None and this != key and data:
                yield Chunk(at, key[1], key[2], bytes(data))
                data = bytearray()
            if key != this or not data:
                at = when or at
            key = this
            data += raw
        if key is not None and data:
            yield Chunk(at, key[1], key[2], bytes(data))


class HexWriter(_TextWriter):
    """Streamed ``.hex`` writer: a line per chunk, comment lines for connections."""

    def connected(self, pile_no: str, at: datetime, conn: int | None = None) -> None:
        self._file.write(f"# {at.isoformat(timespec='microseconds')} {pile_no} connected {conn}\n")

    def disconnected(self, pile_no: str, at: datetime, conn: int | None = None) -> None:
        self._file.write(
            f"# {at.isoformat(timespec='microseconds')} {pile_no} disconnected {conn}\n"
        )

    def write(self, chunk: Chunk) -> None:
        self._file.write(
            f"{chunk.at.isoformat(timespec='microseconds')} {chunk.pile_no} {chunk.direction} "
            f"{chunk.data.hex(' ').upper()}\n"
        )


_LINK = re.compile(r"#\s*(\S+)\s+(\S+)\s+(connected|disconnected)\s+(\S+)\s*$")
_CHUNK = re.compile(r"(\d{4}-\d\d-\d\dT\S+)\s+(\S+)\s+(up|down)\s+(.*)$")


def read_hex(path: str | Path) -> Iterator[Chunk | LinkEvent]:
    """Chunks (and connection lines) of a ``.hex`` file; bare hex lines are chunks of
    unknown time (:data:`UNKNOWN_TIME`), pile ``""`` and direction ``up``."""
    with open(path, encoding="utf-8") as f:
        for number, raw in enumerate(f, 1):
            line = raw.strip()
            if not line:
                continue
            if line.startswith("#"):
                m = _LINK.match(line)
                if m:
                    conn = int(m[4]) if m[4].isdigit() else None
                    yield LinkEvent(datetime.fromisoformat(m[1]), m[2], m[3], conn)
                continue
            m = _CHUNK.match(line)
            at, pile_no, direction, text = (
                (datetime.fromisoformat(m[1]), m[2], m[3], m[4])
                if m
                else (UNKNOWN_TIME, "", "up", line)
            )
            if not set(text) <= _HEXCHARS:
                raise ValueError(f"{path}:{number}: not a hex line")
            cleaned = "".join(ch for ch in text if ch in string.hexdigits)
            if len(cleaned) % 2:
                raise ValueError(f"{path}:{number}: odd number of hex digits")
            yield Chunk(at, pile_no, direction, bytes.fromhex(cleaned))
