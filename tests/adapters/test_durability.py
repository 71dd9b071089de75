"""An acked bill survives SIGKILL of the server process (issue 3 "Tests")."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from datetime import datetime

from simrig.adapters.platform_process import start_platform
from simrig.adapters.sqlite_store import SqliteRepository
from simrig.protocol.ykc import AckResult, CardAuthReply, GunStatus, LoginReply, RecordAck

from .conftest import SocketPile


async def _start_server(db: str) -> tuple[subprocess.Popen, int]:
    options = ["--listen", "127.0.0.1:0", "--http", "off", "--db", db, "--demo"]
    server = await asyncio.to_thread(start_platform, options)
    return server.proc, server.port


async def test_acked_bill_survives_sigkill(tmp_path):
    db = str(tmp_path / "platform.sqlite")
    proc, port = await _start_server(db)
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
        os.kill(proc.pid, signal.SIGKILL)  # right after the ack: no clean shutdown
        proc.wait(10)
        pile.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    repo = SqliteRepository(db)
    (stored,) = repo.list_bills()
    assert stored.serial == serial and stored.charged_total == 30_000
    repo.close()
    # the restarted server still knows it: a retransmission is a duplicate, never billed twice
    proc, port = await _start_server(db)
    try:
        pile = await SocketPile.connect(port)
        await pile.send(pile.login())
        await pile.expect(LoginReply)
        await pile.send(bill)
        assert (await pile.expect(RecordAck)).result == AckResult.OK
        pile.close()
    finally:
        proc.terminate()
        proc.wait(10)
    repo = SqliteRepository(db)
    (stored,) = repo.list_bills()
    assert stored.duplicates == 1
    assert repo.get_account("card-1000000573").balance == 1_000_000 - 30_000
    repo.close()
