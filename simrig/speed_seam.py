"""The typed seam through which the virtual driver's speed machinery reaches the models.

Heartbeats on paper and idle elision (:mod:`simrig.adapters.virtual`) need a few hooks
in the pile firmware and the platform that no other caller uses. They live behind these
two protocols: a pile offers them as ``pile.speed``, the platform as ``platform.speed``.
The models stay pure (no simpy); the real-time drivers never touch this seam.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import TYPE_CHECKING, Protocol

from simrig.heartbeat_plan import HeartbeatPlan

if TYPE_CHECKING:
    from simrig.firmware_models.wire import RealtimeSink
    from simrig.protocol.ykc import Frame


class PileSpeedHooks(Protocol):
    """What the virtual driver may ask of one pile to skip exchanges exactly."""

    #: the heartbeats this pile sends on paper now (None: every heartbeat is a frame)
    heartbeat_plan: HeartbeatPlan | None
    #: heartbeats counted from a plan instead of sent, over the whole run
    virtual_heartbeats: int
    #: when the last idle 0x13 skipped by elision would have been sent
    last_elided_at: float

    def heartbeat_due(self, now: float) -> bool:
        """A heartbeat or an idle 0x13 is due by ``now`` (the only elidable frames)."""
        ...

    def real_heartbeat_due(self, now: float) -> bool:
        """A heartbeat not covered by a plan is due by ``now``."""
        ...

    def assume_heartbeats(
        self, now: float, latency: float, reply_latency: float, change: float = math.inf
    ) -> HeartbeatPlan | None:
        """Send heartbeats on paper from ``now`` while the link stays clean until ``change``."""
        ...

    def quiet_guns(self, now: float) -> dict[int, tuple[int, bool]]:
        """Guns whose next idle 0x13 repeats the last one: gun → (status, plugged)."""
        ...

    def idle_until(self, now: float, quiet: Collection[int] = ()) -> float:
        """Until when nothing but heartbeats and the quiet guns' idle 0x13 happens."""
        ...

    def elide_idle(
        self,
        now: float,
        until: float,
        quiet: Collection[int] = (),
        *,
        idle_until: float | None = None,
    ) -> int:
        """Advance to ``until`` as if the quiet guns' idle 0x13 were sent; how many."""
        ...

    def timer_after_elision(self, idle_until: float, quiet: Collection[int] = ()) -> float | None:
        """The pile's next deadline right after :meth:`elide_idle`."""
        ...

    def catch_up(self, now: float) -> None:
        """Count the heartbeats sent on paper before ``now`` (end of a run)."""
        ...

    def hand_realtime_to(self, sink: RealtimeSink | None) -> None:
        """Offer each 0x13 to ``sink`` decoded instead of encoding it (None: bytes)."""
        ...


class PlatformSpeedHooks(Protocol):
    """What the virtual driver may tell the platform about exchanges it skipped."""

    def assume_heartbeats(self, pile_no: str, plan: HeartbeatPlan, now: float) -> None:
        """The pile sends ``plan``'s heartbeats on paper: read liveness from it."""
        ...

    def retire_heartbeat_plan(self, pile_no: str, now: float) -> None:
        """Keep what the pile's plan gave before ``now``; later arrivals are void."""
        ...

    def note_elided_heartbeats(self, pile_no: str, count: int, last_at: float) -> None:
        """``count`` exchanges were skipped, the last arriving at ``last_at``."""
        ...

    def realtime_is_noop(self, pile_no: str, gun: int, status: int, plugged: bool) -> bool:
        """An order-less 0x13 with this status and plug state would change nothing."""
        ...

    def idle_until(self, now: float) -> float:
        """Until when no platform timer fires except heartbeat liveness."""
        ...

    def take_frame(self, conn_id: int, frame: Frame, now: float) -> None:
        """``frame`` arrived on ``conn_id`` decoded, as a whole frame of its bytes would."""
        ...
