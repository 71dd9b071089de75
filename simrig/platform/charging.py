"""Charging as the platform follows it: realtime data (0x13, protocol §4.6) moves orders
through charging to their end, checks targets and balance, and reads faults and offline
piles (``rules.fault_reading``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from simrig.domain import ENERGY_SCALE, MONEY_SCALE
from simrig.fastdata import evolve, updater
from simrig.protocol.ykc import Frame, GunStatus, RealtimeData

from .connections import Conn, Connections
from .directory import Directory
from .events import EventSink
from .orders import Orders
from .records import (
    OPEN_STATES,
    NotificationKind,
    RealtimeSample,
    RegisteredGun,
    Session,
    SessionState,
)
from .repository import Repository
from .routing import FrameHandlers, on
from .rules import PlatformRules
from .sessions import SessionBook, Trigger, advance, note, yuan
from .settlement import Settlement
from .wallclock import WallClock

__all__ = ["Charging"]

#: a session with the fields every 0x13 with its serial updates
_realtime_progress = updater(
    Session,
    "last_rt_at",
    "last_status",
    "rt_samples",
    "last_energy",
    "last_amount",
    "max_energy_seen",
)

# Module constants for the per-frame path: reading a member off an enum class costs a
# lookup on every 0x13 (~0.1 µs each, several per frame); these are the same members.
_STARTING = SessionState.STARTING
_CHARGING = SessionState.CHARGING
_STOPPING = SessionState.STOPPING
_RUNNING = (_CHARGING, _STOPPING)
_CLOSED = (SessionState.FINISHED, SessionState.CANCELLED)
#: gun statuses of a 0x13 (protocol §4.6) as the plain ints the handler compares
_IDLE_STATUS = int(GunStatus.IDLE)
_CHARGING_STATUS = int(GunStatus.CHARGING)
_FAULT_STATUSES = (int(GunStatus.FAULT), int(GunStatus.OFFLINE))


class Charging(FrameHandlers):
    """Gun records and the charging part of each order's life."""

    def __init__(
        self,
        repo: Repository,
        rules: PlatformRules,
        clock: WallClock,
        book: SessionBook,
        directory: Directory,
        connections: Connections,
        orders: Orders,
        settlement: Settlement,
        events: EventSink,
    ) -> None:
        self._repo = repo
        self.rules = rules
        self._wall = clock.wall
        self._book = book
        self._directory = directory
        self._connections = connections
        self._orders = orders
        self._settlement = settlement
        self._events = events
        self._guns: dict[tuple[str, int], RegisteredGun] = {
            (g.pile_no, g.gun): g for g in repo.list_guns()
        }

    def gun(self, pile_no: str, gun: int) -> RegisteredGun | None:
        """The gun as its last 0x13 reported it."""
        return self._guns.get((pile_no, gun))

    def waiting_session(self, pile_no: str, gun: int) -> Session | None:
        """The gun's order an order-less 0x13 still speaks for (open, or closed but not
        yet unplugged), unless billed."""
        candidate = self._book.current_session(pile_no, gun)
        if (
            candidate is not None
            and (candidate.state in OPEN_STATES or candidate.unplugged_at is None)
            and candidate.bill_serial is None
        ):
            return candidate
        return None

    # ------------------------------------------------------------------ realtime data
    @on(RealtimeData)
    def _on_realtime(self, conn: Conn, frame: Frame, now: float) -> None:
        """0x13 (protocol §4.6): the gun record, the order's progress, a stored sample."""
        msg = frame.message
        assert isinstance(msg, RealtimeData)
        at = self._wall(now)
        status = int(msg.status)
        plugged = bool(msg.plugged)
        serial = msg.serial if msg.serial.strip("0") else ""
        self._note_gun(msg.pile_no, msg.gun, status, plugged, serial, at)
        session: Session | None = None
        if serial:
            session = self._repo.get_session(serial)
            if session is None:
                self._events.emit(now, "unknown_serial", msg.pile_no, msg.gun, {"serial": serial})
        else:
            session = self.waiting_session(msg.pile_no, msg.gun)
        energy = round(msg.energy * ENERGY_SCALE)
        amount = round(msg.amount * MONEY_SCALE)
        updated = None
        if session is not None:
            updated = self._apply_realtime(
                session, msg, status, plugged, energy, amount, now, at, bool(serial)
            )
        if serial:
            if self.rules.store_realtime_samples:
                sample = _sample(msg, serial, at, status, plugged, energy, amount)
                self._repo.add_realtime(sample, updated)
            elif updated is not None:  # (a 0x13 with its serial always changes it)
                self._repo.put_session(updated)
        elif updated is not None and updated != session:
            self._repo.put_session(updated)

    def _note_gun(
        self, pile_no: str, gun_no: int, status: int, plugged: bool, serial: str, at: datetime
    ) -> None:
        """The gun record of a 0x13, stored when its status, plug or serial changed."""
        gun = self._guns.get((pile_no, gun_no))
        if gun is None or gun.status != status or gun.plugged != plugged or gun.serial != serial:
            gun = RegisteredGun(pile_no, gun_no, status, plugged, serial, at)
            self._guns[pile_no, gun_no] = gun
            self._repo.put_gun(gun)

    def _apply_realtime(
        self,
        s: Session,
        msg: RealtimeData,
        status: int,
        plugged: bool,
        energy: int,
        amount: int,
        now: float,
        at: datetime,
        has_serial: bool,
    ) -> Session:
        """One 0x13 applied to order ``s`` at wall time ``at`` (``rules.
        idle_zero_serial_ends_session``: an idle 0x13 without serial ends a charging
        order, gdyc_case#25)."""
        if has_serial:
            s = _realtime_progress(
                s, at, status, s.rt_samples + 1, energy, amount, max(s.max_energy_seen, energy)
            )
        if status == _IDLE_STATUS and s.state in OPEN_STATES:
            s = self._count_idle(s, now)
        if status == _CHARGING_STATUS:
            if s.state is _STARTING:
                s = self._charging_seen(s, now, at)
            elif s.state in _CLOSED and s.bill_serial is None:
                if not s.charging_after_finish:
                    self._events.emit(
                        now, "charging_after_finish", s.pile_no, s.gun, {"serial": s.serial}
                    )
                s = evolve(s, charging_after_finish=True)
            if s.state is _CHARGING and has_serial:
                s = self._check_limits(s, msg, now, at)
        elif status in _FAULT_STATUSES:
            if s.state in _RUNNING:
                s = self._read_fault(s, now, "fault", {"serial": s.serial})
        elif (
            status == _IDLE_STATUS
            and s.state in _RUNNING
            and (has_serial or self.rules.idle_zero_serial_ends_session)
        ):
            stopping = s.state is _STOPPING
            reason = (s.close_reason or "stop") if stopping else "pile_end"
            s = self._finish(s, now, reason if has_serial else "idle_without_serial")
        if not plugged and s.unplugged_at is None and s.state in _CLOSED:
            s = evolve(s, unplugged_at=at)
        return s

    def _charging_seen(self, s: Session, now: float, at: datetime) -> Session:
        """The first charging 0x13 of starting order ``s``: it is charging from ``at``."""
        s = evolve(
            s,
            state=advance(s.state, Trigger.CHARGING_SEEN),
            started_at=at,
            start_confirmed=True,
        )
        notice = note(
            s, NotificationKind.CHARGE_STARTED, at, f"charging started on {s.pile_no}/{s.gun}"
        )
        self._repo.add_notifications([notice])
        self._events.emit(now, "charge_started", s.pile_no, s.gun, {"serial": s.serial})
        return s

    def _count_idle(self, s: Session, now: float) -> Session:
        """One more idle 0x13 during open order ``s``: at ``rules.idle_realtime_abnormal``
        (0 = off) the order is abnormal (spec S1 §13.3 #4)."""
        limit = self.rules.idle_realtime_abnormal
        if not limit:
            return s
        s = evolve(s, idle_seen=s.idle_seen + 1)
        if s.idle_seen < limit:
            return s
        self._events.emit(now, "idle_abnormal", s.pile_no, s.gun, {"serial": s.serial})
        if s.state is SessionState.STARTING:
            return self._orders.cancel_abnormal(s, now, "idle_abnormal")
        return self._finish(s, now, "idle_abnormal")

    def _check_limits(self, s: Session, msg: RealtimeData, now: float, at: datetime) -> Session:
        """Stop at a reached target (``rules.check_targets``) or when the realtime amount
        eats the balance (``rules.balance_stop``, ``rules.balance_stop_margin``,
        zpd_case#12)."""
        if s.stop_count:
            return s
        if self.rules.check_targets:
            reached = ""
            if s.energy_target is not None and s.last_energy >= s.energy_target:
                reached = "energy"
            elif s.amount_target is not None and s.last_amount >= s.amount_target:
                reached = "amount"
            elif s.time_target_min is not None and s.started_at is not None:
                minutes = max(msg.charge_minutes, (at - s.started_at) / timedelta(minutes=1))
                if minutes >= s.time_target_min:
                    reached = "time"
            if reached:
                s = self._orders.stop(s, now, f"{reached}_target")
                notice = note(s, NotificationKind.TARGET_STOP, at, f"{reached} target reached")
                self._repo.add_notifications([notice])
                return s
        if self.rules.balance_stop:
            account = self._repo.get_account(s.account_id)
            if (
                account is not None
                and account.balance - s.last_amount <= self.rules.balance_stop_margin
            ):
                s = self._orders.stop(s, now, "balance")
                left = account.balance - s.last_amount
                notice = note(
                    s,
                    NotificationKind.BALANCE_STOP,
                    at,
                    f"balance stop ({yuan(left)} yuan left)",
                    left,
                )
                self._repo.add_notifications([notice])
        return s

    # ------------------------------------------------------------------ the end of a charge
    def _read_fault(
        self, s: Session, now: float, reason: str, data: dict[str, Any] | None
    ) -> Session:
        """A fault/offline status or an offline pile during charging, per
        ``rules.fault_reading``: the end of the charge (field; igo_case#30, gdyc_case#15),
        or only an event while the order waits for its bill."""
        if self.rules.fault_reading == "end_of_charge":
            return self._finish(s, now, reason)
        self._events.emit(now, f"{reason}_during_charging", s.pile_no, s.gun, data)
        return s

    def _finish(self, s: Session, now: float, reason: str) -> Session:
        """The platform reads the charge as ended (possibly falsely: igo_case#30)."""
        at = self._wall(now)
        s = evolve(
            s,
            state=advance(s.state, Trigger.CHARGE_ENDED),
            charge_end_at=at,
            closed_at=at,
            close_reason=reason,
            offline_at_end=s.offline_at_end or not self._connections.is_online(s.pile_no),
        )
        notes = [note(s, NotificationKind.CHARGE_FINISHED, at, f"charge finished ({reason})")]
        rule = self._directory.pile_tariff(s.pile_no).occupancy
        if rule is not None:
            notes.append(
                note(
                    s,
                    NotificationKind.OCCUPANCY_NOTICE,
                    at,
                    f"please unplug within {rule.free_minutes} min; then "
                    f"{yuan(rule.rate_per_minute)} yuan/min",
                )
            )
        self._repo.add_notifications(notes)
        self._events.emit(
            now, "charge_finished", s.pile_no, s.gun, {"serial": s.serial, "reason": reason}
        )
        self._settlement.await_bill(s.serial, now)
        return s

    def pile_offline(self, pile_no: str, now: float) -> None:
        """The pile went offline: its charging orders are read per ``rules.fault_reading``;
        closed ones still owing a bill remember the pile was offline (code 2)."""
        for serial in self._book.serials_of(pile_no):
            session = self._repo.get_session(serial)
            if session is None or session.bill_serial is not None:
                continue
            if session.state in _RUNNING:
                read = self._read_fault(evolve(session, offline_at_end=True), now, "offline", None)
                if read.state is SessionState.FINISHED:
                    self._repo.put_session(read)
            elif session.state not in OPEN_STATES and not session.offline_at_end:
                self._repo.put_session(evolve(session, offline_at_end=True))


def _sample(
    msg: RealtimeData,
    serial: str,
    at: datetime,
    status: int,
    plugged: bool,
    energy: int,
    amount: int,
) -> RealtimeSample:
    """The stored sample of a 0x13 with order ``serial`` (fields by position: a keyword
    call of the 14-field record costs about as much again, on every frame)."""
    return RealtimeSample(
        serial,  # session_key
        msg.pile_no,
        msg.gun,
        at,
        status,
        plugged,
        msg.voltage,
        msg.current,
        msg.soc,
        msg.charge_minutes,
        energy,
        round(msg.loss_energy * ENERGY_SCALE),  # loss_energy
        amount,
        msg.faults,
    )
