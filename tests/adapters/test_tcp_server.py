"""The asyncio server and HTTP API in-process, over real loopback sockets."""

from __future__ import annotations

import asyncio
from datetime import datetime

import httpx

from simrig.adapters.platform_service import run_platform
from simrig.adapters.sqlite_store import SqliteRepository
from simrig.platform import DEMO_ACCOUNT, DEMO_APP_ACCOUNT
from simrig.protocol.ykc import (
    AckResult,
    CardAuthReply,
    Confirm,
    DemandOutput,
    GunStatus,
    HeartbeatReply,
    LoginReply,
    LoginResult,
    RecordAck,
    RemoteStart,
    RemoteStartReply,
    RemoteStop,
    TimeSync,
)

from .conftest import SocketPile

CONFIG = """
[rules]
malformed_frame_budget = 2
"""


TOKEN = "t0ken"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class Running:
    def __init__(self, tmp_path, config: str | None = None):
        self.db = str(tmp_path / "platform.sqlite")
        self.config = config
        self.stop = asyncio.Event()
        self.lines: list[str] = []

    async def __aenter__(self):
        ready = asyncio.Event()

        def on_ready(line: str) -> None:
            self.lines.append(line)
            ready.set()

        self.task = asyncio.create_task(
            run_platform(
                ("127.0.0.1", 0),
                self.db,
                config_text=self.config,
                demo=True,
                http=("127.0.0.1", 0),
                ready=on_ready,
                stop=self.stop,
                api_token=TOKEN,
            )
        )
        await asyncio.wait_for(ready.wait(), 10)
        words = self.lines[0].split()
        self.port = int(words[2].rsplit(":", 1)[1])
        self.http = f"http://{words[5]}"
        return self

    async def __aexit__(self, *exc):
        self.stop.set()
        await asyncio.wait_for(self.task, 10)


async def test_full_card_session_over_tcp_and_http(tmp_path):
    async with Running(tmp_path) as srv:
        assert srv.lines[0].startswith("listening on 127.0.0.1:")
        pile = await SocketPile.connect(srv.port)
        await pile.send(pile.login())
        assert (await pile.expect(LoginReply)).result == LoginResult.OK
        await pile.expect(TimeSync)
        await pile.send(pile.heartbeat())
        await pile.expect(HeartbeatReply)
        await pile.send(pile.card_start())
        auth = await pile.expect(CardAuthReply)
        assert auth.result == Confirm.OK and auth.balance == 100.0
        serial = auth.serial
        await pile.send(pile.realtime(serial, energy=0.0))
        await pile.send(pile.realtime(serial, energy=2.0, amount=3.0))
        await pile.send(pile.frame(DemandOutput(serial=serial, pile_no=pile.pile_no, soc=42)))
        await pile.send(pile.realtime(serial, status=GunStatus.IDLE, energy=4.0, amount=6.0))
        now = datetime.now().replace(microsecond=0)
        await pile.send(pile.bill(serial, now, now, 4.0, trade=now))
        ack = await pile.expect(RecordAck)
        assert ack.result == AckResult.OK and ack.serial == serial
        async with httpx.AsyncClient(base_url=srv.http, timeout=5, headers=AUTH) as client:
            [bms] = (await client.get(f"/sessions/{serial}/bms")).json()
            assert bms["kind"] == "demand_output" and bms["values"]["soc"] == 42
            bills = (await client.get("/bills")).json()
            assert [b["serial"] for b in bills] == [serial]
            assert bills[0]["charged_total"] == 60_000
            sessions = (await client.get("/sessions")).json()
            assert sessions[0]["state"] == "finished"
            kinds = [n["kind"] for n in (await client.get("/notifications")).json()]
            assert "charge_started" in kinds and "balance_change" in kinds
            assert (await client.get("/openapi.json")).status_code == 200
            piles = {p["pile_no"]: p for p in (await client.get("/piles")).json()}
            assert piles["32010200000001"]["online"] is True
            # the app role: start and stop over HTTP reach the pile as 0x34 / 0x36
            r = await client.post(
                "/sessions/start",
                json={"pile_no": "32010200000001", "gun": 2, "account": DEMO_APP_ACCOUNT},
            )
            assert r.status_code == 200, r.text
            start = await pile.expect(RemoteStart)
            assert start.serial == r.json()["serial"] and start.gun == 2
            await pile.send(
                pile.frame(
                    RemoteStartReply(
                        serial=start.serial, pile_no=pile.pile_no, gun=2, result=Confirm.OK
                    )
                )
            )
            r = await client.post("/sessions/stop", json={"pile_no": "32010200000001", "gun": 2})
            assert r.status_code == 200
            await pile.expect(RemoteStop)
            r = await client.post(
                "/sessions/start",
                json={"pile_no": "55031412782305", "gun": 1, "account": DEMO_ACCOUNT},
            )
            assert r.status_code == 409 and "offline" in r.json()["detail"]
        pile.close()
    repo = SqliteRepository(srv.db)
    assert repo.list_bills()[0].serial == serial
    repo.close()


async def test_unknown_pile_refused_and_closed(tmp_path):
    async with Running(tmp_path) as srv:
        pile = await SocketPile.connect(srv.port, pile_no="99999999999999")
        await pile.send(pile.login())
        assert (await pile.expect(LoginReply)).result == LoginResult.FAILED
        assert await pile.closed()


async def test_malformed_budget_and_silent_client_does_not_block(tmp_path):
    async with Running(tmp_path, CONFIG) as srv:
        silent = await SocketPile.connect(srv.port)
        await silent.send(b"\x68\x22\x00")  # half a frame, then silence
        pile = await SocketPile.connect(srv.port)
        await pile.send(pile.login())
        await pile.expect(LoginReply)
        bad = bytearray(pile.heartbeat())
        bad[-2] ^= 0x55
        for _ in range(2):
            await pile.send(bytes(bad))
            await pile.send(pile.heartbeat())
            await pile.expect(HeartbeatReply)  # survives up to the budget
        await pile.send(bytes(bad))
        assert await pile.closed()
        silent.close()
