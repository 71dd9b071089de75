"""Sessions on the guns: start, BMS handshake, charging, stop (protocol-ykc §3 items 4-7).

The phase of a session follows :data:`~.phases.TRANSITIONS`. Starting asks the
``start_sequence`` hook, a start failure the ``start_failure_logout`` hook, a link loss
while charging the ``while_offline`` policy.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING

from simrig.domain import RunningBill
from simrig.plant import HandshakeStatus
from simrig.protocol.ykc import (
    BmsStop,
    ChargeEnd,
    ChargerStop,
    Handshake,
    ParameterConfig,
    StopReason,
    TransactionSource,
)

from .phases import Phase, advance
from .records import SessionRecord
from .status import ZERO_SERIAL, state_key
from .wire_rounding import meter_units, steady, whole

if TYPE_CHECKING:
    from simrig.plant import PhysicalPile

    from .bills import BillStore
    from .clock import PileClock
    from .hooks import QuirkHooks
    from .image import Image
    from .link_session import LinkSession
    from .records import GunRecord
    from .wire import Wire

__all__ = ["SessionMachine"]

_INF = math.inf
_ZERO_CARD = "0" * 16
_HANDSHAKE_FAILURES = {
    "bhm_timeout": StopReason.START_BHM_TIMEOUT,
    "brm_timeout": StopReason.START_BRM_TIMEOUT,
    "bcp_timeout": StopReason.START_BCP_TIMEOUT,
    "bro_timeout": StopReason.START_BRO_TIMEOUT,
    "insulation": StopReason.START_INSULATION,
    "bms_not_ready": StopReason.START_BMS_NOT_READY,
}
_PREPARING, _READY, _HANDSHAKE = Phase.PREPARING, Phase.READY, Phase.HANDSHAKE
_CHARGING, _ENDED = Phase.CHARGING, Phase.ENDED


class SessionMachine:
    """Every session the pile ran, and the moves of the one on each gun."""

    def __init__(
        self,
        wire: Wire,
        image: Image,
        plant: PhysicalPile,
        clock: PileClock,
        hooks: QuirkHooks,
        link: LinkSession,
        bills: BillStore,
    ) -> None:
        self._wire = wire
        self._image = image
        self._plant = plant
        self._clock = clock
        self._hooks = hooks
        self._link = link
        self._bills = bills
        self.sessions: list[SessionRecord] = []
        #: 0x52 work parameters: starts allowed
        self.enabled = True

    def meter(self, g: GunRecord, now: float) -> int:
        return meter_units(g.plant.meter_kwh(now))

    def can_start(self, g: GunRecord, now: float) -> str | None:
        """Why a start is refused, or None."""
        if not self.enabled:
            return "disabled"
        if self._link.tariff is None:
            return "no_billing_model"
        if self._plant.emergency_stop_pressed(now) or not self._plant.power_present(now):
            return "equipment_fault"
        if g.session is not None:
            return "gun_busy"
        return None

    # ------------------------------------------------------------------ starting
    def begin(
        self,
        g: GunRecord,
        now: float,
        *,
        serial: str,
        source: TransactionSource,
        card: str,
        logical_card: str,
        balance: float,
    ) -> None:
        """An authorised order on a plugged gun (0x32 success / 0x34 accepted)."""
        tariff = self._link.tariff
        assert tariff is not None
        s = SessionRecord(
            serial=serial,
            gun=g.number,
            source=source,
            card=card or _ZERO_CARD,
            logical_card=logical_card,
            balance=balance,
            tariff=tariff,
            auth_t=now,
            auth_wall=self._clock.wall(now),
            meter_start=self.meter(g, now),
        )
        if g.last_session is not None:
            s.prev_end_wall = g.last_session.end_wall
        self._bills.release_held(g.number, now)
        g.session = s
        self.sessions.append(s)
        self._wire.event(
            now, "session_started", g.number, {"serial": serial, "source": source.name}
        )
        if self._hooks.start_sequence(s, now):
            return
        self._start_handshake(g, now)

    def _start_handshake(self, g: GunRecord, now: float) -> None:
        s = g.session
        assert s is not None
        advance(s, _HANDSHAKE)
        if not g.plant.begin_handshake(now):
            if not g.plant.plugged(now):
                self.start_failed(g, now, StopReason.START_PILOT_DISCONNECTED)
            elif self._plant.emergency_stop_pressed(now):
                self.start_failed(g, now, StopReason.START_EMERGENCY_STOP)
            else:
                self.start_failed(g, now, StopReason.START_CONTROL_FAULT)

    def _charging_begins(self, g: GunRecord, now: float) -> None:
        s = g.session
        assert s is not None
        if not g.plant.close_contactor(now):
            self.start_failed(g, now, StopReason.START_CONTACTOR_FAILED)
            return
        advance(s, _CHARGING)
        s.charge_start_t = now
        s.charge_start_wall = self._clock.wall(now)
        s.samples = [(s.charge_start_wall, 0)]
        s.sample_times = [now]
        s.running = RunningBill(s.tariff)
        g.next_boundary = self._clock.next_half_hour(now)
        g.next_rt = now
        bms = g.plant.bms(now)
        if bms is not None:
            s.vin = bms.vin
        self._wire.event(now, "charging_started", g.number, {"serial": s.serial})
        if bms is not None and self._image.profile.kind == "DC":
            serial = ZERO_SERIAL if s.no_bill else s.serial
            pile_no = self._wire.pile_no
            self._wire.send(
                Handshake(
                    serial=serial,
                    pile_no=pile_no,
                    gun=g.number,
                    bms_protocol="010100",
                    battery_type=bms.battery_type,
                    rated_capacity_ah=steady(bms.capacity_kwh * 1000 / bms.nominal_voltage_v, 1),
                    rated_voltage=steady(bms.nominal_voltage_v, 1),
                    battery_maker="SIMR",
                    vin=bms.vin,
                ),
                now,
            )
            self._wire.send(
                ParameterConfig(
                    serial=serial,
                    pile_no=pile_no,
                    gun=g.number,
                    max_cell_voltage=4.2,
                    max_charge_current=steady(min(bms.demand_current_a, 400.0), 1),
                    nominal_energy=steady(bms.capacity_kwh, 1),
                    max_total_voltage=steady(bms.nominal_voltage_v * 1.1, 1),
                    max_temperature=55,
                    soc=steady(bms.soc, 1),
                    battery_voltage=steady(bms.battery_voltage_v, 1),
                    pile_max_voltage=750.0,
                    pile_min_voltage=200.0,
                    pile_max_current=250.0,
                    pile_min_current=0.0,
                ),
                now,
            )
            g.next_bms = now + self._image.timings.realtime_charging_s

    # ------------------------------------------------------------------ running
    def tick(self, g: GunRecord, now: float) -> None:
        """Move the session on ``g`` along its phases; sample, stop or go on charging."""
        s = g.session
        if s is None:
            return
        if s.phase is _PREPARING and now >= s.phase_until:
            advance(s, _READY)
            s.hide_plug = False
            s.phase_until = now + s.ready_delay
        if s.phase is _READY and now >= s.phase_until:
            s.phase_until = _INF
            self._start_handshake(g, now)
        if s.phase is _HANDSHAKE:
            hs = g.plant.handshake_result(now)
            if hs.status is HandshakeStatus.DONE:
                self._charging_begins(g, now)
            elif hs.status is HandshakeStatus.FAILED:
                code = _HANDSHAKE_FAILURES.get(hs.reason or "", StopReason.START_CONTROL_FAULT)
                self.start_failed(g, now, code)
        s = g.session
        if s is not None and s.phase is _CHARGING:
            if now >= g.next_boundary:
                self._sample(g, now)
                g.next_boundary = self._clock.next_half_hour(now)
            if not g.plant.charging(now):
                if g.plant.bms_stopped(now):
                    self.stop(g, now, StopReason.SOC_FULL, pile_side=True)
                else:
                    self.stop(g, now, StopReason.ABORT_NO_CURRENT, pile_side=True)
            else:
                self._check_offline_stop(g, now)

    def _check_offline_stop(self, g: GunRecord, now: float) -> None:
        """Stop a session ``offline_stop_s`` after losing the link, unless the
        ``while_offline`` policy says charge on (then tag its quirk once)."""
        link = self._link
        policy = self._hooks.offline
        if link.logged_in or link.offline_since is None or policy.stop_s <= 0:
            return
        if now < link.offline_since + policy.stop_s:
            return
        s = g.session
        assert s is not None
        q = policy.quirk
        if not policy.stops_session:
            if q is not None and q.tag not in s.quirks:
                s.quirks.append(q.tag)
                self._wire.event(now, "quirk", g.number, q.event("keeps charging while offline"))
            return
        self.stop(g, now, StopReason.UNKNOWN, pile_side=True)

    def check_balance(self, g: GunRecord, now: float, amount: float) -> None:
        """Pile-side balance stop (only with ``timings.pile_balance_stop``)."""
        if not self._image.timings.pile_balance_stop:
            return
        s = g.session
        if s is not None and s.balance > 0 and amount >= s.balance:
            self.stop(g, now, StopReason.ABORT_INSUFFICIENT_BALANCE, pile_side=True)

    def sample_wall(self, s: SessionRecord, now: float) -> datetime:
        wall = self._clock.wall(now)
        if s.samples and wall < s.samples[-1][0]:
            wall = s.samples[-1][0]  # the clock was set back: keep samples ordered
        return wall

    def _sample(self, g: GunRecord, now: float) -> None:
        s = g.session
        assert s is not None
        units = self.meter(g, now) - s.meter_start
        s.samples.append((self.sample_wall(s, now), units))
        s.sample_times.append(now)

    # ------------------------------------------------------------------ ending
    def start_failed(self, g: GunRecord, now: float, reason: StopReason) -> None:
        """Start failure: stop notice and zero-energy bill (§3 item 7), or what the
        ``start_failure_logout`` hook decides."""
        s = g.session
        assert s is not None
        notify, delay = self._hooks.start_failure_logout(s, now)
        self.stop(g, now, reason, pile_side=True, bill_delay=delay, notify=notify)

    def stop(
        self,
        g: GunRecord,
        now: float,
        reason: StopReason,
        pile_side: bool,
        *,
        bill_delay: float | None = None,
        notify: bool = True,
    ) -> None:
        """End the session on ``g``; its bill goes to the bill store."""
        s = g.session
        assert s is not None
        pile = g.plant
        charged = s.phase is _CHARGING
        if charged:
            self._sample(g, now)
        if self._plant.power_present(now):
            pile.open_contactor(now)
        s.end_t = now
        s.end_wall = self.sample_wall(s, now)
        s.meter_end = s.meter_start + (s.samples[-1][1] if s.samples else 0)
        s.stop_reason = reason
        advance(s, _ENDED)
        if pile_side:
            s.stops += 1
        g.session = None
        g.last_session = s
        g.plug_session = s
        g.next_bms = g.next_boundary = _INF
        self._wire.event(
            now, "session_ended", g.number, {"serial": s.serial, "stop_reason": int(reason)}
        )
        if notify:
            if charged and self._image.profile.kind == "DC" and pile.vehicle is not None:
                self._send_end_frames(g, s, now)
            g.next_rt = now  # the change frame
        else:
            g.last_reported = state_key(g, self._plant, now)  # swallow the change
        self._bills.open(s, g, now, bill_delay)

    def _send_end_frames(self, g: GunRecord, s: SessionRecord, now: float) -> None:
        """0x1D / 0x21 and 0x19 (§4.18)."""
        serial = ZERO_SERIAL if s.no_bill else s.serial
        pile_no = self._wire.pile_no
        soc = whole(g.plant.soc(now))
        if s.stop_reason == StopReason.SOC_FULL:
            self._wire.send(BmsStop(serial=serial, pile_no=pile_no, gun=g.number, reason=1), now)
        else:
            self._wire.send(
                ChargerStop(serial=serial, pile_no=pile_no, gun=g.number, reason=4), now
            )
        assert s.charge_start_t is not None
        energy = (s.meter_end or s.meter_start) - s.meter_start
        self._wire.send(
            ChargeEnd(
                serial=serial,
                pile_no=pile_no,
                gun=g.number,
                end_soc=soc,
                min_cell_voltage=3.9,
                max_cell_voltage=4.0,
                min_temperature=25,
                max_temperature=30,
                charge_minutes=int((now - s.charge_start_t) // 60),
                energy=round(energy / 1000) / 10,
                charger_no=1,
            ),
            now,
        )
