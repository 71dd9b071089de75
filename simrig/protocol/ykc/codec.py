"""Body codecs built from message declarations (the construct/struct pair).

Each message class declares its fields once (:func:`.wire.wire`). From that we build:

* a construct ``Struct`` of the raw layout — the declarative reference; it also parses
  the variable-length bodies (card lists, QR prefix) and is compiled on first use;
* for fixed-size bodies, a generated decoder/encoder around one ``struct.Struct`` — the
  hot path, kept byte-for-byte equal to construct by the property tests.
"""

from __future__ import annotations

import dataclasses
import struct
from functools import cached_property
from typing import TYPE_CHECKING, Any

import construct as cs

from .wire import _BCD_BYTE, Deviation, Enum8, FieldError, Kind, cp56_decode

if TYPE_CHECKING:
    from collections.abc import Callable

    from .messages import Message


class BodyCodec:
    """Encoder/decoder of one message type's body."""

    def __init__(self, cls: type[Message]) -> None:
        self.cls = cls
        self.fields: tuple[tuple[str, Kind], ...] = tuple(
            (f.name, f.metadata["wire"])
            for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        )
        fixed = all(kind.fixed for _, kind in self.fields)
        self.struct: struct.Struct | None = None
        self.size: int | None = None
        if fixed:
            self.struct = struct.Struct("<" + "".join(k.struct_fmt() for _, k in self.fields))
            self.size = self.struct.size
            self._fast_decode = self._generate_decoder()
            self._fast_encode = self._generate_encoder()

    # -- construct reference -------------------------------------------------------------
    @cached_property
    def body(self) -> cs.Construct:
        """The construct Struct of the raw body layout (interpreted)."""
        return cs.Struct(*[name / kind.subcon() for name, kind in self.fields])

    @cached_property
    def compiled(self) -> cs.Construct:
        """The construct body compiled to Python source (construct's ``compile()``)."""
        return self.body.compile()

    def decode_with_construct(
        self,
        body: bytes,
        tolerant: bool = False,
        devs: list[Deviation] | None = None,
        *,
        compiled: bool = True,
    ) -> Message:
        """Decode through construct: the reference path, and the path of variable bodies."""
        parser = self.compiled if compiled else self.body
        try:
            raw = parser.parse(body)
        except cs.ConstructError as exc:
            raise FieldError(f"body does not parse: {str(exc).splitlines()[0]}") from None
        values = [kind.from_raw(raw[name], name, tolerant, devs) for name, kind in self.fields]
        return self.cls(*values)

    def encode_with_construct(self, msg: Message, *, compiled: bool = True) -> bytes:
        raw = {name: self._to_raw(kind, name, getattr(msg, name)) for name, kind in self.fields}
        builder = self.compiled if compiled else self.body
        return bytes(builder.build(raw))

    # -- public --------------------------------------------------------------------------
    def decode(
        self, body: bytes, tolerant: bool = False, devs: list[Deviation] | None = None
    ) -> Message:
        """Decode a body of exactly the right size (the framer checks the size first)."""
        if self.struct is None:
            return self.decode_with_construct(body, tolerant, devs)
        try:
            return self._fast_decode(body, tolerant, devs)
        except FieldError:
            raise
        except Exception:
            # Re-run on the reference path to name the field that failed.
            return self.decode_with_construct(body, tolerant, devs, compiled=False)

    def encode(self, msg: Message) -> bytes:
        if self.struct is None:
            return self.encode_with_construct(msg)
        try:
            return self._fast_encode(msg)
        except (struct.error, FieldError, TypeError, ValueError, OverflowError):
            for name, kind in self.fields:  # find and name the culprit
                self._to_raw(kind, name, getattr(msg, name))
            raise FieldError(
                f"{self.cls.__name__}: a field is out of range for its wire type"
            ) from None

    def _to_raw(self, kind: Kind, name: str, value: Any) -> Any:
        try:
            raw = kind.to_raw(value)
            if kind.fixed:
                struct.pack("<" + kind.struct_fmt(), raw)
            return raw
        except (FieldError, struct.error, TypeError, ValueError, OverflowError) as exc:
            raise FieldError(f"{self.cls.__name__}.{name}: {exc}") from None

    # -- code generation (the hot path) --------------------------------------------------
    def _generate_decoder(self) -> Callable[..., Message]:
        """Generate ``decode(body, tolerant, devs)``: one unpack, inline conversions.

        The instance is filled through its slot descriptors, which skips the frozen
        dataclass ``__init__`` (half the cost of a 0x13 decode); the values are the ones
        ``__init__`` would store, and the round-trip tests compare against ``cls(...)``.
        """
        names = [f"f{i}" for i in range(len(self.fields))]
        scope: dict[str, Any] = {
            "_unpack": self.struct.unpack,  # type: ignore[union-attr]
            "_cls": self.cls,
            "_new": object.__new__,
            "_BCD_BYTE": _BCD_BYTE,
            "_cp56": cp56_decode,
        }
        lines = ["def decode(body, tolerant, devs):", f"    {', '.join(names)}, = _unpack(body)"]
        slots = [getattr(self.cls, name, None) for name, _ in self.fields]
        direct = all(type(slot).__name__ == "member_descriptor" for slot in slots)
        exprs = []
        for i, (name, kind) in enumerate(self.fields):
            scope[f"k{i}"] = kind.from_raw
            if isinstance(kind, Enum8):
                scope[f"t{i}"] = kind.table.get
            exprs.append(kind.inline(names[i], f"k{i}").replace("_NAME_", repr(name)))
        if direct:
            lines.append("    o = _new(_cls)")
            for i, expr in enumerate(exprs):
                scope[f"s{i}"] = slots[i].__set__  # type: ignore[union-attr]
                lines.append(f"    s{i}(o, {expr})")
            lines.append("    return o")
        else:
            lines.append(f"    return _cls({', '.join(exprs)})")
        src = "\n".join(lines) + "\n"
        exec(compile(src, f"<ykc decode {self.cls.__name__}>", "exec"), scope)
        return scope["decode"]

    def _generate_encoder(self) -> Callable[[Message], bytes]:
        scope: dict[str, Any] = {"_pack": self.struct.pack}  # type: ignore[union-attr]
        args = []
        for i, (name, kind) in enumerate(self.fields):
            scope[f"k{i}"] = kind.to_raw
            args.append(kind.inline_encode(f"m.{name}", f"k{i}"))
        src = f"def encode(m):\n    return _pack({', '.join(args)})\n"
        exec(compile(src, f"<ykc encode {self.cls.__name__}>", "exec"), scope)
        return scope["encode"]
