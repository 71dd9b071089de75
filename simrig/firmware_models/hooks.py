"""The named hooks where firmware quirks act: each quirk of the catalogue
(:data:`~simrig.firmware_models.quirks.QUIRKS`) is consulted at exactly one of them.

A hook is a decision point with a name that says *what* firmware behaviour it decides;
later quirk primitives plug in at the same names:

==========================  ====================================================
hook                        quirks (case)
==========================  ====================================================
``start_sequence``          preparing_before_ready (zpd_case#20)
``card_scan``               billing_evasion_sequence (igo_case#1)
``start_failure_logout``    start_failure_no_logout_late_bill (igo_case#29)
``repeated_stop``           repeated_stop_loses_bill (zshy_case#23)
``bill_upload``             random_bill_loss (zpd_case#7)
``energy_register``         energy_lost (igo_case#17)
``bill_times``              duration_mismatch (igo_case#17), bill_time_anomaly (zpd_case#17)
``realtime_energy``         inflated_realtime_energy (igo_case#28)
``status_report``           spurious_fault_blip (igo_case#30)
``plug_report``             occupancy_spike (zpd_case#5_20191017)
``reboot_plugged``          reboot_plugged_loses_bill (gdyc_case#25)
``while_offline``           charge_through_outage (zpd_case#12)
==========================  ====================================================

Hooks draw from the pile's injected rng in the order the model always did (the golden
digests pin it) and emit the ``quirk`` event when a quirk fires.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from simrig.protocol.ykc import GunStatus, TransactionSource

from .phases import Phase, advance
from .quirks import Quirk, QuirkSet

if TYPE_CHECKING:
    import random

    from .bills import BillStore
    from .profile import FirmwareProfile, Timings
    from .records import GunRecord, SessionRecord
    from .wire import Wire

__all__ = ["HOOKS", "OfflinePolicy", "QuirkHooks", "hook"]

_INF = math.inf
_F = TypeVar("_F", bound=Callable[..., Any])

HOOKS: list[str] = []
"""The hook names, in declaration order (filled by :func:`hook`)."""


def hook(fn: _F) -> _F:
    """Declare a method of :class:`QuirkHooks` a named hook (its name is the hook's)."""
    HOOKS.append(fn.__name__)
    fn.__hook__ = fn.__name__  # type: ignore[attr-defined]
    return fn


@dataclass(frozen=True, slots=True)
class OfflinePolicy:
    """What the pile does while its link is down (decided once per firmware image)."""

    stop_s: float  # timings.offline_stop_s (<= 0: never considered)
    stops_session: bool  # a running session is stopped after ``stop_s``
    keeps_realtime: bool  # charging 0x13 made offline are stored for after login
    max_frames: int  # how many of them
    quirk: Quirk | None  # the quirk that changed the behaviour (tagged when it shows)


class QuirkHooks:
    """The decision points of one pile's firmware, with the quirks its image enables."""

    __slots__ = ("_q", "_rng", "_wire", "offline")

    def __init__(self, profile: FirmwareProfile, rng: random.Random, wire: Wire) -> None:
        self._rng = rng
        self._wire = wire
        self.install(profile)

    def install(self, profile: FirmwareProfile) -> None:
        """Take the quirks of ``profile`` (boot, remote upgrade)."""
        self._q = QuirkSet(profile.quirks)
        self.offline: OfflinePolicy = self.while_offline(profile.timings)

    def _fired(self, s: SessionRecord, now: float, gun: int | None, q: Quirk, text: str) -> None:
        s.quirks.append(q.name)
        self._wire.event(now, "quirk", gun, q.event(text))

    # ------------------------------------------------------------------ starting
    @hook
    def start_sequence(self, s: SessionRecord, now: float) -> bool:
        """How an authorised order starts: with preparing_before_ready (zpd_case#20) the
        session goes preparing (plug hidden) → ready → handshake; True if so."""
        q = self._q.preparing_before_ready
        if q is None:
            return False
        d1, d2 = q.delays(self._rng)
        advance(s, Phase.PREPARING)
        s.hide_plug, s.phase_until, s.ready_delay = True, now + d1, d2
        self._fired(s, now, s.gun, q, f"preparing {d1:.0f}s, ready {d2:.0f}s")
        return True

    @hook
    def card_scan(self, g: GunRecord, card: str, now: float) -> bool:
        """A card at the reader during a remote start: billing_evasion_sequence
        (igo_case#1) turns the order into a serial-less local one; True if it did."""
        q = self._q.billing_evasion_sequence
        s = g.session
        if (
            q is None
            or s is None
            or s.source is not TransactionSource.APP
            or s.phase not in (Phase.PREPARING, Phase.READY, Phase.HANDSHAKE)
            or now - s.auth_t > q.p["window_s"]
            or s.no_bill
        ):
            return False
        s.no_bill = True
        s.card = card
        self._fired(s, now, g.number, q, "card scan during remote start")
        g.next_rt = now
        return True

    @hook
    def start_failure_logout(self, s: SessionRecord, now: float) -> float | None:
        """Logout on a start failure: normal firmware reports it at once (None);
        start_failure_no_logout_late_bill (igo_case#29) stays silent and returns the late
        bill's delay."""
        q = self._q.start_failure_no_logout_late_bill
        if q is None:
            return None
        delay = q.delay(self._rng)
        self._fired(s, now, s.gun, q, f"no stop notice, bill in {delay:.0f}s")
        return delay

    # ------------------------------------------------------------------ bills
    @hook
    def repeated_stop(self, s: SessionRecord, now: float) -> str | None:
        """Repeated stop commands: repeated_stop_loses_bill (zshy_case#23) loses the bill
        of a session stopped ``min_stops`` times; the drop reason, or None."""
        q = self._q.repeated_stop_loses_bill
        if q is None or not q.loses(s.stops, self._rng):
            return None
        self._fired(s, now, s.gun, q, f"{s.stops} stops")
        return q.name

    @hook
    def bill_upload(self, s: SessionRecord, now: float) -> str | None:
        """When a stored bill is uploaded: random_bill_loss (zpd_case#7) loses it; the
        drop reason, or None."""
        q = self._q.random_bill_loss
        if q is None or not q.fires(self._rng):
            return None
        self._fired(s, now, s.gun, q, "bill lost")
        return q.name

    @hook
    def energy_register(
        self,
        s: SessionRecord,
        samples: list[tuple[datetime, int]],
        end: datetime,
        meter_end: int,
        now: float,
        interpolate: Callable[[list[float], list[int], float], int],
    ) -> tuple[list[tuple[datetime, int]], datetime, int]:
        """The meter register read into the bill: energy_lost (igo_case#17) reads a stale
        value (and its time); returns (samples, end time, meter end)."""
        q = self._q.energy_lost
        if q is None or s.charge_start_t is None or not q.fires(self._rng):
            return samples, end, meter_end
        assert s.end_t is not None
        stale = self._rng.uniform(*q.p["stale_s"])
        cut = max(s.charge_start_t, s.end_t - stale)
        units = interpolate(s.sample_times, [u for _, u in samples], cut)
        cut_wall = end - timedelta(seconds=s.end_t - cut)
        samples = [(w, u) for (w, u), t in zip(samples, s.sample_times, strict=True) if t < cut]
        samples.append((max(cut_wall, samples[-1][0]) if samples else cut_wall, units))
        self._fired(s, now, s.gun, q, f"meter end {stale:.0f}s stale")
        return samples, cut_wall, s.meter_start + units

    @hook
    def bill_times(
        self, s: SessionRecord, start: datetime, end: datetime, now: float
    ) -> tuple[datetime, datetime]:
        """How the bill's start and end times are stamped: duration_mismatch (igo_case#17)
        latches the end late, then bill_time_anomaly (zpd_case#17) may make them
        impossible; returns (start, end)."""
        q_dur = self._q.duration_mismatch
        if q_dur is not None and q_dur.fires(self._rng):
            offset = self._rng.uniform(*q_dur.p["offset_s"])
            end = end + timedelta(seconds=offset)
            self._fired(s, now, s.gun, q_dur, f"end time +{offset:.0f}s")
        q_time = self._q.bill_time_anomaly
        if q_time is not None and q_time.fires(self._rng):
            kind = self._rng.choice(q_time.p["kinds"])
            skew = timedelta(seconds=self._rng.uniform(*q_time.p["skew_s"]))
            if kind == "overlap" and s.prev_end_wall is not None:
                start = s.prev_end_wall - skew
            elif kind == "clock_jump":
                start = start - skew * 10
            else:
                kind = "end_before_start"
                end = start - skew
            self._fired(s, now, s.gun, q_time, kind)
        return start, end

    # ------------------------------------------------------------------ reporting
    @hook
    def realtime_energy(self, s: SessionRecord, now: float) -> float:
        """The energy a 0x13 reports, as a factor of the metered one:
        inflated_realtime_energy (igo_case#28) draws one per session."""
        q = self._q.inflated_realtime_energy
        if q is not None and s.inflate is None:
            s.inflate = 1.0
            if q.fires(self._rng):
                lo, hi = q.p["factor"]
                s.inflate = self._rng.uniform(lo, hi)
                self._fired(s, now, s.gun, q, "inflated 0x13 energy")
        return s.inflate or 1.0

    @hook
    def status_report(self, s: SessionRecord, status: GunStatus, now: float) -> GunStatus:
        """The status a charging gun's 0x13 reports: spurious_fault_blip (igo_case#30)
        reports fault/offline once."""
        b = self._q.spurious_fault_blip
        if b is None:
            return status
        if s.blip_at is None:
            s.blip_at = _INF
            if b.fires(self._rng):
                assert s.charge_start_t is not None
                lo, hi = b.p["after_s"]
                s.blip_at = s.charge_start_t + self._rng.uniform(lo, hi)
        if now >= s.blip_at and not s.blip_done:
            s.blip_done = True
            choice = self._rng.choice(b.p["status"])
            status = GunStatus.FAULT if choice == "fault" else GunStatus.OFFLINE
            self._fired(s, now, s.gun, b, f"status {int(status)} blip")
        return status

    @hook
    def plug_report(self, g: GunRecord, now: float) -> None:
        """The plug state reported after an unplug: occupancy_spike
        (zpd_case#5_20191017) keeps reporting "plugged" for a while."""
        q = self._q.occupancy_spike
        s = g.plug_session
        if q is None or s is None:
            return
        charged = (s.end_t or now) - s.charge_start_t if s.charge_start_t is not None else 0.0
        if q.p["only_short_sessions"] and charged >= q.p["short_s"]:
            return
        if q.fires(self._rng):
            delay = self._rng.uniform(*q.p["delay_s"])
            g.stale_plug_until = now + delay
            self._fired(s, now, g.number, q, f"plug reported {delay:.0f}s too long")

    # ------------------------------------------------------------------ faults
    @hook
    def reboot_plugged(self, g: GunRecord, bills: BillStore, now: float) -> None:
        """A reboot with gun ``g`` plugged: reboot_plugged_loses_bill (gdyc_case#25)
        drops its bills and reports the gun unplugged until it really is."""
        q = self._q.reboot_plugged_loses_bill
        if q is None:
            return
        victims = bills.unacked_on(g.number)
        if victims and q.fires(self._rng, "probability"):
            for bill in victims:
                bill.session.quirks.append(q.name)
                bills.drop(bill, now, q.name)
            g.masked_unplug = True
            self._wire.event(now, "quirk", g.number, q.event("reboot with gun plugged"))

    @hook
    def while_offline(self, timings: Timings) -> OfflinePolicy:
        """Behaviour while offline: normal firmware stops a session ``offline_stop_s``
        after losing the link; charge_through_outage (zpd_case#12) charges on and keeps
        up to ``max_frames`` realtime frames."""
        q = self._q.charge_through_outage
        return OfflinePolicy(
            stop_s=timings.offline_stop_s,
            stops_session=q is None,
            keeps_realtime=timings.offline_realtime or q is not None,
            max_frames=int(q.p["max_frames"]) if q is not None else timings.offline_realtime_max,
            quirk=q,
        )
