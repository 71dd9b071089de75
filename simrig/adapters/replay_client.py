"""The replay's sockets: one TCP client per recorded pile connection (asyncio, thin).

Each pile's connections run in order, the piles side by side. A pile frame goes out at
its recorded time ÷ ``speed`` (or, ``as_fast``, as soon as the previous one went), but
not before the pile has received what it had received at that point of the recording
(the step's *gate*: the replies it waited for), or ``cap_s`` has passed. A recorded
reply the backend never sends is waited for once: its count is then waived. The bytes
come from the :class:`~simrig.replay.rewrite.Rewriter`, which learns the backend's fresh
serials and clock from every frame read here.

The fresh capture is on the replay's timeline: ``epoch`` (the backend's clock at the
start; default now) plus the loop seconds since the start × ``speed``, the scale of the
recording's timestamps.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from simrig.adapters.realtime import CONNECT_TIMEOUT_S, Transport, signals_end, tcp_opener
from simrig.capture.record import Chunk, LinkEvent
from simrig.errors import BackendError
from simrig.protocol.ykc import Frame, Framer
from simrig.replay.plan import ConnectionScript, PileScript, ReplayPlan
from simrig.replay.rewrite import Rewriter

__all__ = ["BackendUnavailable", "ReplayOptions", "ReplayRun", "run_replay"]


class BackendUnavailable(BackendError):
    """The backend refused or never answered the replay (exit 3)."""


@dataclass(frozen=True)
class ReplayOptions:
    host: str
    port: int
    speed: float = 1.0
    as_fast: bool = False
    #: the longest wait (loop seconds) for the replies a pile frame waited for
    cap_s: float = 1.0
    #: the backend's clock at the start of the replay (None: the wall clock then)
    epoch: datetime | None = None
    connect_timeout_s: float = CONNECT_TIMEOUT_S


@dataclass
class ReplayRun:
    """The fresh capture (time order), what was sent, and what went wrong on the way."""

    items: list[Chunk | LinkEvent] = field(default_factory=list)
    sent: int = 0
    #: heartbeats put back (the recording sent them on paper)
    heartbeats: int = 0
    notes: list[str] = field(default_factory=list)
    connections: int = 0
    wall_s: float = 0.0
    interrupted: bool = False
    #: the recorded time of the latest pile frame sent (how far the replay got)
    reached: datetime | None = None


class _PileLink:
    """One open connection of a pile: reads the backend's bytes, counts its frames."""

    def __init__(self, replay: _Replay, pile: str) -> None:
        self.replay, self.pile = replay, pile
        self.framer = Framer(tolerant=True)
        self.closed = False
        self.transport: Transport | None = None

    def on_data(self, data: bytes) -> None:
        if self.closed:
            return
        self.replay.record(Chunk(self.replay.now(), self.pile, "down", data))
        try:
            for item in self.framer.feed(data):
                if isinstance(item, Frame):
                    self.replay.rewriter.received(self.pile, item)
        except Exception as exc:  # never let the backend's bytes end the read loop
            self.replay.run.notes.append(f"{self.pile}: backend bytes not learned from: {exc!r}")
        self.replay.arrived.set()

    def on_lost(self) -> None:
        self.closed = True
        self.replay.arrived.set()


class _Replay:
    def __init__(self, plan: ReplayPlan, options: ReplayOptions, rewriter: Rewriter) -> None:
        self.plan, self.options, self.rewriter = plan, options, rewriter
        self.run = ReplayRun()
        self.loop = asyncio.get_running_loop()
        self.t0 = self.loop.time()
        self.epoch = options.epoch or datetime.now()
        self.arrived = asyncio.Event()
        self.opener = tcp_opener(options.host, options.port)
        self.waived: dict[tuple[str, int], int] = {}
        self.answered = False
        if not rewriter.clock_learned:  # the first guess, until a 0x56 pair tells
            rewriter.clock_offset = self.epoch - plan.start

    def now(self) -> datetime:
        return self.epoch + timedelta(seconds=(self.loop.time() - self.t0) * self.options.speed)

    def record(self, item: Chunk | LinkEvent) -> None:
        self.run.items.append(item)
        if isinstance(item, Chunk) and item.direction == "down":
            self.answered = True

    def due(self, offset_s: float) -> float:
        return self.t0 + offset_s / self.options.speed

    async def sleep_until(self, when: float) -> None:
        delay = when - self.loop.time()
        if delay > 0:
            await asyncio.sleep(delay)

    def _short(self, pile: str, gate: tuple[tuple[int, int], ...]) -> list[tuple[int, int]]:
        """(type, missing count) of the gate not yet received (waived counts included)."""
        have = self.rewriter.received_count
        return [
            (code, need - have(pile, code) - self.waived.get((pile, code), 0))
            for code, need in gate
            if have(pile, code) + self.waived.get((pile, code), 0) < need
        ]

    async def gate(self, link: _PileLink, gate: tuple[tuple[int, int], ...], until: float) -> None:
        """Wait until the pile received what the gate lists, or ``until`` (then waive it)."""
        while not link.closed and self._short(link.pile, gate):
            left = until - self.loop.time()
            if left <= 0 and not self.answered:
                where = f"{self.options.host}:{self.options.port}"
                raise BackendUnavailable(
                    f"backend {where} never answered (nothing within "
                    f"{self.options.cap_s:g} s of a frame that waited for a reply)"
                )
            if left <= 0:
                for code, missing in self._short(link.pile, gate):
                    key = (link.pile, code)
                    self.waived[key] = self.waived.get(key, 0) + missing
                return
            self.arrived.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), left)

    async def pile(self, script: PileScript) -> None:
        pile = self.rewriter.fresh_pile(script.pile_no)
        for number, conn in enumerate(script.connections):
            await self.connection(pile, conn, first=number == 0)

    async def connection(self, pile: str, conn: ConnectionScript, first: bool) -> None:
        options = self.options
        if not options.as_fast:
            await self.sleep_until(self.due(conn.opened_s))
        link = _PileLink(self, pile)
        try:
            link.transport = await asyncio.wait_for(
                self.opener(pile, link.on_data, link.on_lost), options.connect_timeout_s
            )
        except (OSError, TimeoutError) as exc:
            where = f"{options.host}:{options.port}"
            if first and not self.run.connections:
                raise BackendUnavailable(f"backend {where} unavailable: {exc}") from None
            self.run.notes.append(f"{pile}: connection {conn.conn} refused by {where}: {exc}")
            return
        self.run.connections += 1
        self.record(LinkEvent(self.now(), pile, "connected", conn.conn))
        try:
            for step in conn.steps:
                if step.synthetic and options.as_fast:
                    continue  # no idle gap to bridge
                target = self.loop.time() if options.as_fast else self.due(step.offset_s)
                await self.gate(link, step.gate, max(target, self.loop.time()) + options.cap_s)
                await self.sleep_until(target)
                if link.closed:
                    self.run.notes.append(
                        f"{pile}: the backend closed connection {conn.conn} before "
                        f"{step.frame.label} (recorded {step.frame.at.isoformat()})"
                    )
                    break
                data = self.rewriter.outgoing(step.frame, step.synthetic)
                self.record(Chunk(self.now(), pile, "up", data))
                link.transport.write(data)
                if step.synthetic:
                    self.run.heartbeats += 1
                else:
                    self.run.sent += 1
                if self.run.reached is None or step.frame.at > self.run.reached:
                    self.run.reached = step.frame.at
            await self.gate(link, conn.tail_gate, self.loop.time() + options.cap_s)
            if not options.as_fast and conn.closed_s is not None:
                await self.sleep_until(self.due(conn.closed_s))
        finally:
            was_open = not link.closed
            link.closed = True
            link.transport.close()
            if was_open:
                self.record(LinkEvent(self.now(), pile, "disconnected", conn.conn))


async def _replay(plan: ReplayPlan, options: ReplayOptions, rewriter: Rewriter) -> ReplayRun:
    replay = _Replay(plan, options, rewriter)
    tasks = [asyncio.ensure_future(replay.pile(script)) for script in plan.piles.values()]

    def cancel_all() -> None:
        for task in tasks:
            task.cancel()

    def interrupt() -> None:
        replay.run.interrupted = True
        cancel_all()

    def unavailable(task: asyncio.Future[None]) -> None:
        if not task.cancelled() and isinstance(task.exception(), BackendUnavailable):
            cancel_all()

    for task in tasks:
        task.add_done_callback(unavailable)

    with signals_end(replay.loop, interrupt):
        results = await asyncio.gather(*tasks, return_exceptions=True)
    replay.run.wall_s = replay.loop.time() - replay.t0
    for result in results:
        if isinstance(result, BackendUnavailable):
            raise result
        if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
            raise result
    recorded_replies = any(f.direction == "down" for f in plan.recorded.frames)
    if not replay.answered and recorded_replies and not replay.run.interrupted:
        where = f"{options.host}:{options.port}"
        raise BackendUnavailable(f"backend {where} never answered (no frame in the replay)")
    return replay.run


def run_replay(plan: ReplayPlan, options: ReplayOptions, rewriter: Rewriter) -> ReplayRun:
    """Replay ``plan`` against ``options.host:port`` (raises :class:`BackendUnavailable`)."""
    return asyncio.run(_replay(plan, options, rewriter))
