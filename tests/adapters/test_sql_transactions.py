"""Group commit in the SQL store (:mod:`simrig.adapters.sql_transactions`), on a real
SQLite file and a real PostgreSQL server: grouped writes stay invisible to another
connection until the commit, a failed write rolls back alone, a write outside the group
commits it at once, and a failed commit stores nothing and says so."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from simrig.adapters.platform_service import open_repository
from simrig.adapters.sql_store import SqlRepository
from simrig.adapters.sql_transactions import SqlTransactions
from simrig.platform.records import Account, Session


@pytest.fixture(params=["sqlite", "postgres"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Any]]:
    """A factory of repositories on one fresh database (the first is the writer)."""
    if request.param == "sqlite":
        db = str(tmp_path / "platform.sqlite")
    else:
        db = request.getfixturevalue("postgres_server").fresh_url()
    opened: list[SqlRepository] = []

    def store() -> SqlRepository:
        opened.append(open_repository(db))
        return opened[-1]

    yield store
    for repo in opened:
        repo.close()


def _account(name: str, balance: int = 100) -> Account:
    return Account(account_id=name, balance=balance)


def _ids(repo: SqlRepository) -> set[str]:
    return {a.account_id for a in repo.list_accounts()}


def test_grouped_writes_are_seen_by_others_only_after_the_commit(stores: Any) -> None:
    writer, reader = stores(), stores()
    before = writer.transactions.commits
    with writer.grouped():
        for name in ("a", "b", "c"):
            writer.put_account(_account(name))
    assert _ids(writer) == {"a", "b", "c"}  # the writer reads its own group
    assert _ids(reader) == set()  # nobody else yet: not committed
    writer.commit()
    assert _ids(reader) == {"a", "b", "c"}
    assert writer.transactions.commits == before + 1  # three writes, one commit


def test_a_failed_write_in_the_group_rolls_back_alone(stores: Any) -> None:
    writer, reader = stores(), stores()
    with writer.grouped():
        writer.put_account(_account("a"))
        with pytest.raises((sqlite3.Error, psycopg.Error)), writer.transactions.write():
            writer._exec("INSERT INTO no_such_table VALUES (1)")
        writer.put_account(_account("b"))
    writer.commit()
    assert _ids(reader) == {"a", "b"}


def test_a_write_outside_the_group_commits_the_group_with_it(stores: Any) -> None:
    """An HTTP call or a timer writes while a turn's group is open: its answer must not
    precede its write's durability, so the open group commits with it."""
    writer, reader = stores(), stores()
    with writer.grouped():
        writer.put_account(_account("a"))
    assert _ids(reader) == set()
    writer.put_account(_account("b"))  # not grouped
    assert _ids(reader) == {"a", "b"} and not writer.transactions.open


def test_without_grouping_every_write_commits_alone(stores: Any) -> None:
    writer, reader = stores(), stores()
    before = writer.transactions.commits
    writer.put_account(_account("a"))
    assert _ids(reader) == {"a"}
    writer.put_account(_account("b"))
    assert writer.transactions.commits == before + 2
    writer.commit()  # nothing open: nothing happens
    assert writer.transactions.commits == before + 2


def test_a_failed_commit_stores_nothing_of_the_group_and_raises(
    postgres_server: Any,
) -> None:
    """A deferred constraint is checked at COMMIT: the group fails there as a whole."""
    url = postgres_server.fresh_url()
    db = psycopg.connect(url, autocommit=True)
    db.execute(
        "CREATE TABLE t (k INTEGER, CONSTRAINT once UNIQUE (k) DEFERRABLE INITIALLY DEFERRED)"
    )
    tx = SqlTransactions(db.execute, "BEGIN")
    with tx.grouped():
        for k in (1, 2, 1):  # the duplicate is found only at COMMIT
            with tx.write():
                db.execute("INSERT INTO t VALUES (%s)", (k,))
    with pytest.raises(psycopg.errors.UniqueViolation):
        tx.commit()
    assert not tx.open
    assert db.execute("SELECT count(*) FROM t").fetchone() == (0,)
    with tx.write():  # the connection is usable again
        db.execute("INSERT INTO t VALUES (3)")
    assert db.execute("SELECT k FROM t").fetchall() == [(3,)]
    db.close()


def test_sqlite_group_holds_the_write_lock_until_the_commit(tmp_path: Path) -> None:
    """``BEGIN IMMEDIATE`` takes SQLite's write lock at the group's first write: another
    writer waits for the commit rather than interleaving."""
    db = str(tmp_path / "platform.sqlite")
    writer = open_repository(db)
    try:
        with writer.grouped():
            writer.put_account(_account("a"))
        other = sqlite3.connect(db, timeout=0.1, isolation_level=None)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        writer.commit()
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        other.close()
    finally:
        writer.close()


class _Counting:
    """The connection, counting the SELECTs run on it."""

    def __init__(self, db: Any) -> None:
        self.db, self.selects = db, 0

    def execute(self, sql: str, *args: Any) -> Any:
        self.selects += sql.lstrip().upper().startswith("SELECT")
        return self.db.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.db, name)


T0 = datetime(2019, 10, 29, 18, 6, 31, 796000)


def _session(state: str = "starting") -> Session:
    return Session("3" * 32, "32010200000001", 1, "card", "a", created_at=T0, state=state)


def test_the_servers_store_reads_what_it_wrote_without_a_select(tmp_path: Path) -> None:
    """The server's store (the database's one writer) keeps sessions and accounts as a
    read would return them: a 0x13 needs no SELECT (PostgreSQL: a round trip each)."""
    store = open_repository(str(tmp_path / "p.sqlite"), known_records=10)
    try:
        store.put_session(_session())
        store.put_account(_account("a", 500))
        counting = store.db = _Counting(store.db)
        assert store.get_session("3" * 32) == open_repository(store.path).get_session("3" * 32)
        assert store.get_account("a") == Account(account_id="a", balance=500)
        assert counting.selects == 0
    finally:
        store.close()


def test_the_servers_store_forgets_what_a_failed_commit_rolled_back(tmp_path: Path) -> None:
    path = str(tmp_path / "p.sqlite")
    store = open_repository(path, known_records=10)
    try:
        store.put_session(_session("starting"))
        execute = store.transactions._execute

        def commit_fails(sql: str) -> Any:
            if sql == "COMMIT":
                raise sqlite3.OperationalError("disk I/O error")
            return execute(sql)

        with store.grouped():
            store.put_session(_session("charging"))
        assert store.get_session("3" * 32).state == "charging"  # its own group's write
        store.transactions._execute = commit_fails  # type: ignore[method-assign]
        with pytest.raises(sqlite3.OperationalError):
            store.commit()
        store.transactions._execute = execute  # type: ignore[method-assign]
        assert store.get_session("3" * 32).state == "starting"  # as stored, not as kept
    finally:
        store.close()


def test_readers_keep_nothing_so_they_see_the_writers_commits(tmp_path: Path) -> None:
    path = str(tmp_path / "p.sqlite")
    writer, reader = open_repository(path, known_records=10), open_repository(path)
    try:
        writer.put_session(_session("starting"))
        assert reader.get_session("3" * 32).state == "starting"
        writer.put_session(_session("charging"))
        assert reader.get_session("3" * 32).state == "charging"
    finally:
        writer.close()
        reader.close()
