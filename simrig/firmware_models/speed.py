"""The virtual driver's speed machinery for one pile (:class:`~simrig.speed_seam.PileSpeedHooks`):
heartbeats on paper and idle elision. Pure: it knows the pile's parts, never simpy.

* **Heartbeats on paper**: after :meth:`PileSpeed.assume_heartbeats` the pile counts its
  heartbeats (sequence number, gun round-robin) without sending them, as if each was
  answered, until the link drops, the emergency stop is pressed or the plan ends where
  the driver said the link changes (``simrig/heartbeat_plan.py``).
* **Idle elision**: the idle 0x13 of guns whose report would repeat the last one are
  counted instead of sent while nothing else happens.
* **Realtime on paper**: each 0x13 may go to a sink decoded instead of as bytes
  (:meth:`PileSpeed.hand_realtime_to`); the frame is the same, only its transport differs.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import TYPE_CHECKING

from simrig.heartbeat_plan import HeartbeatPlan
from simrig.protocol.ykc import GunStatus

from .status import state_key

if TYPE_CHECKING:
    from simrig.plant import PhysicalPile

    from .deadlines import Scheduler
    from .image import Image
    from .link_session import Heartbeats, LinkSession
    from .maintenance import Maintenance
    from .records import GunRecord
    from .wire import RealtimeSink, Wire

__all__ = ["PileSpeed"]

_INF = math.inf
_IDLE = int(GunStatus.IDLE)


class PileSpeed:
    """What the virtual driver may ask of one pile to skip exchanges exactly."""

    def __init__(
        self,
        wire: Wire,
        image: Image,
        plant: PhysicalPile,
        link: LinkSession,
        heartbeats: Heartbeats,
        scheduler: Scheduler,
        maintenance: Maintenance,
        guns: list[GunRecord],
    ) -> None:
        self._wire = wire
        self._image = image
        self._plant = plant
        self._link = link
        self._hb = heartbeats
        self._sched = scheduler
        self._maintenance = maintenance
        self._guns = guns
        #: the heartbeats this pile sends on paper now (None: every heartbeat is a frame)
        self.heartbeat_plan: HeartbeatPlan | None = None
        #: heartbeats counted as sent and answered under a plan
        self.virtual_heartbeats = 0
        #: send time of the last frame :meth:`elide_idle` skipped
        self.last_elided_at = 0.0

    # ------------------------------------------------------------------ every entry
    def enter(self, now: float) -> None:
        """The pile is entered at ``now``: count the paper heartbeats sent before it."""
        self._sched.enter(now)
        hb = self._hb
        if hb.next < now and hb.next < hb.paper_until:
            self._settle(now)

    def settle_due_by(self, now: float) -> None:
        """Count the plan's heartbeats due up to ``now``, the one due at ``now`` included
        (at one instant, a pile's timer runs before bytes arrive)."""
        hb = self._hb
        if hb.next <= now and hb.next < hb.paper_until:
            self._settle(math.nextafter(now, _INF))

    def _settle(self, before: float) -> None:
        """Count the plan's heartbeats sent before ``before`` as sent and answered."""
        plan = self.heartbeat_plan
        assert plan is not None
        hb = self._hb
        limit = before if before < plan.until else plan.until
        k, base, period = hb.k, hb.base, plan.period
        if limit - hb.next < 8 * period:  # a poll settles one or two: step
            while base + k * period < limit:
                k += 1
            k -= 1
        else:
            k = plan.last_sent_before(limit)
        count = k + 1 - hb.k
        if count > 0:
            self._wire.seq = (self._wire.seq + count) & 0xFFFF
            hb.index += count
            hb.k = k + 1
            hb.next = hb.base + hb.k * plan.period
            self.virtual_heartbeats += count

    def end_plan(self) -> None:
        """Heartbeats from the next one on are real frames again."""
        hb = self._hb
        if hb.paper_until > -_INF:
            assert self.heartbeat_plan is not None
            self.heartbeat_plan = self.heartbeat_plan.ended_at(hb.k)
            hb.paper_until = -_INF

    # ------------------------------------------------------------------ PileSpeedHooks
    def heartbeat_due(self, now: float) -> bool:
        """A heartbeat, or a gun's idle 0x13, is due by ``now``: the only frames the
        driver may elide, so a timer firing for anything else need not try."""
        if self.real_heartbeat_due(now):
            return True
        idle_due = [g for g in self._guns if g.session is None and g.next_rt <= now]
        return bool(idle_due)  # (a list: cheaper than any() over a generator, per timer)

    def real_heartbeat_due(self, now: float) -> bool:
        """A heartbeat not covered by a plan is due by ``now``."""
        return self._link.logged_in and self._hb.next_real() <= now

    def quiet_guns(self, now: float) -> dict[int, tuple[int, bool]]:
        """Guns whose next idle 0x13 would repeat the last one sent: no order, idle, same
        plug state. Gun → (status, plugged); the driver may elide their idle 0x13 too if
        the platform confirms such a frame changes nothing there."""
        self.enter(now)
        self._sched.note_unseen_plant_change(now)  # the readings below advance the plant
        out: dict[int, tuple[int, bool]] = {}
        plant = self._plant
        for g in self._guns:
            if g.session is not None or g.pending_remote or g.card_pending:
                continue
            key = state_key(g, plant, now)
            if key == g.last_reported and key[0] == _IDLE:
                out[g.number] = key
        return out

    def idle_until(self, now: float, quiet: Collection[int] = ()) -> float:
        """Time until which nothing but heartbeats (and the idle 0x13 of the ``quiet``
        guns) would happen; ``now`` if not idle."""
        self.enter(now)
        link = self._link
        if not (self._wire.connected and link.logged_in and link.model_state == "ok"):
            return now
        if link.close_requested or self._hb.unanswered or self._wire.out:
            return now
        if self._maintenance.reboot_pending or self._maintenance.upgrade is not None:
            return now
        for g in self._guns:
            # a running session is fine: its realtime, BMS and phase times are deadlines
            if g.pending_remote or g.card_pending:
                return now
        due = self._plant.pending_event_time()
        if self._sched.plant_unseen <= now or (due is not None and due <= now):
            return now  # a plant change (handshake done, BMS stop) no poll has seen yet
        # heartbeats not on paper (see :meth:`assume_heartbeats`) are real frames
        t = self._sched.next_deadline(include_heartbeat=True, quiet=quiet)
        return _INF if t == _INF else max(now, t)

    def elide_idle(
        self,
        now: float,
        until: float,
        quiet: Collection[int] = (),
        *,
        idle_until: float | None = None,
    ) -> int:
        """Advance to ``until`` as if the ``quiet`` guns' idle 0x13 were sent; returns how
        many frames that was. Heartbeats in the window must be on paper (a real one ends
        the idle time), and are counted as sent.

        ``idle_until``: what :meth:`idle_until` just returned for the same ``now`` and
        ``quiet`` (the pile unchanged since), to spare computing it twice."""
        if idle_until is None:
            idle_until = self.idle_until(now, quiet)
        if idle_until < until:
            raise ValueError(f"pile {self._wire.pile_no} is not idle until {until}")
        if self._hb.next < until:
            self._settle(until)  # nothing else happens before ``until``
        count = 0
        idle_s = self._image.timings.realtime_idle_s
        wire = self._wire
        for number in quiet:
            g = self._guns[number - 1]
            next_rt, skipped = g.next_rt, 0
            while next_rt < until:  # summed frame by frame, as sending them would
                last = next_rt
                skipped += 1
                next_rt += idle_s
            if skipped:
                self.last_elided_at = max(self.last_elided_at, last)
            g.next_rt = next_rt
            wire.seq = (wire.seq + skipped) & 0xFFFF
            count += skipped
        sched = self._sched
        sched.now = max(sched.now, until)
        return count

    def timer_after_elision(self, idle_until: float, quiet: Collection[int] = ()) -> float | None:
        """The pile's ``get_timer`` right after :meth:`elide_idle` was given
        ``idle_until`` and ``quiet``: only the heartbeat and the quiet guns' idle 0x13
        moved since."""
        t = idle_until
        if self._link.logged_in:
            t = min(t, self._hb.next_real())
        for number in quiet:
            next_rt = self._guns[number - 1].next_rt
            if next_rt < t:
                t = next_rt
        return None if t == _INF else t

    def assume_heartbeats(
        self, now: float, latency: float, reply_latency: float, change: float = _INF
    ) -> HeartbeatPlan | None:
        """Send heartbeats from now on on paper: the driver vouches that the link (up and
        ``latency``, replies ``reply_latency`` later) stays clean until ``change`` and that
        the platform answers. They count (sequence number, gun round-robin) whenever the
        pile next acts, and stop counting the moment the link drops or the emergency stop
        is pressed. None if this pile's heartbeats are not plain ones now (not logged in,
        one unanswered, emergency stop pressed) or none would be answered in time."""
        self.enter(now)
        link, hb = self._link, self._hb
        if not (
            self._wire.connected
            and link.logged_in
            and not link.close_requested
            and hb.unanswered == 0
        ) or self._plant.emergency_stop_pressed(now):
            return None
        plan = HeartbeatPlan.on_link(
            hb.base,
            self._image.timings.heartbeat_s,
            hb.k,
            latency,
            reply_latency,
            change,
        )
        if plan.until <= hb.next:
            return None
        hb.paper_until = plan.until
        self.heartbeat_plan = plan
        return plan

    def hand_realtime_to(self, sink: RealtimeSink | None) -> None:
        """Offer every 0x13 sent while nothing is queued before it to ``sink`` decoded
        (None: every 0x13 is bytes)."""
        self._wire.realtime_sink = sink

    def catch_up(self, now: float) -> None:
        """Count the heartbeats sent on paper before ``now`` (at the end of a run; idle
        elision may already have taken the pile further)."""
        if now >= self._sched.now:
            self.enter(now)
