"""The named hooks where firmware quirk primitives act: each primitive of the catalogue
(:data:`~simrig.firmware_models.quirks.PRIMITIVES`) is consulted at exactly one of them.

A hook is a decision point with a name that says *what* firmware behaviour it decides:

==========================  ====================================================
hook                        primitives (cases)
==========================  ====================================================
``start_sequence``          preparing_phase (zpd_case#20)
``card_scan``               card_during_remote_start (igo_case#1)
``start_failure_logout``    start_failure_silence (igo_case#29)
``repeated_stop``           repeated_stop_drop (zshy_case#23)
``bill_schedule``           bill_timing (zpd_case#4, igo_case#29, gdyc_case#15),
                            late_record_close (igo_case#17)
``bill_upload``             bill_loss (zpd_case#7)
``energy_register``         stale_meter_end (igo_case#17)
``bill_times``              bill_stamps (zpd_case#4), late_end_stamp (igo_case#17),
                            impossible_bill_times (zpd_case#17)
``realtime_energy``         realtime_energy_factor (igo_case#28)
``status_report``           status_blip (igo_case#30)
``plug_report``             stale_plug_report (zpd_case#5_20191017)
``reboot_plugged``          reboot_gun_plugged (gdyc_case#25)
``while_offline``           offline_behaviour (zpd_case#12)
==========================  ====================================================

Hooks draw from the pile's injected rng in the order the model always did (the golden
digests pin it: a preset draws exactly what its quirk did) and emit the ``quirk`` event
(tagged with the preset's name when a preset enabled the primitive) when one fires.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from simrig.protocol.ykc import GunStatus, TransactionSource

from .phases import Phase, advance
from .quirks import Quirk, QuirkSet, expand, uniform_span

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
    drops_bills: bool  # bills falling due while offline are lost
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
        self._q = QuirkSet(expand(profile.quirks))
        self.offline: OfflinePolicy = self.while_offline(profile.timings)

    def _fired(self, s: SessionRecord, now: float, gun: int | None, q: Quirk, text: str) -> None:
        s.quirks.append(q.tag)
        self._wire.event(now, "quirk", gun, q.event(text))

    # ------------------------------------------------------------------ starting
    @hook
    def start_sequence(self, s: SessionRecord, now: float) -> bool:
        """How an authorised order starts: with preparing_phase (zpd_case#20) the session
        goes preparing (plug hidden) → ready → handshake; True if so."""
        q = self._q.preparing_phase
        if q is None:
            return False
        d1, d2 = q.delays(self._rng)
        advance(s, Phase.PREPARING)
        s.hide_plug, s.phase_until, s.ready_delay = True, now + d1, d2
        self._fired(s, now, s.gun, q, f"preparing {d1:.0f}s, ready {d2:.0f}s")
        return True

    @hook
    def card_scan(self, g: GunRecord, card: str, now: float) -> bool:
        """A card at the reader during a remote start: card_during_remote_start
        (igo_case#1) turns the order into a serial-less local one; True if it did."""
        q = self._q.card_during_remote_start
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
        s.no_bill_why = q.tag
        s.card = card
        self._fired(s, now, g.number, q, "card scan during remote start")
        g.next_rt = now
        return True

    @hook
    def start_failure_logout(self, s: SessionRecord, now: float) -> tuple[bool, float | None]:
        """Logout on a start failure: normal firmware reports it at once (True, None);
        start_failure_silence (igo_case#29) stays silent (False) and may hold the bill
        (its delay, else None: the bill as scheduled)."""
        q = self._q.start_failure_silence
        if q is None or (q.p["probability"] < 1.0 and not q.fires(self._rng, "probability")):
            return True, None
        span = q.p["bill_delay_s"]
        if span[1] <= 0:
            self._fired(s, now, s.gun, q, "no stop notice")
            return False, None
        delay = uniform_span(self._rng, span)
        self._fired(s, now, s.gun, q, f"no stop notice, bill in {delay:.0f}s")
        return False, delay

    # ------------------------------------------------------------------ bills
    @hook
    def repeated_stop(self, s: SessionRecord, now: float) -> str | None:
        """Repeated stop commands: repeated_stop_drop (zshy_case#23) loses the bill of a
        session stopped ``min_stops`` times; the drop reason, or None."""
        q = self._q.repeated_stop_drop
        if q is None or not q.loses(s.stops, self._rng):
            return None
        self._fired(s, now, s.gun, q, f"{s.stops} stops")
        return q.tag

    @hook
    def bill_schedule(self, s: SessionRecord, now: float) -> tuple[str | None, float, str]:
        """When a finished session's bill is uploaded: bill_timing (zpd_case#4,
        igo_case#29, gdyc_case#15) picks ``at_stop`` / ``at_unplug`` / ``after_delay``
        (with its delay) / ``next_login`` / ``never``; else late_record_close
        (igo_case#17) closes a charged session's record late (``after_delay``), its end
        of charge maybe latched at that closing. Returns (mode, delay, the drop reason of
        ``never``), (None, 0, "") to keep the profile's timing."""
        q = self._q.bill_timing
        if q is not None:
            kind = "charged" if s.charge_start_t is not None else "start_failure"
            if kind in q.p["sessions"]:
                mode = q.choose(self._rng)
                if mode is not None:
                    delay = (
                        uniform_span(self._rng, q.p["delay_s"]) if mode == "after_delay" else 0.0
                    )
                    text = f"bill {mode}" + (f" {delay:.0f}s" if mode == "after_delay" else "")
                    self._fired(s, now, s.gun, q, text)
                    return mode, delay, q.tag
        late = self._q.late_record_close
        if (
            late is None
            or s.charge_start_t is None
            or s.end_t is None
            or s.end_wall is None
            or not late.fires(self._rng)
        ):
            return None, 0.0, ""
        delay = uniform_span(self._rng, late.p["delay_s"])
        text = f"record closed {delay:.0f}s after the charge end"
        if late.fires(self._rng, "relatch"):
            s.end_wall += timedelta(seconds=now - s.end_t + delay)
            text += ", end of charge latched then"
        self._fired(s, now, s.gun, late, text)
        return "after_delay", delay, late.tag

    @hook
    def bill_upload(self, s: SessionRecord, now: float) -> str | None:
        """When a stored bill is uploaded: bill_loss (zpd_case#7) loses it; the drop
        reason, or None."""
        q = self._q.bill_loss
        if q is None or not q.fires(self._rng):
            return None
        self._fired(s, now, s.gun, q, "bill lost")
        return q.tag

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
        """The meter register read into the bill: stale_meter_end (igo_case#17) reads a
        stale value (and its time); returns (samples, end time, meter end)."""
        q = self._q.stale_meter_end
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
        self, s: SessionRecord, start: datetime, end: datetime, trade: datetime, now: float
    ) -> tuple[datetime, datetime, datetime]:
        """How the bill's start, end and trade times are stamped: bill_stamps (zpd_case#4)
        picks the sources and the clock drift, late_end_stamp (igo_case#17) latches the
        end late, then impossible_bill_times (zpd_case#17) may make them impossible;
        returns (start, end, trade)."""
        q_stamp = self._q.bill_stamps
        if q_stamp is not None:
            if q_stamp.p["end"] == "upload":
                end = max(trade, start)
            if q_stamp.p["trade"] == "charge_end" and s.end_wall is not None:
                trade = s.end_wall
            cap = q_stamp.p["max_drift_s"]
            drift = max(-cap, min(cap, q_stamp.p["drift_s_per_day"] * now / 86400.0))
            if drift:
                shift = timedelta(seconds=drift)
                start, end, trade = start + shift, end + shift, trade + shift
        q_dur = self._q.late_end_stamp
        if q_dur is not None and q_dur.fires(self._rng):
            offset = self._rng.uniform(*q_dur.p["offset_s"])
            end = end + timedelta(seconds=offset)
            self._fired(s, now, s.gun, q_dur, f"end time +{offset:.0f}s")
        q_time = self._q.impossible_bill_times
        if q_time is not None and q_time.fires(self._rng):
            kind = self._rng.choice(q_time.p["kinds"])
            skew = timedelta(seconds=self._rng.uniform(*q_time.p["skew_s"]))
            if kind == "overlap" and s.prev_end_wall is not None:
                start = s.prev_end_wall - skew
            elif kind == "clock_jump":
                start = start - skew * 10
            elif kind == "clock_step":  # igo_case#17: the whole bill ahead, durations intact
                start, end, trade = start + skew, end + skew, trade + skew
            else:
                kind = "end_before_start"
                end = start - skew
            self._fired(s, now, s.gun, q_time, kind)
        return start, end, trade

    # ------------------------------------------------------------------ reporting
    @hook
    def realtime_energy(self, s: SessionRecord, now: float) -> float:
        """The energy a 0x13 reports, as a factor of the metered one:
        realtime_energy_factor (igo_case#28) draws one per session."""
        q = self._q.realtime_energy_factor
        if q is not None and s.inflate is None:
            s.inflate = 1.0
            if q.fires(self._rng):
                lo, hi = q.p["factor"]
                s.inflate = self._rng.uniform(lo, hi)
                self._fired(s, now, s.gun, q, "inflated 0x13 energy")
        return s.inflate or 1.0

    @hook
    def status_report(self, s: SessionRecord, status: GunStatus, now: float) -> GunStatus:
        """The status a charging gun's 0x13 reports: status_blip (igo_case#30) reports
        fault/offline once."""
        b = self._q.status_blip
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
        """The plug state reported after an unplug: stale_plug_report
        (zpd_case#5_20191017) keeps reporting "plugged" for a while."""
        q = self._q.stale_plug_report
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
        """A reboot with gun ``g`` plugged: reboot_gun_plugged (gdyc_case#25) loses its
        bills and/or reports the gun unplugged until it really is."""
        q = self._q.reboot_gun_plugged
        if q is None:
            return
        victims = bills.unacked_on(g.number)
        if victims and q.fires(self._rng, "probability"):
            for bill in victims:
                bill.session.quirks.append(q.tag)
                if q.p["bill"] == "lose":
                    bills.drop(bill, now, q.tag)
            if q.p["report"] == "idle":
                g.masked_unplug = True
            self._wire.event(now, "quirk", g.number, q.event("reboot with gun plugged"))

    @hook
    def while_offline(self, timings: Timings) -> OfflinePolicy:
        """Behaviour while offline: normal firmware stops a session ``offline_stop_s``
        after losing the link; offline_behaviour (zpd_case#12) may charge on, keep up to
        ``max_frames`` realtime frames, stop at its own time, drop bills due offline."""
        q = self._q.offline_behaviour
        if q is None:
            return OfflinePolicy(
                stop_s=timings.offline_stop_s,
                stops_session=True,
                keeps_realtime=timings.offline_realtime,
                max_frames=timings.offline_realtime_max,
                drops_bills=False,
                quirk=None,
            )
        own_stop = q.p["stop_after_s"]
        return OfflinePolicy(
            stop_s=timings.offline_stop_s if own_stop < 0 else own_stop,
            stops_session=not q.p["keep_charging"],
            keeps_realtime=timings.offline_realtime or q.p["keep_realtime"],
            max_frames=int(q.p["max_frames"]),
            drops_bills=q.p["bill"] == "drop",
            quirk=q,
        )
