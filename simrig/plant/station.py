"""The plant of a site: every physical pile, looked up by number (pure)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from simrig.plant.gun import Gun
from simrig.plant.pile import ChangeListener, PhysicalPile
from simrig.plant.specs import PileSpec
from simrig.plant.truth import TruthSession


class Plant:
    """All piles of a scenario, keyed by pile number; guns keyed by (pile_no, gun)."""

    def __init__(self) -> None:
        self._piles: dict[str, PhysicalPile] = {}
        self._sessions: list[TruthSession] = []
        self._listeners: list[ChangeListener] = []

    def add_pile(
        self,
        pile_no: str,
        spec: PileSpec,
        *,
        meter_start_kwh: float | Sequence[float] = 0.0,
        meter_factor: float | Sequence[float] = 1.0,
    ) -> PhysicalPile:
        """Install a pile; meter start/factor may be given per gun."""
        if pile_no in self._piles:
            raise ValueError(f"pile {pile_no} already exists")
        pile = PhysicalPile(
            pile_no,
            spec,
            meter_start_kwh=meter_start_kwh,
            meter_factor=meter_factor,
            sessions=self._sessions,
            listeners=self._listeners,
        )
        self._piles[pile_no] = pile
        return pile

    def add_listener(self, listener: ChangeListener) -> None:
        """Call ``listener(pile, now)`` whenever a pile's state changes: plug, unplug,
        handshake, contactor, current starting or stopping (BMS, e-stop, power cut),
        the power limit or the budget's split between guns.

        The call comes after the change, with the pile's state valid at ``now``; read
        it at ``now`` only (reading later would advance the pile inside its own step).
        Several changes at one instant are several calls. A pile that nobody reads is
        advanced lazily: its spontaneous changes (handshake result, BMS full) are told
        when it is next advanced, still with their own ``now``.
        """
        self._listeners.append(listener)

    def remove_listener(self, listener: ChangeListener) -> None:
        """Stop calling ``listener`` (ValueError if it was not added)."""
        self._listeners.remove(listener)

    def pile(self, pile_no: str) -> PhysicalPile:
        """A pile by number."""
        return self._piles[pile_no]

    def gun(self, pile_no: str, gun: int) -> Gun:
        """Gun by (pile number, 1-based gun number)."""
        return self._piles[pile_no].gun(gun)

    def __getitem__(self, key: tuple[str, int]) -> Gun:
        return self.gun(*key)

    def piles(self) -> Iterator[PhysicalPile]:
        """Piles in installation order."""
        return iter(self._piles.values())

    def advance(self, now: float) -> None:
        """Advance every pile to ``now``."""
        for pile in self._piles.values():
            pile.advance(now)

    def next_event_time(self, now: float) -> float | None:
        """Earliest spontaneous change over all piles after ``now``, or None."""
        times = [t for p in self._piles.values() if (t := p.next_event_time(now)) is not None]
        return min(times) if times else None

    def power_cut(self, now: float) -> None:
        """Station-wide power cut."""
        for pile in self._piles.values():
            pile.power_cut(now)

    def power_restore(self, now: float) -> None:
        """Station-wide power restore."""
        for pile in self._piles.values():
            pile.power_restore(now)

    def truth_sessions(self, now: float | None = None) -> list[TruthSession]:
        """All truth sessions in plug order; with ``now``, open ones are brought up to it."""
        if now is not None:
            self.advance(now)
        return list(self._sessions)
