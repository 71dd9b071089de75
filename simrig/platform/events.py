"""The platform's event sink: domain events in order, for capture, reports and the oracle."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any

from simrig.endpoint import Event
from simrig.protocol.ykc import Message

from .rules import PlatformRules

__all__ = ["EventSink"]


class EventSink:
    """Every part appends here; the driver drains it (``next_event`` / ``events``)."""

    __slots__ = ("_queue", "rules")

    def __init__(self, rules: PlatformRules) -> None:
        self._queue: deque[Event] = deque()
        self.rules = rules

    def emit(
        self,
        now: float,
        kind: str,
        source: str,
        gun: int | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        self._queue.append(Event(now, kind, source, gun, data or {}))

    def frame(
        self, now: float, kind: str, source: str, message: Message, seq: int, raw: bytes
    ) -> None:
        """A ``frame_received`` / ``frame_sent`` event, unless ``rules.emit_frame_events``
        is off (load runs)."""
        if self.rules.emit_frame_events:
            data = {"type": message.TYPE, "name": message.NAME, "seq": seq, "hex": raw.hex()}
            self._queue.append(Event(now, kind, source, getattr(message, "gun", None), data))

    def next(self) -> Event | None:
        return self._queue.popleft() if self._queue else None

    def drain(self) -> Iterator[Event]:
        """Drain all pending events."""
        while self._queue:
            yield self._queue.popleft()
