"""Liveness: heartbeats (0x03 → 0x04, protocol §4.3) and the offline timers.

A pile is offline after ``heartbeat_interval_s × missed_heartbeats_offline`` without a
frame. Heartbeats "on paper" (the virtual driver's plans, :mod:`.speed`) count as heard
at their planned arrival times.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterator

from simrig.heartbeat_plan import HeartbeatPlan
from simrig.protocol.ykc import Frame, GunHealth, Heartbeat, HeartbeatReply

from .connections import Conn, Connections
from .events import EventSink
from .routing import FrameHandlers, on
from .rules import PlatformRules

__all__ = ["Liveness"]


class Liveness(FrameHandlers):
    """When each online pile was last heard from, and when it goes offline unless heard."""

    def __init__(self, rules: PlatformRules, connections: Connections, events: EventSink) -> None:
        self.rules = rules
        self._connections = connections
        self._online = connections.online_view()
        self._events = events
        self._last_seen: dict[str, float] = {}
        #: a frame of the pile arrived at ``now`` (on every frame: the dict's own setter)
        self.heard: Callable[[str, float], None] = self._last_seen.__setitem__
        #: heartbeats the pile sends on paper (written by the speed part only)
        self.plans: dict[str, HeartbeatPlan] = {}
        self._due: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []

    @property
    def offline_after(self) -> float:
        """Silence that makes a pile offline (``rules.heartbeat_interval_s`` ×
        ``rules.missed_heartbeats_offline``)."""
        return self.rules.heartbeat_interval_s * self.rules.missed_heartbeats_offline

    # ------------------------------------------------------------------ hearing
    def heard_by(self, pile_no: str, at: float) -> None:
        """The pile was heard at ``at`` at the latest (never moves the record back)."""
        self._last_seen[pile_no] = max(self._last_seen.get(pile_no, at), at)

    def start_watch(self, pile_no: str, now: float) -> None:
        """A login (0x01): the first check is one offline period away."""
        self.watch(pile_no, now + self.offline_after)

    def seen(self, pile_no: str, now: float) -> float:
        """When the pile was last heard from before ``now`` (``now`` if never)."""
        last = self._last_seen.get(pile_no, now)
        plan = self.plans.get(pile_no)
        if plan is not None:
            arrived = plan.last_arrival_before(now)
            if arrived is not None and arrived > last:
                return arrived
        return last

    def due(self, pile_no: str, now: float) -> float:
        """When the pile goes offline unless heard from again (``inf``: not while its
        heartbeat plan holds — each planned one arrives before the last one expires)."""
        off = self.offline_after
        due = self.seen(pile_no, now) + off
        plan = self.plans.get(pile_no)
        if plan is None or plan.period >= off:
            return due
        k = plan.last_arrived_before(now) + 1  # the plan's next arrival
        if plan.sent_at(k) >= plan.until or plan.sent_at(k) + plan.latency >= due:
            return due
        if plan.until == math.inf:
            return math.inf
        return plan.sent_at(plan.last_sent_before(plan.until)) + plan.latency + off

    # ------------------------------------------------------------------ watching
    def watch(self, pile_no: str, due: float) -> None:
        """Check the pile's liveness at ``due`` (an earlier check already set stands)."""
        if due < self._due.get(pile_no, math.inf):
            self._due[pile_no] = due
            heapq.heappush(self._heap, (due, pile_no))

    def rewatch(self, pile_no: str, now: float) -> None:
        """Recompute an online pile's check (its plan changed)."""
        if pile_no in self._online:
            self.watch(pile_no, self.due(pile_no, now))

    def expired(self, now: float) -> Iterator[str]:
        """Online piles silent for too long by ``now``; the caller takes each offline
        before the next is checked."""
        heap = self._heap
        while heap and heap[0][0] <= now:
            due, pile_no = heapq.heappop(heap)
            if self._due.get(pile_no) != due:
                continue  # superseded by an earlier watch
            del self._due[pile_no]
            if pile_no not in self._online:
                continue
            due = self.due(pile_no, now)
            if due <= now:
                yield pile_no
            else:
                self.watch(pile_no, due)

    def prune(self) -> None:
        """Drop stale checks at the heap top (offline piles, superseded watches)."""
        heap = self._heap
        while heap:
            due, pile_no = heap[0]
            if pile_no in self._online and self._due.get(pile_no) == due:
                break
            heapq.heappop(heap)
            if self._due.get(pile_no) == due:
                del self._due[pile_no]

    def next_due(self) -> float | None:
        self.prune()
        return self._heap[0][0] if self._heap else None

    # ------------------------------------------------------------------ frames
    @on(Heartbeat)
    def _on_heartbeat(self, conn: Conn, frame: Frame, now: float) -> None:
        """0x03 → 0x04 (protocol §4.3); a gun reporting a fault is an event."""
        msg = frame.message
        assert isinstance(msg, Heartbeat)
        reply = HeartbeatReply(pile_no=msg.pile_no, gun=msg.gun, reply=0)
        self._connections.send(conn, reply, now, frame.seq)
        if msg.gun_state == GunHealth.FAULT:
            self._events.emit(now, "gun_fault", msg.pile_no, msg.gun)
