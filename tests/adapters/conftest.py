"""Helpers: a real-socket scripted pile against the platform server on 127.0.0.1."""

from __future__ import annotations

import asyncio

import pytest

from simrig.protocol.ykc import Frame, Framer, Message

from ..platform.helpers import ScriptedPile


class SocketPile(ScriptedPile):
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, pile_no: str):
        super().__init__(pile_no)
        self.reader, self.writer = reader, writer
        self.inbox: list[Message] = []
        self.rx = Framer(tolerant=True)

    @classmethod
    async def connect(cls, port: int, pile_no: str = "32010200000001") -> SocketPile:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
        return cls(reader, writer, pile_no)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def expect(self, cls: type[Message], timeout: float = 5.0) -> Message:
        """Wait (bounded) for the next message of ``cls``; others are kept in ``inbox``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for i, msg in enumerate(self.inbox):
                if isinstance(msg, cls):
                    return self.inbox.pop(i)
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError(f"no {cls.__name__} within {timeout} s; got {self.inbox}")
            data = await asyncio.wait_for(self.reader.read(4096), left)
            if not data:
                raise ConnectionError(f"closed while waiting for {cls.__name__}")
            self.inbox += [f.message for f in self.rx.feed(data) if isinstance(f, Frame)]

    async def closed(self, timeout: float = 5.0) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            data = await asyncio.wait_for(self.reader.read(4096), deadline - loop.time())
            if not data:
                return True
        return False

    def close(self) -> None:
        self.writer.close()


@pytest.fixture
def socket_pile():
    return SocketPile


from ..postgres_server import postgres_server  # noqa: E402, F401 - a shared fixture
