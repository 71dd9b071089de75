"""Orders as the platform sees them: the session state table and the order book.

The states are :class:`~simrig.platform.records.SessionState` (a ``StrEnum``: stored values
and event data stay plain strings). Every state change goes through :func:`advance` and the
table :data:`TRANSITIONS`, a dict literal a script can draw (``python -m
simrig.platform.sessions`` prints it as Graphviz dot).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from simrig.domain import money_to_yuan

from .records import OPEN_STATES, Notification, NotificationKind, Session, SessionState
from .repository import Repository
from .rules import PlatformRules
from .wallclock import WallClock

__all__ = [
    "TRANSITIONS",
    "InvalidTransition",
    "SessionBook",
    "Trigger",
    "advance",
    "bill_expected",
    "note",
    "to_dot",
    "yuan",
]


class Trigger(StrEnum):
    """What moves an order from one state to the next."""

    CHARGING_SEEN = "charging_seen"  #: a 0x13 with status charging (protocol §4.6)
    STOP_SENT = "stop_sent"  #: the platform sent 0x36 (protocol §4.11)
    CHARGE_ENDED = "charge_ended"  #: idle, fault or offline read as the charge end
    START_FAILED = "start_failed"  #: 0x33 with a failure (protocol §4.10)
    START_TIMEOUT = "start_timeout"  #: no confirmed start in time (rules)
    BILL = "bill"  #: a bill (0x3B) settled the still-open order


_S = SessionState
_T = Trigger

#: state → trigger → next state; a trigger missing from a state's row is a bug
TRANSITIONS: dict[SessionState, dict[Trigger, SessionState]] = {
    _S.STARTING: {
        _T.CHARGING_SEEN: _S.CHARGING,
        _T.STOP_SENT: _S.STARTING,
        _T.START_FAILED: _S.CANCELLED,
        _T.START_TIMEOUT: _S.CANCELLED,
        _T.BILL: _S.FINISHED,
    },
    _S.CHARGING: {
        _T.STOP_SENT: _S.STOPPING,
        _T.CHARGE_ENDED: _S.FINISHED,
        _T.BILL: _S.FINISHED,
    },
    _S.STOPPING: {
        _T.STOP_SENT: _S.STOPPING,
        _T.CHARGE_ENDED: _S.FINISHED,
        _T.BILL: _S.FINISHED,
    },
    _S.FINISHED: {},
    _S.CANCELLED: {},
}


class InvalidTransition(Exception):
    """A trigger the table does not allow in the order's state."""


def advance(state: SessionState, trigger: Trigger) -> SessionState:
    """The state after ``trigger`` (per :data:`TRANSITIONS`)."""
    try:
        return TRANSITIONS[state][trigger]
    except KeyError:
        raise InvalidTransition(f"{trigger} in state {state}") from None


def to_dot() -> str:
    """:data:`TRANSITIONS` as a Graphviz digraph."""
    lines = ["digraph sessions {"]
    for state, row in TRANSITIONS.items():
        lines.append(f'  "{state}";')
        for trigger, target in row.items():
            lines.append(f'  "{state}" -> "{target}" [label="{trigger}"];')
    lines.append("}")
    return "\n".join(lines)


def bill_expected(session: Session) -> bool:
    """A record is due for every executed start (protocol §3 item 7, S1 §8.7)."""
    return session.start_confirmed or session.started_at is not None


def yuan(money: int) -> str:
    return f"{money_to_yuan(money):.2f}"


def note(
    s: Session, kind: NotificationKind, at: datetime, text: str, amount: int | None = None
) -> Notification:
    """A user-visible notice about order ``s``."""
    return Notification(
        at=at,
        kind=kind.value,
        account_id=s.account_id,
        session_key=s.serial,
        pile_no=s.pile_no,
        gun=s.gun,
        text=text,
        amount=amount,
    )


class SessionBook:
    """Which order each gun and each account has, new order serials, and "unsettled"."""

    def __init__(self, repo: Repository, rules: PlatformRules, clock: WallClock) -> None:
        self._repo = repo
        self.rules = rules
        self._clock = clock
        self._gun_session: dict[tuple[str, int], str] = {}
        self._account_open: dict[str, set[str]] = {}  # account → possibly unsettled serials
        self._counter = 0

    def index(self, session: Session) -> None:
        """``session`` is the gun's current order and one of its account's."""
        self._gun_session[session.pile_no, session.gun] = session.serial
        self._account_open.setdefault(session.account_id, set()).add(session.serial)

    def current(self, pile_no: str, gun: int) -> str | None:
        """The serial of the gun's current (latest) order."""
        return self._gun_session.get((pile_no, gun))

    def current_session(self, pile_no: str, gun: int) -> Session | None:
        serial = self._gun_session.get((pile_no, gun))
        return self._repo.get_session(serial) if serial else None

    def serials_of(self, pile_no: str) -> list[str]:
        """The current orders of the pile's guns."""
        return [serial for (p, _gun), serial in self._gun_session.items() if p == pile_no]

    def new_serial(self, pile_no: str, gun: int, now: float) -> str:
        """pile (14) + gun (2) + yyMMddHHmmss (12) + counter (4) = 32 digits (§8 item 4)."""
        stamp = self._clock.wall(now).strftime("%y%m%d%H%M%S")
        while True:
            self._counter = (self._counter + 1) % 10_000
            serial = f"{pile_no[-14:]:0>14}{gun % 100:02d}{stamp}{self._counter:04d}"
            if self._repo.get_session(serial) is None:
                return serial

    def _unsettled(self, session: Session) -> bool:
        """Open, or (``rules.unsettled_includes_unbilled``) closed and still owing its bill."""
        if session.state in OPEN_STATES:
            return True
        return (
            self.rules.unsettled_includes_unbilled
            and session.bill_serial is None
            and bill_expected(session)
        )

    def open_of(self, account_id: str) -> list[Session]:
        """The account's open orders."""
        found = (self._repo.get_session(s) for s in self._account_open.get(account_id, ()))
        return [s for s in found if s is not None and s.state in OPEN_STATES]

    def gun_unsettled(self, pile_no: str, gun: int) -> bool:
        session = self.current_session(pile_no, gun)
        return session is not None and self._unsettled(session)

    def account_unsettled(self, account_id: str) -> bool:
        serials = self._account_open.get(account_id)
        if not serials:
            return False
        for serial in list(serials):
            session = self._repo.get_session(serial)
            if session is not None and self._unsettled(session):
                return True
            if session is None or session.bill_serial is not None or session.lost_flagged:
                serials.discard(serial)  # settled for good
        return False


if __name__ == "__main__":  # pragma: no cover - a drawing aid
    print(to_dot())
