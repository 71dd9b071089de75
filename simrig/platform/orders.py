"""Opening and stopping orders: app start (0x34 → 0x33), card start (0x31 → 0x32), stop
(0x36), the start-confirmation timeout and cancelling."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from simrig.domain import ENERGY_SCALE, MONEY_SCALE
from simrig.fastdata import evolve
from simrig.protocol.ykc import (
    AuthFailure,
    CardAuthReply,
    CardStart,
    Confirm,
    Frame,
    ParallelAuthReply,
    ParallelCardStart,
    ParallelRemoteStart,
    ParallelRemoteStartReply,
    RemoteStart,
    RemoteStartFailure,
    RemoteStartReply,
    RemoteStop,
    StartMode,
)

from .connections import Conn, Connections
from .directory import Directory
from .errors import PlatformError
from .events import EventSink
from .records import OPEN_STATES, NotificationKind, Session, SessionState
from .repository import Repository
from .routing import FrameHandlers, on
from .rules import PlatformRules
from .sessions import SessionBook, Trigger, advance, bill_expected, note, yuan
from .settlement import Settlement
from .timers import TimerKind, Timers
from .wallclock import WallClock

__all__ = ["Orders"]

_ZERO_SERIAL = "0" * 32
_ZERO_CARD = "0" * 16


def _values(message: object) -> dict[str, Any]:
    """A frame's fields (a V1.6 parallel frame extends its base frame with more)."""
    return {f.name: getattr(message, f.name) for f in dataclasses.fields(message)}  # type: ignore[arg-type]


def _wire_balance(balance: int) -> float:
    return max(0, balance // 100) / 100


class Orders(FrameHandlers):
    """Starts orders for the app and for cards, stops them, and cancels failed starts."""

    def __init__(
        self,
        repo: Repository,
        rules: PlatformRules,
        clock: WallClock,
        book: SessionBook,
        directory: Directory,
        connections: Connections,
        timers: Timers,
        settlement: Settlement,
        events: EventSink,
    ) -> None:
        self._repo = repo
        self.rules = rules
        self._wall = clock.wall
        self._now_of = clock.now_of
        self._book = book
        self._directory = directory
        self._connections = connections
        self._timers = timers
        self._settlement = settlement
        self._events = events
        self._start_timer = TimerKind("start_timeout", self._start_timeout, self._starting)

    def restore(self, sessions: Iterable[Session]) -> None:
        """Rebuild the order book and the timers from stored open sessions (a restart)."""
        for s in sessions:
            self._book.index(s)
            if s.state is SessionState.STARTING and s.created_at is not None:
                self.await_start(s.serial, self._now_of(s.created_at))
            elif s.state not in OPEN_STATES and s.closed_at is not None:
                self._settlement.await_bill(s.serial, self._now_of(s.closed_at))

    # ------------------------------------------------------------------ start
    def await_start(self, serial: str, now: float) -> None:
        """Cancel the order unless started within ``rules.start_confirm_timeout_s``."""
        self._timers.schedule(now + self.rules.start_confirm_timeout_s, self._start_timer, serial)

    def _short_of_balance(self, balance: int) -> str:
        """Why ``balance`` cannot start (``rules.min_start_balance``), or ""."""
        minimum = self.rules.min_start_balance
        if balance < minimum:
            return f"balance {yuan(balance)} below {yuan(minimum)} yuan"
        return ""

    def app_start(
        self,
        pile_no: str,
        gun: int,
        account: str,
        now: float,
        *,
        energy_target: float | None = None,
        amount_target: float | None = None,
        time_target_min: int | None = None,
        parallel_id: str | None = None,
    ) -> str:
        """Start a session for an app user (0x34, protocol §4.9); returns the order serial.

        ``energy_target`` in kWh, ``amount_target`` in yuan. With ``parallel_id`` (12
        digits, YYMMDDhhmmss) the gun is one of a parallel charge: 0xA4 instead of 0x34
        (protocol §4.17, V1.6), one call per gun with the same id.
        Raises :class:`PlatformError`.
        """
        if parallel_id is not None and (len(parallel_id) != 12 or not parallel_id.isdigit()):
            raise PlatformError(f"parallel_id {parallel_id!r} is not 12 digits")
        pile = self._directory.piles.get(pile_no)
        if pile is None:
            raise PlatformError(f"unknown pile {pile_no}")
        if not 1 <= gun <= pile.guns:
            raise PlatformError(f"pile {pile_no} has no gun {gun}")
        acct = self._repo.get_account(account)
        if acct is None:
            raise PlatformError(f"unknown account {account}")
        if acct.frozen:
            raise PlatformError(f"account {account} is frozen")
        if not pile.enabled:
            raise PlatformError(f"pile {pile_no} is disabled")
        if not self._connections.is_online(pile_no):
            raise PlatformError(f"pile {pile_no} is offline")
        short = self._short_of_balance(acct.balance)
        if short:
            raise PlatformError(short)
        if self._book.gun_unsettled(pile_no, gun):
            raise PlatformError(f"gun {pile_no}/{gun} has an unsettled order")
        if self._book.account_unsettled(account):
            raise PlatformError(f"account {account} has an unsettled order")
        serial = self._book.new_serial(pile_no, gun, now)
        session = Session(
            serial=serial,
            pile_no=pile_no,
            gun=gun,
            source="app",
            account_id=account,
            created_at=self._wall(now),
            energy_target=None if energy_target is None else round(energy_target * ENERGY_SCALE),
            amount_target=None if amount_target is None else round(amount_target * MONEY_SCALE),
            time_target_min=time_target_min,
            parallel_id=parallel_id or "",
        )
        self._repo.put_session(session)
        self._book.index(session)
        self.await_start(serial, now)
        start = RemoteStart(
            serial=serial,
            pile_no=pile_no,
            gun=gun,
            logical_card=acct.logical_card,
            physical_card=_ZERO_CARD,
            balance=_wire_balance(acct.balance),
        )
        if parallel_id is not None:
            start = ParallelRemoteStart(**_values(start), parallel_id=parallel_id)
        self._connections.send_to_pile(pile_no, start, now)
        self._events.emit(now, "app_start", pile_no, gun, {"serial": serial, "account": account})
        return serial

    @on(CardStart, ParallelCardStart)
    def _on_card_start(self, conn: Conn, frame: Frame, now: float) -> None:
        """0x31 → 0x32: authorise a card or a VIN (protocol §4.7, §4.8) and open its
        order; 0xA1 → 0xA2 the same for one gun of a parallel charge (§4.17, V1.6)."""
        msg = frame.message
        assert isinstance(msg, CardStart)
        failure, logical, balance, account_id = self._authorise(msg)
        parallel_id = msg.parallel_id if isinstance(msg, ParallelCardStart) else ""
        vin = msg.vin.strip("\x00 ") if msg.start_mode == StartMode.VIN else ""
        serial = _ZERO_SERIAL
        if failure is AuthFailure.NONE:
            serial = self._book.new_serial(msg.pile_no, msg.gun, now)
            session = Session(
                serial=serial,
                pile_no=msg.pile_no,
                gun=msg.gun,
                source="vin" if vin else "card",
                account_id=account_id,
                card="" if vin else msg.card.upper(),
                created_at=self._wall(now),
                start_confirmed=True,
                parallel_id=parallel_id,
                vin=vin,
            )
            self._repo.put_session(session)
            self._book.index(session)
            self.await_start(serial, now)
        reply = CardAuthReply(
            serial=serial,
            pile_no=msg.pile_no,
            gun=msg.gun,
            logical_card=logical,
            balance=_wire_balance(balance),
            result=Confirm.OK if failure is AuthFailure.NONE else Confirm.FAILED,
            failure=failure,
        )
        if isinstance(msg, ParallelCardStart):
            reply = ParallelAuthReply(**_values(reply), parallel_id=parallel_id)
        self._connections.send(conn, reply, now, frame.seq)
        self._events.emit(
            now,
            "card_auth",
            msg.pile_no,
            msg.gun,
            {"card": msg.card, "serial": serial, "failure": failure.name.lower()},
        )

    def _authorise(self, msg: CardStart) -> tuple[AuthFailure, str, int, str]:
        """(failure, logical card, balance, account) of a 0x31 (protocol §4.8 reasons); a
        VIN start (mode 0x03) is the account that registered the VIN (``Account.vins``)."""
        if msg.start_mode == StartMode.VIN:
            vin = msg.vin.strip("\x00 ").upper()
            owner = next((a for a in self._repo.list_accounts() if vin and vin in a.vins), None)
            if owner is None:
                return AuthFailure.VIN_NOT_REGISTERED, "0" * 16, 0, ""
            account, card_frozen, logical, password = owner, False, owner.logical_card, ""
        else:
            card = self._repo.get_card(msg.card)
            if card is None:
                return AuthFailure.ACCOUNT_NOT_FOUND, "0" * 16, 0, ""
            found = self._repo.get_account(card.account_id)
            if found is None:
                return AuthFailure.ACCOUNT_NOT_FOUND, card.logical, 0, ""
            account, card_frozen, logical = found, card.frozen, card.logical
            password = card.password_md5
        balance = account.balance
        pile = self._directory.piles.get(msg.pile_no)
        if card_frozen or account.frozen:
            return AuthFailure.ACCOUNT_FROZEN, logical, balance, account.account_id
        if pile is None or not pile.enabled:
            return AuthFailure.PILE_DISABLED, logical, balance, account.account_id
        if password and msg.password_needed and msg.password_md5.lower() != password.lower():
            return AuthFailure.WRONG_PASSWORD, logical, balance, account.account_id
        if self._book.account_unsettled(account.account_id):
            return AuthFailure.CARD_UNSETTLED_RECORD, logical, balance, account.account_id
        if self._book.gun_unsettled(msg.pile_no, msg.gun):
            return AuthFailure.PILE_UNSETTLED_RECORD, logical, balance, account.account_id
        if self._short_of_balance(balance):
            return AuthFailure.INSUFFICIENT_BALANCE, logical, balance, account.account_id
        return AuthFailure.NONE, logical, balance, account.account_id

    @on(RemoteStartReply, ParallelRemoteStartReply)
    def _on_remote_start_reply(self, conn: Conn, frame: Frame, now: float) -> None:
        """0x33 (protocol §4.10), or 0xA3 of one gun of a parallel charge (§4.17): confirm
        the start, or cancel it."""
        msg = frame.message
        assert isinstance(msg, RemoteStartReply)
        session = self._repo.get_session(msg.serial)
        if session is None:
            session = self._book.current_session(msg.pile_no, msg.gun)
        ok = msg.result == Confirm.OK
        self._events.emit(
            now,
            "start_reply",
            msg.pile_no,
            msg.gun,
            {"serial": msg.serial, "ok": ok, "failure": int(msg.failure)},
        )
        if session is None or session.state is not SessionState.STARTING:
            return
        if ok:
            self._repo.put_session(evolve(session, start_confirmed=True))
        elif msg.failure != RemoteStartFailure.GUN_NOT_PLUGGED:
            # not plugged: a second 0x33 may follow within 60 s (protocol §3 item 4)
            self._cancel(
                session,
                now,
                f"start_failed:{int(msg.failure)}",
                NotificationKind.START_FAILED,
                Trigger.START_FAILED,
            )

    def _starting(self, serial: str) -> bool:
        session = self._repo.get_session(serial)
        return session is not None and session.state is SessionState.STARTING

    def _start_timeout(self, serial: str, now: float) -> None:
        """No confirmed start in time: cancel; with ``rules.stop_on_start_timeout`` also
        send 0x36 (igo_case#2/#7)."""
        session = self._repo.get_session(serial)
        if session is None or session.state is not SessionState.STARTING:
            return
        if self.rules.stop_on_start_timeout and self._connections.is_online(session.pile_no):
            session = self.stop(session, now, "start_timeout")
        self._cancel(
            session, now, "start_timeout", NotificationKind.AUTO_CANCEL, Trigger.START_TIMEOUT
        )

    def cancel_abnormal(self, session: Session, now: float, reason: str) -> Session:
        """Cancel a starting order the pile's frames show as abnormal; the cancelled one."""
        return self._cancel(
            session, now, reason, NotificationKind.AUTO_CANCEL, Trigger.START_FAILED
        )

    def _cancel(
        self,
        session: Session,
        now: float,
        reason: str,
        kind: NotificationKind,
        trigger: Trigger,
    ) -> Session:
        at = self._wall(now)
        session = evolve(
            session, state=advance(session.state, trigger), close_reason=reason, closed_at=at
        )
        notice = note(session, kind, at, f"order {session.serial} cancelled: {reason}")
        self._repo.update(sessions=[session], notifications=[notice])
        self._events.emit(
            now,
            "session_cancelled",
            session.pile_no,
            session.gun,
            {"serial": session.serial, "reason": reason},
        )
        if bill_expected(session):
            self._settlement.await_bill(session.serial, now)
        return session

    # ------------------------------------------------------------------ stop
    def app_stop(self, pile_no: str, gun: int, now: float) -> None:
        """Send 0x36 for the gun (every call sends one: zshy_case#23)."""
        pile = self._directory.piles.get(pile_no)
        if pile is None:
            raise PlatformError(f"unknown pile {pile_no}")
        if not 1 <= gun <= pile.guns:
            raise PlatformError(f"pile {pile_no} has no gun {gun}")
        if not self._connections.is_online(pile_no):
            raise PlatformError(f"pile {pile_no} is offline")
        serial = self._book.current(pile_no, gun)
        session = self._repo.get_session(serial) if serial else None
        if session is not None and session.state in OPEN_STATES:
            self._repo.put_session(self.stop(session, now, "app"))
        else:
            stop = RemoteStop(pile_no=pile_no, gun=gun)
            self._connections.send_to_pile(pile_no, stop, now)
        self._events.emit(now, "app_stop", pile_no, gun, {"serial": serial or ""})

    def stop(self, session: Session, now: float, why: str) -> Session:
        """Send 0x36 (protocol §4.11) for an open order; the caller stores the result."""
        stop = RemoteStop(pile_no=session.pile_no, gun=session.gun)
        self._connections.send_to_pile(session.pile_no, stop, now)
        changes: dict[str, Any] = {"stop_count": session.stop_count + 1}
        if session.stop_requested_at is None:
            changes["stop_requested_at"] = self._wall(now)
        state = advance(session.state, Trigger.STOP_SENT)
        if state is not session.state:
            changes["state"] = state
            changes["close_reason"] = why
        return evolve(session, **changes)
