"""SQLite repository of the reference platform (the default store, issue 3 item 4).

The SQL and the batching of realtime samples are those of
:class:`~simrig.adapters.sql_store.SqlRepository`; here: the file, WAL mode with
``synchronous=FULL`` (every commit durable before the call returns, issue 15 item 5),
and SQLite's schema and upserts.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import ClassVar

from simrig.adapters.sql_store import SqlRepository, ms

__all__ = ["SqliteRepository", "ms"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS piles (pile_no TEXT PRIMARY KEY, online INTEGER, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS guns (
    pile_no TEXT, gun INTEGER, status INTEGER, plugged INTEGER, serial TEXT,
    updated_ms INTEGER, data TEXT NOT NULL, PRIMARY KEY (pile_no, gun));
CREATE TABLE IF NOT EXISTS accounts (
    account_id TEXT PRIMARY KEY, balance INTEGER NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cards (
    physical TEXT PRIMARY KEY, account_id TEXT NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tariffs (model_no TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    serial TEXT PRIMARY KEY, pile_no TEXT, gun INTEGER, account_id TEXT, state TEXT,
    created_ms INTEGER, bill_serial TEXT, open INTEGER, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_open ON sessions (open);
CREATE TABLE IF NOT EXISTS realtime (
    id INTEGER PRIMARY KEY AUTOINCREMENT, session_key TEXT NOT NULL, at_ms INTEGER NOT NULL,
    data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS realtime_session ON realtime (session_key, at_ms, id);
CREATE TABLE IF NOT EXISTS bms (
    id INTEGER PRIMARY KEY AUTOINCREMENT, session_key TEXT NOT NULL, at_ms INTEGER NOT NULL,
    data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS bms_session ON bms (session_key, at_ms, id);
CREATE TABLE IF NOT EXISTS bills (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, serial TEXT UNIQUE NOT NULL, pile_no TEXT, gun INTEGER,
    start_ms INTEGER, end_ms INTEGER, received_ms INTEGER, illegal INTEGER, duplicates INTEGER,
    data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS bills_gun ON bills (pile_no, gun, start_ms);
CREATE TABLE IF NOT EXISTS notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER, kind TEXT, account_id TEXT,
    session_key TEXT, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS anomalies (
    id INTEGER PRIMARY KEY AUTOINCREMENT, code INTEGER, session_key TEXT, detected_ms INTEGER,
    data TEXT NOT NULL);
"""


class SqliteRepository(SqlRepository):
    """The :class:`simrig.platform.Repository` on an SQLite file (one connection)."""

    BEGIN = "BEGIN IMMEDIATE"
    UPSERT: ClassVar[dict[str, str]] = {
        table: f"INSERT OR REPLACE INTO {table} VALUES ({', '.join('?' * n)})"
        for table, n in (
            ("piles", 3),
            ("guns", 7),
            ("accounts", 3),
            ("cards", 3),
            ("tariffs", 2),
            ("sessions", 9),
        )
    }

    def __init__(
        self, path: str | Path = ":memory:", batch_max: int = 1000, known_records: int = 0
    ) -> None:
        self.path = str(path)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=ON")
        db.executescript(SCHEMA)
        super().__init__(db, batch_max, known_records)
