"""Truth samples for the timeline plots, shared by the virtual and the real-time driver.

A pile's plant (meter, power, plug, charging per gun) is sampled when the pile sends
bytes, at most every ``every_s`` scenario seconds per pile, and right after every
scenario stimulus (:meth:`TruthSampler.stimulus`), so the plots see each change.
"""

from __future__ import annotations

from simrig.plant import Plant
from simrig.sim.results import TruthSample

__all__ = ["SAMPLE_EVERY_S", "TruthSampler"]

#: truth samples (for the timeline plots) at most this often per pile
SAMPLE_EVERY_S = 15.0


class TruthSampler:
    """Samples ``plant`` per pile into :attr:`samples` (scenario seconds)."""

    def __init__(self, plant: Plant, every_s: float = SAMPLE_EVERY_S) -> None:
        self.plant = plant
        self.every_s = every_s
        self.samples: list[TruthSample] = []
        self._next: dict[str, float] = {}

    def stimulus(self) -> None:
        """A scenario stimulus happened: every pile's next send samples again."""
        self._next.clear()

    def on_send(self, pile_no: str, now: float) -> None:
        """The pile sent bytes at ``now``: sample it unless it was sampled recently."""
        if now >= self._next.get(pile_no, 0.0):
            self._next[pile_no] = now + self.every_s
            self.sample(pile_no, now)

    def sample(self, pile_no: str, now: float) -> None:
        """One sample per gun of ``pile_no`` at ``now``."""
        plant_pile = self.plant.pile(pile_no)
        for number, gun in enumerate(plant_pile.guns, start=1):
            self.samples.append(
                TruthSample(
                    now,
                    pile_no,
                    number,
                    gun.meter_kwh(now),
                    gun.power_kw(now),
                    gun.plugged(now),
                    gun.charging(now),
                )
            )
