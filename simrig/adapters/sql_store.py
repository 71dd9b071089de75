"""The reference platform's repository on SQL (issue 3 item 4, issue 15 items 5 and 6).

Every write call commits before it returns, durably (the dialect makes a commit reach
the disk: SQLite ``synchronous=FULL``, PostgreSQL ``synchronous_commit=on``), so whatever
the platform acknowledges to a pile (a bill's 0x40, a started session's 0x32/0x34)
survives SIGKILL and power loss; or, inside :meth:`SqlRepository.grouped`, the writes
share one transaction that the server commits before it sends anything (group commit,
:mod:`.sql_transactions`).

Realtime samples (0x13), BMS frames (0x23/0x25) and what the platform learns of a pile
(online, firmware: ``note_pile``), never acknowledged, are batched:
``add_realtime`` keeps the row (and the session it updated: reads see it) in memory, up
to ``batch_max`` rows, until :meth:`flush` writes the batch in one transaction with one
``executemany`` per table (one commit per batch, not per frame). Every other write, and
every listing, flushes first, so writes reach the database in their order. The server
flushes once per event-loop turn (``on_batch``), so a sample waits milliseconds.

Timestamps are kept twice: as ``*_ms`` integer columns (milliseconds since 1970, the naive
wall time read as UTC) for ordering and queries, and inside the JSON record as ISO 8601
with milliseconds (zpd_case#20: the field database lost them).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, ClassVar

from simrig.adapters.recent import Recent
from simrig.adapters.sql_transactions import SqlTransactions
from simrig.domain.tariff import Band, BandRate, OccupancyRule, Tariff
from simrig.platform.records import (
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
    record_from_dict,
    record_to_dict,
)

__all__ = ["KNOWN_RECORDS", "SqlRepository", "ms"]

_EPOCH = datetime(1970, 1, 1)
#: sessions (and accounts) the server's store keeps as last written or read: every open
#: one of a large fleet, well under 100 MB
KNOWN_RECORDS = 20_000


def ms(when: datetime | None) -> int | None:
    """Milliseconds since 1970 of a naive wall time (read as UTC); aware times converted."""
    if when is None:
        return None
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return (when - _EPOCH) // _MS


_MS = datetime(1970, 1, 1, 0, 0, 0, 1000) - _EPOCH


def _dump(record: Any) -> str:
    return json.dumps(record_to_dict(record), separators=(",", ":"), ensure_ascii=False)


def _tariff_dump(t: Tariff) -> str:
    occ = t.occupancy
    return json.dumps(
        {
            "model_no": t.model_no,
            "rates": [[r.electricity, r.service] for r in t.rates],
            "periods": [int(b) for b in t.periods],
            "loss_ratio_pct": t.loss_ratio_pct,
            "occupancy": None
            if occ is None
            else {"free_minutes": occ.free_minutes, "rate": occ.rate_per_minute, "cap": occ.cap},
        }
    )


def _tariff_load(text: str) -> Tariff:
    d = json.loads(text)
    rates = tuple(BandRate(e, s) for e, s in d["rates"])
    occ = d.get("occupancy")
    return Tariff(
        model_no=d["model_no"],
        rates=(rates[0], rates[1], rates[2], rates[3]),
        periods=tuple(Band(b) for b in d["periods"]),
        loss_ratio_pct=d["loss_ratio_pct"],
        occupancy=None
        if occ is None
        else OccupancyRule(occ["free_minutes"], occ["rate"], occ["cap"]),
    )


def _pile_row(pile: RegisteredPile) -> tuple[Any, ...]:
    return (pile.pile_no, int(pile.online), _dump(pile))


def _session_row(s: Session) -> tuple[Any, ...]:
    """The ``sessions`` columns of ``s`` (``open``: the restart view's filter)."""
    is_open = s.state in OPEN_STATES or (s.bill_serial is None and not s.lost_flagged)
    return (
        s.serial,
        s.pile_no,
        s.gun,
        s.account_id,
        str(s.state),
        ms(s.created_at),
        s.bill_serial,
        int(is_open),
        _dump(s),
    )


class SqlRepository:
    """The :class:`simrig.platform.Repository` on one SQL connection (one thread); the
    dialects (:class:`~simrig.adapters.sqlite_store.SqliteRepository`,
    :class:`~simrig.adapters.postgres_store.PostgresRepository`) open it and name the
    few statements that differ."""

    #: starts a write transaction
    BEGIN = "BEGIN"
    #: the parameter placeholder of the driver (statements are written with ``?``)
    PLACEHOLDER = "?"
    #: table → its upsert (``INSERT ... ON CONFLICT``/``OR REPLACE``), with ``?`` params
    UPSERT: ClassVar[dict[str, str]] = {}
    #: every session, by creation time then last write
    SESSIONS_IN_ORDER = "SELECT data FROM sessions ORDER BY created_ms, rowid"

    def __init__(self, db: Any, batch_max: int = 1000, known_records: int = 0) -> None:
        self.db = db
        self.batch_max = batch_max
        #: the open batch: realtime and BMS rows, and the sessions they updated (by
        #: serial, the last write wins); reads of a session see it here first
        self._realtime_rows: list[tuple[Any, ...]] = []
        self._bms_rows: list[tuple[Any, ...]] = []
        self._pending_sessions: dict[str, Session] = {}
        self._pending_piles: dict[str, RegisteredPile] = {}
        #: called when a batch opens (the server schedules :meth:`flush`)
        self.on_batch: Callable[[], None] | None = None
        #: batches committed (for the benchmark)
        self.batches = 0
        #: each write alone, or grouped until :meth:`commit` (:mod:`.sql_transactions`)
        self.transactions = SqlTransactions(self._exec, self.BEGIN)
        #: up to ``known_records`` sessions and accounts as this store last wrote or read
        #: them (their JSON, decoded once: a read returns what a SELECT would): a 0x13
        #: then costs no SELECT. Only for the database's one writer (the server; 0, the
        #: default, for any other reader); all are forgotten when a write fails (it may
        #: have rolled others back)
        self._sessions: Recent[Any] = Recent(known_records)
        self._accounts: Recent[Any] = Recent(known_records)

    @property
    def batched(self) -> int:
        """Rows waiting in the open batch."""
        return len(self._realtime_rows) + len(self._bms_rows) + len(self._pending_piles)

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        """One write, committed alone or in the open group (:mod:`.sql_transactions`);
        the open batch is written before it, so writes reach the database in order."""
        self.flush()
        try:
            with self.transactions.write():
                yield self.db
        except BaseException:
            self._forget()
            raise

    def grouped(self) -> AbstractContextManager[None]:
        """Writes made inside join one transaction until :meth:`commit` (group commit)."""
        return self.transactions.grouped()

    def commit(self) -> None:
        """Commit the group's writes durably (raises if it fails: nothing is stored)."""
        try:
            self.transactions.commit()
        except BaseException:
            self._forget()
            raise

    def _forget(self) -> None:
        """A write failed and may have rolled back others: read the database again."""
        self._sessions.clear()
        self._accounts.clear()

    def _batched(self) -> None:
        """One more row in the batch: announce a new batch; commit a full one."""
        if self.batched == 1 and self.on_batch is not None:
            self.on_batch()
        if self.batched >= self.batch_max:
            self.flush()

    def flush(self) -> None:
        """Write the open batch in one transaction (durably), if any: one ``executemany``
        per table. A failure drops the batch (samples are never acknowledged) and raises."""
        if not self.batched and not self._pending_sessions:
            return
        rows, bms, sessions = self._realtime_rows, self._bms_rows, self._pending_sessions
        piles = self._pending_piles
        self._realtime_rows, self._bms_rows, self._pending_sessions = [], [], {}
        self._pending_piles = {}
        session_rows = [_session_row(s) for s in sessions.values()]
        try:
            with self.transactions.write():
                self._many(self.UPSERT["piles"], [_pile_row(p) for p in piles.values()])
                self._many("INSERT INTO realtime (session_key, at_ms, data) VALUES (?, ?, ?)", rows)
                self._many("INSERT INTO bms (session_key, at_ms, data) VALUES (?, ?, ?)", bms)
                self._many(self.UPSERT["sessions"], session_rows)
        except BaseException:
            self._forget()
            raise
        for row in session_rows:
            self._sessions.put(row[0], row[-1])
        self.batches += 1

    def _many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            if self.PLACEHOLDER != "?":
                sql = sql.replace("?", self.PLACEHOLDER)
            self.db.cursor().executemany(sql, rows)

    def _exec(self, sql: str, args: Sequence[Any] = ()) -> Any:
        """Run one statement written with ``?`` placeholders; its cursor."""
        if self.PLACEHOLDER != "?":
            sql = sql.replace("?", self.PLACEHOLDER)
        return self.db.execute(sql, args)

    def _all(self, cls: type[Any], sql: str, *args: Any) -> list[Any]:
        return [record_from_dict(cls, json.loads(row[0])) for row in self._exec(sql, args)]

    def _known(self, cls: type[Any], known: Recent[Any], key: str, sql: str) -> Any:
        """The record ``key`` as kept in ``known`` (its JSON as written, decoded on the
        first read and kept so), else read by ``sql``."""
        kept = known.get(key)
        if kept is None:
            row = self._exec(sql, (key,)).fetchone()
            if row is None:
                return None
            kept = row[0]
        if isinstance(kept, str):
            kept = record_from_dict(cls, json.loads(kept))
            known.put(key, kept)
        return kept

    def _one(self, cls: type[Any], sql: str, *args: Any) -> Any:
        row = self._exec(sql, args).fetchone()
        return None if row is None else record_from_dict(cls, json.loads(row[0]))

    # piles, guns
    def put_pile(self, pile: RegisteredPile) -> None:
        self._pending_piles.pop(pile.pile_no, None)  # this write supersedes a noted one
        with self._tx():
            self._exec(self.UPSERT["piles"], _pile_row(pile))

    def note_pile(self, pile: RegisteredPile) -> None:
        """Batched (the module doc): written by :meth:`flush` or before the next write."""
        self._pending_piles[pile.pile_no] = pile
        self._batched()

    def get_pile(self, pile_no: str) -> RegisteredPile | None:
        pending = self._pending_piles.get(pile_no)
        if pending is not None:
            return pending
        return self._one(RegisteredPile, "SELECT data FROM piles WHERE pile_no = ?", pile_no)

    def list_piles(self) -> list[RegisteredPile]:
        self.flush()
        return self._all(RegisteredPile, "SELECT data FROM piles ORDER BY pile_no")

    def put_gun(self, gun: RegisteredGun) -> None:
        with self._tx():
            self._exec(
                self.UPSERT["guns"],
                (
                    gun.pile_no,
                    gun.gun,
                    gun.status,
                    int(gun.plugged),
                    gun.serial,
                    ms(gun.updated_at),
                    _dump(gun),
                ),
            )

    def list_guns(self, pile_no: str | None = None) -> list[RegisteredGun]:
        if pile_no is None:
            return self._all(RegisteredGun, "SELECT data FROM guns ORDER BY pile_no, gun")
        return self._all(
            RegisteredGun, "SELECT data FROM guns WHERE pile_no = ? ORDER BY gun", pile_no
        )

    # accounts, cards, tariffs
    def _put_account(self, db: Any, account: Account) -> None:
        data = _dump(account)
        self._exec(self.UPSERT["accounts"], (account.account_id, account.balance, data))
        self._accounts.put(account.account_id, data)

    def put_account(self, account: Account) -> None:
        with self._tx() as db:
            self._put_account(db, account)

    def get_account(self, account_id: str) -> Account | None:
        return self._known(
            Account, self._accounts, account_id, "SELECT data FROM accounts WHERE account_id = ?"
        )

    def list_accounts(self) -> list[Account]:
        return self._all(Account, "SELECT data FROM accounts ORDER BY account_id")

    def put_card(self, card: Card) -> None:
        card = replace(card, physical=card.physical.upper())
        with self._tx():
            self._exec(
                self.UPSERT["cards"],
                (card.physical, card.account_id, _dump(card)),
            )

    def get_card(self, physical: str) -> Card | None:
        return self._one(Card, "SELECT data FROM cards WHERE physical = ?", physical.upper())

    def list_cards(self) -> list[Card]:
        return self._all(Card, "SELECT data FROM cards ORDER BY physical")

    def put_tariff(self, tariff: Tariff) -> None:
        with self._tx():
            self._exec(
                self.UPSERT["tariffs"],
                (tariff.model_no, _tariff_dump(tariff)),
            )

    def get_tariff(self, model_no: str) -> Tariff | None:
        row = self._exec("SELECT data FROM tariffs WHERE model_no = ?", (model_no,)).fetchone()
        return None if row is None else _tariff_load(row[0])

    # sessions, realtime
    def _put_session(self, db: Any, s: Session) -> None:
        row = _session_row(s)
        self._exec(self.UPSERT["sessions"], row)
        self._sessions.put(s.serial, row[-1])

    def put_session(self, session: Session) -> None:
        with self._tx() as db:
            self._put_session(db, session)

    def get_session(self, serial: str) -> Session | None:
        pending = self._pending_sessions.get(serial)
        if pending is not None:
            return pending
        return self._known(
            Session, self._sessions, serial, "SELECT data FROM sessions WHERE serial = ?"
        )

    def list_sessions(self) -> list[Session]:
        self.flush()
        return self._all(Session, self.SESSIONS_IN_ORDER)

    def open_sessions(self) -> list[Session]:
        self.flush()
        return self._all(Session, "SELECT data FROM sessions WHERE open = 1 ORDER BY created_ms")

    def add_realtime(self, sample: RealtimeSample, session: Session | None = None) -> None:
        """Batched (see the module doc): written by :meth:`flush` or before the next write."""
        self._realtime_rows.append((sample.session_key, ms(sample.at), _dump(sample)))
        if session is not None:
            self._pending_sessions.pop(session.serial, None)  # keep the write order
            self._pending_sessions[session.serial] = session
        self._batched()

    def add_bms(self, sample: BmsSample) -> None:
        """Batched like :meth:`add_realtime`."""
        self._bms_rows.append((sample.session_key, ms(sample.at), _dump(sample)))
        self._batched()

    def list_bms(self, session_key: str) -> list[BmsSample]:
        self.flush()
        return self._all(
            BmsSample,
            "SELECT data FROM bms WHERE session_key = ? ORDER BY at_ms, id",
            session_key,
        )

    def list_realtime(self, session_key: str) -> list[RealtimeSample]:
        self.flush()
        return self._all(
            RealtimeSample,
            "SELECT data FROM realtime WHERE session_key = ? ORDER BY at_ms, id",
            session_key,
        )

    # bills
    def get_bill(self, serial: str) -> Bill | None:
        return self._one(Bill, "SELECT data FROM bills WHERE serial = ?", serial)

    def list_bills(self) -> list[Bill]:
        return self._all(Bill, "SELECT data FROM bills ORDER BY seq")

    def bills_overlapping(
        self, pile_no: str, gun: int, start: datetime, end: datetime, exclude: str
    ) -> list[Bill]:
        return self._all(
            Bill,
            "SELECT data FROM bills WHERE pile_no = ? AND gun = ? AND illegal = 0 "
            "AND start_ms < ? AND end_ms > ? AND serial != ? ORDER BY seq",
            pile_no,
            gun,
            ms(end),
            ms(start),
            exclude,
        )

    def settle_bill(
        self,
        bill: Bill,
        session: Session | None,
        account: Account | None,
        notifications: Sequence[Notification],
        anomalies: Sequence[AnomalyRecord],
    ) -> None:
        with self._tx() as db:
            self._exec(
                "INSERT INTO bills (serial, pile_no, gun, start_ms, end_ms, received_ms, illegal,"
                " duplicates, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    bill.serial,
                    bill.pile_no,
                    bill.gun,
                    ms(bill.start_time),
                    ms(bill.end_time),
                    ms(bill.received_at),
                    int(bill.illegal),
                    bill.duplicates,
                    _dump(bill),
                ),
            )
            self._write(
                db,
                [session] if session else (),
                notifications,
                anomalies,
                [account] if account else (),
            )

    def note_duplicate(self, serial: str, at: datetime) -> Bill | None:
        with self._tx():
            bill = self._one(Bill, "SELECT data FROM bills WHERE serial = ?", serial)
            if bill is None:
                return None
            bill = replace(bill, duplicates=bill.duplicates + 1, last_duplicate_at=at)
            self._exec(
                "UPDATE bills SET duplicates = ?, data = ? WHERE serial = ?",
                (bill.duplicates, _dump(bill), serial),
            )
        return bill

    # notifications, anomalies
    def add_notifications(self, notifications: Iterable[Notification]) -> None:
        with self._tx() as db:
            self._write(db, (), notifications, (), ())

    def list_notifications(self) -> list[Notification]:
        return [
            replace(record_from_dict(Notification, json.loads(data)), id=rid)
            for rid, data in self._exec("SELECT id, data FROM notifications ORDER BY id")
        ]

    def add_anomalies(self, anomalies: Iterable[AnomalyRecord]) -> None:
        with self._tx() as db:
            self._write(db, (), (), anomalies, ())

    def list_anomalies(self) -> list[AnomalyRecord]:
        return [
            replace(record_from_dict(AnomalyRecord, json.loads(data)), id=rid)
            for rid, data in self._exec("SELECT id, data FROM anomalies ORDER BY id")
        ]

    def _write(
        self,
        db: Any,
        sessions: Iterable[Session],
        notifications: Iterable[Notification],
        anomalies: Iterable[AnomalyRecord],
        accounts: Iterable[Account],
    ) -> None:
        for session in sessions:
            self._put_session(db, session)
        for account in accounts:
            self._put_account(db, account)
        # one executemany each, in order (PostgreSQL: one round trip, not one per row)
        self._many(
            "INSERT INTO notifications (at_ms, kind, account_id, session_key, data)"
            " VALUES (?, ?, ?, ?, ?)",
            [(ms(n.at), n.kind, n.account_id, n.session_key, _dump(n)) for n in notifications],
        )
        self._many(
            "INSERT INTO anomalies (code, session_key, detected_ms, data) VALUES (?, ?, ?, ?)",
            [(a.code, a.session_key, ms(a.detected_at), _dump(a)) for a in anomalies],
        )

    def update(
        self,
        sessions: Iterable[Session] = (),
        notifications: Iterable[Notification] = (),
        anomalies: Iterable[AnomalyRecord] = (),
        accounts: Iterable[Account] = (),
    ) -> None:
        with self._tx() as db:
            self._write(db, sessions, notifications, anomalies, accounts)

    def close(self) -> None:
        self.flush()
        self.commit()
        self.db.close()
