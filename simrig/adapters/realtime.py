"""Real-time driver: asyncio TCP pile clients against any YKC backend.

The same sans-IO firmware runs here as in virtual time; one
:class:`~simrig.sim.time_mapping.TimeMapping` maps scenario seconds to loop time (÷
``speed``) and to the backend's wall clock. Each pile is one TCP client (the pile is the
client, protocol §1.1): it connects when the firmware wants a connection, feeds what it
reads into ``receive_data``, writes ``data_to_send()``, and re-arms ``loop.call_at`` on
``get_timer()``. Scenario stimuli are scheduled the same way. Only loopback or the
user's own backend is ever addressed.

**One link model, every transport** (design.md "Real backends"): the pile's
:class:`~simrig.link.Link` sits between the pile and its transport (TCP or serial), as
in the virtual driver. Each write and each read is one ``send`` of the link model; its
deliveries are handed over at their time (``loop.call_at``), in order, per direction.
During an outage bytes are swallowed both ways while the socket stays open; the pile
notices through its own timeouts, its connect attempts fail while the link is down, and a
socket it drops is closed when a FIN could reach the backend (the outage's end) —
zpd_case#12, gdyc_case#15.

**What a run keeps is pluggable** (issue 13): the driver reports what happens to a
:class:`Recorder`. The default, :class:`FullRecord`, keeps every chunk, delivery, event
and truth sample (what the oracle judges); a load run passes an observer that streams
metrics and keeps no per-frame record (:mod:`simrig.load.metrics`).
"""

from __future__ import annotations

import asyncio
import bisect
import signal
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from simrig.capture import Chunk
from simrig.endpoint import Event, PileEndpoint
from simrig.sim.lateness import BackendSilences, Lateness, gives_backend_up
from simrig.sim.results import TruthSample
from simrig.sim.sampling import TruthSampler
from simrig.sim.time_mapping import TimeMapping

if TYPE_CHECKING:
    from simrig.sim.world import World

CONNECT_TIMEOUT_S = 5.0
#: a delivery due within this much loop time is handed over now (float round trips)
_EARLY_S = 1e-6

Direction = Literal["up", "down"]


@contextmanager
def signals_end(loop: asyncio.AbstractEventLoop, on_signal: Callable[[], None]) -> Iterator[None]:
    """While inside, Ctrl-C and SIGTERM call ``on_signal`` in the loop (main thread only).

    An orderly end instead of a ``KeyboardInterrupt`` raised wherever the loop happens to
    be (a run left hanging in its shutdown is what that gave under load)."""
    installed: list[tuple[signal.Signals, Any]] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(sig)
        try:
            loop.add_signal_handler(sig, on_signal)
        except (ValueError, RuntimeError, NotImplementedError):  # not the main thread
            continue
        installed.append((sig, previous))
    try:
        yield
    finally:
        for sig, previous in installed:
            loop.remove_signal_handler(sig)
            signal.signal(sig, previous)


class Transport(Protocol):
    """One pile's byte link to the backend (a TCP connection, a serial line)."""

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


class Recorder(Protocol):
    """What the driver reports as it runs (times in scenario seconds)."""

    def sent(self, pile_no: str, data: bytes, now: float) -> None:
        """The pile wrote ``data`` (before the link model)."""

    def received(self, pile_no: str, data: bytes, now: float) -> None:
        """``data`` was read from the backend (before the link model)."""

    def delivered(self, pile_no: str, direction: Direction, data: bytes, now: float) -> None:
        """The link model handed ``data`` over (up: to the backend, down: to the pile)."""

    def event(self, event: Event) -> None:
        """A pile's event or the driver's own (connected, connect_failed, ...)."""

    def stimulus(self) -> None:
        """A scenario action is about to act."""

    def timer_fired(self, pile_no: str, due: float) -> None:
        """A pile timer due at loop time ``due`` (CLOCK_MONOTONIC) runs now."""


@dataclass(eq=False)
class FullRecord:
    """Keep everything: chunks, deliveries, events, truth samples (the oracle's input)."""

    wall: Callable[[float], datetime]
    sampler: TruthSampler | None
    events: list[Event] = field(default_factory=list)
    chunks: list[Chunk] = field(default_factory=list)
    deliveries: list[Chunk] = field(default_factory=list)

    def sent(self, pile_no: str, data: bytes, now: float) -> None:
        self.chunks.append(Chunk(self.wall(now), pile_no, "up", data))
        if self.sampler is not None:
            self.sampler.on_send(pile_no, now)

    def received(self, pile_no: str, data: bytes, now: float) -> None:
        self.chunks.append(Chunk(self.wall(now), pile_no, "down", data))

    def delivered(self, pile_no: str, direction: Direction, data: bytes, now: float) -> None:
        self.deliveries.append(Chunk(self.wall(now), pile_no, direction, data))

    def event(self, event: Event) -> None:
        self.events.append(event)

    def stimulus(self) -> None:
        if self.sampler is not None:
            self.sampler.stimulus()

    def timer_fired(self, pile_no: str, due: float) -> None:
        pass


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


class _PileProtocol(asyncio.Protocol):
    """The bytes of one pile's socket straight to the driver (no streams, no task)."""

    __slots__ = ("on_data", "on_lost")

    def __init__(self, on_data: Callable[[bytes], None], on_lost: Callable[[], None]) -> None:
        self.on_data = on_data
        self.on_lost = on_lost

    def data_received(self, data: bytes) -> None:
        self.on_data(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.on_lost()


def tcp_protocol_opener(host: str, port: int) -> Opener:
    """:func:`tcp_opener` on a bare asyncio protocol: a few hundred bytes per connection
    instead of a stream pair and a reader task (a load run's thousands of piles). Reads
    arrive as the event loop reads them (chunk sizes are the loop's, not 4096)."""

    async def open_(
        pile_no: str, on_data: Callable[[bytes], None], on_lost: Callable[[], None]
    ) -> Transport:
        loop = asyncio.get_running_loop()
        transport, _ = await asyncio.wait_for(
            loop.create_connection(lambda: _PileProtocol(on_data, on_lost), host, port),
            CONNECT_TIMEOUT_S,
        )
        return transport

    return open_


@dataclass(eq=False)
class _Conn:
    """One connection of a pile (a socket or serial port); bytes of a closed one are void."""

    id: int
    transport: Transport | None = None
    open: bool = True


@dataclass(eq=False)
class _Flight:
    """Deliveries of one direction in flight: (scenario time, connection, bytes), in order;
    ``None`` for bytes is the peer's close (FIN), which arrives after what it sent."""

    items: deque[tuple[float, _Conn, bytes | None]] = field(default_factory=deque)
    timer: asyncio.TimerHandle | None = None


@dataclass
class _PileLink:
    pile_no: str
    conn: _Conn | None = None
    connecting: bool = False
    timer: asyncio.TimerHandle | None = None
    timer_at: float | None = None
    #: loop time the timer is due (not before it was armed: a deadline already past
    #: when armed is no scheduling lag)
    timer_due: float = 0.0
    up: _Flight = field(default_factory=_Flight)
    down: _Flight = field(default_factory=_Flight)


@dataclass
class RealtimeDriver:
    """Drive ``world.piles`` over real links (``opener``; default TCP to ``host:port``).

    ``mapping`` is the run's time mapping (its ``wall_epoch`` must be ``world.epoch``);
    without one, ``speed``, ``epoch`` and ``start_monotonic`` (CLOCK_MONOTONIC time of
    scenario t=0, e.g. shared with an embedded server; default: when :meth:`run` starts)
    make it."""

    world: World
    host: str = "127.0.0.1"
    port: int = 0
    speed: float = 1.0
    epoch: datetime | None = None
    start_monotonic: float | None = None
    opener: Opener | None = None
    mapping: TimeMapping | None = None
    sample_truth: bool = True
    events: list[Event] = field(default_factory=list)
    #: bytes as each side wrote them (up: by the pile, down: read from the backend)
    chunks: list[Chunk] = field(default_factory=list)
    #: bytes as the link handed them over (up: to the backend, down: to the pile)
    delivered: list[Chunk] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: early-stop hook (issue 11 item 5): given the events so far, a reason to stop or None
    give_up: Callable[[list[Event]], str | None] | None = None
    #: set when Ctrl-C or SIGTERM ended the run (exit code 4, ExitCode.INTERRUPTED)
    interrupted: bool = False
    #: what the run keeps; default a :class:`FullRecord` over :attr:`events`,
    #: :attr:`chunks`, :attr:`delivered` and the truth samples
    recorder: Recorder | None = None
    #: per pile, the scenario time of its first pump (a load ramp); default: all at t=0
    first_pump: dict[str, float] | None = None
    #: where the rig itself fired pile timers late (the verdicts it makes unknowable)
    lateness: Lateness = field(default_factory=Lateness)

    def __post_init__(self) -> None:
        if self.mapping is None:
            self.mapping = TimeMapping(
                self.epoch or self.world.epoch, self.speed, self.start_monotonic
            )
        elif self.mapping.wall_epoch != self.world.epoch:
            raise ValueError("the time mapping and the world must start at the same wall time")
        self.speed = self.mapping.speed
        self._links = {p: _PileLink(p) for p in self.world.piles}
        self._silences = BackendSilences(self.lateness, self.speed)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._done: asyncio.Event | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing: list[Transport] = []
        self._next_conn = 1
        # plant changes are sampled only for the full record (a load run keeps none)
        keep = self.sample_truth and self.recorder is None
        self._sampler = TruthSampler(self.world.plant, watch=keep)
        if self.recorder is None:
            self.recorder = FullRecord(
                self._wall,
                self._sampler if self.sample_truth else None,
                self.events,
                self.chunks,
                self.delivered,
            )
        self._record: Recorder = self.recorder
        if self.opener is None:
            self.opener = tcp_opener(self.host, self.port)

    @property
    def samples(self) -> list[TruthSample]:
        """Truth samples of the plant (shared sampler with the virtual driver)."""
        return self._sampler.samples

    # -- clock -------------------------------------------------------------------------------
    def now(self) -> float:
        assert self._loop is not None and self.mapping is not None
        return self.mapping.scenario_at(self._loop.time())

    def _loop_time(self, t: float) -> float:
        assert self.mapping is not None
        return self.mapping.loop_time(t)

    def _wall(self, t: float) -> datetime:
        assert self.mapping is not None
        return self.mapping.wall(t)

    # -- run ---------------------------------------------------------------------------------
    async def run(self, until: float) -> None:
        """Drive the piles until scenario time ``until``, a give-up, or Ctrl-C / SIGTERM.

        A signal ends the run the same orderly way (links closed, tasks finished) and sets
        :attr:`interrupted`; a second signal while closing raises ``KeyboardInterrupt``."""
        self._loop = asyncio.get_running_loop()
        self._done = asyncio.Event()
        with signals_end(self._loop, self._interrupt):
            assert self.mapping is not None
            if self.mapping.loop_t0 is None:
                self.mapping = self.mapping.anchored(self._loop.time())
            else:
                lead = max(0.0, self.mapping.loop_t0 - self._loop.time())
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._done.wait(), lead)
            if not self.interrupted:
                for t, pile_no, action in self.world.actions:
                    self._loop.call_at(self._loop_time(t), self._act, pile_no, action)
                if self.first_pump is None:
                    for pile_no in self.world.piles:
                        self.pump(pile_no)
                else:
                    for pile_no in self.world.piles:
                        at = self._loop_time(self.first_pump.get(pile_no, 0.0))
                        self._loop.call_at(at, self.pump, pile_no)
                self._loop.call_at(self._loop_time(until), self._done.set)
                await self._done.wait()
                self._silences.end(self.now())
            await self.close()

    def _interrupt(self) -> None:
        if self.interrupted:
            raise KeyboardInterrupt
        self.interrupted = True
        assert self._done is not None
        self._done.set()

    async def close(self) -> None:
        for link in self._links.values():
            for timer in (link.timer, link.up.timer, link.down.timer):
                if timer is not None:
                    timer.cancel()
            if link.conn is not None:
                link.conn.open = False
                if link.conn.transport is not None:
                    link.conn.transport.close()
                link.conn = None
        for transport in self._closing:
            transport.close()
        self._closing.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.sleep(0)  # let closed transports finish

    def _act(self, pile_no: str, action: Callable[[float], None]) -> None:
        self._record.stimulus()  # sample the plant right after every stimulus
        try:
            action(self.now())
        except Exception as exc:  # a scenario step must not kill the run
            self.errors.append(f"t={self.now():.1f}s: {exc}")
            self._record.event(Event(self.now(), "action_error", "rig", data={"error": str(exc)}))
        self.pump(pile_no)  # an action touches only its own pile

    # -- the pump ----------------------------------------------------------------------------
    def pump(self, pile_no: str) -> None:
        pile: PileEndpoint = self.world.piles[pile_no]
        link = self._links[pile_no]
        now = self.now()
        data = pile.data_to_send()
        record = self._record
        if data and link.conn is not None:
            record.sent(pile_no, data, now)
            self._send(pile_no, "up", link.conn, data, now)
        while (event := pile.next_event()) is not None:
            record.event(event)
            if gives_backend_up(event):
                self._silences.given_up(pile_no, now, self.world.links[pile_no])
        if link.conn is not None and pile.close_requested:
            self._drop(pile_no)
        if link.conn is None and not link.connecting and pile.wants_connection:
            if self.world.links[pile_no].is_up(now):
                link.connecting = True
                self._spawn(self._connect(pile_no))
            else:  # no SYN gets through an outage (as in the virtual driver)
                self._connect_failed(pile_no, "link down (outage)", outage=True)
                return
        self._arm(pile_no, pile.get_timer())

    def _arm(self, pile_no: str, t: float | None) -> None:
        link = self._links[pile_no]
        if t is None or link.timer_at == t:
            return
        if link.timer:
            link.timer.cancel()
        assert self._loop is not None
        link.timer_at = t
        when = self._loop_time(t)
        link.timer_due = max(when, time.monotonic())  # uvloop's loop time is cached
        link.timer = self._loop.call_at(when, self._fire, pile_no)

    def _fire(self, pile_no: str) -> None:
        link = self._links[pile_no]
        if link.timer_at is not None:
            self._record.timer_fired(pile_no, link.timer_due)
            # against the deadline the pile asked for, even if it was already past when
            # armed: a stall between the cause and the arming is the rig's lateness too
            assert self.mapping is not None
            self.lateness.note(pile_no, link.timer_at, self.mapping.scenario_at(time.monotonic()))
        link.timer = None
        link.timer_at = None
        self.world.piles[pile_no].handle_timer(self.now())
        self.pump(pile_no)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the link model on real bytes ---------------------------------------------------------
    def _send(
        self, pile_no: str, direction: Direction, conn: _Conn, data: bytes, now: float
    ) -> None:
        """One write through the pile's link model; deliveries are handed over in order."""
        link = self.world.links[pile_no]
        model = link.up if direction == "up" else link.down
        flight: _Flight = getattr(self._links[pile_no], direction)
        for t, chunk in model.send(data, now):
            if flight.items and t < flight.items[-1][0]:  # a frame rule's late copy went first
                bisect.insort(flight.items, (t, conn, chunk), key=lambda item: item[0])
            else:
                flight.items.append((t, conn, chunk))
        self._flush(pile_no, direction)

    def _flush(self, pile_no: str, direction: Direction) -> None:
        assert self._loop is not None
        flight: _Flight = getattr(self._links[pile_no], direction)
        if flight.timer is not None:
            flight.timer.cancel()
            flight.timer = None
        while flight.items:
            t, conn, chunk = flight.items[0]
            if self._loop_time(t) > self._loop.time() + _EARLY_S:
                flight.timer = self._loop.call_at(
                    self._loop_time(t), self._flush, pile_no, direction
                )
                return
            flight.items.popleft()
            self._deliver(pile_no, direction, conn, chunk)

    def _deliver(
        self, pile_no: str, direction: Direction, conn: _Conn, chunk: bytes | None
    ) -> None:
        if not conn.open or conn is not self._links[pile_no].conn:
            return  # the connection closed while the bytes were in flight
        if chunk is None:  # the backend's close, after the bytes it sent before it
            self._drop(pile_no)
            self.pump(pile_no)
            return
        now = self.now()
        self._record.delivered(pile_no, direction, chunk, now)
        if direction == "down":
            self.world.piles[pile_no].receive_data(chunk, now)
            self.pump(pile_no)
            return
        assert conn.transport is not None
        try:
            conn.transport.write(chunk)
        except OSError as exc:
            self._record.event(Event(now, "write_failed", pile_no, data={"error": str(exc)}))

    # -- connections ---------------------------------------------------------------------------
    async def _connect(self, pile_no: str) -> None:
        link = self._links[pile_no]
        assert self.opener is not None
        conn = _Conn(self._next_conn)
        self._next_conn += 1
        try:
            conn.transport = await self.opener(
                pile_no,
                lambda data: self._received(pile_no, conn, data),
                lambda: self._lost(pile_no, conn),
            )
        except (OSError, TimeoutError) as exc:
            link.connecting = False
            self._connect_failed(pile_no, str(exc))
            return
        link.connecting = False
        if not self.world.links[pile_no].is_up(self.now()):  # the outage began meanwhile
            conn.open = False
            conn.transport.close()
            self._connect_failed(pile_no, "link down (outage)", outage=True)
            return
        link.conn = conn
        self.world.links[pile_no].new_stream()
        self.world.piles[pile_no].connection_made(self.now())
        self._record.event(Event(self.now(), "connected", pile_no, data={"conn": conn.id}))
        self.pump(pile_no)

    def _connect_failed(self, pile_no: str, error: str, outage: bool = False) -> None:
        """A failed connect: ``outage`` marks one the link model blocked (scenario fault),
        not the backend."""
        now = self.now()
        data: dict[str, object] = {"error": error, "outage": outage}
        self._record.event(Event(now, "connect_failed", pile_no, data=data))
        self.world.piles[pile_no].connection_failed(now)
        self.pump(pile_no)
        self._check_give_up()

    def _received(self, pile_no: str, conn: _Conn, data: bytes) -> None:
        if not conn.open or conn is not self._links[pile_no].conn:
            return
        now = self.now()
        self._record.received(pile_no, data, now)
        self._silences.heard(pile_no, now, self.world.links[pile_no])
        self._send(pile_no, "down", conn, data, now)

    def _lost(self, pile_no: str, conn: _Conn) -> None:
        """The backend closed: the pile learns it after the bytes still in flight, and
        not before an outage ends (no FIN crosses it)."""
        if not (conn.open and conn is self._links[pile_no].conn):
            return
        now = self.now()
        flight = self._links[pile_no].down
        net = self.world.links[pile_no]
        at = now if net.is_up(now) else (net.next_change(now) or now)
        if flight.items:
            at = max(at, flight.items[-1][0])
        if at <= now and not flight.items:
            self._drop(pile_no)
            self.pump(pile_no)
            return
        flight.items.append((at, conn, None))
        self._flush(pile_no, "down")

    def _drop(self, pile_no: str) -> None:
        """Close the pile's connection; the backend learns of it when a FIN can reach it."""
        link = self._links[pile_no]
        conn = link.conn
        if conn is None:
            return
        link.conn = None
        conn.open = False
        now = self.now()
        transport = conn.transport
        if transport is not None:
            net = self.world.links[pile_no]
            end = None if net.is_up(now) else net.next_change(now)
            if end is None:
                transport.close()
            else:
                assert self._loop is not None
                self._closing.append(transport)
                self._loop.call_at(self._loop_time(end), self._close_later, transport)
        self.world.piles[pile_no].connection_lost(now)
        self._record.event(Event(now, "disconnected", pile_no, data={"conn": conn.id}))
        self._check_give_up()

    def _close_later(self, transport: Transport) -> None:
        if transport in self._closing:
            self._closing.remove(transport)
            transport.close()

    # -- early stop (issue 11 item 5; the policy lives in simrig.oracle.diagnostics) ---------
    def _check_give_up(self) -> None:
        """Stop the run now when ``give_up`` says the backend is dead or incompatible."""
        if self.give_up is None or self._done is None or self._done.is_set():
            return
        reason = self.give_up(self.events)
        if reason is not None:
            self._record.event(Event(self.now(), "gave_up", "rig", data={"reason": reason}))
            self._done.set()
