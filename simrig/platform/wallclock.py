"""Platform wall time of scenario seconds: ``epoch + now`` to the millisecond (pure)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

__all__ = ["WallClock"]

_MILLISECOND = timedelta(milliseconds=1)


class WallClock:
    """Turns ``now`` (seconds since ``epoch``) into the naive datetimes the records hold."""

    __slots__ = ("_at", "_wall", "epoch")

    def __init__(self, epoch: datetime) -> None:
        self.epoch = epoch
        self._at = math.nan
        self._wall = epoch

    def wall(self, now: float) -> datetime:
        """Platform wall time of ``now``, to the millisecond."""
        if now != self._at:  # one frame asks several times at one instant
            self._at = now
            # a whole number of milliseconds times one (exact integer arithmetic): half
            # the cost of building timedelta(milliseconds=...) on every frame
            self._wall = self.epoch + _MILLISECOND * round(now * 1000)
        return self._wall

    def now_of(self, when: datetime) -> float:
        """Seconds since the epoch of a stored wall time."""
        return (when - self.epoch).total_seconds()
