"""The virtual driver's seam into the platform (:class:`simrig.speed_seam.PlatformSpeedHooks`).

Heartbeats on paper and idle elision need a few hooks no other caller uses; they live here,
reached as ``PlatformCore.speed``. The heartbeat plans themselves are liveness state
(:attr:`.liveness.Liveness.plans`): liveness reads them to decide when a pile is offline.
"""

from __future__ import annotations

import math

from simrig.heartbeat_plan import HeartbeatPlan
from simrig.protocol.ykc import Frame

from .charging import Charging
from .connections import Connections
from .liveness import Liveness
from .routing import Inbox
from .timers import Timers

__all__ = ["PlatformSpeed"]


class PlatformSpeed:
    """What the virtual driver may tell the platform about exchanges it skipped."""

    def __init__(
        self,
        liveness: Liveness,
        charging: Charging,
        timers: Timers,
        connections: Connections,
        inbox: Inbox,
    ) -> None:
        self._liveness = liveness
        self._charging = charging
        self._timers = timers
        self._connections = connections
        self._inbox = inbox
        #: heartbeats counted from plans or notes instead of frames, over the whole run
        self.elided = 0

    def assume_heartbeats(self, pile_no: str, plan: HeartbeatPlan, now: float) -> None:
        """The pile sends the heartbeats of ``plan`` on paper (the virtual driver saw to
        it that each would arrive and be answered): liveness reads them from the plan."""
        self._liveness.plans[pile_no] = plan
        self._liveness.rewatch(pile_no, now)

    def retire_heartbeat_plan(self, pile_no: str, now: float) -> None:
        """Keep what the pile's plan gave before ``now`` (its link closed or a new plan
        starts); later arrivals of it are void."""
        plan = self._liveness.plans.pop(pile_no, None)
        if plan is None:
            return
        k = plan.last_arrived_before(now)
        if k >= plan.first_k:
            self.elided += k + 1 - plan.first_k
            self._liveness.heard_by(pile_no, plan.sent_at(k) + plan.latency)
        self._liveness.rewatch(pile_no, now)

    def note_elided_heartbeats(self, pile_no: str, count: int, last_at: float) -> None:
        """The driver skipped ``count`` successful heartbeat exchanges, the last at ``last_at``."""
        if self._connections.is_online(pile_no) and count > 0:
            self._liveness.heard_by(pile_no, last_at)
            self.elided += count

    def realtime_is_noop(self, pile_no: str, gun: int, status: int, plugged: bool) -> bool:
        """Would an order-less 0x13 with this status and plug state change nothing but
        liveness? (The gun record already says so and no session waits on the gun.)
        The virtual driver elides such idle frames like heartbeats."""
        record = self._charging.gun(pile_no, gun)
        if record is None or (record.status, record.plugged, record.serial) != (
            status,
            plugged,
            "",
        ):
            return False
        return self._charging.waiting_session(pile_no, gun) is None

    def idle_until(self, now: float) -> float:
        """Until when no timer fires except heartbeat liveness (the driver may elide up to it)."""
        self._liveness.prune()
        due = self._timers.next_due()
        return math.inf if due is None else due

    def take_frame(self, conn_id: int, frame: Frame, now: float) -> None:
        """``frame`` arrived on ``conn_id`` already decoded (a 0x13 the virtual driver
        carried on paper): handled as the frame its bytes hold would be."""
        self._inbox.take(conn_id, frame, now)
