"""Real-time driver: asyncio TCP pile clients against any YKC backend.

The same sans-IO firmware runs here as in virtual time; scenario seconds map to wall
seconds divided by ``speed``. Each pile is one TCP client (the pile is the client,
protocol §1.1): it connects when the firmware wants a connection, feeds what it reads
into ``receive_data``, writes ``data_to_send()``, and re-arms ``loop.call_at`` on
``get_timer()``. Scenario stimuli are scheduled the same way. Only loopback or the
user's own backend is ever addressed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from simrig.billing.device_view import Chunk
from simrig.endpoint import Event

if TYPE_CHECKING:
    from simrig.rig import World

CONNECT_TIMEOUT_S = 5.0


@dataclass
class _PileLink:
    pile_no: str
    writer: asyncio.StreamWriter | None = None
    reader_task: asyncio.Task[None] | None = None
    connecting: bool = False
    timer: asyncio.TimerHandle | None = None
    timer_at: float | None = None


@dataclass
class RealtimeDriver:
    """Drive ``world.piles`` over TCP to ``host:port``; ``world.actions`` at scaled times."""

    world: World
    host: str
    port: int
    speed: float = 1.0
    epoch: datetime | None = None
    #: CLOCK_MONOTONIC time of scenario t=0 (shared with an embedded server); default: now
    start_monotonic: float | None = None
    events: list[Event] = field(default_factory=list)
    chunks: list[Chunk] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._links = {p: _PileLink(p) for p in self.world.piles}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._t0 = 0.0
        self._done: asyncio.Event | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- clock -------------------------------------------------------------------------------
    def now(self) -> float:
        assert self._loop is not None
        return (self._loop.time() - self._t0) * self.speed

    def _loop_time(self, t: float) -> float:
        return self._t0 + t / self.speed

    def _wall(self, t: float) -> datetime:
        return (self.epoch or self.world.epoch) + timedelta(seconds=t)

    # -- run ---------------------------------------------------------------------------------
    async def run(self, until: float) -> None:
        self._loop = asyncio.get_running_loop()
        if self.start_monotonic is not None:
            await asyncio.sleep(max(0.0, self.start_monotonic - self._loop.time()))
            self._t0 = self.start_monotonic
        else:
            self._t0 = self._loop.time()
        self._done = asyncio.Event()
        for t, action in self.world.actions:
            self._loop.call_at(self._loop_time(t), self._act, action)
        for pile_no in self.world.piles:
            self.pump(pile_no)
        self._loop.call_at(self._loop_time(until), self._done.set)
        await self._done.wait()
        await self.close()

    async def close(self) -> None:
        for link in self._links.values():
            if link.timer:
                link.timer.cancel()
            if link.reader_task:
                link.reader_task.cancel()
            if link.writer is not None:
                link.writer.close()
                with contextlib.suppress(Exception):
                    await link.writer.wait_closed()
                link.writer = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _act(self, action: Callable[[float], None]) -> None:
        try:
            action(self.now())
        except Exception as exc:  # a scenario step must not kill the run
            self.errors.append(f"t={self.now():.1f}s: {exc}")
        for pile_no in self.world.piles:
            self.pump(pile_no)

    # -- the pump ----------------------------------------------------------------------------
    def pump(self, pile_no: str) -> None:
        pile = self.world.piles[pile_no]
        link = self._links[pile_no]
        now = self.now()
        data = pile.data_to_send()
        if data and link.writer is not None:
            link.writer.write(data)
            self.chunks.append(Chunk(self._wall(now), pile_no, "up", data))
        while (event := pile.next_event()) is not None:
            self.events.append(event)
        if link.writer is not None and pile.close_requested:
            self._drop(pile_no)
        if link.writer is None and not link.connecting and pile.wants_connection:
            link.connecting = True
            self._spawn(self._connect(pile_no))
        self._arm(pile_no, pile.get_timer())

    def _arm(self, pile_no: str, t: float | None) -> None:
        link = self._links[pile_no]
        if t is None or link.timer_at == t:
            return
        if link.timer:
            link.timer.cancel()
        assert self._loop is not None
        link.timer_at = t
        link.timer = self._loop.call_at(self._loop_time(t), self._fire, pile_no)

    def _fire(self, pile_no: str) -> None:
        link = self._links[pile_no]
        link.timer = None
        link.timer_at = None
        self.world.piles[pile_no].handle_timer(self.now())
        self.pump(pile_no)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connect(self, pile_no: str) -> None:
        pile = self.world.piles[pile_no]
        link = self._links[pile_no]
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), CONNECT_TIMEOUT_S
            )
        except (OSError, TimeoutError) as exc:
            link.connecting = False
            self.events.append(
                Event(self.now(), "connect_failed", pile_no, data={"error": str(exc)})
            )
            pile.connection_failed(self.now())
            self.pump(pile_no)
            return
        link.connecting = False
        link.writer = writer
        pile.connection_made(self.now())
        self.events.append(Event(self.now(), "connected", pile_no))
        link.reader_task = asyncio.ensure_future(self._read(pile_no, reader))
        self.pump(pile_no)

    async def _read(self, pile_no: str, reader: asyncio.StreamReader) -> None:
        pile = self.world.piles[pile_no]
        try:
            while True:
                data = await reader.read(4096)
                if not data:
                    break
                self.chunks.append(Chunk(self._wall(self.now()), pile_no, "down", data))
                pile.receive_data(data, self.now())
                self.pump(pile_no)
        except (OSError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            return
        if self._links[pile_no].writer is not None:
            self._drop(pile_no)
            self.pump(pile_no)

    def _drop(self, pile_no: str) -> None:
        link = self._links[pile_no]
        if link.writer is not None:
            link.writer.close()
            link.writer = None
        if link.reader_task is not None and link.reader_task is not asyncio.current_task():
            link.reader_task.cancel()
        link.reader_task = None
        self.world.piles[pile_no].connection_lost(self.now())
        self.events.append(Event(self.now(), "disconnected", pile_no))
