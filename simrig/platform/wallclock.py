"""Platform wall time of scenario seconds: ``epoch + now`` to the millisecond (pure)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

__all__ = ["WallClock"]


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
            # timedelta(days, seconds, microseconds, milliseconds): by position, as the
            # keyword call costs a third more on every frame
            self._wall = self.epoch + timedelta(0, 0, 0, round(now * 1000))
        return self._wall

    def now_of(self, when: datetime) -> float:
        """Seconds since the epoch of a stored wall time."""
        return (when - self.epoch).total_seconds()
