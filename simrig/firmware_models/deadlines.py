"""When the pile next acts: the current instant, plant changes no poll has seen yet, and
the earliest deadline over every part (the Endpoint's ``get_timer``)."""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simrig.plant import PhysicalPile

    from .bills import BillStore
    from .hooks import QuirkHooks
    from .link_session import Heartbeats, LinkSession
    from .maintenance import Maintenance
    from .records import GunRecord
    from .wire import Wire

__all__ = ["Scheduler"]

_INF = math.inf


class Scheduler:
    """The pile's ``now`` and its next deadline."""

    def __init__(
        self,
        wire: Wire,
        plant: PhysicalPile,
        link: LinkSession,
        heartbeats: Heartbeats,
        hooks: QuirkHooks,
        bills: BillStore,
        maintenance: Maintenance,
        guns: list[GunRecord],
    ) -> None:
        self._wire = wire
        self._plant = plant
        self._link = link
        self._hb = heartbeats
        self._hooks = hooks
        self._bills = bills
        self._maintenance = maintenance
        self._guns = guns
        self.now = 0.0
        #: earliest plant change applied by an advance but not yet seen by a poll
        self.plant_unseen = _INF

    def enter(self, now: float) -> None:
        if now < self.now:
            raise ValueError(f"pile {self._wire.pile_no}: time went backwards ({now} < {self.now})")
        self.now = now

    def note_unseen_plant_change(self, now: float) -> None:
        """Remember a plant change due by ``now`` before a reading applies it: a poll
        must still see it (handshake done, BMS stop), elision or not."""
        pending = self._plant.pending_event_time()
        if pending is not None and pending <= now and pending < self.plant_unseen:
            self.plant_unseen = pending

    def next_deadline(self, include_heartbeat: bool, quiet: Collection[int] = ()) -> float:
        """Earliest time the pile must act (``inf``: none); ``quiet`` guns' idle 0x13
        and, without ``include_heartbeat``, heartbeats do not count."""
        link = self._link
        if not link.powered:
            return _INF
        if link.boot_until is not None:
            return link.boot_until
        m = _INF
        connected = self._wire.connected
        if not connected and not link.close_requested:
            m = link.reconnect_at
        logged_in = link.logged_in
        if connected and not logged_in and link.login_deadline < m:
            m = link.login_deadline
        if logged_in:
            if include_heartbeat:
                hb = self._hb.next_real()
                if hb < m:
                    m = hb
            if link.model_state != "ok" and link.model_retry_at < m:
                m = link.model_retry_at
        plant = self._plant
        at = self.now if self.now > plant.now else plant.now
        self.note_unseen_plant_change(at)  # advancing the plant below applies it
        nxt = plant.next_event_time(at)
        if nxt is not None and nxt < m:
            m = nxt
        if self.plant_unseen < m:
            m = self.plant_unseen
        for g in self._guns:
            if g.next_rt < m and g.number not in quiet:
                m = g.next_rt
            if g.next_bms < m:
                m = g.next_bms
            if g.next_boundary < m:
                m = g.next_boundary
            s = g.session
            if s is not None:
                if s.phase_until < m:
                    m = s.phase_until
                if not logged_in and link.offline_since is not None:
                    policy = self._hooks.offline
                    if policy.stop_s > 0 and policy.stops_session:
                        m = min(m, link.offline_since + policy.stop_s)
            if g.pending_remote is not None and g.pending_remote.deadline < m:
                m = g.pending_remote.deadline
            if g.card_pending is not None and g.card_pending[1] < m:
                m = g.card_pending[1]
            if g.stale_plug_until is not None and g.stale_plug_until < m:
                m = g.stale_plug_until
        m = self._bills.deadline(m)
        upgrade = self._maintenance.upgrade
        if upgrade is not None and upgrade.ready_at < m:
            m = upgrade.ready_at
        return m
