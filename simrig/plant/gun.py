"""One gun: vehicle, contactor, BMS session and meter, integrated lazily (pure)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from simrig.plant.physics import acceptance_kw, battery_voltage_v, charge_power_kw, soc_after
from simrig.plant.specs import (
    HandshakeStatus,
    PlantError,
    StopCause,
    VehicleSpec,
)
from simrig.plant.truth import BmsData, HandshakeAttempt, HandshakeResult, Interval, TruthSession

if TYPE_CHECKING:
    from simrig.plant.pile import PhysicalPile


_DC_RATED_CURRENT_A = 250.0
_AC_RATED_CURRENT_A = 32.0
_GUN_TEMP_RISE_AT_RATED_C = 30.0
_BATTERY_TEMP_RISE_AT_MAX_C = 10.0
_INF = math.inf


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
        v = self._vehicle
        if v is None or not self._bms_talks():
            return None
        bat_v = battery_voltage_v(self._soc, v.nominal_voltage_v)
        demand_kw = (
            0.0 if self._bms_stopped else acceptance_kw(self._soc, self._pmax, v.cv_knee_soc)
        )
        temp = self._battery_temp(self._power())
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

    def bms_talks(self, now: float) -> bool:
        """The BMS sends data (a DC vehicle plugged, its handshake done): a battery
        temperature in :meth:`outputs`, data from :meth:`bms`."""
        self._pile.advance(now)
        return self._bms_talks()

    def outputs(self, now: float) -> tuple[float, float, float | None]:
        """``(voltage_v, current_a, battery_temp_c)`` at ``now`` in one go (what a realtime
        frame reads); each equals its own reading, computed from the same state."""
        self._pile.advance(now)
        volts = self._voltage()
        power = self._power()
        amps = power * 1000.0 / volts if self._drawing else 0.0
        return volts, amps, self._battery_temp(power) if self._bms_talks() else None

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
    def bms_stop(self, now: float) -> None:
        """The vehicle's BMS stops actively (Sinexcel reason 10, "vehicle BMS stopped
        actively"): it asks no more current, before its target SOC."""
        self._pile.advance(now)
        if self._vehicle is not None and not self._bms_stopped:
            self._bms_stopped = True
            self._pile._settle(now, StopCause.BMS_STOP)

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

    def _bms_talks(self) -> bool:
        """A DC vehicle is plugged and its handshake is done: the BMS sends data."""
        hs = self._hs
        return (
            self._vehicle is not None
            and self._pile.spec.kind != "AC"
            and hs is not None
            and hs.status is HandshakeStatus.DONE
        )

    def _battery_temp(self, power: float) -> float:
        """Battery temperature at output ``power`` (:meth:`_power`): ambient + 10 °C × P /
        P_max (only while the BMS talks)."""
        return self._pile.spec.ambient_c + _BATTERY_TEMP_RISE_AT_MAX_C * power / self._pmax

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
