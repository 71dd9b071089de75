"""Pure network fault model: latency, jitter, loss, duplicates, corruption, outages.

The sans-IO cousin of simpy's ``Cable`` example: ``send(data, now)`` does not move bytes,
it *answers* when (and as what) they arrive, and the driver (simpy, asyncio, an in-memory
pump) schedules the deliveries. Drivers call it once per write (typically one frame).

Rules, in this order, for ``LinkModel.send(data, now)``:

1. An outage covering ``now`` (``start <= now < end``) swallows the data.
2. Otherwise ``loss`` drops it; ``corrupt`` XORs one byte with a non-zero mask;
   ``duplicate`` delivers it twice (same time, same bytes).
3. Delivery time = max(now + latency + U[0, jitter), previous delivery time): FIFO like a
   TCP stream, a later send never overtakes an earlier one.
4. Data still in flight when an outage starts is lost (``start <= delivery time``).

Each send that meets an up link draws exactly six numbers from the rng whatever the
parameters, so the same seed and the same sends give the same deliveries, byte for byte.

**Frame faults** (:mod:`simrig.link_frames`): a link given :class:`FrameFaults` splits
each direction's bytes into frames first and applies its frame rules (drop, delay,
duplicate the Nth frame of a type) and event outages before the rules above, per frame.
Without them ``send`` is the plain byte model above (existing runs stay byte-identical).
A duplicate sent with a gap may arrive after later data: deliveries are sorted by time.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, Protocol

from simrig.link_frames import EventOutage, FrameFaults, FrameRule

__all__ = [
    "Delivery",
    "EventOutage",
    "FrameFaults",
    "FrameRule",
    "Link",
    "LinkModel",
    "LinkStats",
    "RandomSource",
]

Delivery = tuple[float, bytes]
"""(arrival time in seconds since the scenario epoch, bytes as received)."""


class RandomSource(Protocol):
    """What the link needs from an rng (``random.Random`` fits)."""

    def random(self) -> float: ...


@dataclass(slots=True)
class LinkStats:
    """Counters per direction (one send counts once, however it ends)."""

    sent: int = 0
    lost_outage: int = 0
    lost_random: int = 0
    lost_in_flight: int = 0
    duplicated: int = 0
    corrupted: int = 0
    delivered: int = 0  # delivery tuples returned (a duplicate counts twice)
    dropped_by_rule: int = 0  # frames a frame rule dropped
    delayed_by_rule: int = 0  # frames a frame rule held back
    duplicated_by_rule: int = 0  # frames a frame rule sent twice


class LinkModel:
    """One direction of a byte link with faults (see module docstring for the rules).

    ``rng`` may be None only for a fault-free, jitter-free link.
    ``outages`` are [start, end) windows in scenario seconds; overlapping ones are merged.
    """

    def __init__(
        self,
        rng: RandomSource | None,
        latency_s: float = 0.0,
        jitter_s: float = 0.0,
        loss: float = 0.0,
        duplicate: float = 0.0,
        corrupt: float = 0.0,
        outages: Iterable[tuple[float, float]] = (),
    ) -> None:
        if latency_s < 0 or jitter_s < 0:
            raise ValueError("latency_s and jitter_s must be >= 0")
        for name, p in (("loss", loss), ("duplicate", duplicate), ("corrupt", corrupt)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} must be a probability within 0..1, got {p}")
        if rng is None and (jitter_s or loss or duplicate or corrupt):
            raise ValueError("an rng is required for jitter, loss, duplicate or corrupt")
        self.rng = rng
        self.latency_s = latency_s
        self.jitter_s = jitter_s
        self.loss = loss
        self.duplicate = duplicate
        self.corrupt = corrupt
        self.outages: tuple[tuple[float, float], ...] = _merge(outages)
        self._starts = [s for s, _ in self.outages]
        self._last_delivery = float("-inf")
        self.stats = LinkStats()
        #: the link's frame faults and this model's direction (see :meth:`Link.with_frames`)
        self.frames: FrameFaults | None = None
        self.direction: Literal["up", "down"] = "up"

    def __repr__(self) -> str:
        return (
            f"LinkModel(latency_s={self.latency_s}, jitter_s={self.jitter_s}, loss={self.loss}, "
            f"duplicate={self.duplicate}, corrupt={self.corrupt}, outages={list(self.outages)})"
        )

    def is_up(self, now: float) -> bool:
        """False while an outage window covers ``now``."""
        if not self._starts:
            return True
        i = bisect.bisect_right(self._starts, now) - 1
        return i < 0 or now >= self.outages[i][1]

    def next_change(self, now: float) -> float | None:
        """The next outage boundary strictly after ``now``, or None."""
        if not self._starts:
            return None
        i = bisect.bisect_right(self._starts, now) - 1
        if i >= 0 and now < self.outages[i][1]:
            return self.outages[i][1]
        j = i + 1
        return self.outages[j][0] if j < len(self.outages) else None

    def add_outage(self, start: float, end: float) -> None:
        """Open one more outage window (an event outage of the frame layer)."""
        self.outages = _merge((*self.outages, (start, end)))
        self._starts = [s for s, _ in self.outages]

    def send(self, data: bytes, now: float) -> list[Delivery]:
        """Deliveries for ``data`` sent at ``now``: [], one, or more (time, bytes), in order."""
        frames = self.frames
        if frames is None:
            return self._send(data, now)
        out: list[Delivery] = []
        stats = self.stats
        for unit, decision in frames.units(self.direction, data, now):
            if decision.drop:
                stats.dropped_by_rule += 1
                continue
            if decision.hold_s:
                stats.delayed_by_rule += 1
            if decision.copy_after_s is not None:
                stats.duplicated_by_rule += 1
            out += self._send(unit, now, decision.hold_s, decision.copy_after_s)
        if len(out) > 1:
            out.sort(key=lambda d: d[0])  # stable: same-time deliveries keep their order
        return out

    def flush(self, now: float) -> list[Delivery]:
        """End of stream: the bytes the frame layer still holds (an incomplete frame)."""
        if self.frames is None:
            return []
        rest = self.frames.flush(self.direction)
        return self._send(rest, now) if rest else []

    def _send(
        self, data: bytes, now: float, hold_s: float = 0.0, copy_after_s: float | None = None
    ) -> list[Delivery]:
        stats = self.stats
        stats.sent += 1
        if not self.is_up(now):
            stats.lost_outage += 1
            return []
        rng = self.rng
        if rng is None:
            u_loss = u_dup = u_cor = u_jit = u_pos = u_mask = 1.0
        else:
            u_loss, u_dup, u_cor = rng.random(), rng.random(), rng.random()
            u_jit, u_pos, u_mask = rng.random(), rng.random(), rng.random()
        if u_loss < self.loss:
            stats.lost_random += 1
            return []
        t = max(now + self.latency_s + self.jitter_s * u_jit + hold_s, self._last_delivery)
        nxt = self.next_change(now)
        if nxt is not None and nxt <= t:  # an outage starts while the data is in flight
            stats.lost_in_flight += 1
            return []
        self._last_delivery = t
        if data and u_cor < self.corrupt:
            i = min(int(u_pos * len(data)), len(data) - 1)
            mask = 1 + min(int(u_mask * 255), 254)
            buf = bytearray(data)
            buf[i] ^= mask
            data = bytes(buf)
            stats.corrupted += 1
        out = [(t, data)]
        if u_dup < self.duplicate:
            stats.duplicated += 1
            out.append((t, data))
        if copy_after_s is not None:
            copy_at = t + copy_after_s
            if nxt is None or copy_at < nxt:  # a copy an outage catches in flight is lost
                out.append((copy_at, data))
        stats.delivered += len(out)
        return out


class Link:
    """A pair of directions: ``up`` (pile → platform) and ``down`` (platform → pile)."""

    def __init__(self, up: LinkModel, down: LinkModel) -> None:
        self.up = up
        self.down = down

    @classmethod
    def symmetric(
        cls,
        rng_up: RandomSource | None,
        rng_down: RandomSource | None = None,
        *,
        latency_s: float = 0.0,
        jitter_s: float = 0.0,
        loss: float = 0.0,
        duplicate: float = 0.0,
        corrupt: float = 0.0,
        outages: Iterable[tuple[float, float]] = (),
    ) -> Link:
        """Both directions with the same parameters; ``rng_down`` defaults to ``rng_up``."""
        windows = tuple(outages)

        def make(rng: RandomSource | None) -> LinkModel:
            return LinkModel(rng, latency_s, jitter_s, loss, duplicate, corrupt, windows)

        return cls(make(rng_up), make(rng_up if rng_down is None else rng_down))

    def with_frames(self, faults: FrameFaults) -> Link:
        """Put frame rules and event outages on both directions (no-op if there are none)."""
        if faults:
            self.up.frames, self.up.direction = faults, "up"
            self.down.frames, self.down.direction = faults, "down"
            faults.attach(self.up, self.down)
        return self

    @property
    def frames(self) -> FrameFaults | None:
        return self.up.frames

    def new_stream(self) -> None:
        """A new connection: bytes of an incomplete frame held from the last one are void
        (frame counts and event outages go on)."""
        if self.up.frames is not None:
            self.up.frames.flush("up")
            self.up.frames.flush("down")

    def is_up(self, now: float) -> bool:
        """Both directions are up."""
        return self.up.is_up(now) and self.down.is_up(now)

    def next_change(self, now: float) -> float | None:
        """The next outage boundary of either direction after ``now``, or None."""
        up, down = self.up.next_change(now), self.down.next_change(now)
        if up is None or down is None:
            return down if up is None else up
        return min(up, down)


def _merge(windows: Iterable[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
    """Validate, sort and merge [start, end) windows."""
    merged: list[tuple[float, float]] = []
    for start, end in sorted((float(s), float(e)) for s, e in windows):
        if not start < end:
            raise ValueError(f"outage window must have start < end, got ({start}, {end})")
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)
