"""The rig's own lateness in a real-time run, and the verdicts it makes unknowable.

A real-time driver fires each pile's timer when the loop gets to it. On a loaded machine
or at a high ``--speed`` it can get there late: at ``--speed 100`` a 0.3 s stall of the
rig is 30 scenario seconds without a heartbeat, and a backend that then marks the pile
offline (and sends "charge finished (offline)") does exactly what it should. A verdict
that blames the backend for what the rig's delay caused is the worst bug simrig can ship;
so a session whose codes or false notices fall where the rig ran late is not judged, and
the report says the rig was late, by how much, where.

The backend's own short stalls are the same trap the other way round: at ``--speed
600`` a backend (or the machine under it) that pauses 50 ms is silent for 30 scenario
seconds, and a pile gives it up after three unanswered heartbeats. At real speed that
pause would change nothing, so the rig cannot tell a hiccup from an outage:
:class:`BackendSilences` turns such a give-up into a spell too, of the backend's.

Pure: the driver tells :class:`Lateness` when each timer was due and when it fired, and
:class:`BackendSilences` when the backend spoke and when a pile gave it up (scenario
seconds); nothing here reads a clock.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from simrig.endpoint import Event
from simrig.link import Link
from simrig.oracle.judge import SessionVerdict
from simrig.sim.results import ExpectationResult

__all__ = [
    "BACKEND_HICCUP_S",
    "RIG_LATE_S",
    "BackendSilences",
    "LateSpell",
    "Lateness",
    "gives_backend_up",
    "unjudge_where_late",
]

#: a pile timer fired later than this (scenario seconds) is the rig running late. Under it
#: a backend cannot tell: a heartbeat (§4.3: every 10 s) this late leaves 25 s of
#: silence, short of the usual offline rule (3 missed heartbeats, 30 s), and every time
#: is far inside the oracle's tolerances (120 s)
RIG_LATE_S = 15.0
#: a late spell's effects outlast it: the backend may act on the gap up to this much later
#: (three missed heartbeats at 10 s, the usual offline rule, plus a heartbeat)
EFFECT_S = 40.0
#: a backend silent for less than this (real seconds) had a hiccup, not an outage: at
#: real speed it is far short of the three missed heartbeats (30 s, §4.3) that make a
#: pile give a backend up, and a loaded machine or a garbage collector pauses this long
BACKEND_HICCUP_S = 1.0


@dataclass
class LateSpell:
    """One stretch where a pile's timers fired late: from the first late deadline to the
    last late firing, and the worst delay in it (scenario seconds)."""

    start: float
    end: float
    worst_s: float
    #: the backend's silence, sped up (:class:`BackendSilences`), not the rig's lateness
    backend: bool = False
    #: the reply the backend sent that late (:func:`slow_replies`); "": it sent nothing
    reply: str = ""

    def text(self, pile_no: str, speed: float) -> str:
        real = f", {1000 * self.worst_s / speed:.0f} ms real at {speed:g}x" if speed != 1 else ""
        where = f"between t={self.start:.0f} s and t={self.end:.0f} s"
        if self.reply:
            return (
                f"{pile_no}: the backend answered with {self.reply} after {self.worst_s:.1f} s "
                f"of scenario time{real}, {where}: too short to tell a slow backend from a "
                "hiccup; judge it at a lower --speed"
            )
        if self.backend:
            return (
                f"{pile_no}: the backend was silent {self.worst_s:.1f} s of scenario time{real}, "
                f"{where}, and the pile gave it up: too short to tell an outage from a "
                "hiccup; judge it at a lower --speed"
            )
        return (
            f"{pile_no}: the rig ran late, up to {self.worst_s:.1f} s of scenario time"
            f"{real}, {where}"
        )

    def reason(self, pile_no: str, speed: float) -> str:
        """Why a session it reaches is not judged."""
        why = (
            "timing sped up past what the rig can tell"
            if self.backend
            else "timing the rig did not keep"
        )
        return f"{self.text(pile_no, speed)} ({why})"


@dataclass
class Lateness:
    """Per pile, the spells where its timers fired over ``threshold_s`` late."""

    threshold_s: float = RIG_LATE_S
    spells: dict[str, list[LateSpell]] = field(default_factory=dict)
    #: the worst delay of any timer (scenario seconds), late or not
    worst_s: float = 0.0

    def note(self, pile_no: str, due: float, fired: float) -> None:
        """A timer of ``pile_no`` due at ``due`` fired at ``fired`` (scenario seconds)."""
        late = fired - due
        if late > self.worst_s:
            self.worst_s = late
        if late <= self.threshold_s:
            return
        spells = self.spells.setdefault(pile_no, [])
        if spells and due <= spells[-1].end + EFFECT_S:
            last = spells[-1]
            last.end = max(last.end, fired)
            last.worst_s = max(last.worst_s, late)
        else:
            spells.append(LateSpell(due, fired, late))

    def settle(self) -> None:
        """One stall, one line. A backend spell that a spell of the rig's own lateness
        overlaps goes: what the backend seemed to do then may be the rig's stall (it read
        the backend's bytes late), and the rig's spell says so. A slow reply that a
        silence of the backend overlaps goes too: the silence says it."""
        for spells in self.spells.values():
            rig = [s for s in spells if not s.backend]
            silences = [s for s in spells if s.backend and not s.reply]
            spells[:] = [
                s
                for s in spells
                if not s.backend or not (_overlaps(s, rig) or (s.reply and _overlaps(s, silences)))
            ]

    def backend_silent(self, pile_no: str, start: float, end: float, reply: str = "") -> None:
        """The backend was silent over ``[start, end]`` and a pile gave it up, or it sent
        ``reply`` only at ``end`` (a spell of its own: never merged with the rig's
        lateness)."""
        spell = LateSpell(start, end, end - start, True, reply)
        self.spells.setdefault(pile_no, []).append(spell)

    def overlapping(self, pile_no: str, start: float, end: float) -> LateSpell | None:
        """The worst spell of ``pile_no`` whose effects reach into ``[start, end]``."""
        spells = self.spells.get(pile_no, ())
        found = [s for s in spells if s.start <= end and start <= s.end + EFFECT_S]
        return max(found, key=lambda s: s.worst_s, default=None)


def _overlaps(spell: LateSpell, others: Sequence[LateSpell]) -> bool:
    return any(o.start <= spell.end and spell.start <= o.end for o in others)


def unjudge_where_late(
    verdicts: Sequence[SessionVerdict],
    expectations: Sequence[ExpectationResult],
    lateness: Lateness,
    seconds: Callable[[datetime], float],
    end: float,
    speed: float,
) -> tuple[list[SessionVerdict], list[ExpectationResult]]:
    """Sessions with codes or false notices whose time (plug-in to unplug, or the run's
    end) the rig's lateness reached are "not judged", and so are their expectations. A
    clean session stays judged: the backend billed right what really happened."""
    out: list[SessionVerdict] = []
    reasons: dict[str, str] = {}
    for v in verdicts:
        blames = v.judged and (v.codes or v.false_notifications)
        t = v.truth
        spell = (
            lateness.overlapping(
                t.pile_no, seconds(t.plug_at), end if t.unplug_at is None else seconds(t.unplug_at)
            )
            if blames
            else None
        )
        if spell is None:
            out.append(v)
            continue
        reasons[v.key] = spell.reason(t.pile_no, speed)
        out.append(dataclasses.replace(v.unjudged(reasons[v.key]), false_notifications=()))
    checked = [
        dataclasses.replace(e, passed=False, actual=f"not judged ({reasons[e.key]})")
        if e.key in reasons
        else e
        for e in expectations
    ]
    return out, checked


def gives_backend_up(event: Event) -> bool:
    """A pile event that ends waiting for the backend: three heartbeats unanswered
    (§4.3), no login reply (§4.2) or no card authorisation reply (0x32, §4.8) in time."""
    kind = event.kind
    if kind == "start_refused":
        return event.data.get("why") == "auth_timeout"
    return kind in ("heartbeat_lost", "login_timeout")


@dataclass
class _Heard:
    """When the backend last sent a pile bytes, the pile's link faults then, and whether
    the pile has given the backend up since."""

    at: float = float("-inf")
    faults: int = 0
    given_up: bool = False


class BackendSilences:
    """Per pile, the backend silences that made the pile give it up
    (:func:`gives_backend_up`) and were over in under :data:`BACKEND_HICCUP_S` real
    seconds: each is a spell of :class:`Lateness`. A give-up the scenario's own link
    explains (an outage, a frame lost, corrupted or held by the link's faults since the
    backend last spoke; its latency) is no silence of the backend's, and neither is one
    the backend ended only after a second or more of real time: that verdict stands."""

    def __init__(self, lateness: Lateness, speed: float) -> None:
        self._lateness = lateness
        self._longest_s = BACKEND_HICCUP_S * speed  # scenario seconds
        self._piles: dict[str, _Heard] = {}

    def heard(self, pile_no: str, t: float, link: Link) -> None:
        """The backend sent ``pile_no`` bytes at ``t``."""
        heard = self._piles.setdefault(pile_no, _Heard())
        if heard.given_up and t - heard.at < self._longest_s:
            self._lateness.backend_silent(pile_no, heard.at, t)
        heard.at, heard.faults, heard.given_up = t, _faults(link), False

    def given_up(self, pile_no: str, t: float, link: Link) -> None:
        """``pile_no`` gave the backend up at ``t`` (:func:`gives_backend_up`)."""
        heard = self._piles.setdefault(pile_no, _Heard())
        if _faults(link) != heard.faults or t - heard.at < RIG_LATE_S + _delay(link):
            return  # the link's own faults, or a backend that spoke while the pile waited
        outage = not link.is_up(heard.at) or (link.next_change(heard.at) or t) < t
        heard.given_up = not outage

    def end(self, t: float) -> None:
        """The run ends at ``t``: a silence still open and short so far is not known to
        be an outage either."""
        for pile_no, heard in self._piles.items():
            if heard.given_up and t - heard.at < self._longest_s:
                self._lateness.backend_silent(pile_no, heard.at, t)
                heard.given_up = False


#: a request and the reply the backend owes it: login (§4.1/§4.2), heartbeat (§4.3),
#: card start (0x31/0x32, §4.7/§4.8), bill (0x3B/0x40, §4.12)
_REPLY_TO = {0x01: 0x02, 0x03: 0x04, 0x31: 0x32, 0x3B: 0x40}
#: events that end a connection: its unanswered requests will never be answered
_CONNECTION_ENDS = frozenset({"connected", "disconnected", "link_down"})


def slow_replies(
    events: Iterable[Event], links: Mapping[str, Link], lateness: Lateness, speed: float
) -> None:
    """Replies the backend sent over :data:`RIG_LATE_S` late (beyond the link's own
    delays) yet within :data:`BACKEND_HICCUP_S` real seconds: at this speed a backend's
    ordinary stall moves the times it records past the oracle's tolerances, so each is a
    spell of :class:`Lateness`, the backend's. Read from the pile's frame events, each
    reply against the latest request it can answer (a backend that ignored a request
    and answered its retransmission at once is not slow: that verdict stands); a pile
    whose link loses, corrupts or holds frames is left out (its replies may be the
    link's doing)."""
    longest = BACKEND_HICCUP_S * speed
    clean = {p: link for p, link in links.items() if not _faults(link) and link.frames is None}
    #: per pile, per reply type owed, the times of the requests still unanswered
    waiting: dict[str, dict[Any, list[float]]] = {}
    for e in events:
        pile_no = e.source
        link = clean.get(pile_no)
        if link is None:
            continue
        if e.kind in _CONNECTION_ENDS:
            waiting.pop(pile_no, None)
        elif e.kind == "frame_sent" and e.data.get("type") in _REPLY_TO:
            owed = waiting.setdefault(pile_no, {})
            owed.setdefault(_REPLY_TO[e.data["type"]], []).append(e.t)
        elif e.kind == "frame_received" and (asked := waiting.get(pile_no, {}).get(e.data["type"])):
            sent = asked.pop()  # the latest request: a retransmission answered at once is
            asked.clear()  # a backend that ignored the first, which is its own verdict
            late = e.t - sent - _round_trip(link)
            if RIG_LATE_S < late < longest:
                lateness.backend_silent(pile_no, sent, e.t, str(e.data.get("name", "a reply")))


def _faults(link: Link) -> int:
    """Frames the link's fault model has lost, dropped or held back so far, both ways."""
    total = 0
    for stats in (link.up.stats, link.down.stats):
        total += stats.lost_outage + stats.lost_random + stats.lost_in_flight
        total += stats.dropped_by_rule + stats.delayed_by_rule + stats.corrupted
    return total


def _delay(link: Link) -> float:
    """The most the link holds the backend's bytes back (scenario seconds)."""
    return link.down.latency_s + link.down.jitter_s


def _round_trip(link: Link) -> float:
    """The most the link adds to a request and its reply (scenario seconds)."""
    return link.up.latency_s + link.up.jitter_s + _delay(link)
