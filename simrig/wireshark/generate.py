"""Generate the Wireshark Lua dissector from the codec's message declarations (protocol-ykc §2–§5).

Every frame type of :data:`simrig.protocol.ykc.MESSAGES` becomes a Lua table of field specs,
one per declared :func:`~simrig.protocol.ykc.wire.wire` field, in wire order, with its
``ProtoField`` (abbreviation ``ykc.<frame>.<field>``, the names of ``simrig decode --json``),
its kind, size, scale and unit. ``template.lua`` holds the hand-written runtime (framing,
CRC, the decoder of each kind, TCP reassembly); a kind the generator does not know is an
error, so a new kind cannot slip past the dissector. ``python -m simrig.wireshark.generate``
rewrites the shipped ``ykc.lua``; a test fails when it differs from a fresh generation.
"""

from __future__ import annotations

import dataclasses
import sys
from enum import IntEnum
from pathlib import Path

from simrig.protocol.ykc import MESSAGES, Message
from simrig.protocol.ykc import wire as w

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "template.lua"
SHIPPED = HERE / "ykc.lua"
MARKER = "--@@DECLARATIONS@@"


def lua_str(text: str) -> str:
    """A double-quoted Lua string literal (UTF-8 passes through)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _fields(cls: type[Message]) -> list[tuple[str, w.Kind]]:
    return [(f.name, f.metadata["wire"]) for f in dataclasses.fields(cls)]  # type: ignore[arg-type]


def _enum_key(enum: type[IntEnum]) -> str:
    return enum.__name__


def _describe(kind: w.Kind) -> str:
    """The field's blurb: its wire type (§1.5, §1.6)."""
    if isinstance(kind, w.BmsCurrent):
        return "BIN 2 B, 0.1 A/bit, -400 A offset, magnitude (§4.18)"
    if isinstance(kind, w.Scaled):
        offset = f", {kind.offset:+g}" if kind.offset else ""
        return f"BIN {kind.size} B, 1/{kind.scale}{offset}"
    if isinstance(kind, w.Enum8):
        return f"BIN 1 B, {kind.enum.__name__}"
    if isinstance(kind, w.Flag):
        return "BIN 1 B, 0/1"
    if isinstance(kind, w.BcdByte):
        return "BCD 1 B"
    if isinstance(kind, w.UInt):
        return f"BIN {kind.size} B"
    if isinstance(kind, w.Cp56Time):
        return "CP56Time2a 7 B (§1.6)"
    if isinstance(kind, w.Bcd):
        return f"BCD {kind.size} B"
    if isinstance(kind, w.UIntN):
        return f"BIN {kind.size} B" + (f", 1/{kind.scale}" if kind.scale != 1 else "")
    if isinstance(kind, w.Ascii):
        return f"ASCII {kind.size} B" + (", reversed" if kind.reversed else "")
    if isinstance(kind, w.ByteTable):
        return f"{kind.size} x BIN 1 B"
    if isinstance(kind, w.Bytes):
        return f"{kind.size} B as hex"
    if isinstance(kind, w.Repeated):
        return "count-prefixed records" if kind.prefix else "records to the end of the body"
    if isinstance(kind, w.PascalAscii):
        return "length-prefixed ASCII"
    raise TypeError(f"no Wireshark mapping for field kind {type(kind).__name__}")


def _uint_field(size: int) -> str:
    return {1: "uint8", 2: "uint16", 3: "uint24", 4: "uint32"}[size]


def field_spec(abbr: str, name: str, kind: w.Kind, path: str = "") -> str:
    """The Lua table of one field: decoder kind, layout, unit and ProtoField(s).

    ``path`` names a record item in deviations as the codec does (``cards.logical``).
    """
    desc = lua_str(_describe(kind))
    a, n = lua_str(abbr), lua_str(name)
    string_field = f"ProtoField.string({a}, {n}, nil, {desc})"
    double_field = f"ProtoField.double({a}, {n}, nil, {desc})"
    attrs: list[str]
    if isinstance(kind, w.BmsCurrent):
        attrs = ['kind = "bmscurrent"', "size = 2", f"f = {double_field}"]
    elif isinstance(kind, w.Scaled):
        attrs = ['kind = "scaled"', f"size = {kind.size}", f"scale = {kind.scale}"]
        if kind.offset:
            attrs.append(f"offset = {kind.offset!r}")
        attrs.append(f"f = {double_field}")
    elif isinstance(kind, w.Enum8):
        attrs = [
            'kind = "enum"',
            "size = 1",
            f"f = ProtoField.uint8({a}, {n}, base.DEC, E.{_enum_key(kind.enum)}, nil, {desc})",
        ]
    elif isinstance(kind, w.Flag):
        attrs = [
            'kind = "flag"',
            "size = 1",
            f"f = ProtoField.bool({a}, {n}, nil, nil, nil, {desc})",
        ]
    elif isinstance(kind, (w.BcdByte, w.UInt)):
        attrs = [
            'kind = "bcdbyte"' if isinstance(kind, w.BcdByte) else 'kind = "uint"',
            f"size = {kind.size}",
            f"f = ProtoField.{_uint_field(kind.size)}({a}, {n}, base.DEC, nil, nil, {desc})",
        ]
    elif isinstance(kind, w.Cp56Time):
        attrs = ['kind = "cp56"', "size = 7", f"f = {string_field}"]
    elif isinstance(kind, w.Bcd):
        attrs = ['kind = "bcd"', f"size = {kind.size}", f"f = {string_field}"]
    elif isinstance(kind, w.UIntN):
        attrs = ['kind = "uintn"', f"size = {kind.size}"]
        if kind.scale != 1:
            attrs += [f"scale = {kind.scale}", f"f = {double_field}"]
        else:
            attrs.append(
                f"f = ProtoField.{_uint_field(kind.size)}({a}, {n}, base.DEC, nil, nil, {desc})"
            )
    elif isinstance(kind, w.Ascii):
        attrs = ['kind = "ascii"', f"size = {kind.size}"]
        if kind.reversed:
            attrs.append("reversed = true")
        attrs.append(f"f = {string_field}")
    elif isinstance(kind, w.ByteTable):
        slot = lua_str(f"{abbr}.slot")
        attrs = [
            'kind = "bytetable"',
            f"size = {kind.size}",
            f"f = ProtoField.none({a}, {n}, {desc})",
            f"slot_f = ProtoField.uint8({slot}, {n}, base.DEC)",
        ]
    elif isinstance(kind, w.Bytes):
        attrs = ['kind = "bytes"', f"size = {kind.size}", f"f = {string_field}"]
    elif isinstance(kind, w.Repeated):
        items = ",\n".join(
            "        " + field_spec(f"{abbr}.{item}", item, sub, f"{name}.{item}")
            for item, sub in kind.items
        )
        attrs = [
            'kind = "repeated"',
            f"prefix = {'true' if kind.prefix else 'false'}",
            f"need = {1 if kind.prefix else 0}",
            f"record_size = {sum(sub.size for _, sub in kind.items)}",
            f"f = ProtoField.none({a}, {n}, {desc})",
            f'record_f = ProtoField.none({lua_str(abbr + ".record")}, "record")',
        ]
        if kind.prefix:
            attrs.append(f'count_f = ProtoField.uint8({lua_str(abbr + ".count")}, "count")')
        attrs.append("items = {\n" + items + "\n      }")
    elif isinstance(kind, w.PascalAscii):
        attrs = ['kind = "pascal"', "need = 1", f"f = {string_field}"]
    else:
        _describe(kind)  # raises for an unknown kind
        raise AssertionError  # pragma: no cover
    if kind.unit:
        attrs.append(f"unit = {lua_str(kind.unit)}")
    if path:
        attrs.append(f"path = {lua_str(path)}")
    return "{ name = " + n + ", " + ", ".join(attrs) + " }"


def _enums() -> list[type[IntEnum]]:
    found: dict[str, type[IntEnum]] = {}

    def visit(kind: w.Kind) -> None:
        if isinstance(kind, w.Enum8):
            found[_enum_key(kind.enum)] = kind.enum
        elif isinstance(kind, w.Repeated):
            for _, sub in kind.items:
                visit(sub)

    for cls in MESSAGES.values():
        for _, kind in _fields(cls):
            visit(kind)
    return [found[key] for key in sorted(found)]


def declarations() -> str:
    """The generated Lua: enum value names (as ``simrig decode --json`` shows them) and MSG."""
    lines = ["local E = {}"]
    for enum in _enums():
        # simrig.protocol.ykc.jsonview.json_value shows a known code as its lower-case name
        values = ", ".join(f"[{int(m)}] = {lua_str(m.name.lower())}" for m in enum)
        lines.append(f"E.{_enum_key(enum)} = {{ {values} }}")
    lines.append("")
    lines.append("local MSG = {}")
    for code, cls in sorted(MESSAGES.items()):
        size = cls.codec.size
        head = [
            f"name = {lua_str(cls.NAME)}",
            f"section = {lua_str(cls.SECTION)}",
            f"size = {size if size is not None else 'nil'}",
            f"f = ProtoField.none({lua_str('ykc.' + cls.NAME)}, "
            f"{lua_str(cls.NAME)}, {lua_str(cls.SECTION)})",
        ]
        lines.append(f"MSG[0x{code:02X}] = {{ {', '.join(head)}, fields = {{")
        for name, kind in _fields(cls):
            lines.append("    " + field_spec(f"ykc.{cls.NAME}.{name}", name, kind) + ",")
        lines.append("} }")
    return "\n".join(lines)


HEADER = """\
-- YKC v1.5/v1.6 (+ 1.7 0x3D) dissector for Wireshark, generated by simrig.wireshark.generate
-- from the codec's message declarations (simrig/protocol/ykc/messages.py). Do not edit:
-- regenerate with `make dissector`. Install with `simrig wireshark install`.
"""


def generate() -> str:
    """The whole ``ykc.lua`` text (deterministic)."""
    template = TEMPLATE.read_text(encoding="utf-8")
    if MARKER not in template:
        raise ValueError(f"{TEMPLATE} has no {MARKER} line")
    return HEADER + "\n" + template.replace(MARKER, declarations())


def main() -> None:
    """Rewrite the shipped ``ykc.lua`` (or the path given as the only argument)."""
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else SHIPPED
    out.write_text(generate(), encoding="utf-8")
    print(out)


if __name__ == "__main__":
    main()
