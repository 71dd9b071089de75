"""Group commit in the platform server (:mod:`simrig.adapters.tcp_server` with a
``store``), in-process over real loopback sockets and a real SQLite file: bills that
arrive in one loop turn commit together, no 0x40 leaves before its bill is committed
(seen from another connection), and a failed commit withholds every reply of the turn
and closes those connections, so the piles send again and nothing acked is lost."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from simrig.adapters.sqlite_store import SqliteRepository
from simrig.adapters.tcp_server import PlatformServer
from simrig.platform import PlatformCore
from simrig.platform.config import apply_config, parse_config
from simrig.protocol.ykc import AckResult, CardAuthReply, Framer, LoginReply, RecordAck

from .conftest import SocketPile

PILES = 24


def _config(piles: int) -> str:
    lines = ["[rules]", "min_start_balance = 0", ""]
    for i in range(piles):
        lines += [f'[[piles]]\npile_no = "{91000000000000 + i}"\ntype = "DC"\nguns = 2\n']
        lines += [f'[[accounts]]\naccount_id = "a{i}"\nbalance = 1000\n']
        lines += [f'[[cards]]\nphysical = "{i:016X}"\nlogical = "{i}"\naccount_id = "a{i}"\n']
    return "\n".join(lines)


@asynccontextmanager
async def _server(db: Path) -> AsyncIterator[tuple[PlatformServer, SqliteRepository]]:
    repo = SqliteRepository(str(db))
    config = parse_config(_config(PILES))
    apply_config(repo, config)
    core = PlatformCore(repo, rules=config.rules, epoch=datetime.now())
    server = PlatformServer(core, store=repo)
    await server.start("127.0.0.1", 0)
    try:
        yield server, repo
    finally:
        await server.close()
        repo.close()


def _port(server: PlatformServer) -> int:
    assert server._server is not None
    return int(server._server.sockets[0].getsockname()[1])


async def _started(port: int, i: int) -> tuple[SocketPile, str]:
    """Pile ``i`` logged in with a session started by its card: (pile, serial)."""
    pile = await SocketPile.connect(port, str(91000000000000 + i))
    await pile.send(pile.login())
    await pile.expect(LoginReply)
    await pile.send(pile.card_start(card=f"{i:016X}"))
    reply = await pile.expect(CardAuthReply)
    assert reply.result == 1, reply
    return pile, reply.serial


def _bill(pile: SocketPile, serial: str) -> bytes:
    now = datetime.now().replace(microsecond=0)
    return pile.bill(serial, now, now, 2.0)


def _committed_bills(db: Path) -> set[str]:
    reader = sqlite3.connect(db)
    try:
        return {row[0] for row in reader.execute("SELECT serial FROM bills")}
    finally:
        reader.close()


async def test_bills_of_one_turn_commit_together_and_none_is_acked_uncommitted(
    tmp_path: Path,
) -> None:
    db = tmp_path / "platform.sqlite"
    async with _server(db) as (server, repo):
        piles = [await _started(_port(server), i) for i in range(PILES)]
        core = server.core
        take = core.data_to_send
        acked_uncommitted: list[str] = []

        def checked(cid: int) -> bytes:
            """What the server sends: every 0x40 in it must already be committed."""
            data = take(cid)
            acks = [f.message.serial for f in Framer(tolerant=True).feed(data)
                    if isinstance(getattr(f, "message", None), RecordAck)]  # fmt: skip
            if acks:
                committed = _committed_bills(db)
                acked_uncommitted.extend(s for s in acks if s not in committed)
            return data

        core.data_to_send = checked  # type: ignore[method-assign]
        before = repo.transactions.commits
        for pile, serial in piles:  # every bill written before any reply is read
            pile.writer.write(_bill(pile, serial))
        acks = [await pile.expect(RecordAck) for pile, _ in piles]
        commits = repo.transactions.commits - before
        for pile, _ in piles:
            pile.close()
    assert [a.result for a in acks] == [AckResult.OK] * PILES
    assert acked_uncommitted == []
    assert _committed_bills(db) == {serial for _, serial in piles}
    assert 1 <= commits <= 3, commits  # not one per bill: grouped


async def test_a_failed_group_commit_withholds_the_acks_and_the_pile_sends_again(
    tmp_path: Path,
) -> None:
    db = tmp_path / "platform.sqlite"
    async with _server(db) as (server, repo):
        port = _port(server)
        pile, serial = await _started(port, 0)
        bill = _bill(pile, serial)
        execute = repo.transactions._execute
        failed: list[str] = []

        def failing_once(sql: str) -> Any:
            if sql == "COMMIT" and repo.transactions.grouping is False and not failed:
                failed.append(sql)
                raise sqlite3.OperationalError("disk I/O error")
            return execute(sql)

        repo.transactions._execute = failing_once  # type: ignore[method-assign]
        await pile.send(bill)
        assert await pile.closed()  # no 0x40: the connection closed instead
        assert failed and "commit failed" in server.closed
        assert _committed_bills(db) == set()  # rolled back: nothing was acknowledged
        pile.close()
        again = await SocketPile.connect(port, pile.pile_no)
        await again.send(again.login())
        await again.expect(LoginReply)
        again.seq = pile.seq
        await again.send(bill)  # the pile uploads its unacknowledged bill again
        ack = await again.expect(RecordAck)
        again.close()
        stored = repo.get_bill(serial)
    assert ack.result == AckResult.OK and ack.serial == serial
    assert _committed_bills(db) == {serial}
    assert stored is not None and stored.duplicates == 0  # stored once, as a first upload
