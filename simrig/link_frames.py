"""Frame-level faults of the link model: rules on the Nth frame of a type, event outages.

The byte-level :class:`~simrig.link.LinkModel` sees writes; this layer splits a
direction's byte stream into YKC frames with the tolerant
:class:`~simrig.protocol.ykc.Framer` (protocol §1.2–§1.4) and decides per frame before
the byte faults apply to it:

* :class:`FrameRule` — drop, delay or duplicate the ``nth`` … ``nth + times - 1``
  frames of one type in one direction (counted as written, per link): withhold the
  backend's 0x40 acks three times (§4.12, S1 §8.7 retries), resend a 0x36 stop
  (zshy_case#23).
* :class:`EventOutage` — an outage window opened by a protocol event: ``after_s`` after
  the first frame of a type of each session (order serial), or after its Nth frame,
  lasting ``duration_s`` (zpd_case#12: offline mid-charge). The window is added to both
  directions of the link; with ``after_s = 0`` the frame that opens it is lost too.

Bytes outside any frame (garbage, a frame with a bad CRC) pass as they are, subject to
the byte faults only; bytes of a frame not yet complete are held until it is (or
:meth:`FrameFaults.flush`). A link without frame faults has no such layer at all, so its
deliveries (and rng draws) are those of the plain byte model, byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from simrig.protocol.ykc import Frame, Framer

__all__ = [
    "Decision",
    "EventOutage",
    "FrameFaults",
    "FrameRule",
    "OutageTarget",
]

Direction = Literal["up", "down"]
Action = Literal["drop", "delay", "duplicate"]
ZERO_SERIAL = "0" * 32


@dataclass(frozen=True, slots=True)
class FrameRule:
    """Act on frames ``nth`` … ``nth + times - 1`` of ``frame_type`` written in ``direction``
    (``times = 0``: every one from the ``nth`` on). ``delay_s``: the extra hold of a
    ``delay``, or the gap before a ``duplicate``'s copy (0: right behind it)."""

    direction: Direction
    frame_type: int
    action: Action
    nth: int = 1
    times: int = 1
    delay_s: float = 0.0

    def __post_init__(self) -> None:
        if self.nth < 1 or self.times < 0 or self.delay_s < 0:
            raise ValueError("a frame rule needs nth >= 1, times >= 0 and delay_s >= 0")

    def hits(self, count: int) -> bool:
        """Whether the ``count``-th frame of its type (1-based) is one it acts on."""
        return count >= self.nth and (self.times == 0 or count < self.nth + self.times)


@dataclass(frozen=True, slots=True)
class EventOutage:
    """An outage ``after_s`` after a frame of ``frame_type`` in ``direction``, lasting
    ``duration_s``: after the first such frame of each order serial (``nth = 0``: "60 s
    after a session's first 0x13"), or after the ``nth`` such frame only."""

    direction: Direction
    frame_type: int
    after_s: float
    duration_s: float
    nth: int = 0

    def __post_init__(self) -> None:
        if self.after_s < 0 or self.duration_s <= 0 or self.nth < 0:
            raise ValueError("an event outage needs after_s >= 0, duration_s > 0, nth >= 0")


@dataclass(frozen=True, slots=True)
class Decision:
    """What the frame layer does with one unit of bytes before the byte faults."""

    drop: bool = False
    hold_s: float = 0.0
    #: deliver a copy this long after the unit (None: no copy)
    copy_after_s: float | None = None
    #: the rule that decided (for the stats), or None
    rule: FrameRule | None = None


PASS = Decision()


class OutageTarget(Protocol):
    """What an event outage is added to (both directions' :class:`~simrig.link.LinkModel`)."""

    def add_outage(self, start: float, end: float) -> None: ...


@dataclass
class _Side:
    """One direction's framing state: the framer, the bytes it holds, frame counts."""

    framer: Framer = field(default_factory=lambda: Framer(tolerant=True))
    held: bytearray = field(default_factory=bytearray)
    counts: dict[int, int] = field(default_factory=dict)


class FrameFaults:
    """Frame rules and event outages of one link (both directions share the counts'
    owner, so an event seen up can open an outage down too)."""

    def __init__(
        self, rules: Sequence[FrameRule] = (), outages: Sequence[EventOutage] = ()
    ) -> None:
        self.rules = tuple(rules)
        self.event_outages = tuple(outages)
        self._sides: dict[str, _Side] = {"up": _Side(), "down": _Side()}
        self._targets: list[OutageTarget] = []
        self._sessions_seen: set[tuple[int, str, str]] = set()
        #: (start, end) of every window the events opened, in order
        self.opened: list[tuple[float, float]] = []
        #: frames each rule acted on, by rule index
        self.applied: list[int] = [0] * len(self.rules)

    def __bool__(self) -> bool:
        return bool(self.rules or self.event_outages)

    def attach(self, *targets: OutageTarget) -> None:
        """The directions event outages are added to."""
        self._targets.extend(targets)

    # -- splitting -----------------------------------------------------------------------
    def units(self, direction: Direction, data: bytes, now: float) -> list[tuple[bytes, Decision]]:
        """Split ``data`` (with what was held) into frames and the bytes between them,
        in stream order, each with its decision; an incomplete frame's bytes are held."""
        side = self._sides[direction]
        side.held += data
        items = side.framer.feed(data)
        consumed = len(side.held) - side.framer.pending
        buf = side.held
        out: list[tuple[bytes, Decision]] = []
        pos = 0
        for item in items:
            if not isinstance(item, Frame):
                continue
            start = buf.find(item.raw, pos, consumed)
            if start < 0:
                continue
            if start > pos:
                out.append((bytes(buf[pos:start]), PASS))
            out.append((item.raw, self._decide(direction, item, now)))
            pos = start + len(item.raw)
        if consumed > pos:
            out.append((bytes(buf[pos:consumed]), PASS))
        del buf[:consumed]
        return out

    def flush(self, direction: Direction) -> bytes:
        """End of stream (a closed connection): the bytes still held, as they are."""
        side = self._sides[direction]
        rest = bytes(side.held)
        side.held.clear()
        side.framer = Framer(tolerant=True)
        return rest

    # -- deciding ------------------------------------------------------------------------
    def _decide(self, direction: Direction, frame: Frame, now: float) -> Decision:
        counts = self._sides[direction].counts
        code = frame.type
        count = counts[code] = counts.get(code, 0) + 1
        self._events(direction, frame, count, now)
        for i, rule in enumerate(self.rules):
            if rule.direction != direction or rule.frame_type != code or not rule.hits(count):
                continue
            self.applied[i] += 1
            if rule.action == "drop":
                return Decision(drop=True, rule=rule)
            if rule.action == "delay":
                return Decision(hold_s=rule.delay_s, rule=rule)
            return Decision(copy_after_s=rule.delay_s, rule=rule)
        return PASS

    def _events(self, direction: Direction, frame: Frame, count: int, now: float) -> None:
        for i, ev in enumerate(self.event_outages):
            if ev.direction != direction or ev.frame_type != frame.type:
                continue
            if ev.nth:
                fire = count == ev.nth
            else:
                serial = str(getattr(frame.message, "serial", ZERO_SERIAL))
                key = (i, getattr(frame.message, "pile_no", ""), serial)
                fire = serial != ZERO_SERIAL and key not in self._sessions_seen
                self._sessions_seen.add(key)
            if fire:
                window = (now + ev.after_s, now + ev.after_s + ev.duration_s)
                self.opened.append(window)
                for target in self._targets:
                    target.add_outage(*window)


def rules_summary(rules: Iterable[FrameRule]) -> list[str]:
    """One readable line per rule (``down 0x40 drop #1-3``)."""
    lines = []
    for r in rules:
        last = "…" if r.times == 0 else str(r.nth + r.times - 1)
        extra = f" {r.delay_s:g}s" if r.delay_s else ""
        lines.append(f"{r.direction} 0x{r.frame_type:02X} {r.action}{extra} #{r.nth}-{last}")
    return lines
