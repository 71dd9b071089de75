"""Hypothesis strategies for every YKC field kind and message (used by the property tests)."""

from __future__ import annotations

import dataclasses
import string
from datetime import datetime

from hypothesis import strategies as st

import simrig.protocol.ykc.wire as w
from simrig.protocol.ykc import MESSAGES, Message


def for_kind(kind: w.Kind) -> st.SearchStrategy:
    if isinstance(kind, w.BmsCurrent):
        return st.integers(0, 4000).map(lambda tenths: tenths / 10)
    if isinstance(kind, w.Flag):
        return st.booleans()
    if isinstance(kind, w.Enum8):
        return st.one_of(
            st.sampled_from(list(kind.enum)),
            st.integers(0, 255).map(lambda v, k=kind: k.table.get(v, v)),
        )
    if isinstance(kind, w.Scaled):
        top = 2 ** (8 * kind.size) - 1
        return st.integers(0, top).map(
            lambda r, k=kind: r / k.scale + k.offset if k.offset else r / k.scale
        )
    if isinstance(kind, w.BcdByte):
        return st.integers(0, 99)
    if isinstance(kind, w.UInt):
        return st.integers(0, 2 ** (8 * kind.size) - 1)
    if isinstance(kind, w.Cp56Time):
        return st.one_of(
            st.none(),
            st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31)).map(
                lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000)
            ),
        )
    if isinstance(kind, w.Bcd):
        return st.text(alphabet=string.digits, min_size=2 * kind.size, max_size=2 * kind.size)
    if isinstance(kind, w.Ascii):
        return st.text(alphabet=string.ascii_letters + string.digits + " .-_/", max_size=kind.size)
    if isinstance(kind, w.ByteTable):
        return st.lists(st.integers(0, 255), min_size=kind.size, max_size=kind.size).map(tuple)
    if isinstance(kind, w.UIntN):
        top = 2 ** (8 * kind.size) - 1
        return st.integers(0, top).map(lambda r, k=kind: r / k.scale if k.scale != 1 else r)
    if isinstance(kind, w.Bytes):
        return st.binary(min_size=kind.size, max_size=kind.size).map(lambda b: b.hex().upper())
    if isinstance(kind, w.Repeated):
        record = st.tuples(*[for_kind(k) for _, k in kind.items])
        return st.lists(record, max_size=15).map(tuple)
    if isinstance(kind, w.PascalAscii):
        return st.text(alphabet=string.ascii_letters + string.digits + ":/.?=", max_size=200)
    raise AssertionError(f"no strategy for {kind!r}")


def for_message(cls: type[Message]) -> st.SearchStrategy:
    kinds = {f.name: for_kind(f.metadata["wire"]) for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return st.builds(cls, **kinds)


any_message = st.sampled_from(sorted(MESSAGES)).flatmap(lambda code: for_message(MESSAGES[code]))
