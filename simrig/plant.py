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
results do not depend on how often the caller reads or advances.

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

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from simrig.fastdata import fast_init

__all__ = [
    "TAPER_FLOOR",
    "BmsData",
    "Gun",
    "HandshakeAttempt",
    "HandshakeResult",
    "HandshakeStatus",
    "Interval",
    "PhysicalPile",
    "Pile",
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

TAPER_FLOOR = 0.1
"""Fraction of the vehicle's max power still accepted at 100 % SOC."""

_DC_RATED_CURRENT_A = 250.0
_AC_RATED_CURRENT_A = 32.0
_GUN_TEMP_RISE_AT_RATED_C = 30.0
_BATTERY_TEMP_RISE_AT_MAX_C = 10.0
_INF = math.inf


class PlantError(ValueError):
    """A stimulus that is physically impossible in the current state (a scenario bug)."""


class StopCause(StrEnum):
    """Why current (or a contactor interval) ended, as the truth log records it."""

    BMS_FULL = "bms_full"  # BMS reached target_soc
    CONTACTOR_OPEN = "contactor_open"  # firmware opened the contactor
    HANDSHAKE = "handshake"  # firmware began a new handshake, ending the BMS session
    UNPLUG = "unplug"
    EMERGENCY_STOP = "emergency_stop"
    POWER_CUT = "power_cut"


class HandshakeStatus(StrEnum):
    """BMS handshake state of a gun. Guns report NONE after an abort; ABORTED is log-only."""

    NONE = "none"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    FAILED = "failed"
    ABORTED = "aborted"


# --------------------------------------------------------------------------- specs


@dataclass(frozen=True, slots=True)
class VehicleSpec:
    """A vehicle and its BMS as seen from the gun.

    ``handshake_s`` is the DC BMS handshake duration (field: 20–55 s, zpd_case#20);
    ``handshake_failure`` names why it fails (e.g. "bhm_timeout", "brm_timeout",
    "bcp_timeout", "insulation"), reported verbatim; None = success.
    ``ac_max_power_kw`` is the on-board charger limit on AC piles (None = max_power_kw).
    ``battery_type`` is the GB/T 27930 code (3 = LFP, 6 = NMC).
    """

    capacity_kwh: float = 60.0
    initial_soc: float = 30.0
    target_soc: float = 100.0
    max_power_kw: float = 60.0
    cv_knee_soc: float = 80.0
    nominal_voltage_v: float = 400.0
    handshake_s: float = 30.0
    handshake_failure: str | None = None
    vin: str = "LFV2A21K0N4000001"
    battery_type: int = 3
    ac_max_power_kw: float | None = None

    def __post_init__(self) -> None:
        if self.capacity_kwh <= 0:
            raise ValueError(f"capacity_kwh must be > 0, got {self.capacity_kwh}")
        for name in ("initial_soc", "target_soc", "cv_knee_soc"):
            value = getattr(self, name)
            if not 0.0 <= value <= 100.0:
                raise ValueError(f"{name} must be within 0..100, got {value}")
        if self.max_power_kw <= 0:
            raise ValueError(f"max_power_kw must be > 0, got {self.max_power_kw}")
        if self.ac_max_power_kw is not None and self.ac_max_power_kw <= 0:
            raise ValueError(f"ac_max_power_kw must be > 0, got {self.ac_max_power_kw}")
        if self.nominal_voltage_v <= 0:
            raise ValueError(f"nominal_voltage_v must be > 0, got {self.nominal_voltage_v}")
        if self.handshake_s < 0:
            raise ValueError(f"handshake_s must be >= 0, got {self.handshake_s}")
        if self.handshake_failure == "":
            raise ValueError("handshake_failure must be None or a non-empty reason name")
        if len(self.vin) != 17:
            raise ValueError(f"vin must be 17 characters, got {self.vin!r}")


@dataclass(frozen=True, slots=True)
class PileSpec:
    """A pile family: ``kind`` DC (60–120 kW) or AC (7 kW), 1–2 guns.

    ``max_power_kw`` defaults to 60 (DC) / 7 (AC). With ``shared_power`` the guns share
    that budget (equal split among guns drawing current); otherwise each gun has it.
    AC piles report no SOC/BMS data and their handshake lasts ``ac_handshake_s``.
    """

    kind: Literal["DC", "AC"] = "DC"
    guns: int = 1
    max_power_kw: float | None = None
    shared_power: bool = True
    ac_handshake_s: float = 2.0
    ac_voltage_v: float = 220.0
    ambient_c: float = 25.0

    def __post_init__(self) -> None:
        if self.kind not in ("DC", "AC"):
            raise ValueError(f"kind must be 'DC' or 'AC', got {self.kind!r}")
        if self.guns not in (1, 2):
            raise ValueError(f"guns must be 1 or 2, got {self.guns}")
        if self.max_power_kw is None:
            object.__setattr__(self, "max_power_kw", 60.0 if self.kind == "DC" else 7.0)
        elif self.max_power_kw <= 0:
            raise ValueError(f"max_power_kw must be > 0, got {self.max_power_kw}")
        if self.ac_handshake_s < 0 or self.ac_voltage_v <= 0:
            raise ValueError("ac_handshake_s must be >= 0 and ac_voltage_v > 0")

    @property
    def power_kw(self) -> float:
        """The resolved pile power budget in kW."""
        assert self.max_power_kw is not None  # set in __post_init__
        return self.max_power_kw


# --------------------------------------------------------------------------- physics


def acceptance_kw(soc: float, max_kw: float, knee: float) -> float:
    """Vehicle acceptance at ``soc``: flat to ``knee``, then linear down to 10 % at 100 %."""
    if soc <= knee or knee >= 100.0:
        return max_kw
    return max_kw * (1.0 - (1.0 - TAPER_FLOOR) * (soc - knee) / (100.0 - knee))


def charge_power_kw(soc: float, max_kw: float, knee: float, cap_kw: float) -> float:
    """Charging power: min(vehicle acceptance, pile-side cap)."""
    return min(cap_kw, acceptance_kw(soc, max_kw, knee))


def battery_voltage_v(soc: float, nominal_v: float) -> float:
    """Battery terminal voltage: 90 % of nominal at 0 % SOC to 110 % at 100 %."""
    return nominal_v * (0.9 + 0.2 * soc / 100.0)


def _regions(max_kw: float, knee: float, cap_kw: float) -> tuple[float, float, float, float]:
    """(s_star, flat_kw, beta, s_inf): flat power below s_star, then ds/dt ∝ beta·(s_inf − s)."""
    flat = min(cap_kw, max_kw)
    if knee >= 100.0:
        return _INF, flat, 0.0, _INF
    beta = (1.0 - TAPER_FLOOR) * max_kw / (100.0 - knee)  # kW per % SOC
    s_inf = knee + (100.0 - knee) / (1.0 - TAPER_FLOOR)  # where acceptance would hit 0
    if cap_kw >= max_kw:
        s_star = knee
    else:
        s_star = knee + (1.0 - cap_kw / max_kw) * (100.0 - knee) / (1.0 - TAPER_FLOOR)
    return s_star, flat, beta, s_inf


def soc_after(
    soc: float, dt: float, max_kw: float, knee: float, cap_kw: float, capacity_kwh: float
) -> float:
    """SOC after charging ``dt`` seconds from ``soc`` (exact; not clamped at any target)."""
    if dt <= 0.0:
        return soc
    k = 100.0 / (3600.0 * capacity_kwh)  # % SOC per kW·s
    s_star, flat, beta, s_inf = _regions(max_kw, knee, cap_kw)
    if soc < s_star:
        t_flat = (s_star - soc) / (k * flat)
        if dt <= t_flat:
            return soc + k * flat * dt
        soc, dt = s_star, dt - t_flat
    return soc + (s_inf - soc) * -math.expm1(-k * beta * dt)


def seconds_to_soc(
    soc: float, target: float, max_kw: float, knee: float, cap_kw: float, capacity_kwh: float
) -> float:
    """Seconds of charging to go from ``soc`` to ``target`` (0 if already there)."""
    if target <= soc:
        return 0.0
    k = 100.0 / (3600.0 * capacity_kwh)
    s_star, flat, beta, s_inf = _regions(max_kw, knee, cap_kw)
    t = 0.0
    if soc < s_star:
        upto = min(target, s_star)
        t = (upto - soc) / (k * flat)
        if target <= s_star:
            return t
        soc = s_star
    return t + math.log1p((target - soc) / (s_inf - target)) / (k * beta)


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


# --------------------------------------------------------------------------- gun


class Gun:
    """One connector: holster/plug, vehicle, contactor, handshake, meter.

    Readings and commands take ``now`` and first advance the owning pile to it.
    """

    __slots__ = (
        "_bms_stopped",
        "_contactor",
        "_drawing",
        "_hs",
        "_lifetime_kwh",
        "_pile",
        "_pmax",
        "_session",
        "_soc",
        "_stop_at",
        "_stop_memo",
        "_vehicle",
        "meter_factor",
        "meter_start_kwh",
        "number",
    )

    def __init__(
        self, pile: PhysicalPile, number: int, meter_start_kwh: float, meter_factor: float
    ):
        if meter_factor <= 0:
            raise ValueError(f"meter_factor must be > 0, got {meter_factor}")
        self._pile = pile
        self.number = number
        self.meter_start_kwh = meter_start_kwh
        self.meter_factor = meter_factor
        self._lifetime_kwh = 0.0
        self._vehicle: VehicleSpec | None = None
        self._pmax = 0.0
        self._soc = 0.0
        self._contactor = False
        self._hs: HandshakeAttempt | None = None
        self._bms_stopped = False
        self._drawing = False
        self._stop_at = _INF
        #: (pile state version, projected stop time): the projection holds until the
        #: pile's state is re-derived
        self._stop_memo = (-1, _INF)
        self._session: TruthSession | None = None

    def __repr__(self) -> str:
        return f"Gun({self._pile.pile_no!r}, {self.number})"

    # -- identity / truth access
    @property
    def pile(self) -> PhysicalPile:
        """The owning pile."""
        return self._pile

    @property
    def vehicle(self) -> VehicleSpec | None:
        """The plugged vehicle (truth; firmware should read `bms()` instead)."""
        return self._vehicle

    @property
    def session(self) -> TruthSession | None:
        """The truth session of the current plug-in, if any."""
        return self._session

    @property
    def handshake_deadline(self) -> float | None:
        """When the in-progress handshake resolves (as of the last advance), else None."""
        hs = self._hs
        return hs.deadline if hs is not None and hs.status is HandshakeStatus.IN_PROGRESS else None

    # -- readings
    def plugged(self, now: float) -> bool:
        """Gun is in a vehicle."""
        self._pile.advance(now)
        return self._vehicle is not None

    def in_holster(self, now: float) -> bool:
        """Gun is back in its holster (not plugged)."""
        return not self.plugged(now)

    def contactor_closed(self, now: float) -> bool:
        """DC/AC output contactor state."""
        self._pile.advance(now)
        return self._contactor

    def charging(self, now: float) -> bool:
        """Current is really flowing."""
        self._pile.advance(now)
        return self._drawing

    def bms_stopped(self, now: float) -> bool:
        """The BMS ended charging at target SOC (reset by a new handshake or unplug)."""
        self._pile.advance(now)
        return self._bms_stopped

    def emergency_stop_pressed(self, now: float) -> bool:
        """The pile's emergency stop is pressed (one button per pile)."""
        return self._pile.emergency_stop_pressed(now)

    def power_present(self, now: float) -> bool:
        """The pile has supply power."""
        return self._pile.power_present(now)

    def handshake_result(self, now: float) -> HandshakeResult:
        """Handshake status (NONE before any attempt or after an abort)."""
        self._pile.advance(now)
        hs = self._hs
        if hs is None or hs.status is HandshakeStatus.ABORTED:
            return HandshakeResult(HandshakeStatus.NONE)
        return HandshakeResult(hs.status, hs.reason, hs.deadline)

    def power_limit_kw(self, now: float) -> float:
        """Pile-side cap this gun gets (or would get if it started drawing now)."""
        self._pile.advance(now)
        return self._pile._cap_for(self._pile._n_drawing + (0 if self._drawing else 1))

    def power_kw(self, now: float) -> float:
        """Power really delivered (kW)."""
        self._pile.advance(now)
        return self._power()

    def voltage_v(self, now: float) -> float:
        """Output voltage: battery voltage (DC) / mains (AC) while the contactor is closed."""
        self._pile.advance(now)
        return self._voltage()

    def current_a(self, now: float) -> float:
        """Output current (A); 0 unless current really flows."""
        self._pile.advance(now)
        if not self._drawing:
            return 0.0
        return self._power() * 1000.0 / self._voltage()

    def soc(self, now: float) -> float:
        """SOC as the pile knows it: the BMS value on DC, 0 on AC or with no vehicle."""
        self._pile.advance(now)
        if self._vehicle is None or self._pile.spec.kind == "AC":
            return 0.0
        return self._soc

    def true_soc(self, now: float) -> float | None:
        """Truth SOC of the plugged vehicle (AC too), None if nothing is plugged."""
        self._pile.advance(now)
        return self._soc if self._vehicle is not None else None

    def gun_temp_c(self, now: float) -> float:
        """Gun-cable temperature: ambient + 30 °C × (I / rated)²."""
        return self.gun_temp_at(self.current_a(now))

    def gun_temp_at(self, current_a: float) -> float:
        """:meth:`gun_temp_c` for a current already read at the same instant."""
        rated = _AC_RATED_CURRENT_A if self._pile.spec.kind == "AC" else _DC_RATED_CURRENT_A
        ratio = current_a / rated
        return self._pile.spec.ambient_c + _GUN_TEMP_RISE_AT_RATED_C * ratio * ratio

    def meter_kwh(self, now: float) -> float:
        """Energy-meter register (kWh): start value + factor × energy really delivered."""
        self._pile.advance(now)
        return self.meter_start_kwh + self.meter_factor * self._lifetime_kwh

    def bms(self, now: float) -> BmsData | None:
        """BMS data on a DC pile once the handshake is done; None otherwise (always on AC)."""
        self._pile.advance(now)
        v, hs = self._vehicle, self._hs
        if (
            v is None
            or self._pile.spec.kind == "AC"
            or hs is None
            or hs.status is not HandshakeStatus.DONE
        ):
            return None
        bat_v = battery_voltage_v(self._soc, v.nominal_voltage_v)
        demand_kw = (
            0.0 if self._bms_stopped else acceptance_kw(self._soc, self._pmax, v.cv_knee_soc)
        )
        temp = self._pile.spec.ambient_c + _BATTERY_TEMP_RISE_AT_MAX_C * self._power() / self._pmax
        return BmsData(
            vin=v.vin,
            battery_type=v.battery_type,
            capacity_kwh=v.capacity_kwh,
            nominal_voltage_v=v.nominal_voltage_v,
            soc=self._soc,
            battery_voltage_v=bat_v,
            demand_voltage_v=bat_v,
            demand_current_a=demand_kw * 1000.0 / bat_v,
            battery_temp_c=temp,
            stopped=self._bms_stopped,
        )

    def state_version(self, now: float) -> int:
        """Changes whenever the pile's state is re-derived (a command, stimulus or event);
        readings at one ``now`` and one version are equal."""
        self._pile.advance(now)
        return self._pile._version

    def time_until_bms_stop(self, now: float) -> float | None:
        """Seconds until the BMS stops at target SOC if nothing else changes; None if idle.

        Accounts for the other gun of a shared pile (its stop re-splits the budget).
        Re-query after any command or stimulus on the pile.
        """
        pile = self._pile
        pile.advance(now)
        if not self._drawing:
            return None
        version, stop_t = self._stop_memo
        if version != pile._version:
            stop_t = pile._project_stop(self)
            self._stop_memo = (pile._version, stop_t)
        return stop_t - pile._t

    # -- firmware commands
    def begin_handshake(self, now: float) -> bool:
        """Start the BMS handshake; resolves at now + handshake_s (AC: ac_handshake_s).

        Returns False (nothing happens) with no vehicle, no supply power or E-stop pressed.
        A new handshake aborts a running one and ends the current BMS session.
        """
        pile = self._pile
        pile.advance(now)
        v = self._vehicle
        if v is None or not pile._power or pile._estop:
            return False
        self._abort_handshake()
        duration = pile.spec.ac_handshake_s if pile.spec.kind == "AC" else v.handshake_s
        hs = HandshakeAttempt(started_at=now, deadline=now + duration)
        self._hs = hs
        self._bms_stopped = False
        assert self._session is not None
        self._session.handshakes.append(hs)
        pile._settle(now, StopCause.HANDSHAKE)
        return True

    def close_contactor(self, now: float) -> bool:
        """Close the output contactor; False (stays open) while E-stop pressed or power out."""
        pile = self._pile
        pile.advance(now)
        if pile._estop or not pile._power:
            return False
        if not self._contactor:
            self._contactor = True
            if self._session is not None:
                self._session.contactor.append(Interval(now))
            pile._settle(now, None)
        return True

    def open_contactor(self, now: float) -> None:
        """Open the output contactor (current stops; BMS session kept)."""
        self._pile.advance(now)
        if self._contactor:
            self._open(now, StopCause.CONTACTOR_OPEN)
            self._pile._settle(now, StopCause.CONTACTOR_OPEN)

    # -- scenario stimuli
    def plug(self, now: float, vehicle: VehicleSpec) -> TruthSession:
        """The user plugs the gun into ``vehicle``; opens a truth session."""
        pile = self._pile
        pile.advance(now)
        if self._vehicle is not None:
            raise PlantError(f"{self!r} is already plugged at t={now}")
        self._vehicle = vehicle
        self._soc = float(vehicle.initial_soc)
        self._pmax = float(vehicle.max_power_kw)
        if pile.spec.kind == "AC" and vehicle.ac_max_power_kw is not None:
            self._pmax = float(vehicle.ac_max_power_kw)
        self._hs = None
        self._bms_stopped = False
        meter = self.meter_start_kwh + self.meter_factor * self._lifetime_kwh
        session = TruthSession(
            seq=len(pile._sessions) + 1,
            pile_no=pile.pile_no,
            gun=self.number,
            vehicle=vehicle,
            plug_at=now,
            soc_start=vehicle.initial_soc,
            meter_start_kwh=meter,
            meter_factor=self.meter_factor,
            soc_end=vehicle.initial_soc,
            meter_end_kwh=meter,
        )
        if self._contactor:
            session.contactor.append(Interval(now))
        pile._sessions.append(session)
        self._session = session
        pile._settle(now, None)
        return session

    def unplug(self, now: float) -> TruthSession:
        """The user pulls the gun and returns it to the holster; closes the truth session."""
        pile = self._pile
        pile.advance(now)
        session = self._session
        if self._vehicle is None or session is None:
            raise PlantError(f"{self!r} is not plugged at t={now}")
        self._open(now, StopCause.UNPLUG)
        self._abort_handshake()
        self._vehicle = None
        pile._settle(now, StopCause.UNPLUG)
        session.unplug_at = now
        self._session = None
        self._bms_stopped = False
        return session

    # -- internals
    def _power(self) -> float:
        if not self._drawing:
            return 0.0
        v = self._vehicle
        assert v is not None
        cap = self._pile._cap
        return charge_power_kw(self._soc, self._pmax, v.cv_knee_soc, cap)

    def _voltage(self) -> float:
        pile = self._pile
        if not self._contactor or not pile._power:
            return 0.0
        if pile.spec.kind == "AC":
            return pile.spec.ac_voltage_v
        v = self._vehicle
        return 0.0 if v is None else battery_voltage_v(self._soc, v.nominal_voltage_v)

    def _open(self, now: float, cause: StopCause) -> None:
        if self._contactor:
            self._contactor = False
            if self._session is not None and self._session.contactor:
                last = self._session.contactor[-1]
                last.end, last.end_cause = now, cause

    def _abort_handshake(self) -> None:
        hs = self._hs
        if hs is not None and hs.status is HandshakeStatus.IN_PROGRESS:
            hs.status = HandshakeStatus.ABORTED
        self._hs = None

    def _should_draw(self) -> bool:
        pile = self._pile
        hs = self._hs
        return (
            self._vehicle is not None
            and self._contactor
            and hs is not None
            and hs.status is HandshakeStatus.DONE
            and not self._bms_stopped
            and pile._power
            and not pile._estop
        )

    def _will_draw_after_handshake(self) -> bool:
        """True if the in-progress handshake will start current when it completes."""
        pile = self._pile
        hs, v = self._hs, self._vehicle
        return (
            v is not None
            and hs is not None
            and hs.status is HandshakeStatus.IN_PROGRESS
            and v.handshake_failure is None
            and self._contactor
            and pile._power
            and not pile._estop
            and self._soc < v.target_soc
        )

    def _integrate(self, dt: float, cap: float) -> None:
        v = self._vehicle
        assert v is not None
        s0 = self._soc
        s1 = soc_after(s0, dt, self._pmax, v.cv_knee_soc, cap, v.capacity_kwh)
        self._set_soc(min(s1, v.target_soc))

    def _set_soc(self, s1: float) -> None:
        v = self._vehicle
        assert v is not None
        de = (s1 - self._soc) * v.capacity_kwh / 100.0
        self._soc = s1
        self._lifetime_kwh += de
        session = self._session
        if session is not None:
            session.energy_kwh += de
            session.soc_end = s1
            session.meter_end_kwh = self.meter_start_kwh + self.meter_factor * self._lifetime_kwh


# --------------------------------------------------------------------------- pile


class PhysicalPile:
    """A pile: 1–2 guns, supply power, emergency stop, power budget and limit percent.

    Internal events (handshake completion, BMS stop) are applied in time order when the
    pile is advanced; between events the state is integrated in closed form.
    """

    def __init__(
        self,
        pile_no: str,
        spec: PileSpec,
        *,
        meter_start_kwh: float | Sequence[float] = 0.0,
        meter_factor: float | Sequence[float] = 1.0,
        sessions: list[TruthSession] | None = None,
    ):
        self.pile_no = pile_no
        self.spec = spec
        starts = _per_gun(meter_start_kwh, spec.guns, "meter_start_kwh")
        factors = _per_gun(meter_factor, spec.guns, "meter_factor")
        self.guns: tuple[Gun, ...] = tuple(
            Gun(self, n + 1, starts[n], factors[n]) for n in range(spec.guns)
        )
        self._sessions: list[TruthSession] = [] if sessions is None else sessions
        self._t = -_INF
        self._power = True
        self._estop = False
        self._percent = 100.0
        self._n_drawing = 0
        self._cap = spec.power_kw
        self._next_evt = _INF
        self._version = 0  # bumped whenever who-draws-what is re-derived (state_version)

    def __repr__(self) -> str:
        return f"PhysicalPile({self.pile_no!r}, {self.spec.kind}, guns={self.spec.guns})"

    def gun(self, number: int) -> Gun:
        """Gun by 1-based number."""
        if not 1 <= number <= len(self.guns):
            raise KeyError(f"pile {self.pile_no} has no gun {number}")
        return self.guns[number - 1]

    @property
    def now(self) -> float:
        """The time this pile's state is valid at (-inf before first use)."""
        return self._t

    @property
    def power_limit_percent(self) -> float:
        """Output power limit in percent of max_power_kw (working params, 30–100)."""
        return self._percent

    # -- readings
    def power_present(self, now: float) -> bool:
        """Supply power is on."""
        self.advance(now)
        return self._power

    def emergency_stop_pressed(self, now: float) -> bool:
        """The pile's emergency-stop button is pressed."""
        self.advance(now)
        return self._estop

    def next_event_time(self, now: float) -> float | None:
        """Earliest spontaneous change after ``now`` (handshake result, BMS stop), or None."""
        self.advance(now)
        return None if self._next_evt == _INF else self._next_evt

    def pending_event_time(self) -> float | None:
        """The next spontaneous change as of the last advance, without advancing.

        Lets a reader tell whether a change is due that nobody has looked at yet."""
        return None if self._next_evt == _INF else self._next_evt

    # -- commands / stimuli
    def set_power_limit_percent(self, now: float, percent: float) -> None:
        """Firmware applies a power limit (YKC 0x52); must be within 30..100."""
        if not 30.0 <= percent <= 100.0:
            raise ValueError(f"power limit percent must be within 30..100, got {percent}")
        self.advance(now)
        self._percent = float(percent)
        self._settle(now, None)

    def press_emergency_stop(self, now: float) -> None:
        """E-stop pressed: contactors drop, BMS sessions end (idempotent)."""
        self.advance(now)
        self._estop = True
        self._interlock(now, StopCause.EMERGENCY_STOP)

    def release_emergency_stop(self, now: float) -> None:
        """E-stop released; firmware must handshake and close the contactor again."""
        self.advance(now)
        self._estop = False
        self._settle(now, None)

    def power_cut(self, now: float) -> None:
        """Supply power lost: no current, contactors drop, BMS sessions end (idempotent)."""
        self.advance(now)
        self._power = False
        self._interlock(now, StopCause.POWER_CUT)

    def power_restore(self, now: float) -> None:
        """Supply power back; nothing restarts by itself."""
        self.advance(now)
        self._power = True
        self._settle(now, None)

    def advance(self, now: float) -> None:
        """Bring the pile's state to ``now`` (raises ValueError if time goes backwards)."""
        if now == self._t:
            return
        if now < self._t:
            raise ValueError(f"pile {self.pile_no}: time went backwards ({now} < {self._t})")
        while self._next_evt <= now:
            t = self._next_evt
            self._integrate(t)
            self._fire(t)
        self._integrate(now)

    # -- internals
    def _cap_for(self, n_drawing: int) -> float:
        budget = self.spec.power_kw * self._percent / 100.0
        return budget / n_drawing if self.spec.shared_power and n_drawing > 1 else budget

    def _interlock(self, now: float, cause: StopCause) -> None:
        for g in self.guns:
            g._open(now, cause)
            g._abort_handshake()
        self._settle(now, cause)

    def _integrate(self, t1: float) -> None:
        dt = t1 - self._t
        if self._n_drawing and dt > 0.0:
            cap = self._cap
            for g in self.guns:
                if g._drawing:
                    g._integrate(dt, cap)
        self._t = t1

    def _fire(self, t: float) -> None:
        """Apply the internal events due at ``t`` (state already integrated to ``t``)."""
        for g in self.guns:
            hs = g._hs
            if hs is not None and hs.status is HandshakeStatus.IN_PROGRESS and hs.deadline <= t:
                v = g._vehicle
                assert v is not None
                if v.handshake_failure is None:
                    hs.status = HandshakeStatus.DONE
                else:
                    hs.status, hs.reason = HandshakeStatus.FAILED, v.handshake_failure
            if g._drawing and g._stop_at <= t:
                v = g._vehicle
                assert v is not None
                g._set_soc(v.target_soc)
                g._bms_stopped = True
        self._refresh(t, StopCause.BMS_FULL)

    def _settle(self, now: float, cause: StopCause | None) -> None:
        """Re-derive who draws current after a change at ``now``; fire events due now."""
        self._refresh(now, cause)
        while self._next_evt <= now:
            self._fire(now)

    def _refresh(self, now: float, cause: StopCause | None) -> None:
        self._version += 1
        n = 0
        for g in self.guns:
            draw = g._should_draw()
            if draw:
                v = g._vehicle
                assert v is not None
                if g._soc >= v.target_soc:  # BMS refuses: already at target
                    g._bms_stopped = True
                    draw = False
            if draw != g._drawing:
                g._drawing = draw
                session = g._session
                if session is not None:
                    if draw:
                        session.current.append(Interval(now))
                    else:
                        last = session.current[-1]
                        last.end = now
                        last.end_cause = cause if cause is not None else StopCause.CONTACTOR_OPEN
            n += draw
        self._n_drawing = n
        self._cap = self._cap_for(n)
        nxt = _INF
        for g in self.guns:
            hs = g._hs
            if hs is not None and hs.status is HandshakeStatus.IN_PROGRESS:
                nxt = min(nxt, hs.deadline)
            if g._drawing:
                v = g._vehicle
                assert v is not None
                g._stop_at = now + seconds_to_soc(
                    g._soc, v.target_soc, g._pmax, v.cv_knee_soc, self._cap, v.capacity_kwh
                )
                nxt = min(nxt, g._stop_at)
            else:
                g._stop_at = _INF
        self._next_evt = nxt

    def _project_stop(self, gun: Gun) -> float:
        """Absolute time ``gun``'s BMS stops if no command/stimulus intervenes."""
        t0 = self._t
        socs: dict[Gun, float] = {g: g._soc for g in self.guns if g._drawing}
        if len(socs) == 1 and not any(g._will_draw_after_handshake() for g in self.guns):
            v = gun._vehicle  # alone and staying alone: the first pass of the loop below
            assert v is not None and gun in socs
            cap = self._cap_for(1)
            return t0 + seconds_to_soc(
                gun._soc, v.target_soc, gun._pmax, v.cv_knee_soc, cap, v.capacity_kwh
            )
        pending = sorted(
            (
                (g.handshake_deadline or t0, g.number, g)
                for g in self.guns
                if g._will_draw_after_handshake()
            ),
            key=lambda item: (item[0], item[1]),
        )
        t = t0
        while True:
            cap = self._cap_for(len(socs))
            stop_t, stop_g = _INF, gun
            for g, s in socs.items():
                v = g._vehicle
                assert v is not None
                ts = t + seconds_to_soc(
                    s, v.target_soc, g._pmax, v.cv_knee_soc, cap, v.capacity_kwh
                )
                if ts < stop_t:
                    stop_t, stop_g = ts, g
            hs_t = pending[0][0] if pending else _INF
            t_next = min(stop_t, hs_t)
            for g, s in socs.items():
                v = g._vehicle
                assert v is not None
                s1 = soc_after(s, t_next - t, g._pmax, v.cv_knee_soc, cap, v.capacity_kwh)
                socs[g] = min(s1, v.target_soc)
            t = t_next
            if stop_t <= hs_t:
                if stop_g is gun:
                    return t
                del socs[stop_g]
            else:
                g_new = pending.pop(0)[2]
                socs[g_new] = g_new._soc


def _per_gun(value: float | Sequence[float], guns: int, name: str) -> list[float]:
    if isinstance(value, int | float):
        return [float(value)] * guns
    values = [float(x) for x in value]
    if len(values) != guns:
        raise ValueError(f"{name}: expected {guns} values, got {len(values)}")
    return values


# --------------------------------------------------------------------------- plant


class Plant:
    """All piles of a scenario, keyed by pile number; guns keyed by (pile_no, gun)."""

    def __init__(self) -> None:
        self._piles: dict[str, PhysicalPile] = {}
        self._sessions: list[TruthSession] = []

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
        )
        self._piles[pile_no] = pile
        return pile

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


#: old name of :class:`PhysicalPile` (distinct from the platform's registered pile record)
Pile = PhysicalPile
