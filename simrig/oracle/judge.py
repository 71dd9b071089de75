"""The billing oracle: truth vs device view vs platform view → anomaly codes 1–11.

It never guesses from one view alone (design.md principle 4). Per plug-in (the truth
session) it finds the orders the pile executed in that window, the bills the pile sent
and the bills the platform charged, and assigns codes with the meanings of
field-incidents.md:

======  ===========================================================================
code    assigned when
======  ===========================================================================
1 / 2   an executed order has no bill on the platform (2: the link was down when
        charging really ended); frames-only: the pile never sent a 0x3B, or sent it
        and got no 0x40 (or a 0x40 "illegal bill"). A 0x40 whose result byte is outside
        §4.12 is *not* a lost bill: the verdict says the rig cannot know (a note).
3       bill start/end out of order, or off the true charge start/end by > tolerance
4       bill energy above the metered truth (or above what the pile could deliver)
5       bill charging duration off the true duration by > tolerance
6       occupancy minutes billed differ from the true gap (unplug − charge end)
7       bill interval overlaps another bill on the same gun
8 / 9   bill energy / duration disagrees with the platform's own realtime record
10      service end on the bill disagrees with the platform's own session record
11      energy really metered is missing from the bill
======  ===========================================================================

Frames-only (no platform view), each order's ``bill_state`` says what the frames show:
``never_sent``, ``unacked``, ``illegal``, ``unknown_result``, ``acked_late`` or ``acked``
(:class:`~simrig.oracle.views.AckState`).

The fair price uses the billing model the backend really pushed to the pile (0x0A/0x58,
:mod:`simrig.oracle.pushed_tariff`) in force when charging started, when it prices
differently from the scenario's tariff; an out-of-range model is not used (it is a
backend deviation, :mod:`simrig.oracle.deviations`).

It also reports false notifications (a "charge finished"/occupancy notice while current
was really flowing — igo_case#30) and the over/under-charge against a fair bill (true
energy at the tariff plus the true occupancy fee).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from simrig.domain import Tariff, energy_from_kwh, money_to_yuan
from simrig.domain.anomaly import AnomalyCode as C
from simrig.oracle.pushed_tariff import PushedModel, model_in_force, same_prices
from simrig.oracle.views import (
    AckState,
    DeviceBill,
    DeviceOrder,
    PlatformBill,
    PlatformNotification,
    PlatformSession,
    PlatformView,
    TruthRecord,
)


@dataclass(frozen=True, slots=True)
class Tolerances:
    time_s: float = 120.0
    duration_s: float = 120.0
    energy_kwh: float = 0.1
    energy_ratio: float = 0.02
    occupancy_min: float = 2.0
    #: a start command may precede the plug (the 60-second rule, protocol §3 item 4)
    start_before_plug_s: float = 120.0
    #: a notice this long before the true charge end counts as false
    notice_margin_s: float = 60.0
    #: the platform's clock may be this far off the run's (its bill receipt vs the send)
    #: before durations on its own record are not judged (a backend run unscaled)
    platform_clock_s: float = 300.0


@dataclass(frozen=True, slots=True)
class OrderVerdict:
    serial: str
    codes: frozenset[int]
    device_bill: DeviceBill | None
    platform_bill: PlatformBill | None
    platform_session: PlatformSession | None
    notes: tuple[str, ...] = ()
    #: frames-only: ``never_sent`` or the :class:`AckState` of the order's bill ("" with a view)
    bill_state: str = ""


@dataclass(frozen=True, slots=True)
class SessionVerdict:
    truth: TruthRecord
    orders: tuple[OrderVerdict, ...]
    codes: frozenset[int]
    false_notifications: tuple[PlatformNotification, ...] = ()
    charged_yuan: float | None = None
    fair_yuan: float = 0.0
    evidence: tuple[str, ...] = field(default=())
    #: session-level notes (fair-price basis); shown after the orders' notes
    remarks: tuple[str, ...] = ()
    #: why the session was not judged (backend unreachable or incompatible); "" = judged
    not_judged: str = ""

    @property
    def key(self) -> str:
        return f"{self.truth.pile_no}:{self.truth.gun}:{self.truth.index}"

    @property
    def overcharge_yuan(self) -> float | None:
        if self.charged_yuan is None:
            return None
        return round(self.charged_yuan - self.fair_yuan, 4)

    @property
    def notes(self) -> tuple[str, ...]:
        return tuple(n for o in self.orders for n in o.notes) + self.remarks

    @property
    def judged(self) -> bool:
        return not self.not_judged

    def unjudged(self, reason: str) -> SessionVerdict:
        """This session marked "not judged": no codes, ``reason`` said instead."""
        return replace(self, codes=frozenset(), not_judged=reason)


def _close(a: datetime | None, b: datetime | None, seconds: float) -> bool:
    if a is None or b is None:
        return a is b
    return abs((a - b).total_seconds()) <= seconds


def _seconds(a: datetime | None, b: datetime | None) -> float | None:
    if a is None or b is None:
        return None
    return (b - a).total_seconds()


def _episode(
    truth: TruthRecord, anchor: datetime | None
) -> tuple[datetime | None, datetime | None]:
    """The charging episode an order is judged against (issue 14 item 7): the whole
    plug-in when it had at most one; else the episode whose start is nearest the order's
    first charging (or its bill's start)."""
    if len(truth.episodes) < 2 or anchor is None:
        return truth.charge_start, truth.charge_end
    return min(truth.episodes, key=lambda ep: abs((ep[0] - anchor).total_seconds()))


def fair_amount(truth: TruthRecord, tariff: Tariff) -> float:
    """What an honest platform charges: true energy at the tariff + true occupancy fee."""
    total = 0
    if truth.charge_start and truth.charge_end and truth.energy_kwh > 0:
        samples = [(truth.charge_start, 0), (truth.charge_end, energy_from_kwh(truth.energy_kwh))]
        total += tariff.price(tariff.split_energy(samples)).total_amount
    stopped = truth.charge_end or truth.service_stop
    if tariff.occupancy and stopped and truth.unplug_at:
        total += tariff.occupancy.fee(stopped, truth.unplug_at)
    return float(money_to_yuan(total))


def bill_fate(order: DeviceOrder) -> tuple[str, bool, list[str]]:
    """What the frames alone say became of an order's bill (§4.12, §3 item 8): its state
    (``never_sent``, ``unacked``, ``illegal``, ``unknown_result``, ``acked_late``,
    ``acked``), whether it counts as lost, and the notes saying why."""
    notes: list[str] = []
    # a bill marked ``acked`` without an ack state (built by hand) counts as acked
    states = {
        AckState.ACKED if b.acked and b.ack_state is AckState.UNACKED else b.ack_state: b
        for b in order.bills
    }
    if not order.bills:
        notes.append(f"{order.serial}: the pile never sent a bill (no 0x3B)")
        return "never_sent", True, notes
    for state in (AckState.ACKED, AckState.ACKED_LATE):
        if state in states:
            bill = states[state]
            if state is AckState.ACKED_LATE and bill.acked_at is not None:
                delay = (bill.acked_at - bill.sent_at).total_seconds()
                notes.append(
                    f"{order.serial}: bill acknowledged {delay:.0f} s after the first 0x3B, "
                    f"later than the pile's retry interval (§3 item 8)"
                )
            return state.value, False, notes
    if AckState.UNKNOWN_RESULT in states:
        bill = states[AckState.UNKNOWN_RESULT]
        notes.append(
            f"{order.serial}: bill acknowledged with 0x40 result 0x{bill.ack_result or 0:02X}, "
            f"outside §4.12 (0x00 received, 0x01 illegal): unknown whether it was billed"
        )
        return AckState.UNKNOWN_RESULT.value, False, notes
    if AckState.ILLEGAL in states:
        notes.append(f"{order.serial}: the backend refused the bill as illegal (0x40 0x01)")
        return AckState.ILLEGAL.value, True, notes
    sent = max(b.transmissions for b in order.bills)
    notes.append(f"{order.serial}: bill sent {sent}× (0x3B), never acknowledged (no 0x40)")
    return AckState.UNACKED.value, True, notes


class Oracle:
    """Judge the sessions of one run."""

    def __init__(self, tariff: Tariff, tolerances: Tolerances | None = None) -> None:
        self.tariff = tariff
        self.tol = tolerances or Tolerances()

    def judge(
        self,
        truths: Iterable[TruthRecord],
        orders: Iterable[DeviceOrder],
        platform: PlatformView | None,
        pushed: Mapping[str, Sequence[PushedModel]] | None = None,
    ) -> list[SessionVerdict]:
        """Judge every plug-in; ``pushed``: per pile, the billing models the backend sent."""
        truths = sorted(truths, key=lambda t: (t.pile_no, t.gun, t.plug_at))
        p_bills = {b.serial: b for b in platform.bills()} if platform else {}
        p_sessions = {s.serial: s for s in platform.sessions()} if platform else {}
        notices: dict[str, list[PlatformNotification]] = defaultdict(list)
        for notice in platform.notifications() if platform else []:
            notices[notice.pile_no].append(notice)
        by_gun: dict[tuple[str, int], list[DeviceOrder]] = defaultdict(list)
        for order in orders:
            by_gun[order.pile_no, order.gun].append(order)
        all_bills: dict[tuple[str, int], list[DeviceBill]] = defaultdict(list)
        for (pile, gun), items in by_gun.items():
            for order in items:
                all_bills[pile, gun] += order.bills
        verdicts = []
        for truth in truths:
            window_start = truth.plug_at - timedelta(seconds=self.tol.start_before_plug_s)
            mine = [
                o
                for o in by_gun[truth.pile_no, truth.gun]
                if o.first_seen >= window_start
                and (truth.unplug_at is None or o.first_seen <= truth.unplug_at)
            ]
            order_verdicts = tuple(
                self._order(
                    truth,
                    o,
                    p_bills.get(o.serial),
                    p_sessions.get(o.serial),
                    platform is not None,
                    all_bills[truth.pile_no, truth.gun],
                )
                for o in mine
            )
            codes = set(c for ov in order_verdicts for c in ov.codes)
            codes |= self._energy(truth, order_verdicts)
            false = tuple(
                self._false_notices(truth, {o.serial for o in mine}, notices[truth.pile_no])
            )
            charged = None
            if platform is not None:
                charged = sum(
                    ov.platform_bill.total_charged_yuan
                    for ov in order_verdicts
                    if ov.platform_bill is not None
                )
            evidence = tuple(
                ov.device_bill.frame_hex for ov in order_verdicts if ov.device_bill is not None
            )
            tariff, remarks = self._fair_tariff(truth, (pushed or {}).get(truth.pile_no, ()))
            verdicts.append(
                SessionVerdict(
                    truth=truth,
                    orders=order_verdicts,
                    codes=frozenset(codes),
                    false_notifications=false,
                    charged_yuan=charged,
                    fair_yuan=fair_amount(truth, tariff),
                    evidence=evidence,
                    remarks=remarks,
                )
            )
        return verdicts

    def _fair_tariff(
        self, truth: TruthRecord, models: Sequence[PushedModel]
    ) -> tuple[Tariff, tuple[str, ...]]:
        """The tariff of the fair price: the backend's model in force at the charge start
        (0x0A/0x58, §5) when it prices differently from the scenario's, else the scenario's."""
        at = truth.charge_start or truth.plug_at
        valid, rejected = model_in_force(models, at)
        remarks = []
        if rejected is not None:
            remarks.append(
                f"backend's billing model at {rejected.at:%H:%M:%S} is out of range "
                f"({'; '.join(rejected.problems)}): not used for the fair price"
            )
        if valid is None or valid.tariff is None or same_prices(valid.tariff, self.tariff):
            return self.tariff, tuple(remarks)
        remarks.append(
            f"fair price from the billing model the backend pushed at {valid.at:%H:%M:%S} "
            f"(0x{valid.frame_type:02X}, model {valid.tariff.model_no}), not the scenario's"
        )
        return replace(valid.tariff, occupancy=self.tariff.occupancy), tuple(remarks)

    # -- one order ---------------------------------------------------------------------------
    def _order(
        self,
        truth: TruthRecord,
        order: DeviceOrder,
        p_bill: PlatformBill | None,
        p_session: PlatformSession | None,
        has_platform: bool,
        gun_bills: list[DeviceBill],
    ) -> OrderVerdict:
        tol = self.tol
        codes: set[int] = set()
        notes: list[str] = []
        d_bill = order.bills[0] if order.bills else None
        bill_state = ""
        if has_platform:
            if p_bill is None:
                codes.add(C.BILL_LOST_OFFLINE if truth.link_down_at_charge_end else C.BILL_LOST)
                notes.append(f"{order.serial}: no bill reached the platform")
        else:
            bill_state = self._frames_only_bill(truth, order, codes, notes)
        bill_start = p_bill.start if p_bill else (d_bill.start if d_bill else None)
        bill_end = p_bill.end if p_bill else (d_bill.end if d_bill else None)
        if bill_start is not None or bill_end is not None:
            ordered = bill_start is not None and bill_end is not None and bill_end >= bill_start
            any_bill = p_bill or d_bill
            bill_kwh = any_bill.energy_kwh if any_bill is not None else 0.0
            delivered = order.first_charging is not None or bill_kwh > 0
            episode = _episode(truth, order.first_charging or bill_start)
            if truth.charge_start is not None and delivered:
                true_start, true_end = episode[0], episode[1] or episode[0]
                off = not _close(bill_start, true_start, tol.time_s) or not _close(
                    bill_end, true_end, tol.time_s
                )
            else:  # an order that never delivered current: the bill must lie in the plug-in
                true_start, true_end = truth.plug_at, truth.unplug_at or truth.plug_at
                slack = timedelta(seconds=tol.time_s)
                off = any(
                    t is not None and not (truth.plug_at - slack <= t <= true_end + slack)
                    for t in (bill_start, bill_end)
                )
            if not ordered or off:
                codes.add(C.TIME_ANOMALY)
                notes.append(
                    f"{order.serial}: bill {bill_start}–{bill_end}, truth {true_start}–{true_end}"
                )
            bill_duration = _seconds(bill_start, bill_end)
            true_duration = _seconds(episode[0], episode[1]) or 0.0
            if bill_duration is not None and abs(bill_duration - true_duration) > tol.duration_s:
                codes.add(C.DURATION_ANOMALY)
            if self._overlaps(order.serial, bill_start, bill_end, gun_bills):
                codes.add(C.OVERLAP)
        if p_bill is not None:
            self._occupancy(truth, p_bill, codes, notes)
        if p_bill is not None and p_session is not None:
            self._against_platform_record(p_bill, p_session, d_bill, codes, notes)
        return OrderVerdict(
            order.serial, frozenset(codes), d_bill, p_bill, p_session, tuple(notes), bill_state
        )

    def _frames_only_bill(
        self, truth: TruthRecord, order: DeviceOrder, codes: set[int], notes: list[str]
    ) -> str:
        """Without a platform view: what the frames say became of the order's bill (§4.12)."""
        state, lost, why = bill_fate(order)
        if lost:
            codes.add(C.BILL_LOST_OFFLINE if truth.link_down_at_charge_end else C.BILL_LOST)
        notes += why
        return state

    def _energy(self, truth: TruthRecord, orders: tuple[OrderVerdict, ...]) -> set[int]:
        """Codes 4 and 11 over the plug-in: billed energy (all its bills) vs the meter."""
        billed = []
        for ov in orders:
            bill = ov.platform_bill or ov.device_bill
            if bill is not None:
                billed.append(bill.energy_kwh)
        if not billed:
            return set()
        total = sum(billed)
        slack = max(self.tol.energy_kwh, self.tol.energy_ratio * truth.energy_kwh)
        if total > truth.energy_kwh + slack:
            return {C.ENERGY_ANOMALY}
        if truth.energy_kwh - total > slack:
            return {C.ENERGY_LOST}
        return set()

    def _overlaps(
        self,
        serial: str,
        start: datetime | None,
        end: datetime | None,
        gun_bills: list[DeviceBill],
    ) -> bool:
        if start is None or end is None:
            return False
        for other in gun_bills:
            if other.serial == serial or other.start is None or other.end is None:
                continue
            if start < other.end and other.start < end:
                return True
        return False

    def _occupancy(
        self, truth: TruthRecord, bill: PlatformBill, codes: set[int], notes: list[str]
    ) -> None:
        rule = self.tariff.occupancy
        stopped = truth.charge_end or truth.service_stop
        if rule is None or stopped is None:
            return
        free = timedelta(minutes=rule.free_minutes)
        true_gap = 0.0
        if truth.unplug_at is not None:
            true_gap = max(0.0, (truth.unplug_at - (stopped + free)).total_seconds())
        billed_gap = 0.0
        if bill.service_end is not None and bill.end is not None:
            billed_gap = max(0.0, (bill.service_end - (bill.end + free)).total_seconds())
        if abs(billed_gap - true_gap) > self.tol.occupancy_min * 60:
            codes.add(C.OCCUPANCY_ANOMALY)
            notes.append(
                f"{bill.serial}: occupancy billed {billed_gap / 60:.1f} min, "
                f"true {true_gap / 60:.1f} min"
            )

    def _against_platform_record(
        self,
        bill: PlatformBill,
        session: PlatformSession,
        sent: DeviceBill | None,
        codes: set[int],
        notes: list[str],
    ) -> None:
        tol = self.tol
        slack = max(tol.energy_kwh, tol.energy_ratio * bill.energy_kwh, 0.5)
        if session.last_energy_kwh and abs(bill.energy_kwh - session.last_energy_kwh) > slack:
            codes.add(C.ENERGY_MISMATCH)
        offset = _seconds(sent.sent_at if sent else None, bill.received_at)
        if offset is not None and abs(offset) > tol.platform_clock_s:
            # its record is in its own clock, which does not run on the run's time mapping
            # (e.g. a backend at 1x under a run at 120x): the rig cannot judge codes 9, 10
            notes.append(
                f"{bill.serial}: not judged against the platform's record (codes 9, 10): its "
                f"clock is {offset:+.0f} s off the run's (bill received vs sent)"
            )
            return
        bill_duration = _seconds(bill.start, bill.end)
        record_duration = _seconds(session.charge_start, session.charge_end)
        if (
            bill_duration is not None
            and record_duration is not None
            and abs(bill_duration - record_duration) > tol.duration_s + 30
        ):
            codes.add(C.DURATION_MISMATCH)
        if (
            bill.service_end is not None
            and session.service_end is not None
            and not _close(bill.service_end, session.service_end, tol.occupancy_min * 60)
        ):
            codes.add(C.OCCUPANCY_MISMATCH)

    def _false_notices(
        self, truth: TruthRecord, serials: set[str], notices: list[PlatformNotification]
    ) -> list[PlatformNotification]:
        if truth.charge_start is None:
            return []
        margin = timedelta(seconds=self.tol.notice_margin_s)
        end = truth.charge_end or truth.unplug_at
        false = []
        for notice in notices:  # the pile's own
            if notice.gun not in (None, truth.gun):
                continue
            if notice.serial is not None and notice.serial not in serials:
                continue
            kind = notice.kind.lower()
            if not ("finish" in kind or "occupancy" in kind or "end" in kind):
                continue
            if len(truth.episodes) > 1:  # false only while current really flowed
                flowing = any(
                    start <= notice.at and (stop is None or notice.at < stop - margin)
                    for start, stop in truth.episodes
                )
                if flowing:
                    false.append(notice)
            elif truth.charge_start <= notice.at and (end is None or notice.at < end - margin):
                false.append(notice)
        return false
