"""One explicit time mapping per run: scenario seconds ↔ backend wall clock ↔ loop time.

Truth, device view, platform view and oracle all read times through one mapping
(design.md "Real backends": a rig-side clock difference is never the backend's anomaly):

* ``wall(t) = wall_epoch + t`` — the wall time the backend shows at scenario second ``t``
  (a backend running at ``speed`` — its own option, or libfaketime — shows scenario time);
* ``loop_time(t) = loop_t0 + t / speed`` — when ``t`` happens on the driver's clock
  (CLOCK_MONOTONIC: asyncio's and uvloop's loop clock, shared by processes on one host).

Virtual runs use ``loop_t0 = 0`` and ``speed = 1`` (simpy's clock is scenario time).
Pure: the caller reads the clocks and passes them in (:meth:`TimeMapping.starting_now`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

__all__ = ["TimeMapping"]


@dataclass(frozen=True, slots=True)
class TimeMapping:
    """Scenario seconds ↔ backend wall clock ↔ driver loop time."""

    #: the backend's wall time at scenario t=0
    wall_epoch: datetime
    #: scenario seconds per loop second
    speed: float = 1.0
    #: loop (CLOCK_MONOTONIC) time of scenario t=0; None: not anchored yet
    loop_t0: float | None = None

    def __post_init__(self) -> None:
        if not self.speed > 0:
            raise ValueError(f"speed must be > 0, got {self.speed}")

    @classmethod
    def starting_now(
        cls,
        wall_now: datetime,
        monotonic_now: float,
        *,
        speed: float = 1.0,
        loop_t0: float | None = None,
        wall_epoch: datetime | None = None,
    ) -> TimeMapping:
        """Scenario t=0 at ``loop_t0`` (default ``monotonic_now``); the backend's wall at
        t=0 is ``wall_epoch`` (a pinned backend clock) or the wall clock then ("now").

        ``wall_now``/``monotonic_now`` are read together by the caller."""
        t0 = monotonic_now if loop_t0 is None else loop_t0
        if wall_epoch is None:
            wall_epoch = wall_now + timedelta(seconds=t0 - monotonic_now)
        return cls(wall_epoch, speed, t0)

    def anchored(self, loop_t0: float) -> TimeMapping:
        """This mapping with scenario t=0 at ``loop_t0`` (if not anchored already)."""
        return self if self.loop_t0 is not None else replace(self, loop_t0=loop_t0)

    # -- scenario ↔ wall ---------------------------------------------------------------------
    def wall(self, t: float) -> datetime:
        """The backend's wall time at scenario second ``t``."""
        return self.wall_epoch + timedelta(seconds=t)

    def scenario_time(self, wall: datetime) -> float:
        """Scenario second at which the backend shows ``wall`` (inverse of :meth:`wall`)."""
        return (wall - self.wall_epoch).total_seconds()

    # -- scenario ↔ loop ---------------------------------------------------------------------
    def loop_time(self, t: float) -> float:
        """Loop time of scenario second ``t``."""
        return self._t0() + t / self.speed

    def scenario_at(self, loop_time: float) -> float:
        """Scenario second at loop time ``loop_time``."""
        return (loop_time - self._t0()) * self.speed

    def _t0(self) -> float:
        if self.loop_t0 is None:
            raise ValueError("time mapping not anchored to a loop time yet")
        return self.loop_t0
