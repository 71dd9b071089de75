"""The proxy adapter's link semantics over real loopback sockets, in one process (fast):
no connection through an outage, a backend's close held until the outage ends, a frame
rule's delay. The end-to-end tests (proxy and platform as processes) are in
tests/cli/test_proxy.py."""

from __future__ import annotations

import asyncio
import time

import pytest

from simrig.adapters.proxy import Proxy
from simrig.capture.record import Chunk
from simrig.endpoint import Event
from simrig.protocol.ykc import (
    Frame,
    Framer,
    Heartbeat,
    HeartbeatReply,
    Login,
    LoginReply,
    encode_frame,
)
from simrig.scenarios.fault_file import parse_fault_file

PILE = "55031412782305"


class Backend:
    """Answers 0x01 with 0x02 and 0x03 with 0x04; ``close_after_login``: then closes."""

    def __init__(self, close_after_login: float | None = None) -> None:
        self.accepted = 0
        self.close_after_login = close_after_login

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        framer = Framer()
        try:
            while data := await reader.read(4096):
                for f in framer.feed(data):
                    if not isinstance(f, Frame):
                        continue
                    if isinstance(f.message, Login):
                        writer.write(encode_frame(LoginReply(pile_no=PILE), f.seq))
                        if self.close_after_login is not None:
                            await asyncio.sleep(self.close_after_login)
                            writer.close()
                            return
                    elif isinstance(f.message, Heartbeat):
                        writer.write(encode_frame(HeartbeatReply(pile_no=PILE, gun=1), f.seq))
        except OSError:
            pass
        writer.close()


async def _setup(faults: str, backend: Backend) -> tuple[Proxy, int, asyncio.Server, list]:
    server = await asyncio.start_server(backend.handle, "127.0.0.1", 0)
    upstream = server.sockets[0].getsockname()[:2]
    seen: list[Chunk | Event] = []
    proxy = Proxy(upstream, parse_fault_file(faults), on_chunk=seen.append, on_event=seen.append)
    _host, port = await proxy.start("127.0.0.1", 0)
    return proxy, port, server, seen


async def _read_until(reader: asyncio.StreamReader, cls: type, timeout: float = 3.0) -> float:
    """Seconds until a frame of ``cls`` arrives (raises TimeoutError)."""
    framer, start = Framer(), time.monotonic()
    async with asyncio.timeout(timeout):
        while True:
            data = await reader.read(4096)
            assert data, "closed before the reply"
            if any(isinstance(f, Frame) and isinstance(f.message, cls) for f in framer.feed(data)):
                return time.monotonic() - start


async def test_no_connection_gets_through_an_outage_and_one_does_after_it() -> None:
    backend = Backend()
    proxy, port, server, seen = await _setup("[[outage]]\nstart = 0\nend = 0.6\n", backend)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(encode_frame(Login(pile_no=PILE), 1))
        async with asyncio.timeout(3):
            assert await reader.read(4096) == b""  # dropped once known: its link is down
        assert backend.accepted == 0
        assert any(isinstance(e, Event) and e.kind == "refused_in_outage" for e in seen)
        await asyncio.sleep(0.7 - proxy.now())
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(encode_frame(Login(pile_no=PILE), 2))
        await _read_until(reader, LoginReply)
        assert backend.accepted == 1
        writer.close()
    finally:
        await proxy.close()
        server.close()


async def test_a_backend_close_in_an_outage_reaches_the_pile_when_it_ends() -> None:
    """The pile's first heartbeat opens a 0.5 s outage (swallowed, no reply); the backend
    closes 0.1 s after the login, inside it; no FIN crosses, the pile sees the close at
    the outage's end, and the close is not blamed on the backend."""
    faults = '[[event_outage]]\non = "0x03"\nnth = 1\nduration = 0.5\n'
    backend = Backend(close_after_login=0.1)
    proxy, port, server, seen = await _setup(faults, backend)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(encode_frame(Login(pile_no=PILE), 1))
        await _read_until(reader, LoginReply)
        sent = time.monotonic()
        writer.write(encode_frame(Heartbeat(pile_no=PILE, gun=1), 2))
        async with asyncio.timeout(3):
            assert await reader.read(4096) == b""  # no 0x04: the heartbeat was swallowed
        assert time.monotonic() - sent >= 0.45
        kinds = [e.kind for e in seen if isinstance(e, Event)]
        assert "closed_in_outage" in kinds and "disconnected" not in kinds
        [window] = proxy.links[PILE].link.frames.opened  # type: ignore[union-attr]
        assert window[1] - window[0] == 0.5
    finally:
        await proxy.close()
        server.close()


async def test_a_delay_rule_holds_the_backends_heartbeat_reply() -> None:
    faults = '[[rule]]\ndirection = "down"\ntype = "heartbeat_reply"\naction = "delay"\n'
    faults += "delay = 0.3\nnth = 2\n"
    proxy, port, server, seen = await _setup(faults, Backend())
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(encode_frame(Login(pile_no=PILE), 1))
        await _read_until(reader, LoginReply)
        waits = []
        for seq in range(2, 5):
            writer.write(encode_frame(Heartbeat(pile_no=PILE, gun=1), seq))
            waits.append(await _read_until(reader, HeartbeatReply))
        assert waits[1] >= 0.28  # held 0.3 s (a stall only adds to it)
        assert proxy.links[PILE].link.down.stats.delayed_by_rule == 1  # only the 2nd
        ups = [c for c in seen if isinstance(c, Chunk) and c.direction == "up"]
        downs = [c for c in seen if isinstance(c, Chunk) and c.direction == "down"]
        assert len(ups) == 4 and len(downs) == 4  # the pile's side: as sent, as received
        writer.close()
    finally:
        await proxy.close()
        server.close()


FLOOD = 64 * 1024 * 1024


async def _flood(sender: asyncio.StreamWriter, sent: list[int]) -> None:
    """Write :data:`FLOOD` bytes as fast as the peer takes them, counting, then close."""
    block = b"\x55" * 65536
    while sent[0] < FLOOD:
        sender.write(block)
        sent[0] += len(block)
        await sender.drain()  # the sender's own flow control: waits while it is held
    sender.close()


async def _drain_all(reader: asyncio.StreamReader) -> int:
    received = 0
    async with asyncio.timeout(30):
        while data := await reader.read(2**20):
            received += len(data)
    return received


@pytest.mark.parametrize("stops_reading", ["pile", "backend"])
async def test_a_side_that_stops_reading_holds_the_other_back_and_loses_nothing(
    stops_reading: str,
) -> None:
    """Flow control: one side floods the other, which reads nothing; the proxy stops
    reading the sender instead of buffering it all, and every byte arrives once the
    reader reads."""
    sent = [0]
    backend_reader: asyncio.Future[asyncio.StreamReader] = asyncio.Future()

    async def backend(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(len(login))
        if stops_reading == "pile":
            await _flood(writer, sent)
        else:
            backend_reader.set_result(reader)

    login = encode_frame(Login(pile_no=PILE), 0)
    server = await asyncio.start_server(backend, "127.0.0.1", 0, limit=2**20)
    proxy = Proxy(server.sockets[0].getsockname()[:2])
    _host, port = await proxy.start("127.0.0.1", 0)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**20)
        writer.write(login)
        if stops_reading == "backend":
            flooding = asyncio.ensure_future(_flood(writer, sent))
        await asyncio.sleep(1.5)  # the reading side reads nothing meanwhile
        assert sent[0] < FLOOD // 2, f"{sent[0]} bytes sent to a {stops_reading} reading nothing"
        (conn,) = proxy.connections.values()
        full = conn.pile_t if stops_reading == "pile" else conn.backend_t
        assert full is not None
        assert full.get_write_buffer_size() < 1024 * 1024, full.get_write_buffer_size()
        if stops_reading == "pile":
            received = await _drain_all(reader)
        else:
            received = await _drain_all(await backend_reader)
            await flooding
        assert received == sent[0] == FLOOD
        writer.close()
    finally:
        await proxy.close()
        server.close()
