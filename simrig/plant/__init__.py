"""Ground truth of charging piles: vehicle/BMS, gun, contactor, energy meter (pure, sans-IO).

The plant is the *truth* view of the rig (design.md, principle 4): firmware models read
it the way real firmware reads hardware (voltage, current, SOC, meter, BMS data) and
command it (handshake, contactor); the scenario drives it with physical stimuli (plug,
unplug, emergency stop, power cut). Every plug-in is logged as a `TruthSession` that the
oracle compares with the device and platform views.

Time is ``now`` in seconds since the scenario epoch, passed in by the caller; each pile
keeps its own clock and refuses to go backwards. State is integrated lazily and
*analytically* (charging power is piecewise constant/linear in SOC, so SOC follows a
line, then an exponential): a pile costs nothing while idle or charging steadily, and
results do not depend on how often the caller reads or advances. A listener
(``Plant.add_listener``) is told every change at its own instant (the timelines' truth
samples, ``simrig.sim.sampling``).

Physics (deliberately simple, deterministic):

* Vehicle acceptance: ``max_power_kw`` up to ``cv_knee_soc``, then a linear taper to
  10 % of it at 100 % SOC (CC-CV). Charging power = min(acceptance, pile-side cap).
* Pile-side cap = ``max_power_kw × percent / 100``; with ``shared_power`` the budget is
  split equally between the guns currently drawing current (re-split at every start/stop).
* No losses: energy into the battery = energy through the meter before ``meter_factor``.
* Current flows iff: vehicle plugged, contactor closed, handshake done, BMS not stopped,
  supply power present, emergency stop released. At ``target_soc`` the BMS stops
  (current → 0, contactor stays as the firmware left it).
* Unplug, emergency stop and power cut are hardware interlocks: they open the contactor
  and end the BMS session (a new handshake is needed). A firmware ``open_contactor``
  keeps the BMS session: closing again resumes current.
"""

from simrig.plant.gun import Gun
from simrig.plant.physics import (
    acceptance_kw,
    battery_voltage_v,
    charge_power_kw,
    seconds_to_soc,
    soc_after,
)
from simrig.plant.pile import PhysicalPile
from simrig.plant.specs import (
    TAPER_FLOOR,
    HandshakeStatus,
    PileSpec,
    PlantError,
    StopCause,
    VehicleSpec,
)
from simrig.plant.station import Plant
from simrig.plant.truth import BmsData, HandshakeAttempt, HandshakeResult, Interval, TruthSession

__all__ = [
    "TAPER_FLOOR",
    "BmsData",
    "Gun",
    "HandshakeAttempt",
    "HandshakeResult",
    "HandshakeStatus",
    "Interval",
    "PhysicalPile",
    "PileSpec",
    "Plant",
    "PlantError",
    "StopCause",
    "TruthSession",
    "VehicleSpec",
    "acceptance_kw",
    "battery_voltage_v",
    "charge_power_kw",
    "seconds_to_soc",
    "soc_after",
]
