"""The order timers (start confirmation, bill grace, daily time sync) in one heap.

One heap keeps today's tie order: two timers due at the same instant fire in the order
they were set, whatever their kind. Each entry carries its :class:`TimerKind`, so the
heap needs no registry of kinds.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["TimerKind", "Timers"]


@dataclass(frozen=True, slots=True)
class TimerKind:
    """What a timer does when due (``fire``) and whether its reason still holds (``live``)."""

    name: str
    fire: Callable[[str, float], None]
    live: Callable[[str], bool]


class Timers:
    """Due time → (kind, key); stale entries are dropped when they reach the top."""

    __slots__ = ("_heap", "_tick")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, TimerKind, str]] = []
        self._tick = 0

    def schedule(self, due: float, kind: TimerKind, key: str) -> None:
        self._tick += 1
        heapq.heappush(self._heap, (due, self._tick, kind, key))

    def next_due(self) -> float | None:
        """The earliest live deadline (drops stale entries at the top first)."""
        heap = self._heap
        while heap and not heap[0][2].live(heap[0][3]):
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def fire_due(self, now: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, _, kind, key = heapq.heappop(heap)
            kind.fire(key, now)
