"""Plain-JSON views of frames and errors (the ``simrig decode --json`` format)."""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum
from typing import Any

from .framer import Frame, FrameError


def json_value(value: Any) -> Any:
    """A JSON-ready value: ISO times, enum names (unknown codes stay ints), lists for tuples."""
    if isinstance(value, IntEnum):
        return value.name.lower()
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds")
    if isinstance(value, tuple):
        return [json_value(v) for v in value]
    return value


def frame_to_json(frame: Frame) -> dict[str, Any]:
    return {
        "type": frame.type,
        "name": frame.name,
        "seq": f"{frame.seq:04x}",
        "crc_ok": True,
        "deviations": list(frame.deviations),
        "fields": {k: json_value(v) for k, v in frame.message.as_dict().items()},
    }


def error_to_json(error: FrameError) -> dict[str, Any]:
    out: dict[str, Any] = {"error": str(error), "kind": error.kind.value}
    if error.raw:
        out["raw"] = error.raw.hex()
    return out
