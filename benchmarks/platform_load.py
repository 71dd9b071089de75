"""Load benchmark of the reference platform server (issue 3 "Benchmark").

Starts ``simrig platform serve`` in a subprocess (uvloop, SQLite in WAL mode) with N
registered piles, then from this process opens N concurrent loopback connections and
measures, as medians over ``--rounds``:

* frames/s ingested: every connection sends ``--frames`` pipelined frames (heartbeats and
  realtime 0x13 of a running session, stored as samples) and a final heartbeat; the
  round ends when every final heartbeat reply is in (the server handles each connection
  in order, so all frames before it were ingested);
* bills/s committed: every connection uploads one 0x3B for its own session at once and
  waits for its 0x40, which the server sends only after the bill's durable commit.

``--store postgres`` runs it on a PostgreSQL server started for the run (as the tests
do: tests/postgres_server.py), ``--db-url`` on one of yours. ``--realtime-batch 1``
commits every 0x13 on its own (the baseline of the batching, issue 15 item 5);
``--alternate`` runs both, alternately, in the same session; ``--alternate-group-commit``
runs the server with and without group commit (``--no-group-commit``) alternately. The
per-connection rate caps are off: this measures ingest capacity, not the caps.

    .venv/bin/python benchmarks/platform_load.py --piles 1000 --rounds 3
    .venv/bin/python benchmarks/platform_load.py --piles 1000 --store postgres --alternate
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simrig.adapters.platform_process import start_platform
from simrig.protocol.ykc import (
    CardAuthReply,
    CardStart,
    Frame,
    Framer,
    GunStatus,
    Heartbeat,
    HeartbeatReply,
    Login,
    LoginReply,
    RealtimeData,
    RecordAck,
    StartMode,
    TransactionRecord,
    TransactionSource,
    encode_frame,
)

#: the longest wait for one reply (a per-frame-commit baseline round takes minutes)
WAIT_S = 600.0


def config(n: int) -> str:
    lines = ["[rules]", "emit_frame_events = false", "min_start_balance = 0"]
    lines += ["heartbeat_interval_s = 600  # phases of a 1000-pile round can exceed 30 s", ""]
    for i in range(n):
        lines += [f'[[piles]]\npile_no = "{90000000000000 + i}"\ntype = "DC"\nguns = 1\n']
        lines += [f'[[accounts]]\naccount_id = "a{i}"\nbalance = 100000\n']
        lines += [f'[[cards]]\nphysical = "{i:016X}"\nlogical = "{i}"\naccount_id = "a{i}"\n']
    return "\n".join(lines)


class Client:
    def __init__(self, i: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.pile_no = str(90000000000000 + i)
        self.card = f"{i:016X}"
        self.reader, self.writer = reader, writer
        self.framer = Framer(tolerant=True)
        self.seq = 0
        self.serial = ""

    def frame(self, msg) -> bytes:
        self.seq = (self.seq + 1) & 0xFFFF
        return encode_frame(msg, self.seq)

    async def wait_for(self, cls, count: int = 1):
        got = []
        while len(got) < count:
            data = await asyncio.wait_for(self.reader.read(65536), WAIT_S)
            if not data:
                raise ConnectionError(f"{self.pile_no}: closed")
            got += [
                f.message
                for f in self.framer.feed(data)
                if isinstance(f, Frame) and isinstance(f.message, cls)
            ]
        return got[-1]


async def connect_all(port: int, n: int) -> list[Client]:
    sem = asyncio.Semaphore(200)

    async def one(i: int) -> Client:
        async with sem:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            c = Client(i, reader, writer)
            writer.write(c.frame(Login(pile_no=c.pile_no, gun_count=1, firmware_version="bench")))
            await c.wait_for(LoginReply)
            return c

    return await asyncio.gather(*(one(i) for i in range(n)))


async def start_sessions(clients: list[Client]) -> None:
    async def one(c: Client) -> None:
        c.writer.write(
            c.frame(CardStart(pile_no=c.pile_no, gun=1, start_mode=StartMode.CARD, card=c.card))
        )
        reply = await c.wait_for(CardAuthReply)
        assert reply.result == 1, reply
        c.serial = reply.serial

    await asyncio.gather(*(one(c) for c in clients))


async def ingest_round(clients: list[Client], frames: int) -> float:
    payloads = []
    for c in clients:
        chunks = []
        for k in range(frames - 1):
            if k % 2:
                msg = Heartbeat(pile_no=c.pile_no, gun=1)
            else:
                msg = RealtimeData(
                    serial=c.serial,
                    pile_no=c.pile_no,
                    gun=1,
                    status=GunStatus.CHARGING,
                    plugged=True,
                    energy=k / 100,
                    loss_energy=k / 100,
                    amount=k / 100,
                )
            chunks.append(c.frame(msg))
        chunks.append(c.frame(Heartbeat(pile_no=c.pile_no, gun=1)))
        payloads.append(b"".join(chunks))
    hb = frames // 2 + 1 - (1 if frames % 2 == 0 else 0)
    start = time.perf_counter()

    async def one(c: Client, data: bytes) -> None:
        c.writer.write(data)
        await c.wait_for(HeartbeatReply, hb)

    await asyncio.gather(*(one(c, d) for c, d in zip(clients, payloads, strict=True)))
    return len(clients) * frames / (time.perf_counter() - start)


async def bill_round(clients: list[Client]) -> float:
    now = datetime.now().replace(microsecond=0)
    start = time.perf_counter()

    async def one(c: Client) -> None:
        c.writer.write(
            c.frame(
                TransactionRecord(
                    serial=c.serial,
                    pile_no=c.pile_no,
                    gun=1,
                    start_time=now,
                    end_time=now,
                    flat_price=1.5,
                    flat_energy=1.0,
                    flat_loss_energy=1.0,
                    flat_amount=1.5,
                    total_energy=1.0,
                    total_loss_energy=1.0,
                    total_amount=1.5,
                    source=TransactionSource.CARD,
                    trade_time=now,
                    physical_card=c.card,
                )
            )
        )
        ack = await c.wait_for(RecordAck)
        assert ack.result == 0, ack

    await asyncio.gather(*(one(c) for c in clients))
    rate = len(clients) / (time.perf_counter() - start)
    await start_sessions(clients)  # fresh sessions for the next round
    return rate


async def measure(
    args: argparse.Namespace, db: str, batch: int, group: bool
) -> tuple[float, float]:
    """One server on ``db`` with ``--realtime-batch batch`` and group commit or not:
    median ingest and bill rates."""
    tmp = Path(tempfile.mkdtemp(prefix="simrig-bench-"))
    (tmp / "platform.toml").write_text(config(args.piles))
    options = ["--listen", "127.0.0.1:0", "--http", "off", "--db", db]
    options += ["--config", str(tmp / "platform.toml"), "--realtime-batch", str(batch)]
    options += ["--max-frames-per-s", "0", "--max-bytes-per-s", "0"]
    options += ["--group-commit" if group else "--no-group-commit"]
    server = await asyncio.to_thread(start_platform, options, 120.0)
    port = server.port
    try:
        started = time.perf_counter()
        clients = await connect_all(port, args.piles)
        logins = args.piles / (time.perf_counter() - started)
        await start_sessions(clients)
        ingest = [await ingest_round(clients, args.frames) for _ in range(args.rounds)]
        bills = [await bill_round(clients) for _ in range(args.rounds)]
        print(f"store={args.store} realtime-batch={batch} group-commit={group} piles={args.piles} "
              f"frames/conn/round={args.frames} rounds={args.rounds}")  # fmt: skip
        print(f"  logins/s (connect + 0x01 → 0x02): {logins:,.0f}")
        print(
            f"  ingest frames/s: median {statistics.median(ingest):,.0f} "
            f"(rounds {', '.join(f'{x:,.0f}' for x in ingest)})"
        )
        print(
            f"  bills committed+acked/s: median {statistics.median(bills):,.0f} "
            f"(rounds {', '.join(f'{x:,.0f}' for x in bills)})"
        )
        for c in clients:
            c.writer.close()
        return statistics.median(ingest), statistics.median(bills)
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


async def main(args: argparse.Namespace) -> None:
    postgres = None
    tmp = Path(tempfile.mkdtemp(prefix="simrig-bench-db-"))
    runs = 0

    def fresh_db() -> str:
        nonlocal runs
        runs += 1
        if args.db_url:
            return str(args.db_url)
        if postgres is not None:
            return postgres.fresh_url()
        return str(tmp / f"p{runs}.sqlite")

    try:
        if args.store == "postgres" and not args.db_url:
            from tests.postgres_server import PostgresServer

            postgres = PostgresServer()
        settings = [(args.realtime_batch, not args.no_group_commit)]
        if args.alternate:
            settings.append((1, not args.no_group_commit))
        if args.alternate_group_commit:
            settings.append((args.realtime_batch, args.no_group_commit))
        for _ in range(args.repeat):
            for batch, group in settings:
                await measure(args, fresh_db(), batch, group)
    finally:
        if postgres is not None:
            postgres.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--piles", type=int, default=1000)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--db-url", help="an existing postgresql:// database to use")
    parser.add_argument("--realtime-batch", type=int, default=1000)
    parser.add_argument("--alternate", action="store_true", help="also batch 1, alternately")
    parser.add_argument("--no-group-commit", action="store_true", help="each write alone")
    parser.add_argument(
        "--alternate-group-commit", action="store_true", help="also the other, alternately"
    )
    parser.add_argument("--repeat", type=int, default=1, help="servers per setting")
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main(parser.parse_args()))
