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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from simrig.capture import Chunk
from simrig.endpoint import Event, PileEndpoint

if TYPE_CHECKING:
    from simrig.sim.world import World

CONNECT_TIMEOUT_S = 5.0


class Transport(Protocol):
    """One pile's byte link to the backend (a TCP connection, a serial line)."""

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


#: ``await opener(pile_no, on_data, on_lost)`` opens a pile's link (raises OSError)
Opener = Callable[[str, Callable[[bytes], None], Callable[[], None]], Awaitable[Transport]]


class _TcpTransport:
    def __init__(self, writer: asyncio.StreamWriter, reader_task: asyncio.Task[None]) -> None:
        self.writer = writer
        self.reader_task = reader_task

    def write(self, data: bytes) -> None:
        self.writer.write(data)

    def close(self) -> None:
        self.writer.close()
        if self.reader_task is not asyncio.current_task():
            self.reader_task.cancel()


def tcp_opener(host: str, port: int) -> Opener:
    """Each pile is a TCP client of ``host:port`` (protocol §1.1)."""

    async def open_(
        pile_no: str, on_data: Callable[[bytes], None], on_lost: Callable[[], None]
    ) -> Transport:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port), CONNECT_TIMEOUT_S
        )

        async def read() -> None:
            try:
                while data := await reader.read(4096):
                    on_data(data)
            except OSError:
                pass
            except asyncio.CancelledError:
                return
            on_lost()

        return _TcpTransport(writer, asyncio.ensure_future(read()))

    return open_


@dataclass
class _PileLink:
    pile_no: str
    transport: Transport | None = None
    connecting: bool = False
    timer: asyncio.TimerHandle | None = None
    timer_at: float | None = None


@dataclass
class RealtimeDriver:
    """Drive ``world.piles`` over real links (``opener``; default TCP to ``host:port``)."""

    world: World
    host: str = "127.0.0.1"
    port: int = 0
    speed: float = 1.0
    epoch: datetime | None = None
    #: CLOCK_MONOTONIC time of scenario t=0 (shared with an embedded server); default: now
    start_monotonic: float | None = None
    opener: Opener | None = None
    events: list[Event] = field(default_factory=list)
    chunks: list[Chunk] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: early-stop hook (issue 11 item 5): given the events so far, a reason to stop or None
    give_up: Callable[[list[Event]], str | None] | None = None

    def __post_init__(self) -> None:
        self._links = {p: _PileLink(p) for p in self.world.piles}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._t0 = 0.0
        self._done: asyncio.Event | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        if self.opener is None:
            self.opener = tcp_opener(self.host, self.port)

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
        for t, pile_no, action in self.world.actions:
            self._loop.call_at(self._loop_time(t), self._act, pile_no, action)
        for pile_no in self.world.piles:
            self.pump(pile_no)
        self._loop.call_at(self._loop_time(until), self._done.set)
        await self._done.wait()
        await self.close()

    async def close(self) -> None:
        for link in self._links.values():
            if link.timer:
                link.timer.cancel()
            if link.transport is not None:
                link.transport.close()
                link.transport = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.sleep(0)  # let closed transports finish

    def _act(self, pile_no: str, action: Callable[[float], None]) -> None:
        try:
            action(self.now())
        except Exception as exc:  # a scenario step must not kill the run
            self.errors.append(f"t={self.now():.1f}s: {exc}")
            self.events.append(Event(self.now(), "action_error", "rig", data={"error": str(exc)}))
        self.pump(pile_no)  # an action touches only its own pile

    # -- the pump ----------------------------------------------------------------------------
    def pump(self, pile_no: str) -> None:
        pile: PileEndpoint = self.world.piles[pile_no]
        link = self._links[pile_no]
        now = self.now()
        data = pile.data_to_send()
        if data and link.transport is not None:
            try:
                link.transport.write(data)
            except OSError as exc:
                self.events.append(Event(now, "write_failed", pile_no, data={"error": str(exc)}))
            self.chunks.append(Chunk(self._wall(now), pile_no, "up", data))
        while (event := pile.next_event()) is not None:
            self.events.append(event)
        if link.transport is not None and pile.close_requested:
            self._drop(pile_no)
        if link.transport is None and not link.connecting and pile.wants_connection:
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
        pile: PileEndpoint = self.world.piles[pile_no]
        link = self._links[pile_no]
        assert self.opener is not None
        try:
            transport = await self.opener(
                pile_no,
                lambda data: self._received(pile_no, data),
                lambda: self._lost(pile_no),
            )
        except (OSError, TimeoutError) as exc:
            link.connecting = False
            self.events.append(
                Event(self.now(), "connect_failed", pile_no, data={"error": str(exc)})
            )
            pile.connection_failed(self.now())
            self.pump(pile_no)
            self._check_give_up()
            return
        link.connecting = False
        link.transport = transport
        pile.connection_made(self.now())
        self.events.append(Event(self.now(), "connected", pile_no))
        self.pump(pile_no)

    def _received(self, pile_no: str, data: bytes) -> None:
        if self._links[pile_no].transport is None:
            return
        self.chunks.append(Chunk(self._wall(self.now()), pile_no, "down", data))
        self.world.piles[pile_no].receive_data(data, self.now())
        self.pump(pile_no)

    def _lost(self, pile_no: str) -> None:
        if self._links[pile_no].transport is not None:
            self._drop(pile_no)
            self.pump(pile_no)

    def _drop(self, pile_no: str) -> None:
        link = self._links[pile_no]
        if link.transport is not None:
            link.transport.close()
            link.transport = None
        self.world.piles[pile_no].connection_lost(self.now())
        self.events.append(Event(self.now(), "disconnected", pile_no))
        self._check_give_up()

    # -- early stop (issue 11 item 5; the policy lives in simrig.oracle.diagnostics) ---------
    def _check_give_up(self) -> None:
        """Stop the run now when ``give_up`` says the backend is dead or incompatible."""
        if self.give_up is None or self._done is None or self._done.is_set():
            return
        reason = self.give_up(self.events)
        if reason is not None:
            self.events.append(Event(self.now(), "gave_up", "rig", data={"reason": reason}))
            self._done.set()
