"""The truth log: one record per plug-in, and the readings the firmware takes (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field

from simrig.fastdata import fast_init
from simrig.plant.specs import HandshakeStatus, StopCause, VehicleSpec

# --------------------------------------------------------------------------- truth log


@dataclass(slots=True)
class Interval:
    """A closed/flowing interval; ``end`` is None while it lasts."""

    start: float
    end: float | None = None
    end_cause: StopCause | None = None


@dataclass(slots=True)
class HandshakeAttempt:
    """One BMS handshake: begun at ``started_at``, resolved at ``deadline`` unless aborted."""

    started_at: float
    deadline: float
    status: HandshakeStatus = HandshakeStatus.IN_PROGRESS
    reason: str | None = None


@dataclass(slots=True)
class TruthSession:
    """What really happened during one plug-in (truth view; treat as read-only).

    ``energy_kwh`` is the energy really delivered; ``metered_kwh`` what the meter
    counted (energy × meter_factor). ``charge_start``/``charge_end`` are when current
    really started/stopped; ``unplug_at`` when the gun really went back (service end).
    Values of an open session are as of the pile's last advance.
    """

    seq: int
    pile_no: str
    gun: int
    vehicle: VehicleSpec
    plug_at: float
    soc_start: float
    meter_start_kwh: float
    meter_factor: float
    soc_end: float = 0.0
    energy_kwh: float = 0.0
    meter_end_kwh: float = 0.0
    unplug_at: float | None = None
    handshakes: list[HandshakeAttempt] = field(default_factory=list)
    contactor: list[Interval] = field(default_factory=list)
    current: list[Interval] = field(default_factory=list)

    @property
    def metered_kwh(self) -> float:
        """Meter delta over the session (= energy_kwh × meter_factor)."""
        return self.meter_end_kwh - self.meter_start_kwh

    @property
    def charge_start(self) -> float | None:
        """When current first flowed, or None if it never did."""
        return self.current[0].start if self.current else None

    @property
    def charge_end(self) -> float | None:
        """When current last stopped; None if it never flowed or still flows."""
        return self.current[-1].end if self.current else None

    @property
    def stop_cause(self) -> StopCause | None:
        """Why current last stopped (None if it never flowed or still flows)."""
        return self.current[-1].end_cause if self.current else None

    @property
    def contactor_closed_at(self) -> float | None:
        """First contactor close during the session."""
        return self.contactor[0].start if self.contactor else None

    @property
    def contactor_opened_at(self) -> float | None:
        """Last contactor open (None if never closed or still closed)."""
        return self.contactor[-1].end if self.contactor else None

    @property
    def is_open(self) -> bool:
        """True until the gun is unplugged."""
        return self.unplug_at is None


# --------------------------------------------------------------------------- readings


@fast_init
@dataclass(frozen=True, slots=True)
class HandshakeResult:
    """A gun's handshake state as firmware sees it."""

    status: HandshakeStatus
    reason: str | None = None
    deadline: float | None = None


@fast_init
@dataclass(frozen=True, slots=True)
class BmsData:
    """What the BMS tells a DC pile after the handshake (BRM/BCP/BCL/BCS/BSM content)."""

    vin: str
    battery_type: int
    capacity_kwh: float
    nominal_voltage_v: float
    soc: float
    battery_voltage_v: float
    demand_voltage_v: float
    demand_current_a: float
    battery_temp_c: float
    stopped: bool
