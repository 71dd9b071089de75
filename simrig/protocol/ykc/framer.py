"""YKC framing: ``68 | L | seq(2) | enc | type | body | CRC16`` (protocol-ykc §1.2–§1.4).

The framer owns the start byte, length, sequence and CRC; bodies belong to the message
codecs. :class:`Framer` is sans-IO and incremental: ``feed(bytes)`` with any chunking
returns the frames and typed errors found so far. It never raises, never waits for more
than one frame's worth of bytes (≤ 259) and resynchronises on the next 0x68 after garbage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from simrig.fastdata import fast_init

from .crc import crc16_modbus, crc16_residue_ok
from .messages import BODY_SIZES, MESSAGES, Message
from .wire import Deviation, FieldError

START = 0x68
#: length byte limit of S1 §3.1 (0x3D of YKC 1.7 is the one legitimate exception, L=0xCD)
MAX_LENGTH = 200
MIN_LENGTH = 4
MAX_FRAME = 255 + 4


class ErrorKind(StrEnum):
    """What was wrong with the bytes (one per reported problem)."""

    BAD_CRC = "bad_crc"
    BAD_LENGTH = "bad_length"
    UNKNOWN_TYPE = "unknown_type"
    BODY_LENGTH = "body_length"
    BAD_FIELD = "bad_field"
    ENCRYPTED = "encrypted"
    GARBAGE = "garbage"
    TRUNCATED = "truncated"


@fast_init
@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame. ``seq`` is the raw 2 bytes read big-endian (echo it in replies)."""

    message: Message
    seq: int = 0
    raw: bytes = b""
    deviations: tuple[str, ...] = field(default=())

    @property
    def type(self) -> int:
        return self.message.TYPE

    @property
    def name(self) -> str:
        return self.message.NAME


@dataclass(frozen=True, slots=True)
class FrameError:
    """A problem found in the byte stream; ``raw`` holds the offending bytes."""

    kind: ErrorKind
    detail: str
    raw: bytes = b""
    type: int | None = None

    def __str__(self) -> str:
        where = f" (type 0x{self.type:02X})" if self.type is not None else ""
        return f"{self.kind.value}{where}: {self.detail}"


class DecodeError(ValueError):
    """Raised by :func:`decode_frame` (never by :meth:`Framer.feed`)."""

    def __init__(self, error: FrameError) -> None:
        super().__init__(str(error))
        self.error = error


def encode_frame(message: Message, seq: int = 0) -> bytes:
    """Encode ``message`` as a whole frame; ``seq`` goes big-endian (the real-pile order, §1.3)."""
    body = message.codec.encode(message)
    inner = bytes((seq >> 8 & 0xFF, seq & 0xFF, 0, message.TYPE)) + body
    crc = crc16_modbus(inner)
    return bytes((START, len(inner))) + inner + bytes((crc & 0xFF, crc >> 8))


class FramedBytes(bytes):
    """Whole frames from :func:`encode_frame`, each also handed on decoded where it can be.

    ``parts`` holds one entry per frame, in order: the :class:`Frame` parsing it would
    give (its encoder knows the values round-trip exactly) or its raw bytes (to parse).
    A decode done ahead that cannot go stale: bytes are immutable, and any change on the
    way (a slice, a corrupted copy, a split by a link fault) makes plain bytes, which are
    parsed. A :class:`Framer` with nothing buffered takes the decoded parts instead of
    parsing them again: in an in-process run the platform and the device view read every
    0x13 the pile encoded. tests/protocol/test_framed_bytes.py checks each one handed on
    in busy runs against parsing."""

    parts: tuple[Frame | bytes, ...]

    def __new__(
        cls, data: bytes | bytearray = b"", parts: tuple[Frame | bytes, ...] = ()
    ) -> FramedBytes:
        self = super().__new__(cls, data)
        self.parts = parts
        return self

    def __reduce__(self) -> tuple[type[FramedBytes], tuple[bytes, tuple[Frame | bytes, ...]]]:
        return FramedBytes, (bytes(self), self.parts)


def _parse(
    frame: bytes, tolerant: bool, wanted: frozenset[int] | None = None
) -> Frame | FrameError | None:
    """Check and decode one complete frame whose length byte is consistent with its size.

    With ``wanted``, a valid frame of another type is checked (CRC) but not decoded: None.
    """
    deviations: list[Deviation] = []
    if not crc16_residue_ok(frame[2:]):
        crc = crc16_modbus(frame[2:-2])
        low, high = frame[-2], frame[-1]
        if low == crc >> 8 and high == crc & 0xFF:
            if not tolerant:
                return FrameError(
                    ErrorKind.BAD_CRC, "CRC bytes swapped (high byte first)", frame, frame[5]
                )
            deviations.append(Deviation("crc_swapped"))
        else:
            return FrameError(
                ErrorKind.BAD_CRC,
                f"CRC {low:02X} {high:02X} on the wire, {crc & 0xFF:02X} {crc >> 8:02X} computed",
                frame,
            )
    code = frame[5]
    if wanted is not None and code not in wanted:
        return None
    cls = MESSAGES.get(code)
    if cls is None:
        return FrameError(ErrorKind.UNKNOWN_TYPE, f"no YKC frame type 0x{code:02X}", frame, code)
    if frame[4] != 0:
        detail = "3DES body (no key exchange in YKC 1.6)" if frame[4] == 1 else "unknown flag"
        return FrameError(
            ErrorKind.ENCRYPTED, f"encryption 0x{frame[4]:02X}: {detail}", frame, code
        )
    body = frame[6:-2]
    size = BODY_SIZES.get(code)
    if size is not None and len(body) != size:
        if tolerant and len(body) > size:
            deviations.append(Deviation(f"body_extra_bytes:{len(body) - size}"))
            body = body[:size]
        else:
            return FrameError(
                ErrorKind.BODY_LENGTH,
                f"{cls.NAME} body is {len(body)} bytes, §{cls.SECTION[1:]} says {size}",
                frame,
                code,
            )
    try:
        message = cls.codec.decode(body, tolerant, deviations)
    except FieldError as exc:
        return FrameError(ErrorKind.BAD_FIELD, f"{cls.NAME}.{exc}", frame, code)
    except Exception as exc:  # a codec bug must not take a server down
        return FrameError(ErrorKind.BAD_FIELD, f"{cls.NAME}: {exc!r}", frame, code)
    if len(frame) - 4 > MAX_LENGTH and code != 0x3D:
        deviations.append(Deviation(f"length_over_{MAX_LENGTH}"))
    return Frame(message, frame[2] << 8 | frame[3], frame, tuple(deviations) if deviations else ())


def decode_frame(data: bytes, *, tolerant: bool = False) -> Frame:
    """Decode exactly one whole frame (strict by default); raise :class:`DecodeError`."""
    if len(data) < MIN_LENGTH + 4 or data[0] != START:
        raise DecodeError(FrameError(ErrorKind.BAD_LENGTH, "not a YKC frame (start 0x68)", data))
    if data[1] + 4 != len(data):
        raise DecodeError(
            FrameError(
                ErrorKind.BAD_LENGTH,
                f"length byte says {data[1] + 4} bytes, got {len(data)}",
                data,
            )
        )
    result = _parse(bytes(data), tolerant)
    if isinstance(result, FrameError):
        raise DecodeError(result)
    assert result is not None
    return result


class Framer:
    """Incremental, resynchronising frame splitter (sans-IO, bounded memory).

    ``_quiet`` is the buffer offset up to which bytes are covered by an error already
    reported (a bad-CRC candidate claims ``L + 4`` bytes).

    After a bad frame the bytes it claimed are rescanned for a real frame start, but
    failures inside them are not reported again, so one corrupted frame is one error.
    Runs of bytes outside any frame are reported once as ``garbage`` when the next frame
    or error is found (or on :meth:`close`).
    """

    __slots__ = ("_buf", "_garbage", "_quiet", "_tolerant", "_wanted", "errors", "frames")

    def __init__(self, *, tolerant: bool = False, only: frozenset[int] | None = None) -> None:
        """``only``: decode just these frame types; others are CRC-checked and skipped."""
        self._tolerant = tolerant
        self._wanted = only
        self._buf = bytearray()
        self._garbage = 0
        self._quiet = 0  # bytes at the head of the buffer covered by a reported error
        self.frames = 0
        self.errors = 0

    @property
    def pending(self) -> int:
        """Bytes held while waiting for the rest of a frame."""
        return len(self._buf)

    def feed(self, data: bytes | bytearray | memoryview) -> list[Frame | FrameError]:
        """Add bytes; return every frame and error now complete."""
        out: list[Frame | FrameError] = []
        if not self._buf and not self._garbage and not self._quiet:
            if type(data) is FramedBytes:
                return self._take_parts(data.parts)
            data = bytes(data)
            taken = self._take_clean(data, out)
            if taken == len(data):
                return out
            if taken:
                data = data[taken:]
        buf = self._buf
        buf += data
        pos = 0
        end = len(buf)
        while pos < end:
            start = buf.find(START, pos)
            if start < 0:
                self._skip(pos, end - pos)
                pos = end
                break
            if start > pos:
                self._skip(pos, start - pos)
                pos = start
            if end - pos < 2:
                break
            length = buf[pos + 1]
            if length < MIN_LENGTH:
                self._fail(out, ErrorKind.BAD_LENGTH, f"length byte {length} < 4", buf, pos, 2)
                pos += 1
                continue
            total = length + 4
            if end - pos < total:
                inner = self._complete_frame_inside(buf, pos, end)
                if inner < 0:
                    break  # wait for the rest
                self._skip(pos, inner - pos)  # the candidate was a false start
                pos = inner
                continue
            result = _parse(bytes(buf[pos : pos + total]), self._tolerant, self._wanted)
            if result is None:  # a valid frame of a type nobody asked for
                self._flush_garbage(out)
                self._quiet = 0
                pos += total
            elif isinstance(result, Frame):
                self._flush_garbage(out)
                self._quiet = 0
                self.frames += 1
                out.append(result)
                pos += total
            elif result.kind is ErrorKind.BAD_CRC and result.type is None:
                # Length may be corrupt too: report, then rescan from the next byte.
                self._fail(out, result.kind, result.detail, buf, pos, total, result)
                pos += 1
            else:  # CRC valid, so the length is trustworthy: drop the whole frame
                self._quiet = 0
                self._fail(out, result.kind, result.detail, buf, pos, total, result)
                pos += total
        del buf[:pos]
        self._quiet = max(0, self._quiet - pos)
        return out

    def _take_parts(self, parts: tuple[Frame | bytes, ...]) -> list[Frame | FrameError]:
        """A :class:`FramedBytes`' frames as parsing its bytes would give them: decoded
        parts taken as they are, raw ones parsed; from a raw part that does not parse
        cleanly on, the bytes go the general way."""
        wanted, tolerant = self._wanted, self._tolerant
        out: list[Frame | FrameError] = []
        for i, part in enumerate(parts):
            if isinstance(part, Frame):
                if wanted is None or part.message.TYPE in wanted:
                    self.frames += 1
                    out.append(part)
                continue
            result = _parse(part, tolerant, wanted)
            if isinstance(result, FrameError):
                rest = b"".join(p.raw if isinstance(p, Frame) else p for p in parts[i:])
                return out + self.feed(rest)
            if result is not None:
                self.frames += 1
                out.append(result)
        return out

    def _take_clean(self, data: bytes, out: list[Frame | FrameError]) -> int:
        """Fast path with nothing buffered: take the valid frames ``data`` starts with,
        back to back, without copying them through the buffer; return the bytes taken.
        Anything else (garbage, an error, a partial frame) is left to the general path."""
        pos, end = 0, len(data)
        while end - pos >= MIN_LENGTH + 4 and data[pos] == START:
            total = data[pos + 1] + 4
            if total < MIN_LENGTH + 4 or end - pos < total:
                break
            result = _parse(data[pos : pos + total], self._tolerant, self._wanted)
            if isinstance(result, FrameError):
                break
            if result is not None:
                self.frames += 1
                out.append(result)
            pos += total
        return pos

    def close(self) -> list[FrameError]:
        """End of stream: report an incomplete trailing frame, rescan its bytes, flush garbage."""
        out: list[Frame | FrameError] = []
        while self._buf:
            stuck = bytes(self._buf)
            self._buf.clear()
            if self._quiet == 0:
                self._flush_garbage(out)
                out.append(
                    FrameError(
                        ErrorKind.TRUNCATED,
                        f"{len(stuck)} bytes of an incomplete frame at end of stream",
                        stuck,
                    )
                )
                self.errors += 1
            self._quiet = len(stuck) - 1  # keep quiet over the rest of the truncated frame
            out += self.feed(stuck[1:])
        self._quiet = 0
        self._flush_garbage(out)
        return [e for e in out if isinstance(e, FrameError)]

    def _complete_frame_inside(self, buf: bytearray, pos: int, end: int) -> int:
        """Offset of a complete, valid frame starting inside the incomplete candidate, or -1.

        Keeps a false 0x68 in garbage from stalling a live link until 259 bytes arrive.
        """
        j = buf.find(START, pos + 1, end)
        while 0 <= j < end - 1:
            total = buf[j + 1] + 4
            complete = total >= MIN_LENGTH + 4 and j + total <= end
            if complete and isinstance(_parse(bytes(buf[j : j + total]), self._tolerant), Frame):
                return j
            j = buf.find(START, j + 1, end)
        return -1

    # -- helpers -------------------------------------------------------------------------
    def _skip(self, pos: int, count: int) -> None:
        """Bytes [pos, pos+count) belong to no frame; those inside a reported error don't count."""
        covered = max(0, min(self._quiet, pos + count) - pos)
        self._garbage += count - covered

    def _flush_garbage(self, out: list[Frame | FrameError]) -> None:
        if self._garbage:
            out.append(FrameError(ErrorKind.GARBAGE, f"skipped {self._garbage} bytes"))
            self.errors += 1
            self._garbage = 0

    def _fail(
        self,
        out: list[Frame | FrameError],
        kind: ErrorKind,
        detail: str,
        buf: bytearray,
        pos: int,
        span: int,
        error: FrameError | None = None,
    ) -> None:
        if pos < self._quiet:  # inside a frame already reported as bad
            return
        self._flush_garbage(out)
        out.append(error or FrameError(kind, detail, bytes(buf[pos : pos + span])))
        self.errors += 1
        self._quiet = pos + span
