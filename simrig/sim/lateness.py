"""The rig's own lateness in a real-time run, and the verdicts it makes unknowable.

A real-time driver fires each pile's timer when the loop gets to it. On a loaded machine
or at a high ``--speed`` it can get there late: at ``--speed 100`` a 0.3 s stall of the
rig is 30 scenario seconds without a heartbeat, and a backend that then marks the pile
offline (and sends "charge finished (offline)") does exactly what it should. A verdict
that blames the backend for what the rig's delay caused is the worst bug simrig can ship;
so a session whose codes or false notices fall where the rig ran late is not judged, and
the report says the rig was late, by how much, where.

Pure: the driver tells :class:`Lateness` when each timer was due and when it fired
(scenario seconds); nothing here reads a clock.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from simrig.oracle.judge import SessionVerdict
from simrig.sim.results import ExpectationResult

__all__ = ["RIG_LATE_S", "LateSpell", "Lateness", "unjudge_where_late"]

#: a pile timer fired later than this (scenario seconds) is the rig running late. Under it
#: a backend cannot tell: a heartbeat (§4.3: every 10 s) this late leaves 25 s of
#: silence, short of the usual offline rule (3 missed heartbeats, 30 s), and every time
#: is far inside the oracle's tolerances (120 s)
RIG_LATE_S = 15.0
#: a late spell's effects outlast it: the backend may act on the gap up to this much later
#: (three missed heartbeats at 10 s, the usual offline rule, plus a heartbeat)
EFFECT_S = 40.0


@dataclass
class LateSpell:
    """One stretch where a pile's timers fired late: from the first late deadline to the
    last late firing, and the worst delay in it (scenario seconds)."""

    start: float
    end: float
    worst_s: float

    def text(self, pile_no: str, speed: float) -> str:
        real = f", {1000 * self.worst_s / speed:.0f} ms real at {speed:g}x" if speed != 1 else ""
        return (
            f"{pile_no}: the rig ran late, up to {self.worst_s:.1f} s of scenario time"
            f"{real}, between t={self.start:.0f} s and t={self.end:.0f} s"
        )


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

    def overlapping(self, pile_no: str, start: float, end: float) -> LateSpell | None:
        """The worst spell of ``pile_no`` whose effects reach into ``[start, end]``."""
        spells = self.spells.get(pile_no, ())
        found = [s for s in spells if s.start <= end and start <= s.end + EFFECT_S]
        return max(found, key=lambda s: s.worst_s, default=None)


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
        reasons[v.key] = spell.text(t.pile_no, speed) + " (timing the rig did not keep)"
        out.append(dataclasses.replace(v.unjudged(reasons[v.key]), false_notifications=()))
    checked = [
        dataclasses.replace(e, passed=False, actual=f"not judged ({reasons[e.key]})")
        if e.key in reasons
        else e
        for e in expectations
    ]
    return out, checked
