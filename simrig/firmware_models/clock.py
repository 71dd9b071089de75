"""The pile's own real-time clock: scenario time ``now`` → the wall time it writes in frames.

``wall(now) = epoch + now + offset + drift_ppm × now / 1e6`` (design.md principle 2). A
0x56 time sync (protocol §3 item 9, §4.14) re-anchors the offset so that ``wall(now)``
equals the platform's time; a scenario (or a quirk) can make the clock jump.
"""

from __future__ import annotations

from datetime import datetime, timedelta

__all__ = ["PileClock"]


class PileClock:
    """Offset + drift clock. Pure: ``now`` is always passed in."""

    __slots__ = ("drift_ppm", "epoch", "offset_s")

    def __init__(self, epoch: datetime, offset_s: float = 0.0, drift_ppm: float = 0.0) -> None:
        self.epoch = epoch
        self.offset_s = float(offset_s)
        self.drift_ppm = float(drift_ppm)

    def __repr__(self) -> str:
        return f"PileClock({self.epoch.isoformat()}, offset={self.offset_s}, ppm={self.drift_ppm})"

    def _seconds(self, now: float) -> float:
        return now + self.offset_s + self.drift_ppm * now / 1e6

    def wall(self, now: float) -> datetime:
        """Wall time at ``now``, truncated to the millisecond (CP56Time2a resolution)."""
        ms = int(self._seconds(now) * 1000.0 // 1)
        return self.epoch + timedelta(0, 0, 0, ms)  # milliseconds (positional: cheaper)

    def to_now(self, wall: datetime) -> float:
        """Scenario time at which this clock shows ``wall`` (inverse of :meth:`wall`)."""
        target = (wall - self.epoch).total_seconds()
        return (target - self.offset_s) / (1.0 + self.drift_ppm / 1e6)

    def sync(self, now: float, wall: datetime) -> float:
        """Set the clock so that ``wall(now) == wall`` (0x56); returns the correction in s."""
        before = self._seconds(now)
        target = (wall - self.epoch).total_seconds()
        self.offset_s += target - before
        return target - before

    def jump(self, seconds: float) -> None:
        """Step the clock by ``seconds`` (RTC fault, manual setting)."""
        self.offset_s += seconds

    def next_half_hour(self, now: float) -> float:
        """Scenario time of the next half-hour boundary of this clock strictly after ``now``."""
        wall = self.wall(now)
        base = wall.replace(minute=wall.minute // 30 * 30, second=0, microsecond=0)
        boundary = base + timedelta(minutes=30)
        t = self.to_now(boundary)
        return t if t > now else now + 1e-3
