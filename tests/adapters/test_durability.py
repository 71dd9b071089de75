"""What the platform acknowledged survives SIGKILL of the server process (issue 3 "Tests",
issue 15 items 5 and 6), on SQLite and on a real PostgreSQL server: an acked bill, a
session whose start was confirmed; and a restart with ``--config`` keeps the balances."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from datetime import datetime
from pathlib import Path

import pytest

from simrig.adapters.platform_process import start_platform
from simrig.adapters.platform_service import open_repository
from simrig.protocol.ykc import AckResult, CardAuthReply, GunStatus, LoginReply, RecordAck

from .conftest import SocketPile

#: the demo card holder's account, as the config file gives it (100 yuan)
CONFIG = """
[[accounts]]
account_id = "card-1000000573"
name = "demo card holder"
balance = 100.0
logical_card = "1000000573"
"""


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "platform.sqlite")
    url: str = request.getfixturevalue("postgres_server").fresh_url()
    return url


async def _start_server(db: str, config: Path) -> tuple[subprocess.Popen, int]:
    options = ["--listen", "127.0.0.1:0", "--http", "off", "--db", db, "--demo"]
    options += ["--config", str(config)]
    server = await asyncio.to_thread(start_platform, options)
    return server.proc, server.port


def _kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)  # no clean shutdown
    proc.wait(10)


async def test_acked_bill_and_confirmed_session_survive_sigkill(db: str, tmp_path: Path) -> None:
    config = tmp_path / "platform.toml"
    config.write_text(CONFIG)
    proc, port = await _start_server(db, config)
    try:
        pile = await SocketPile.connect(port)
        await pile.send(pile.login())
        await pile.expect(LoginReply)
        await pile.send(pile.card_start())
        serial = (await pile.expect(CardAuthReply)).serial
        await pile.send(pile.realtime(serial, energy=1.0))
        await pile.send(pile.realtime(serial, status=GunStatus.IDLE, energy=2.0, amount=3.0))
        now = datetime.now().replace(microsecond=0)
        bill = pile.bill(serial, now, now, 2.0)
        await pile.send(bill)
        assert (await pile.expect(RecordAck)).result == AckResult.OK
        _kill(proc)  # right after the ack
        pile.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    repo = open_repository(db)
    (stored,) = repo.list_bills()
    assert stored.serial == serial and stored.charged_total == 30_000
    repo.close()
    # restarted with the same --config: the debit stays, a retransmission is a duplicate
    # (never billed twice), and a confirmed start (0x32) survives the next SIGKILL
    proc, port = await _start_server(db, config)
    try:
        pile = await SocketPile.connect(port)
        await pile.send(pile.login())
        await pile.expect(LoginReply)
        await pile.send(bill)
        assert (await pile.expect(RecordAck)).result == AckResult.OK
        await pile.send(pile.card_start(gun=2))
        reply = await pile.expect(CardAuthReply)
        assert reply.result == 1, reply
        _kill(proc)  # right after the start was confirmed
        pile.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    repo = open_repository(db)
    (stored,) = repo.list_bills()
    assert stored.duplicates == 1
    assert repo.get_account("card-1000000573").balance == 1_000_000 - 30_000
    assert reply.serial in {s.serial for s in repo.list_sessions()}
    repo.close()
