"""What a gun tells the platform while it runs: 0x13 realtime data (protocol-ykc §4.6),
the BMS frames 0x23/0x25 (§4.18) and the realtime frames kept while offline.

The 0x13 energy passes the ``realtime_energy`` hook, its status the ``status_report``
hook; offline storage follows the ``while_offline`` policy.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import fields
from typing import TYPE_CHECKING, Any, cast

from simrig.protocol.ykc import BmsInfo, DemandOutput, GunStatus, RealtimeData, TriState

from .phases import Phase
from .records import Reading
from .status import ZERO_SERIAL, state_key
from .wire_rounding import steady, whole

if TYPE_CHECKING:
    from simrig.plant import PhysicalPile

    from .hooks import QuirkHooks
    from .image import Image
    from .link_session import LinkSession
    from .records import GunRecord
    from .sessions import SessionMachine
    from .wire import Wire

__all__ = ["Telemetry"]

_INF = math.inf
_GUN_STATUS = {int(status): status for status in GunStatus}
_CHARGING = Phase.CHARGING
#: 0x13 battery temperature when there is no BMS data (the field's wire default)
_NO_BATTERY_C = cast(
    float, {f.name: f.default for f in fields(RealtimeData)}["battery_max_temperature"]
)
#: the BMS frames' current fields stop at 400 A (``amps_capped``)
_MAX_BMS_AMPS = 400.0
_MAX_BMS_AMPS_R = steady(_MAX_BMS_AMPS, 1)


class Telemetry:
    """Realtime and BMS frames of every gun; the offline realtime store."""

    def __init__(
        self,
        wire: Wire,
        image: Image,
        plant: PhysicalPile,
        hooks: QuirkHooks,
        link: LinkSession,
        sessions: SessionMachine,
        guns: list[GunRecord],
    ) -> None:
        self._wire = wire
        self._image = image
        self._plant = plant
        self._hooks = hooks
        self._link = link
        self._sessions = sessions
        self._guns = guns
        #: 0x13 made while offline, uploaded after the next login (§3 item 1)
        self.store: deque[RealtimeData] = deque()

    def report_changes(self, now: float) -> None:
        """A 0x13 at once for every gun whose (status, plugged) changed."""
        plant = self._plant
        for g in self._guns:
            key = state_key(g, plant, now)
            if key != g.last_reported:
                self.send_realtime(g, now, key)

    def flush_store(self, now: float) -> None:
        while self.store:
            self._wire.send(self.store.popleft(), now)

    def send_realtime(self, g: GunRecord, now: float, key: tuple[int, bool] | None = None) -> None:
        """Send (or keep offline) the 0x13 of ``g`` and schedule the next one."""
        t = self._image.timings
        g.last_reported = key = key or state_key(g, self._plant, now)
        logged_in = self._link.logged_in
        bare = logged_in and self._wire.bare_realtime(now)
        msg = self._realtime(g, now, key, readings=not bare)
        charging = g.session is not None and g.session.phase is _CHARGING
        g.next_rt = now + (t.realtime_charging_s if charging else t.realtime_idle_s)
        if bare:  # the wire said it goes decoded: no need to ask again
            self._wire.send_decoded(msg, now)
        elif logged_in:
            self._wire.send(msg, now)
        elif charging:
            policy = self._hooks.offline
            if policy.keeps_realtime:
                self.store.append(msg)
                while len(self.store) > policy.max_frames:
                    self.store.popleft()
        if not charging and not logged_in:
            g.next_rt = _INF  # idle frames resume after login
        if charging:
            self._sessions.check_balance(g, now, msg.amount)

    def _realtime(
        self, g: GunRecord, now: float, key: tuple[int, bool], readings: bool = True
    ) -> RealtimeData:
        """The gun's 0x13; without ``readings`` its electrical readings keep their
        defaults (a frame on paper whose readers never look at them)."""
        status_i, plugged = key
        status = _GUN_STATUS[status_i]
        s = g.session
        pile = g.plant
        faults = 1 if self._plant.emergency_stop_pressed(now) else 0
        returned = TriState.NO if pile.plugged(now) else TriState.YES
        if s is None or s.phase is not _CHARGING:
            serial = ZERO_SERIAL if s is None or s.no_bill else s.serial
            return RealtimeData(
                serial=serial,
                pile_no=self._wire.pile_no,
                gun=g.number,
                status=status,
                gun_returned=returned,
                plugged=plugged,
                faults=faults,
            )
        assert s.charge_start_t is not None and s.running is not None
        sessions = self._sessions
        units = sessions.meter(g, now) - s.meter_start
        loss_units, amount = s.running.totals(s.samples, (sessions.sample_wall(s, now), units))
        factor = self._hooks.realtime_energy(s, now)
        status = self._hooks.status_report(s, status, now)
        return RealtimeData(
            serial=ZERO_SERIAL if s.no_bill else s.serial,
            pile_no=self._wire.pile_no,
            gun=g.number,
            status=status,
            gun_returned=returned,
            plugged=plugged,
            charge_minutes=int((now - s.charge_start_t) // 60),
            energy=round(units * factor) / 10_000,
            loss_energy=round(loss_units * factor) / 10_000,
            amount=amount / 10_000,
            faults=faults,
            **(self._readings(g, now) if readings else {}),
        )

    def _readings(self, g: GunRecord, now: float) -> dict[str, Any]:
        """The electrical readings of a charging gun's 0x13 (§4.6)."""
        r = self.read(g, now)
        remaining, battery_c = r.remaining, r.battery_c
        return {
            "voltage": r.volts,
            "current": r.amps,
            "gun_temperature": r.gun_c,
            "soc": whole(g.plant.soc(now)),  # float noise must not flip a digit
            "battery_max_temperature": _NO_BATTERY_C if battery_c is None else battery_c,
            "remaining_minutes": 0 if remaining is None else min(int(remaining // 60), 65535),
        }

    def read(self, g: GunRecord, now: float) -> Reading:
        """The gun's wire-rounded readings at ``now``, read once per plant state."""
        plant = g.plant
        version = plant.state_version(now)
        r = g.reading
        if r is not None and r.at == now and r.version == version:
            return r
        volts, amps, battery_c = plant.outputs(now)
        amps_r = steady(amps, 1)
        r = g.reading = Reading(
            at=now,
            version=version,
            volts=steady(volts, 1),
            amps=amps_r,
            amps_capped=_MAX_BMS_AMPS_R if amps > _MAX_BMS_AMPS else amps_r,  # = min()
            gun_c=steady(plant.gun_temp_at(amps), 0),
            remaining=plant.time_until_bms_stop(now) if self._image.profile.kind == "DC" else None,
            battery_c=None if battery_c is None else steady(battery_c, 0),
        )
        return r

    def tick_bms(self, g: GunRecord, now: float) -> None:
        """0x23 and 0x25 every ``realtime_charging_s`` while charging (§4.18)."""
        s = g.session
        if self._link.logged_in and s is not None and s.phase is _CHARGING:
            self._send_bms_frames(g, now)
            g.next_bms = now + self._image.timings.realtime_charging_s
        else:
            g.next_bms = _INF

    def _send_bms_frames(self, g: GunRecord, now: float) -> None:
        profile = self._image.profile
        if profile.kind != "DC" or not profile.timings.bms_frames:
            return
        s = g.session
        if s is None or not g.plant.bms_talks(now):  # no BMS data
            return
        if self._wire.telemetry_on_paper:  # no reply, read by no check (fleet shards)
            self._wire.on_paper(2)
            return
        r = self.read(g, now)
        assert r.battery_c is not None  # (the BMS talks)
        bms = g.plant.bms(now)
        assert bms is not None
        serial = ZERO_SERIAL if s.no_bill else s.serial
        assert s.charge_start_t is not None
        remaining, volts, amps, battery_c = r.remaining, r.volts, r.amps_capped, r.battery_c
        pile_no = self._wire.pile_no
        self._wire.send(
            DemandOutput(
                serial=serial,
                pile_no=pile_no,
                gun=g.number,
                demand_voltage=steady(bms.demand_voltage_v, 1),
                demand_current=steady(min(bms.demand_current_a, 400.0), 1),
                measured_voltage=volts,
                measured_current=amps,
                max_cell_voltage_group=400,
                soc=whole(bms.soc),
                remaining_minutes=0 if remaining is None else min(int(remaining // 60), 65535),
                output_voltage=volts,
                output_current=amps,
                charge_minutes=int((now - s.charge_start_t) // 60),
            ),
            now,
        )
        self._wire.send(
            BmsInfo(
                serial=serial,
                pile_no=pile_no,
                gun=g.number,
                max_cell_voltage_index=1,
                max_temperature=battery_c,
                max_temperature_probe=1,
                min_temperature=battery_c - 2,
                min_temperature_probe=2,
                flags=0x1000,
            ),
            now,
        )
