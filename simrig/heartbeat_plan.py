"""Heartbeats a pile sends *on paper* while the virtual driver vouches for its link.

A charging pile sends 0x13/0x23/0x25 every 15 s and a 0x03 every 10 s (protocol-ykc §3
items 2–3). On a clean link with a logged-in platform each 0x03 is answered and changes
nothing but the pile's sequence counter and the platform's liveness, so the virtual
driver need not exchange it: it hands pile and platform the same plan, the pile counts
the heartbeats it would have sent whenever it next acts, the platform reads liveness
from the plan. Both compute heartbeat ``k``'s send time as ``base + k * period`` — the
very float the pile's own schedule uses — so the frames around the plan are the ones a
full exchange gives, byte for byte.

Pure data: no clock, no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class HeartbeatPlan:
    """Heartbeats ``k >= first_k`` sent at ``base + k * period`` before ``until``, each
    reaching the platform ``latency`` seconds later and answered."""

    base: float
    period: float
    first_k: int
    until: float
    latency: float = 0.0

    @classmethod
    def on_link(
        cls,
        base: float,
        period: float,
        first_k: int,
        latency: float,
        reply_latency: float,
        change: float = math.inf,
    ) -> HeartbeatPlan:
        """The plan for a link that stays up until ``change``: a heartbeat counts if its
        reply is in before then (computed as the link model times it: ``sent + latency``
        up, ``+ reply_latency`` down, lost when the change comes first)."""
        until = math.inf
        if change < math.inf:
            k = max(first_k, math.floor((change - latency - reply_latency - base) / period) - 1)
            while k > first_k and (base + (k - 1) * period + latency) + reply_latency >= change:
                k -= 1
            while (base + k * period + latency) + reply_latency < change:
                k += 1
            until = base + k * period
        return cls(base, period, first_k, until, latency)

    def sent_at(self, k: int) -> float:
        return self.base + k * self.period

    def last_sent_before(self, t: float) -> int:
        """The last ``k`` sent before ``min(t, until)``; ``first_k - 1`` if none."""
        limit = min(t, self.until)
        if limit == math.inf:
            raise ValueError("an open-ended plan has no last heartbeat")
        base, period = self.base, self.period
        k = max(self.first_k - 1, math.floor((limit - base) / period))
        while k >= self.first_k and base + k * period >= limit:
            k -= 1
        while base + (k + 1) * period < limit:
            k += 1
        return k

    def last_arrived_before(self, t: float) -> int:
        """The last ``k`` whose heartbeat reached the platform before ``t``; ``first_k - 1``
        if none. (At one instant, timers run before bytes arrive: the driver's order.)"""
        base, period, latency = self.base, self.period, self.latency
        k = math.floor((t - latency - base) / period) + 1
        if self.until < math.inf:
            k = min(k, self.last_sent_before(self.until))
        while k >= self.first_k and base + k * period + latency >= t:
            k -= 1
        return max(k, self.first_k - 1)

    def last_arrival_before(self, t: float) -> float | None:
        """When the latest heartbeat that reached the platform before ``t`` arrived."""
        k = self.last_arrived_before(t)
        return None if k < self.first_k else self.sent_at(k) + self.latency

    def ended_at(self, k: int) -> HeartbeatPlan:
        """This plan cut so that heartbeat ``k`` and later are real again."""
        return replace(self, until=self.sent_at(k)) if self.sent_at(k) < self.until else self
