"""The core on the SQLite repository: the same full session, bills durable across reopen."""

from __future__ import annotations

from simrig.adapters.sqlite_store import SqliteRepository
from simrig.domain import money_from_yuan
from simrig.platform import DEMO_ACCOUNT, PlatformCore, SessionState, load_demo_dataset
from simrig.protocol.ykc import AckResult, GunStatus

from .helpers import EPOCH, ScriptedPile


def test_full_card_session_on_sqlite(tmp_path):
    path = tmp_path / "p.sqlite"
    repo = SqliteRepository(path)
    load_demo_dataset(repo)
    core = PlatformCore(repo, epoch=EPOCH)
    pile = ScriptedPile()
    core.connection_made(1, 0.0)

    def send(data, now):
        core.receive_data(1, data, now)
        return pile.decode(core.data_to_send(1))

    send(pile.login(), 0.0)
    (auth,) = send(pile.card_start(), 5.0)
    serial = auth.serial
    send(pile.realtime(serial, energy=0.0), 20.0)
    send(pile.realtime(serial, energy=3.0, amount=4.5), 320.0)
    send(pile.realtime(serial, status=GunStatus.IDLE, energy=6.0, amount=9.0), 620.0)
    bill_frame = pile.bill(
        serial, EPOCH.replace(second=20), EPOCH.replace(minute=10, second=20), 6.0
    )
    (ack,) = send(bill_frame, 630.0)
    (ack2,) = send(bill_frame, 660.0)
    assert ack.result == ack2.result == AckResult.OK
    repo.close()

    again = SqliteRepository(path)
    (bill,) = again.list_bills()
    assert bill.serial == serial and bill.duplicates == 1
    assert again.get_account(DEMO_ACCOUNT).balance == money_from_yuan(91)
    assert again.get_session(serial).state is SessionState.FINISHED
    assert [s.status for s in again.list_realtime(serial)] == [3, 3, 2]
    assert len(again.list_notifications()) == 4
    again.close()
