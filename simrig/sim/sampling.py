"""Truth samples for the timeline plots, shared by the virtual and the real-time driver.

A pile's plant (meter, power, plug, charging per gun) is sampled

* at every **plant change** (plug, unplug, handshake, contactor, current starting or
  stopping, power limit: :meth:`Plant.add_listener`), at the change's own instant, so a
  step is drawn where it happened: a pile that stops itself while offline shows 0 kW
  from its own stop, not from its next frame after the outage (issue 14 item 7);
* when the pile sends bytes, at most every ``every_s`` scenario seconds per pile (the
  CV taper and the meter between changes), and right after every scenario stimulus
  (:meth:`TruthSampler.stimulus`).

Samples of one pile are in time order; samples of different piles may interleave out
of order (a pile's spontaneous change is told when it is next advanced), so readers
group per gun and sort, as the plots do.
"""

from __future__ import annotations

from simrig.plant import PhysicalPile, Plant
from simrig.sim.results import TruthSample

__all__ = ["SAMPLE_EVERY_S", "TruthSampler"]

#: truth samples (for the timeline plots) at most this often per pile
SAMPLE_EVERY_S = 15.0


class TruthSampler:
    """Samples ``plant`` per pile into :attr:`samples` (scenario seconds).

    With ``watch`` (the default) it listens to the plant's changes until
    :meth:`unwatch`; without, it samples only when told (:meth:`on_send`,
    :meth:`sample`).
    """

    def __init__(self, plant: Plant, every_s: float = SAMPLE_EVERY_S, *, watch: bool = True):
        self.plant = plant
        self.every_s = every_s
        self.samples: list[TruthSample] = []
        self._next: dict[str, float] = {}
        #: per pile, (instant, index in samples) of its last change sample
        self._last_change: dict[str, tuple[float, int]] = {}
        self.watching = False
        if watch:
            self.watch()

    def watch(self) -> None:
        """Sample every pile at each of its plant changes (idempotent)."""
        if not self.watching:
            self.plant.add_listener(self.on_change)
            self.watching = True

    def unwatch(self) -> None:
        """Stop sampling at plant changes (idempotent)."""
        if self.watching:
            self.plant.remove_listener(self.on_change)
            self.watching = False

    def stimulus(self) -> None:
        """A scenario stimulus happened: every pile's next send samples again."""
        self._next.clear()

    def on_send(self, pile_no: str, now: float) -> None:
        """The pile sent bytes at ``now``: sample it unless it was sampled recently."""
        if now >= self._next.get(pile_no, 0.0):
            self._next[pile_no] = now + self.every_s
            self.sample(pile_no, now)

    def on_change(self, pile: PhysicalPile, now: float) -> None:
        """The plant listener: ``pile`` changed at ``now`` (its state valid at ``now``).

        Several changes at one instant (contactor, then handshake) leave one sample per
        gun, the state after the last of them."""
        samples = self.samples
        pile_no = pile.pile_no
        last = self._last_change.get(pile_no)
        if last is not None and last[0] == now and last[1] + len(pile.guns) == len(samples):
            del samples[last[1] :]  # this pile's own sample of the same instant, still last
        self._last_change[pile_no] = (now, len(samples))
        self._sample_pile(pile, now)

    def sample(self, pile_no: str, now: float) -> None:
        """One sample per gun of ``pile_no`` at ``now``."""
        self._sample_pile(self.plant.pile(pile_no), now)

    def _sample_pile(self, plant_pile: PhysicalPile, now: float) -> None:
        pile_no = plant_pile.pile_no
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
