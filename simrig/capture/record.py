"""The capture record: bytes that crossed one pile's link, with when and which way.

Every driver (virtual, real-time, serial) records one :class:`Chunk` per write; the device
view, the reports and the capture writers read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from simrig.fastdata import fast_init

__all__ = ["Chunk", "LinkEvent"]


@fast_init
@dataclass(frozen=True, slots=True)
class Chunk:
    """Bytes that crossed a pile's link: ``up`` = pile → platform."""

    at: datetime
    pile_no: str
    direction: str  # "up" | "down"
    data: bytes


@dataclass(frozen=True, slots=True)
class LinkEvent:
    """A pile's connection opened (``connected``) or closed (``disconnected``) at ``at``.

    ``conn`` is the driver's connection id (the ``conn`` of the run's events), or None;
    a ``disconnected`` whose ``conn`` is not the pile's open connection is ignored."""

    at: datetime
    pile_no: str
    kind: str  # "connected" | "disconnected"
    conn: int | None = None
