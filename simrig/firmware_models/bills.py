"""The bill store: the only owner of bill state (protocol-ykc §3 item 7, §4.12; 0x40 §4.17).

A session's bill is a :class:`~.records.BillRecord` linked from the session; its
:class:`~.phases.BillState` changes here and nowhere else (the device view derives the
session's bill state from it). The store schedules, holds, builds (0x3B), uploads,
retries (``timings.bill_retry``), keeps and drops bills, and takes the platform's 0x40.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from simrig.protocol.ykc import RecordAck, StopReason, TransactionRecord

from .phases import BillState, move
from .records import BillRecord
from .routing import Router, on
from .status import reported_plugged

if TYPE_CHECKING:
    import random

    from .clock import PileClock
    from .hooks import QuirkHooks
    from .image import Image
    from .link_session import LinkSession
    from .records import GunRecord, SessionRecord
    from .wire import Wire

__all__ = ["BillStore", "build_bill"]

_INF = math.inf
_HELD, _SCHEDULED, _STORED, _SENT = (
    BillState.HELD,
    BillState.SCHEDULED,
    BillState.STORED,
    BillState.SENT,
)
_ACKED, _DROPPED = BillState.ACKED, BillState.DROPPED


class BillStore(Router):
    """Bills not yet acknowledged or dropped, in the order they were made."""

    def __init__(
        self,
        wire: Wire,
        image: Image,
        hooks: QuirkHooks,
        link: LinkSession,
        clock: PileClock,
        guns: list[GunRecord],
        rng: random.Random,
    ) -> None:
        self._wire = wire
        self._image = image
        self._hooks = hooks
        self._link = link
        self._clock = clock
        self._guns = guns
        self._rng = rng
        self.bills: list[BillRecord] = []

    # ------------------------------------------------------------------ making bills
    def open(self, s: SessionRecord, g: GunRecord, now: float, delay: float | None) -> None:
        """Session ``s`` ended: its bill is due after ``delay`` (a start failure's), or as
        the ``bill_schedule`` hook decides, or by the profile: ``bill_delay_s``, or with
        ``bill_at_unplug`` held while the gun is plugged."""
        if delay is not None:
            self._add(BillRecord(session=s, due_at=now + delay))
            return
        mode, late, why = self._hooks.bill_schedule(s, now)
        if mode is None:
            mode = "at_unplug" if self._image.timings.bill_at_unplug else "at_stop"
        if mode == "at_unplug":
            if g.plant.plugged(now):  # held until the gun is returned (tick)
                self._add(BillRecord(session=s, due_at=_INF, state=_HELD, hold="unplug"))
            else:  # pulled during charging / already unplugged: at once (§13.3 #5)
                self._add(BillRecord(session=s, due_at=now))
        elif mode == "at_stop":
            self._add(BillRecord(session=s, due_at=now + self._rng.uniform(*self._bill_delay)))
        elif mode == "after_delay":
            self._add(BillRecord(session=s, due_at=now + late))
        elif mode == "next_login":
            self._add(BillRecord(session=s, due_at=_INF, state=_HELD, hold="login"))
        else:  # never
            bill = BillRecord(session=s, due_at=_INF)
            self._add(bill)
            self.drop(bill, now, why)

    @property
    def _bill_delay(self) -> tuple[float, float]:
        return self._image.timings.bill_delay_s

    def _add(self, bill: BillRecord) -> None:
        bill.session.bill = bill
        self.bills.append(bill)

    @staticmethod
    def awaits_upload(s: SessionRecord) -> bool:
        """The session ended and its bill is not built yet (held or scheduled)."""
        bill = s.bill
        return bill is not None and (bill.state is _SCHEDULED or bill.state is _HELD)

    # ------------------------------------------------------------------ time
    def deadline(self, m: float) -> float:
        """The earlier of ``m`` and the next bill due or retry."""
        for bill in self.bills:
            if bill.state is _SCHEDULED:
                if bill.due_at < m:
                    m = bill.due_at
            elif bill.state is _SENT and bill.retry_at < m:
                m = bill.retry_at
        return m

    def tick(self, now: float) -> None:
        if not self.bills:
            return
        for bill in list(self.bills):
            if bill.state is _HELD and not self._holds(bill, now):
                move(bill, _SCHEDULED)
                bill.due_at = now
            if bill.state is _SCHEDULED and now >= bill.due_at:
                self._emit(bill, now)
            elif bill.state is _SENT and now >= bill.retry_at:
                if bill.retries_left > 0 and self._link.logged_in:
                    bill.retries_left -= 1
                    self._transmit(bill, now, retry=True)
                else:
                    move(bill, _STORED)
                    bill.retry_at = _INF
                    s = bill.session
                    self._wire.event(now, "bill_kept", s.gun, {"serial": s.serial})
        self.bills = [b for b in self.bills if b.state is not _ACKED and b.state is not _DROPPED]

    def _holds(self, bill: BillRecord, now: float) -> bool:
        """Held for the unplug: the bill waits while its gun is reported plugged; held
        for the next login: until :meth:`upload_stored` releases it."""
        if bill.hold == "login":
            return True
        g = self._guns[bill.session.gun - 1]
        return reported_plugged(g, now)

    def release_held(self, gun: int, now: float) -> None:
        """A new plug or order on ``gun``: the pile finalises the bill it held there."""
        for bill in self.bills:
            if bill.state is _HELD and bill.hold == "unplug" and bill.session.gun == gun:
                move(bill, _SCHEDULED)
                bill.due_at = now

    # ------------------------------------------------------------------ upload
    def drop(self, bill: BillRecord, now: float, why: str) -> None:
        move(bill, _DROPPED)
        bill.why = why
        s = bill.session
        self._wire.event(now, "bill_dropped", s.gun, {"serial": s.serial, "why": why})

    def _emit(self, bill: BillRecord, now: float) -> None:
        """The stored bill is due for upload: the loss hooks decide here."""
        s = bill.session
        if s.no_bill:
            self.drop(bill, now, s.no_bill_why)
            return
        policy = self._hooks.offline
        if policy.drops_bills and not self._link.logged_in and policy.quirk is not None:
            s.quirks.append(policy.quirk.tag)
            self.drop(bill, now, policy.quirk.tag)
            return
        why = self._hooks.repeated_stop(s, now) or self._hooks.bill_upload(s, now)
        if why is not None:
            self.drop(bill, now, why)
            return
        bill.msg = build_bill(s, now, self._wire.pile_no, self._clock, self._hooks)
        move(bill, _STORED)
        self._wire.event(now, "bill_stored", s.gun, {"serial": s.serial})
        if self._link.logged_in:
            self._transmit(bill, now)

    def _transmit(self, bill: BillRecord, now: float, retry: bool = False) -> None:
        """Upload (retry policy ``3x30s``: 3 retries 30 s apart, else 1 after 300 s)."""
        assert bill.msg is not None
        policy = self._image.timings.bill_retry
        if not retry:
            bill.retries_left = 3 if policy == "3x30s" else 1
        move(bill, _SENT)
        bill.retry_at = now + (30.0 if policy == "3x30s" else 300.0)
        self._wire.send(bill.msg, now)

    def upload_stored(self, now: float) -> None:
        """After login: stored bills first (§3 item 1); bills held for this login fall due."""
        for bill in self.bills:
            if bill.state is _STORED:
                self._transmit(bill, now)
            elif bill.state is _HELD and bill.hold == "login":
                move(bill, _SCHEDULED)
                bill.due_at = now

    @on(RecordAck)
    def _on_record_ack(self, msg: RecordAck, seq: int, now: float) -> None:
        """0x40 transaction record acknowledgement (§3 item 8, §4.17)."""
        for bill in self.bills:
            if bill.session.serial == msg.serial and bill.state in (_SENT, _STORED):
                move(bill, _ACKED)
                bill.why = "" if int(msg.result) == 0 else "illegal"
                self._wire.event(
                    now,
                    "bill_acked",
                    bill.session.gun,
                    {"serial": msg.serial, "result": int(msg.result)},
                )
        self.bills = [b for b in self.bills if b.state is not _ACKED]

    # ------------------------------------------------------------------ link and power
    def link_down(self) -> None:
        """Bills on the wire go back to storage (sent again after the next login)."""
        for bill in self.bills:
            if bill.state is _SENT:
                move(bill, _STORED)
                bill.retry_at = _INF

    def unacked_on(self, gun: int) -> list[BillRecord]:
        return [b for b in self.bills if b.session.gun == gun and b.state is not _ACKED]

    def rebooted(self) -> None:
        """Non-volatile storage survives a reboot; what was on the wire is stored again."""
        self.bills = [b for b in self.bills if b.state is not _DROPPED]
        self.link_down()


def build_bill(
    s: SessionRecord, now: float, pile_no: str, clock: PileClock, hooks: QuirkHooks
) -> TransactionRecord:
    """The 0x3B of a session (§4.12): time and energy hooks decide here."""
    samples = list(s.samples)
    start = s.charge_start_wall or s.auth_wall
    assert s.end_wall is not None and s.end_t is not None
    end = s.end_wall
    meter_end = s.meter_end if s.meter_end is not None else s.meter_start
    samples, end, meter_end = hooks.energy_register(s, samples, end, meter_end, now, _interpolate)
    start, end, trade = hooks.bill_times(s, start, end, clock.wall(now), now)
    lines = s.tariff.bill(samples)
    sharp, peak, flat, valley = lines.lines
    kw: dict[str, Any] = {}
    for prefix, line in (("sharp", sharp), ("peak", peak), ("flat", flat), ("valley", valley)):
        kw[f"{prefix}_price"] = line.unit_price / 100_000
        kw[f"{prefix}_energy"] = line.energy / 10_000
        kw[f"{prefix}_loss_energy"] = line.loss_energy / 10_000
        kw[f"{prefix}_amount"] = line.amount / 10_000
    return TransactionRecord(
        serial=s.serial,
        pile_no=pile_no,
        gun=s.gun,
        start_time=start,
        end_time=end,
        meter_start=s.meter_start / 10_000,
        meter_end=meter_end / 10_000,
        total_energy=lines.energy / 10_000,
        total_loss_energy=lines.loss_energy / 10_000,
        total_amount=lines.total_amount / 10_000,
        vin=s.vin,
        source=s.source,
        trade_time=trade,
        stop_reason=s.stop_reason or StopReason.UNKNOWN,
        physical_card=s.card,
        **kw,
    )


def _interpolate(times: list[float], values: list[int], t: float) -> int:
    """Linear interpolation of the sampled meter at ``t`` (rounded to 1e-4 kWh)."""
    if not times or t <= times[0]:
        return values[0] if values else 0
    for i in range(1, len(times)):
        t0, t1, v0, v1 = times[i - 1], times[i], values[i - 1], values[i]
        if t0 <= t <= t1:
            return v0 if t1 == t0 else round(v0 + (v1 - v0) * (t - t0) / (t1 - t0))
    return values[-1]
