"""Field kinds: how one body field goes on the wire (protocol-ykc §1.5, §1.6).

A kind knows its raw layout twice — as a ``struct`` format piece (the hot path) and as a
construct subcon (the declarative reference, also used for variable-length bodies) — and
how to turn the raw value into a value in real units and back. Messages declare their
fields with :func:`wire`; :mod:`.codec` builds both parsers from those declarations.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from enum import IntEnum
from typing import Any, ClassVar

import construct as cs


class FieldError(ValueError):
    """A field value that cannot be decoded (strict) or encoded."""


class Deviation(str):
    """A tolerated departure from S1 seen in the field (protocol-ykc §8), e.g. ``crc_swapped``."""

    __slots__ = ()


def _reject_or_note(problem: str, name: str, tolerant: bool, devs: list[Deviation] | None) -> None:
    if not tolerant or devs is None:
        raise FieldError(f"{name}: {problem}")
    devs.append(Deviation(f"{name}:{problem.split(' ', 1)[0]}"))


class Kind:
    """Base of field kinds: a raw layout (struct piece + construct subcon) and conversions."""

    #: False for variable-length kinds, which only the construct path parses
    fixed: ClassVar[bool] = True
    size: int = 0
    default: Any = None
    #: unit of the decoded value (V, kWh, yuan, …), shown by the Wireshark dissector
    unit: str = ""

    def subcon(self) -> cs.Construct:
        raise NotImplementedError

    def struct_fmt(self) -> str:
        """The ``struct`` format piece of a fixed-size kind."""
        raise NotImplementedError

    def from_raw(self, raw: Any, name: str, tolerant: bool, devs: list[Deviation] | None) -> Any:
        return raw

    def to_raw(self, value: Any) -> Any:
        return value

    def inline(self, var: str, fn: str) -> str:
        """A Python expression decoding ``var``; ``fn`` names ``self.from_raw`` in scope."""
        return f"{fn}({var}, _NAME_, tolerant, devs)"

    def inline_encode(self, expr: str, fn: str) -> str:
        """A Python expression equal to ``to_raw(expr)``; ``fn`` names ``self.to_raw``."""
        return f"{fn}({expr})"


class UInt(Kind):
    """Unsigned little-endian integer of 1, 2 or 4 bytes (BIN, §1.5)."""

    _FMT: ClassVar[dict[int, str]] = {1: "B", 2: "H", 4: "I"}
    _CS: ClassVar[dict[int, cs.Construct]] = {1: cs.Int8ul, 2: cs.Int16ul, 4: cs.Int32ul}

    def __init__(self, size: int = 1, unit: str = "") -> None:
        self.size = size
        self.default = 0
        self.unit = unit

    def struct_fmt(self) -> str:
        return self._FMT[self.size]

    def subcon(self) -> cs.Construct:
        return self._CS[self.size]

    def inline(self, var: str, fn: str) -> str:
        return var

    def from_raw(self, raw: Any, name: str, tolerant: bool, devs: list[Deviation] | None) -> Any:
        return raw

    def to_raw(self, value: Any) -> int:
        return int(value)

    def inline_encode(self, expr: str, fn: str) -> str:
        if type(self).to_raw is UInt.to_raw:
            return f"int({expr})"
        return super().inline_encode(expr, fn)


class Flag(UInt):
    """A one-byte 0/1 flag as ``bool``."""

    def __init__(self) -> None:
        super().__init__(1)
        self.default = False

    def from_raw(self, raw: Any, name: str, tolerant: bool, devs: list[Deviation] | None) -> bool:
        return bool(raw)

    def inline(self, var: str, fn: str) -> str:
        return f"({var} != 0)"


class Enum8(UInt):
    """A one-byte code mapped to an IntEnum; unknown codes stay plain ints (tolerant by nature)."""

    def __init__(self, enum: type[IntEnum], default: IntEnum | None = None) -> None:
        super().__init__(1)
        self.enum = enum
        self.table: dict[int, IntEnum] = {int(m): m for m in enum}
        self.default = default if default is not None else next(iter(enum))

    def from_raw(self, raw: Any, name: str, tolerant: bool, devs: list[Deviation] | None) -> Any:
        return self.table.get(raw, raw)

    def inline(self, var: str, fn: str) -> str:
        return f"t{fn[1:]}({var}, {var})"  # t<i> is this kind's table.get, bound by the codec


class Scaled(UInt):
    """Unsigned integer × ``scale`` (e.g. energy ×10000, V ×10) as a float in real units."""

    def __init__(self, size: int, scale: int, offset: float = 0.0, unit: str = "") -> None:
        super().__init__(size, unit)
        self.scale = scale
        self.offset = offset
        self.default = 0.0 if offset == 0 else float(offset)

    def from_raw(self, raw: Any, name: str, tolerant: bool, devs: list[Deviation] | None) -> float:
        return raw / self.scale + self.offset if self.offset else raw / self.scale

    def inline(self, var: str, fn: str) -> str:
        if self.offset:
            return f"({var} / {self.scale} + {self.offset!r})"
        return f"({var} / {self.scale})"

    def to_raw(self, value: Any) -> int:
        return round((value - self.offset) * self.scale)

    def inline_encode(self, expr: str, fn: str) -> str:
        if type(self).to_raw is Scaled.to_raw:
            return f"round(({expr} - {self.offset!r}) * {self.scale!r})"
        return f"{fn}({expr})"


class Temperature(Scaled):
    """1-byte temperature, °C + 50 on the wire (§1.5)."""

    def __init__(self) -> None:
        super().__init__(1, 1, -50.0, "°C")
        self.default = -50.0


class BmsCurrent(Scaled):
    """GB/T 27930 current: 0.1 A/bit, −400 A offset, charging current as (400 − I)×10 (§4.18).

    Decoded as the current's magnitude so that both field sign conventions read the same,
    in integer tenths first and divided once: the float nearest the decimal (``400.0 -
    raw / 10`` gave ``143.89999999999998`` for 2561, one raw value in seven).
    """

    def __init__(self) -> None:
        super().__init__(2, 10, unit="A")
        self.default = 0.0

    def from_raw(self, raw: Any, name: str, tolerant: bool, devs: list[Deviation] | None) -> float:
        return abs(4000 - raw) / 10

    def inline(self, var: str, fn: str) -> str:
        return f"(abs(4000 - {var}) / 10)"

    def to_raw(self, value: Any) -> int:
        return round((400.0 - value) * 10)


class Bytes(Kind):
    """A fixed run of raw bytes, shown as upper-case hex (opaque ids: physical card §1.5)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.default = "00" * size

    def struct_fmt(self) -> str:
        return f"{self.size}s"

    def subcon(self) -> cs.Construct:
        return cs.Bytes(self.size)

    def from_raw(self, raw: Any, name: str, tolerant: bool, devs: list[Deviation] | None) -> Any:
        return bytes(raw).hex().upper()

    def inline(self, var: str, fn: str) -> str:
        return f"{var}.hex().upper()"

    def to_raw(self, value: Any) -> bytes:
        text = str(value)
        if len(text) > 2 * self.size:
            raise FieldError(f"{text!r} is longer than {self.size} bytes")
        try:
            return bytes.fromhex(text.rjust(2 * self.size, "0"))
        except ValueError as exc:
            raise FieldError(f"{text!r} is not hex") from exc


#: encoded BCD strings kept per field kind before the cache starts over
_BCD_CACHE_SIZE = 4096
#: what a BCD string may hold when encoded: digits, and the hex nibbles tolerated on decode
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


class Bcd(Bytes):
    """Packed BCD digit string, most significant digit first, left zero-padded (§1.5)."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.default = "0" * (2 * size)
        self._encoded: dict[str, bytes] = {}  # pile numbers and serials repeat on every frame

    def from_raw(self, raw: Any, name: str, tolerant: bool, devs: list[Deviation] | None) -> str:
        text: str = raw.hex()
        if not text.isdigit():
            _reject_or_note("bcd_non_digit nibble in " + text, name, tolerant, devs)
        return text

    def inline(self, var: str, fn: str) -> str:
        return f"(_t if (_t := {var}.hex()).isdigit() else {fn}({var}, _NAME_, tolerant, devs))"

    def to_raw(self, value: Any) -> bytes:
        """Digits, or the hex nibbles the tolerant decoder let through (field piles send hex
        in an ICCID or serial): what was decoded is echoed byte for byte."""
        if type(value) is str and (cached := self._encoded.get(value)) is not None:
            return cached
        text = str(value)
        if len(text) > 2 * self.size or not _HEX_DIGITS.issuperset(text):
            raise FieldError(f"{text!r} is not a BCD number of at most {2 * self.size} digits")
        raw = bytes.fromhex(text.rjust(2 * self.size, "0"))
        if type(value) is str:
            if len(self._encoded) >= _BCD_CACHE_SIZE:
                self._encoded.clear()
            self._encoded[value] = raw
        return raw


_BCD_BYTE = [
    (b >> 4) * 10 + (b & 0x0F) if (b >> 4) < 10 and (b & 0x0F) < 10 else -1 for b in range(256)
]


class RawBcdByte(int):
    """A BCD byte with a non-digit nibble, decoded tolerantly: its value is the raw byte,
    and the encoder echoes that byte unchanged."""


class BcdByte(UInt):
    """One BCD byte as an int (gun number ``01`` → 1, §1.5)."""

    def __init__(self) -> None:
        super().__init__(1)
        self.default = 1

    def from_raw(self, raw: Any, name: str, tolerant: bool, devs: list[Deviation] | None) -> int:
        value = _BCD_BYTE[raw]
        if value < 0:
            _reject_or_note(f"bcd_non_digit byte 0x{raw:02X}", name, tolerant, devs)
            return RawBcdByte(raw)
        return value

    def inline(self, var: str, fn: str) -> str:
        return f"(_b if (_b := _BCD_BYTE[{var}]) >= 0 else {fn}({var}, _NAME_, tolerant, devs))"

    def to_raw(self, value: Any) -> int:
        if type(value) is RawBcdByte:
            return int(value)
        number = int(value)
        if not 0 <= number <= 99:
            raise FieldError(f"{number} does not fit one BCD byte")
        return (number // 10) << 4 | number % 10


class UIntN(Bytes):
    """Unsigned little-endian integer of 3 or 5 bytes (cycle count, 5-byte meter totals §1.5)."""

    def __init__(self, size: int, scale: int = 1, unit: str = "") -> None:
        super().__init__(size)
        self.scale = scale
        self.unit = unit
        self.default = 0.0 if scale != 1 else 0

    def from_raw(self, raw: Any, name: str, tolerant: bool, devs: list[Deviation] | None) -> Any:
        number = int.from_bytes(raw, "little")
        return number / self.scale if self.scale != 1 else number

    def inline(self, var: str, fn: str) -> str:
        if self.scale != 1:
            return f"(int.from_bytes({var}, 'little') / {self.scale})"
        return f"int.from_bytes({var}, 'little')"

    def to_raw(self, value: Any) -> bytes:
        number = round(value * self.scale) if self.scale != 1 else int(value)
        try:
            return number.to_bytes(self.size, "little")
        except OverflowError as exc:
            raise FieldError(f"{value} does not fit {self.size} bytes") from exc


class Ascii(Bytes):
    """Fixed-width ASCII, zero-padded on the right (§1.5)."""

    def __init__(self, size: int, reversed_: bool = False) -> None:
        super().__init__(size)
        self.reversed = reversed_
        self.default = ""

    def from_raw(self, raw: Any, name: str, tolerant: bool, devs: list[Deviation] | None) -> str:
        data = bytes(raw)[::-1] if self.reversed else bytes(raw)
        return (
            data.rstrip(b"\0").decode("latin-1")
            if self.reversed
            else data.split(b"\0", 1)[0].decode("latin-1")
        )

    def inline(self, var: str, fn: str) -> str:
        return f"{fn}({var}, _NAME_, tolerant, devs)"

    def to_raw(self, value: Any) -> bytes:
        data = str(value).encode("latin-1")
        if len(data) > self.size:
            raise FieldError(f"{value!r} is longer than {self.size} characters")
        padded = data.ljust(self.size, b"\0")
        return padded[::-1] if self.reversed else padded


class ByteTable(Bytes):
    """A run of one-byte values as a tuple of ints (the 48-slot period table, §5)."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.default = (0,) * size

    def from_raw(
        self, raw: Any, name: str, tolerant: bool, devs: list[Deviation] | None
    ) -> tuple[int, ...]:
        return tuple(raw)

    def inline(self, var: str, fn: str) -> str:
        return f"tuple({var})"

    def to_raw(self, value: Any) -> bytes:
        values = tuple(value)
        if len(values) != self.size:
            raise FieldError(f"needs exactly {self.size} values, got {len(values)}")
        return bytes(values)


class Cp56Time(Bytes):
    """CP56Time2a, 7 bytes (§1.6) as a naive local ``datetime``; seven zero bytes = ``None``.

    The ms field includes the seconds. Day-of-week bits (some piles set them, JCPP sample)
    and the IV/SU/reserved bits are deviations: rejected when strict, noted when tolerant.
    """

    def __init__(self) -> None:
        super().__init__(7)
        self.default = None

    def from_raw(
        self, raw: Any, name: str, tolerant: bool, devs: list[Deviation] | None
    ) -> datetime | None:
        return cp56_decode(bytes(raw), name, tolerant, devs)

    def inline(self, var: str, fn: str) -> str:
        return f"_cp56({var}, _NAME_, tolerant, devs)"

    def to_raw(self, value: Any) -> bytes:
        return cp56_encode(value)


_ZERO7 = bytes(7)


def cp56_decode(
    data: bytes, name: str = "time", tolerant: bool = False, devs: list[Deviation] | None = None
) -> datetime | None:
    """Decode CP56Time2a (§1.6); e.g. ``98 B7 0E 11 10 03 14`` → 2020-03-16 17:14:47."""
    if data == _ZERO7:
        return None
    ms = data[0] | data[1] << 8
    if data[4] & 0xE0:
        _reject_or_note("cp56_day_of_week bits set", name, tolerant, devs)
    if data[2] & 0xC0 or data[3] & 0xE0 or data[5] & 0xF0 or data[6] & 0x80:
        _reject_or_note("cp56_flag_bits set (IV/SU/reserved)", name, tolerant, devs)
    try:
        return datetime(
            2000 + (data[6] & 0x7F),
            data[5] & 0x0F,
            data[4] & 0x1F,
            data[3] & 0x1F,
            data[2] & 0x3F,
            ms // 1000,
            ms % 1000 * 1000,
        )
    except ValueError as exc:
        raise FieldError(f"{name}: invalid CP56Time2a {data.hex(' ')} ({exc})") from None


def cp56_encode(value: datetime | None) -> bytes:
    """Encode a datetime as CP56Time2a with day-of-week 0 (§1.6); ``None`` → seven zeros."""
    if value is None:
        return _ZERO7
    if not 2000 <= value.year <= 2099:
        raise FieldError(f"{value.isoformat()} is outside CP56Time2a's 2000–2099")
    ms = value.second * 1000 + value.microsecond // 1000
    return bytes(
        (ms & 0xFF, ms >> 8, value.minute, value.hour, value.day, value.month, value.year - 2000)
    )


class Repeated(Kind):
    """A list of fixed records: count-prefixed (``prefix=True``) or filling the rest of the body.

    Value: a tuple of tuples, one per record, in the order of ``items`` (§4.17 card frames).
    """

    fixed = False

    def __init__(self, items: tuple[tuple[str, Kind], ...], prefix: bool) -> None:
        self.items = items
        self.prefix = prefix
        self.default = ()

    def subcon(self) -> cs.Construct:
        record = cs.Struct(*[name / kind.subcon() for name, kind in self.items])
        return cs.PrefixedArray(cs.Int8ul, record) if self.prefix else cs.GreedyRange(record)

    def from_raw(self, raw: Any, name: str, tolerant: bool, devs: list[Deviation] | None) -> Any:
        return tuple(
            tuple(
                kind.from_raw(rec[item], f"{name}.{item}", tolerant, devs)
                for item, kind in self.items
            )
            for rec in raw
        )

    def to_raw(self, value: Any) -> Any:
        return [
            {item: kind.to_raw(v) for (item, kind), v in zip(self.items, rec, strict=True)}
            for rec in value
        ]


class PascalAscii(Kind):
    """A length byte followed by that many ASCII characters (0xF0 QR prefix, §4.17)."""

    fixed = False

    def __init__(self) -> None:
        self.default = ""

    def subcon(self) -> cs.Construct:
        return cs.PascalString(cs.Int8ul, "latin-1")

    def from_raw(self, raw: Any, name: str, tolerant: bool, devs: list[Deviation] | None) -> str:
        return str(raw)

    def to_raw(self, value: Any) -> str:
        if len(str(value)) > 200:
            raise FieldError("longer than 200 characters")
        return str(value)


def wire(kind: Kind, default: Any = dataclasses.MISSING) -> Any:
    """Declare a message field carried on the wire as ``kind``."""
    value = kind.default if default is dataclasses.MISSING else default
    return dataclasses.field(default=value, metadata={"wire": kind})
