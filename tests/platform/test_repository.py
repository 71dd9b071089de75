"""One repository suite, run against the in-memory, SQLite and PostgreSQL implementations."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from simrig.adapters.postgres_store import PostgresRepository
from simrig.adapters.sqlite_store import SqliteRepository
from simrig.domain import default_tariff
from simrig.platform import (
    Account,
    AnomalyRecord,
    Bill,
    Card,
    MemoryRepository,
    Notification,
    RealtimeSample,
    RegisteredGun,
    RegisteredPile,
    Session,
    SessionState,
    load_demo_dataset,
)

T0 = datetime(2019, 10, 29, 18, 6, 31, 796000)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def repo(request, tmp_path):
    if request.param == "memory":
        yield MemoryRepository()
        return
    if request.param == "sqlite":
        store = SqliteRepository(tmp_path / "platform.sqlite")
    else:
        store = PostgresRepository(request.getfixturevalue("postgres_server").fresh_url())
    yield store
    store.close()


def _bill(serial: str, start: datetime, minutes: int = 30, **kw) -> Bill:
    return Bill(
        serial=serial,
        pile_no="32010200000001",
        gun=1,
        start_time=start,
        end_time=start + timedelta(minutes=minutes),
        trade_time=start + timedelta(minutes=minutes),
        lines=(
            (150000, 0, 0, 0),
            (180000, 0, 0, 0),
            (150000, 100000, 100000, 150000),
            (115000, 0, 0, 0),
        ),
        meter_start=0,
        meter_end=100000,
        total_energy=100000,
        total_loss_energy=100000,
        total_amount=150000,
        stop_reason=0x45,
        source=2,
        vin="",
        physical_card="00" * 8,
        received_at=start + timedelta(minutes=minutes, seconds=5),
        raw_hex="68",
        **kw,
    )


def test_piles_guns_accounts_cards_tariffs(repo):
    load_demo_dataset(repo)
    assert [p.pile_no for p in repo.list_piles()] == sorted(
        ["32010200000001", "55031412782305", "10001001000001"]
    ) or len(repo.list_piles()) == 3
    assert repo.get_pile("32010200000001").guns == 2
    assert repo.get_card("00000000d14b0a54").logical == "0000001000000573"
    assert repo.get_account("card-1000000573").balance == 1_000_000
    assert repo.get_tariff("0100") == default_tariff()
    repo.put_gun(RegisteredGun("32010200000001", 1, 3, True, "1" * 32, T0))
    assert repo.list_guns("32010200000001")[0].updated_at == T0


def test_session_roundtrip_keeps_milliseconds_and_order(repo):
    """zpd_case#20: same-second rows must keep their order (2-2-3-3, not 2-3-2-3)."""
    s = Session("1" * 32, "32010200000001", 1, "card", "a", created_at=T0)
    repo.put_session(s)
    assert repo.get_session(s.serial) == s
    assert repo.get_session(s.serial).created_at.microsecond == 796000
    for i, status in enumerate([2, 2, 3, 3]):
        sample = RealtimeSample(
            s.serial,
            s.pile_no,
            1,
            T0 + timedelta(milliseconds=100 * i),
            status,
            True,
            0.0,
            0.0,
            0,
            0,
            i,
            i,
            i,
        )
        repo.add_realtime(sample, replace_state(s, SessionState.CHARGING))
    assert [r.status for r in repo.list_realtime(s.serial)] == [2, 2, 3, 3]
    assert repo.get_session(s.serial).state is SessionState.CHARGING
    assert [x.serial for x in repo.open_sessions()] == [s.serial]


def replace_state(s: Session, state: SessionState) -> Session:
    from dataclasses import replace

    return replace(s, state=state)


def test_settle_bill_atomic_and_duplicates(repo):
    repo.put_account(Account("a", balance=500_000))
    s = Session("1" * 32, "32010200000001", 1, "card", "a", created_at=T0)
    repo.put_session(s)
    bill = _bill(s.serial, T0)
    note = Notification(T0, "balance_change", "a", s.serial, amount=-150000)
    anomaly = AnomalyRecord(9, s.serial, "x", T0)
    repo.settle_bill(
        bill,
        replace_state(s, SessionState.FINISHED),
        Account("a", balance=350_000),
        [note],
        [anomaly],
    )
    assert repo.get_bill(s.serial) == bill
    assert repo.get_account("a").balance == 350_000
    assert repo.list_notifications()[0].id == 1
    assert repo.list_anomalies()[0].code == 9
    with pytest.raises(Exception):  # noqa: B017 - a second insert of the same serial fails
        repo.settle_bill(bill, None, None, [], [])
    updated = repo.note_duplicate(s.serial, T0 + timedelta(hours=1))
    assert updated.duplicates == 1 and repo.get_bill(s.serial).duplicates == 1
    assert repo.note_duplicate("2" * 32, T0) is None
    assert len(repo.list_bills()) == 1


def test_overlap_query(repo):
    repo.settle_bill(_bill("1" * 32, T0), None, None, [], [])
    repo.settle_bill(_bill("2" * 32, T0 + timedelta(hours=2)), None, None, [], [])
    repo.settle_bill(_bill("3" * 32, T0, illegal=True), None, None, [], [])
    hits = repo.bills_overlapping(
        "32010200000001", 1, T0 + timedelta(minutes=10), T0 + timedelta(minutes=50), "9" * 32
    )
    assert [b.serial for b in hits] == ["1" * 32]
    assert repo.bills_overlapping("32010200000001", 2, T0, T0 + timedelta(hours=3), "") == []


def test_update_writes_all(repo):
    s = Session("1" * 32, "p", 1, "app", "a", created_at=T0)
    repo.update(
        sessions=[s],
        notifications=[Notification(T0, "k", "a")],
        anomalies=[AnomalyRecord(1, s.serial, "lost", T0)],
        accounts=[Account("a")],
    )
    assert repo.list_sessions() == [s]
    assert repo.get_account("a") == Account("a")
    assert len(repo.list_notifications()) == 1 and len(repo.list_anomalies()) == 1
    repo.put_card(Card("ab", "1", "a"))
    assert repo.list_cards()[0].physical == "AB"
    repo.put_pile(RegisteredPile("32010200000001"))
    assert repo.get_pile("nope") is None


def test_bms_samples_roundtrip_in_order(repo):
    from simrig.platform import BmsSample

    values = {"demand_voltage": 400.5, "soc": 55}
    repo.add_bms(BmsSample("S1", "32010200000001", 1, T0, "demand_output", values))
    repo.add_bms(BmsSample("S2", "32010200000001", 2, T0, "bms_info", {"flags": 3}))
    repo.add_bms(BmsSample("S1", "32010200000001", 1, T0 + timedelta(seconds=15), "bms_info"))
    got = repo.list_bms("S1")
    assert [(s.kind, s.at) for s in got] == [
        ("demand_output", T0),
        ("bms_info", T0 + timedelta(seconds=15)),
    ]
    assert got[0].values == values and repo.list_bms("none") == []


def test_realtime_batches_are_seen_at_once_and_written_in_order(tmp_path):
    """A batch stays in memory until flushed (reads see its session), is written in one
    transaction, and any other write flushes it first."""
    path = tmp_path / "p.sqlite"
    store = SqliteRepository(path)
    opened: list[int] = []
    store.on_batch = lambda: opened.append(1)
    s = Session("2" * 32, "32010200000001", 1, "card", "a", created_at=T0)
    store.put_session(s)
    charging = replace_state(s, SessionState.CHARGING)
    for i in range(3):
        sample = RealtimeSample(s.serial, s.pile_no, 1, T0, 3, True, 0.0, 0.0, 0, 0, i, i, i)
        store.add_realtime(sample, charging)
    assert opened == [1] and store.batched == 3
    assert store.get_session(s.serial).state is SessionState.CHARGING  # seen before the write
    other = SqliteRepository(path)
    assert other.get_session(s.serial).state is SessionState.STARTING  # not written yet
    store.put_session(replace_state(charging, SessionState.FINISHED))  # flushes first
    assert store.batched == 0 and store.batches == 1
    assert other.get_session(s.serial).state is SessionState.FINISHED
    assert len(other.list_realtime(s.serial)) == 3
    other.close()
    store.close()
