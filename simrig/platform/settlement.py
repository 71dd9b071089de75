"""Settlement: bill (0x3B / 0x3D) → the platform's checks → storage → ack (0x40), and the
lost-bill sweep (codes 1 and 2)."""

from __future__ import annotations

from simrig.domain import ENERGY_SCALE, MONEY_SCALE, RATE_SCALE
from simrig.fastdata import evolve
from simrig.protocol.ykc import (
    AckResult,
    Frame,
    RecordAck,
    TransactionRecord,
    TransactionRecordV17,
)

from .checks import (
    BillFacts,
    CheckLimits,
    PlatformRecord,
    check_bill,
    lost_bill_code,
    occupancy_fee,
    recompute_amount,
)
from .connections import Conn, Connections
from .directory import Directory
from .events import EventSink
from .records import OPEN_STATES, AnomalyRecord, Bill, Notification, NotificationKind, Session
from .repository import Repository
from .routing import FrameHandlers, on
from .rules import PlatformRules
from .sessions import Trigger, advance, bill_expected, note, yuan
from .timers import TimerKind, Timers
from .wallclock import WallClock

__all__ = ["Settlement"]


class Settlement(FrameHandlers):
    """Turns a pile's bill into a charged, checked, stored record; acks only after commit."""

    def __init__(
        self,
        repo: Repository,
        rules: PlatformRules,
        clock: WallClock,
        directory: Directory,
        connections: Connections,
        timers: Timers,
        events: EventSink,
    ) -> None:
        self._repo = repo
        self.rules = rules
        self._wall = clock.wall
        self._directory = directory
        self._connections = connections
        self._timers = timers
        self._events = events
        #: the check thresholds (the rules' ``max_*`` / ``*_tolerance*``; per pile power)
        self.limits: CheckLimits = rules.check_limits()
        self._grace_timer = TimerKind("bill_grace", self._bill_grace, self._bill_awaited)
        self.bills = 0

    # ------------------------------------------------------------------ bills
    @on(TransactionRecord, TransactionRecordV17)
    def _on_bill(self, conn: Conn, frame: Frame, now: float) -> None:
        """0x3B / 0x3D (protocol §4.12): a duplicate is acked as before, a bill without
        an order as illegal; any other is settled."""
        msg = frame.message
        assert isinstance(msg, TransactionRecord | TransactionRecordV17)
        at = self._wall(now)
        existing = self._repo.get_bill(msg.serial)
        if existing is not None:
            self._repo.note_duplicate(msg.serial, at)
            result = AckResult.ILLEGAL if existing.illegal else AckResult.OK
            self._connections.send(
                conn, RecordAck(serial=msg.serial, result=result), now, frame.seq
            )
            self._events.emit(now, "duplicate_bill", msg.pile_no, msg.gun, {"serial": msg.serial})
            return
        bands = (
            (msg.sharp_price, msg.sharp_energy, msg.sharp_loss_energy, msg.sharp_amount),
            (msg.peak_price, msg.peak_energy, msg.peak_loss_energy, msg.peak_amount),
            (msg.flat_price, msg.flat_energy, msg.flat_loss_energy, msg.flat_amount),
            (msg.valley_price, msg.valley_energy, msg.valley_loss_energy, msg.valley_amount),
        )
        lines = tuple(
            (
                round(price * RATE_SCALE),
                round(e * ENERGY_SCALE),
                round(le * ENERGY_SCALE),
                round(a * MONEY_SCALE),
            )
            for price, e, le, a in bands
        )
        bill = Bill(
            serial=msg.serial,
            pile_no=msg.pile_no,
            gun=msg.gun,
            start_time=msg.start_time,
            end_time=msg.end_time,
            trade_time=msg.trade_time,
            lines=lines,
            meter_start=round(msg.meter_start * ENERGY_SCALE),
            meter_end=round(msg.meter_end * ENERGY_SCALE),
            total_energy=round(msg.total_energy * ENERGY_SCALE),
            total_loss_energy=round(msg.total_loss_energy * ENERGY_SCALE),
            total_amount=round(msg.total_amount * MONEY_SCALE),
            stop_reason=int(msg.stop_reason),
            source=int(msg.source),
            vin=msg.vin,
            physical_card=msg.physical_card,
            received_at=at,
            raw_hex=frame.raw.hex(),
            frame_type=msg.TYPE,
        )
        session = self._repo.get_session(msg.serial) if msg.serial.strip("0") else None
        if session is not None and session.pile_no != msg.pile_no:
            session = None  # another pile's order: never charged to it (issue 15 item 2)
        if session is None:
            bill = evolve(bill, illegal=True)
            self._repo.settle_bill(bill, None, None, (), ())
            ack = RecordAck(serial=msg.serial, result=AckResult.ILLEGAL)
            self._connections.send(conn, ack, now, frame.seq)
            self._events.emit(now, "illegal_bill", msg.pile_no, msg.gun, {"serial": msg.serial})
            return
        self._settle(conn, frame, bill, session, now)

    def _settle(self, conn: Conn, frame: Frame, bill: Bill, session: Session, now: float) -> None:
        """Charge (``rules.occupancy_service_end``, ``rules.charge_basis``), check, store,
        then ack (issue 3)."""
        at = bill.received_at
        tariff = self._directory.pile_tariff(bill.pile_no)
        energies = (bill.lines[0][1], bill.lines[1][1], bill.lines[2][1], bill.lines[3][1])
        platform_amount = recompute_amount(tariff, energies).total_amount
        charge_end = bill.end_time
        service_end = bill.trade_time or at
        if self.rules.occupancy_service_end == "unplug" and session.unplugged_at is not None:
            service_end = session.unplugged_at
        fee, _minutes = occupancy_fee(tariff.occupancy, charge_end, service_end)
        basis = bill.total_amount if self.rules.charge_basis == "bill" else platform_amount
        charged = basis + fee
        account = self._repo.get_account(session.account_id)
        balance_after = None
        if account is not None:
            account = evolve(account, balance=account.balance - charged)
            balance_after = account.balance
        facts = BillFacts(
            start_time=bill.start_time,
            end_time=bill.end_time,
            trade_time=bill.trade_time,
            band_energies=energies,
            total_energy=bill.total_energy,
            meter_start=bill.meter_start,
            meter_end=bill.meter_end,
            received_at=at,
            occupancy_fee=fee,
        )
        record = PlatformRecord(
            created_at=session.created_at,
            started_at=session.started_at,
            charge_end_at=session.charge_end_at,
            unplugged_at=session.unplugged_at,
            realtime_energy=session.max_energy_seen if session.rt_samples else None,
        )
        overlapping: list[str] = []
        if (
            bill.start_time is not None
            and bill.end_time is not None
            and bill.start_time < bill.end_time
        ):
            overlapping = [
                b.serial
                for b in self._repo.bills_overlapping(
                    bill.pile_no, bill.gun, bill.start_time, bill.end_time, bill.serial
                )
            ]
        pile = self._directory.piles.get(bill.pile_no)
        limits = (
            self.limits if pile is None else evolve(self.limits, max_power_kw=pile.max_power_kw)
        )
        findings = check_bill(facts, record, limits, overlapping)
        anomalies = [
            AnomalyRecord(
                code=int(code),
                session_key=session.serial,
                detail=detail,
                detected_at=at,
                pile_no=bill.pile_no,
                gun=bill.gun,
                bill_serial=bill.serial,
            )
            for code, detail in findings
        ]
        bill = evolve(
            bill,
            session_source=session.source,
            account_id=session.account_id,
            platform_amount=platform_amount,
            charge_end=charge_end,
            service_end=service_end,
            occupancy_fee=fee,
            charged_total=charged,
            balance_after=balance_after,
            anomaly_codes=tuple(sorted({int(code) for code, _ in findings})),
        )
        notes: list[Notification] = []
        closed = evolve(session, bill_serial=bill.serial)
        if session.state in OPEN_STATES:
            closed = evolve(
                closed,
                state=advance(session.state, Trigger.BILL),
                closed_at=at,
                close_reason=session.close_reason or "bill",
            )
            notes.append(
                note(closed, NotificationKind.CHARGE_FINISHED, at, "charge finished (bill)")
            )
        if fee:
            notes.append(
                note(
                    closed,
                    NotificationKind.OCCUPANCY_FEE,
                    at,
                    f"occupancy fee {yuan(fee)} yuan",
                    fee,
                )
            )
        if account is not None:
            notes.append(
                note(
                    closed,
                    NotificationKind.BALANCE_CHANGE,
                    at,
                    f"charged {yuan(charged)} yuan, balance {yuan(account.balance)} yuan",
                    -charged,
                )
            )
        self._repo.settle_bill(bill, closed, account, notes, anomalies)
        # committed: only now acknowledge (issue 3)
        ack = RecordAck(serial=bill.serial, result=AckResult.OK)
        self._connections.send(conn, ack, now, frame.seq)
        self.bills += 1
        self._events.emit(
            now,
            "bill",
            bill.pile_no,
            bill.gun,
            {"serial": bill.serial, "charged": charged, "anomalies": list(bill.anomaly_codes)},
        )
        for anomaly in anomalies:
            self._events.emit(
                now,
                "anomaly",
                bill.pile_no,
                bill.gun,
                {"code": anomaly.code, "serial": bill.serial, "detail": anomaly.detail},
            )

    # ------------------------------------------------------------------ lost bills
    def await_bill(self, serial: str, now: float) -> None:
        """Flag the closed order lost unless its bill arrives within ``rules.no_bill_grace_s``."""
        self._timers.schedule(now + self.rules.no_bill_grace_s, self._grace_timer, serial)

    def _bill_awaited(self, serial: str) -> bool:
        session = self._repo.get_session(serial)
        return session is not None and session.bill_serial is None and not session.lost_flagged

    def _bill_grace(self, serial: str, now: float) -> None:
        """No bill ``rules.no_bill_grace_s`` after close: code 1, or 2 if the pile was
        offline at the end."""
        session = self._repo.get_session(serial)
        if (
            session is None
            or session.bill_serial is not None
            or session.lost_flagged
            or session.state in OPEN_STATES
            or not bill_expected(session)
        ):
            return
        code = lost_bill_code(session.offline_at_end)
        at = self._wall(now)
        anomaly = AnomalyRecord(
            code=int(code),
            session_key=serial,
            detail=f"no bill {self.rules.no_bill_grace_s:.0f} s after close "
            f"({session.close_reason})",
            detected_at=at,
            pile_no=session.pile_no,
            gun=session.gun,
        )
        self._repo.update(sessions=[evolve(session, lost_flagged=True)], anomalies=[anomaly])
        self._events.emit(
            now,
            "anomaly",
            session.pile_no,
            session.gun,
            {"code": int(code), "serial": serial, "detail": anomaly.detail},
        )
