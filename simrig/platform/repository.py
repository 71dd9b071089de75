"""The platform's storage boundary: the :class:`Repository` protocol and an in-memory one.

The core calls the repository synchronously; a call returns after its data is committed
(for the SQLite store: durably, so an acked bill survives SIGKILL). The in-memory
repository implements the same protocol for fast virtual-time runs; one shared test
suite (tests/platform/test_repository.py) runs against both.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from simrig.domain import Tariff
from simrig.fastdata import evolve

from .records import (
    OPEN_STATES,
    Account,
    AnomalyRecord,
    Bill,
    BmsSample,
    Card,
    Notification,
    RealtimeSample,
    RegisteredGun,
    RegisteredPile,
    Session,
)

__all__ = ["MemoryRepository", "Repository"]


class Repository(Protocol):
    """Everything the platform stores. Every write is committed when the call returns."""

    # piles, guns
    def put_pile(self, pile: RegisteredPile) -> None: ...
    def note_pile(self, pile: RegisteredPile) -> None:
        """What the platform learnt of a pile (online, firmware, last login): batched like
        the realtime samples, as nothing acknowledged to a pile depends on it."""
        ...

    def get_pile(self, pile_no: str) -> RegisteredPile | None: ...
    def list_piles(self) -> list[RegisteredPile]: ...
    def put_gun(self, gun: RegisteredGun) -> None: ...
    def list_guns(self, pile_no: str | None = None) -> list[RegisteredGun]: ...

    # accounts, cards, tariffs
    def put_account(self, account: Account) -> None: ...
    def get_account(self, account_id: str) -> Account | None: ...
    def list_accounts(self) -> list[Account]: ...
    def put_card(self, card: Card) -> None: ...
    def get_card(self, physical: str) -> Card | None: ...
    def list_cards(self) -> list[Card]: ...
    def put_tariff(self, tariff: Tariff) -> None: ...
    def get_tariff(self, model_no: str) -> Tariff | None: ...

    # sessions, realtime
    def put_session(self, session: Session) -> None: ...
    def get_session(self, serial: str) -> Session | None: ...
    def list_sessions(self) -> list[Session]: ...
    def open_sessions(self) -> list[Session]:
        """Sessions in an open state, or closed without a bill (the core's restart view)."""
        ...

    def add_realtime(self, sample: RealtimeSample, session: Session | None = None) -> None:
        """Store a sample (and the session it updated) in one commit."""
        ...

    def list_realtime(self, session_key: str) -> list[RealtimeSample]: ...
    def add_bms(self, sample: BmsSample) -> None:
        """Store a BMS frame of an order (batched like the realtime samples)."""
        ...

    def list_bms(self, session_key: str) -> list[BmsSample]: ...

    # bills
    def get_bill(self, serial: str) -> Bill | None: ...
    def list_bills(self) -> list[Bill]: ...
    def bills_overlapping(
        self, pile_no: str, gun: int, start: datetime, end: datetime, exclude: str
    ) -> list[Bill]: ...
    def settle_bill(
        self,
        bill: Bill,
        session: Session | None,
        account: Account | None,
        notifications: Sequence[Notification],
        anomalies: Sequence[AnomalyRecord],
    ) -> None:
        """Store a new bill with everything it changed, atomically and durably."""
        ...

    def note_duplicate(self, serial: str, at: datetime) -> Bill | None:
        """Count one more upload of an already stored bill; return the updated bill."""
        ...

    # notifications, anomalies
    def add_notifications(self, notifications: Iterable[Notification]) -> None: ...
    def list_notifications(self) -> list[Notification]: ...
    def add_anomalies(self, anomalies: Iterable[AnomalyRecord]) -> None: ...
    def list_anomalies(self) -> list[AnomalyRecord]: ...

    def update(
        self,
        sessions: Iterable[Session] = (),
        notifications: Iterable[Notification] = (),
        anomalies: Iterable[AnomalyRecord] = (),
        accounts: Iterable[Account] = (),
    ) -> None:
        """Write several records in one commit."""
        ...

    def close(self) -> None: ...


class MemoryRepository:
    """Dict-backed repository with the same semantics (list order = insertion order)."""

    def __init__(self) -> None:
        self._piles: dict[str, RegisteredPile] = {}
        self._guns: dict[tuple[str, int], RegisteredGun] = {}
        self._accounts: dict[str, Account] = {}
        self._cards: dict[str, Card] = {}
        self._tariffs: dict[str, Tariff] = {}
        self._sessions: dict[str, Session] = {}
        self._realtime: dict[str, list[RealtimeSample]] = {}
        self._bms: dict[str, list[BmsSample]] = {}
        self._bills: dict[str, Bill] = {}
        self._bills_by_gun: dict[tuple[str, int], list[str]] = {}
        self._notifications: list[Notification] = []
        self._anomalies: list[AnomalyRecord] = []

    # piles, guns
    def put_pile(self, pile: RegisteredPile) -> None:
        self._piles[pile.pile_no] = pile

    def note_pile(self, pile: RegisteredPile) -> None:
        self.put_pile(pile)

    def get_pile(self, pile_no: str) -> RegisteredPile | None:
        return self._piles.get(pile_no)

    def list_piles(self) -> list[RegisteredPile]:
        return list(self._piles.values())

    def put_gun(self, gun: RegisteredGun) -> None:
        self._guns[gun.pile_no, gun.gun] = gun

    def list_guns(self, pile_no: str | None = None) -> list[RegisteredGun]:
        return [g for g in self._guns.values() if pile_no is None or g.pile_no == pile_no]

    # accounts, cards, tariffs
    def put_account(self, account: Account) -> None:
        self._accounts[account.account_id] = account

    def get_account(self, account_id: str) -> Account | None:
        return self._accounts.get(account_id)

    def list_accounts(self) -> list[Account]:
        return list(self._accounts.values())

    def put_card(self, card: Card) -> None:
        card = replace(card, physical=card.physical.upper())
        self._cards[card.physical] = card

    def get_card(self, physical: str) -> Card | None:
        return self._cards.get(physical.upper())

    def list_cards(self) -> list[Card]:
        return list(self._cards.values())

    def put_tariff(self, tariff: Tariff) -> None:
        self._tariffs[tariff.model_no] = tariff

    def get_tariff(self, model_no: str) -> Tariff | None:
        return self._tariffs.get(model_no)

    # sessions, realtime
    def put_session(self, session: Session) -> None:
        self._sessions[session.serial] = session

    def get_session(self, serial: str) -> Session | None:
        return self._sessions.get(serial)

    def list_sessions(self) -> list[Session]:
        return list(self._sessions.values())

    def open_sessions(self) -> list[Session]:
        return [
            s
            for s in self._sessions.values()
            if s.state in OPEN_STATES or (s.bill_serial is None and not s.lost_flagged)
        ]

    def add_realtime(self, sample: RealtimeSample, session: Session | None = None) -> None:
        samples = self._realtime.get(sample.session_key)
        if samples is None:  # not setdefault: it would build a spare list every frame
            samples = self._realtime[sample.session_key] = []
        samples.append(sample)
        if session is not None:
            self._sessions[session.serial] = session

    def list_realtime(self, session_key: str) -> list[RealtimeSample]:
        return list(self._realtime.get(session_key, ()))

    def add_bms(self, sample: BmsSample) -> None:
        self._bms.setdefault(sample.session_key, []).append(sample)

    def list_bms(self, session_key: str) -> list[BmsSample]:
        return list(self._bms.get(session_key, ()))

    # bills
    def get_bill(self, serial: str) -> Bill | None:
        return self._bills.get(serial)

    def list_bills(self) -> list[Bill]:
        return list(self._bills.values())

    def bills_overlapping(
        self, pile_no: str, gun: int, start: datetime, end: datetime, exclude: str
    ) -> list[Bill]:
        out = []
        for serial in self._bills_by_gun.get((pile_no, gun), ()):
            bill = self._bills[serial]
            if serial == exclude or bill.illegal or bill.start_time is None:
                continue
            if bill.end_time is None:
                continue
            if bill.start_time < end and start < bill.end_time:
                out.append(bill)
        return out

    def settle_bill(
        self,
        bill: Bill,
        session: Session | None,
        account: Account | None,
        notifications: Sequence[Notification],
        anomalies: Sequence[AnomalyRecord],
    ) -> None:
        if bill.serial in self._bills:
            raise ValueError(f"bill {bill.serial} already stored")
        self._bills[bill.serial] = bill
        self._bills_by_gun.setdefault((bill.pile_no, bill.gun), []).append(bill.serial)
        self.update(
            sessions=[session] if session else (),
            notifications=notifications,
            anomalies=anomalies,
            accounts=[account] if account else (),
        )

    def note_duplicate(self, serial: str, at: datetime) -> Bill | None:
        bill = self._bills.get(serial)
        if bill is None:
            return None
        bill = replace(bill, duplicates=bill.duplicates + 1, last_duplicate_at=at)
        self._bills[serial] = bill
        return bill

    # notifications, anomalies
    def add_notifications(self, notifications: Iterable[Notification]) -> None:
        for note in notifications:
            self._notifications.append(evolve(note, id=len(self._notifications) + 1))

    def list_notifications(self) -> list[Notification]:
        return list(self._notifications)

    def add_anomalies(self, anomalies: Iterable[AnomalyRecord]) -> None:
        for anomaly in anomalies:
            self._anomalies.append(evolve(anomaly, id=len(self._anomalies) + 1))

    def list_anomalies(self) -> list[AnomalyRecord]:
        return list(self._anomalies)

    def update(
        self,
        sessions: Iterable[Session] = (),
        notifications: Iterable[Notification] = (),
        anomalies: Iterable[AnomalyRecord] = (),
        accounts: Iterable[Account] = (),
    ) -> None:
        for session in sessions:
            self._sessions[session.serial] = session
        for account in accounts:
            self._accounts[account.account_id] = account
        self.add_notifications(notifications)
        self.add_anomalies(anomalies)

    def close(self) -> None:
        pass
