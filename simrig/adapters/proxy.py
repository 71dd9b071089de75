"""The fault-injecting proxy: piles connect here, each connection is relayed to the backend
through the pile's :class:`~simrig.link.Link` (asyncio, loopback or the user's own hosts).

Thin: the faults are the link model's (byte faults, outages, frame rules, event outages,
built from a :class:`~simrig.scenarios.fault_file.FaultFile` exactly as a scenario's
network section builds them); what crossed is handed to ``on_chunk`` at the pile's side
(``up`` as the pile wrote it, ``down`` as it reached the pile) and judged elsewhere.

* A connection's pile is learnt from the first frame carrying a pile number (0x01
  login, §4.1); until then its bytes wait (at most :data:`IDENTIFY_BYTES`, then it is
  named after its peer). Then it opens its own upstream connection to the backend (a
  failed one is the pile's ``connect_failed``), and the bytes go through the link.
* One link per pile, kept across reconnects (frame counts go on); a second connection of
  a pile whose link is in use gets a link of its own.
* During an outage bytes are swallowed both ways and the sockets stay open; a close
  reaches the other side after the bytes before it and not before the outage ends (no
  FIN crosses it), as in the real-time driver. A pile identified while its link is down
  is dropped (no connection gets through an outage).
* Flow control: while one side's socket cannot take more (its transport's write buffer
  is over the high-water mark), the proxy stops reading the other side, so a pile or a
  backend that stops reading holds the sender back instead of growing the proxy's
  memory; nothing is dropped.
* Every callback catches everything: garbage either way, a dead backend, a reset, a bug
  in a decoder — the one connection is closed and noted, the proxy goes on.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, cast

from simrig.capture.record import Chunk
from simrig.endpoint import Event
from simrig.link import Link
from simrig.protocol.ykc import Frame, Framer
from simrig.scenarios.fault_file import FaultFile

__all__ = ["IDENTIFY_BYTES", "Proxy", "ProxyLink"]

Direction = Literal["up", "down"]
CONNECT_TIMEOUT_S = 5.0
#: bytes a connection may send before its pile is known; then it is named by its peer
IDENTIFY_BYTES = 4096
_EARLY_S = 1e-6


@dataclass
class ProxyLink:
    """A pile's link and how often it is in use (one connection at a time owns it)."""

    pile_no: str
    link: Link
    busy: bool = False
    connections: int = 0


@dataclass(eq=False)
class _Flight:
    items: deque[tuple[float, bytes | None]] = field(default_factory=deque)
    timer: asyncio.TimerHandle | None = None


class _PileSide(asyncio.Protocol):
    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy
        self.conn: _Connection | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        try:
            self.conn = self.proxy._accepted(cast(asyncio.Transport, transport))  # uvloop's too
        except Exception as exc:  # never let a connection take the server down
            self.proxy._note(f"accept failed: {exc!r}")
            transport.close()

    def data_received(self, data: bytes) -> None:
        if self.conn is not None:
            self.conn.guard(self.conn.from_pile, data)

    def eof_received(self) -> bool:
        if self.conn is not None:
            self.conn.guard(self.conn.closed_by, "up")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self.conn is not None:
            self.conn.guard(self.conn.closed_by, "up")

    def pause_writing(self) -> None:
        if self.conn is not None:
            self.conn.guard(self.conn.hold, "down", True)

    def resume_writing(self) -> None:
        if self.conn is not None:
            self.conn.guard(self.conn.hold, "down", False)


class _BackendSide(asyncio.Protocol):
    def __init__(self, conn: _Connection) -> None:
        self.conn = conn

    def data_received(self, data: bytes) -> None:
        self.conn.guard(self.conn.from_backend, data)

    def eof_received(self) -> bool:
        self.conn.guard(self.conn.closed_by, "down")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.conn.guard(self.conn.closed_by, "down")

    def pause_writing(self) -> None:
        self.conn.guard(self.conn.hold, "up", True)

    def resume_writing(self) -> None:
        self.conn.guard(self.conn.hold, "up", False)


class _Connection:
    """One pile connection and its upstream connection."""

    def __init__(self, proxy: Proxy, conn_id: int, pile_t: asyncio.Transport) -> None:
        self.proxy = proxy
        self.id = conn_id
        self.pile_t: asyncio.Transport | None = pile_t
        self.backend_t: asyncio.Transport | None = None
        peer = pile_t.get_extra_info("peername") or ("?", 0)
        self.peer = f"{peer[0]}:{peer[1]}"
        self.pile_no: str | None = None
        self.plink: ProxyLink | None = None
        self.framer = Framer(tolerant=True)
        self.waiting: list[tuple[Direction, bytes, float]] = []
        self.waiting_bytes = 0
        self.flights: dict[Direction, _Flight] = {"up": _Flight(), "down": _Flight()}
        self.open = True
        self.closing: set[str] = set()

    # -- safety ---------------------------------------------------------------------------
    def guard(self, fn: Callable[..., None], *args: object) -> None:
        try:
            fn(*args)
        except Exception as exc:  # one bad connection never crashes the proxy
            self.proxy._note(f"connection {self.id} ({self.label}): {exc!r}; closed")
            self.abort()

    @property
    def label(self) -> str:
        return self.pile_no or self.peer

    # -- upstream -------------------------------------------------------------------------
    async def connect_upstream(self) -> None:
        proxy = self.proxy
        try:
            loop = asyncio.get_running_loop()
            transport, _ = await asyncio.wait_for(
                loop.create_connection(lambda: _BackendSide(self), *proxy.upstream),
                CONNECT_TIMEOUT_S,
            )
        except (OSError, TimeoutError) as exc:
            if self.open:
                proxy._event("connect_failed", self.label, error=str(exc) or "timeout")
                self.abort()
            return
        except Exception as exc:
            proxy._note(f"connection {self.id}: upstream {exc!r}")
            self.abort()
            return
        if not self.open:
            transport.close()
            return
        self.backend_t = cast(asyncio.Transport, transport)
        self._flush("up")

    # -- bytes ----------------------------------------------------------------------------
    def from_pile(self, data: bytes) -> None:
        if not self.open:
            return
        now = self.proxy.now()
        if self.plink is None:
            self._wait("up", data, now)
            return
        self.proxy._chunk(self.pile_no or self.peer, "up", data, now)
        self._send("up", data, now)

    def from_backend(self, data: bytes) -> None:
        if not self.open:
            return
        now = self.proxy.now()
        if self.plink is None:
            self._wait("down", data, now)
            return
        self._send("down", data, now)

    def _wait(self, direction: Direction, data: bytes, now: float) -> None:
        """Before the pile is known: keep the bytes; a frame with a pile number names it."""
        self.waiting.append((direction, data, now))
        self.waiting_bytes += len(data)
        pile = None
        if direction == "up":
            for item in self.framer.feed(data):
                if isinstance(item, Frame):
                    number = getattr(item.message, "pile_no", None)
                    if isinstance(number, str) and number.strip("0"):
                        pile = number
                        break
        if pile is None and self.waiting_bytes < IDENTIFY_BYTES:
            return
        self._identified(pile)

    def _identified(self, pile: str | None) -> None:
        proxy = self.proxy
        self.pile_no = pile
        self.plink = proxy._link_for(pile or f"peer-{self.peer}", self.id)
        proxy._event("connected", self.label, conn=self.id, peer=self.peer)
        if not self.plink.link.is_up(proxy.now()):
            proxy._event("refused_in_outage", self.label, conn=self.id)
            self.waiting.clear()
            self.abort()
            return
        proxy._spawn(self.connect_upstream())
        waiting, self.waiting = self.waiting, []
        now = proxy.now()  # recorded as of now: after the connect, in time order
        for direction, data, _at in waiting:
            if direction == "up":
                proxy._chunk(self.label, "up", data, now)
            self._send(direction, data, now)

    def _send(self, direction: Direction, data: bytes, now: float) -> None:
        assert self.plink is not None
        link = self.plink.link
        model = link.up if direction == "up" else link.down
        flight = self.flights[direction]
        for t, chunk in model.send(data, now):
            if flight.items and t < flight.items[-1][0]:  # a rule's late copy is ahead
                items = sorted([*flight.items, (t, chunk)], key=lambda item: item[0])
                flight.items = deque(items)
            else:
                flight.items.append((t, chunk))
        self._flush(direction)

    def _flush(self, direction: Direction) -> None:
        proxy = self.proxy
        flight = self.flights[direction]
        if flight.timer is not None:
            flight.timer.cancel()
            flight.timer = None
        while flight.items and self.open:
            t, chunk = flight.items[0]
            due = proxy.loop_time(t)
            if due > proxy.loop.time() + _EARLY_S:
                flight.timer = proxy.loop.call_at(due, self.guard, self._flush, direction)
                return
            target = self.backend_t if direction == "up" else self.pile_t
            if target is None:  # upstream still connecting: it flushes when ready
                return
            flight.items.popleft()
            if chunk is None:  # the other side's close, after what it sent before it
                self.abort()
                return
            if direction == "down":
                proxy._chunk(self.label, "down", chunk, proxy.now())
            target.write(chunk)

    def hold(self, direction: Direction, full: bool) -> None:
        """The socket ``direction`` writes to is full (``full``) or drained again: stop or
        resume reading where those bytes come from."""
        source = self.pile_t if direction == "up" else self.backend_t
        if source is None or source.is_closing():
            return
        if full:
            source.pause_reading()
        else:
            source.resume_reading()

    # -- closing --------------------------------------------------------------------------
    def closed_by(self, side: Direction) -> None:
        """``up``: the pile closed; ``down``: the backend did. The other side learns it
        after the bytes in flight, and not before an outage ends."""
        if not self.open or side in self.closing:
            return
        self.closing.add(side)
        proxy = self.proxy
        now = proxy.now()
        if self.plink is None:
            self.abort()
            return
        link = self.plink.link
        model = link.up if side == "up" else link.down
        for t, chunk in model.flush(now):
            self.flights[side].items.append((t, chunk))
        if side == "down":  # a backend close while the proxy holds the link down is the
            # outage's doing (the backend heard nothing), never blamed on the backend
            kind = "disconnected" if link.is_up(now) else "closed_in_outage"
            proxy._event(kind, self.label, conn=self.id)
        at = now if link.is_up(now) else (link.next_change(now) or now)
        flight = self.flights[side]
        if flight.items:
            at = max(at, flight.items[-1][0])
        flight.items.append((at, None))
        self._flush(side)

    def abort(self) -> None:
        if not self.open:
            return
        self.open = False
        for flight in self.flights.values():
            if flight.timer is not None:
                flight.timer.cancel()
        for transport in (self.pile_t, self.backend_t):
            if transport is not None:
                transport.close()
        self.proxy._closed(self)


class Proxy:
    """Accept piles on ``listen``, relay each to ``upstream`` through its pile's link.

    ``speed``: the piles' clock runs this much faster than real time (a simulator at
    ``--speed``): fault-file times and capture times are the piles' seconds."""

    def __init__(
        self,
        upstream: tuple[str, int],
        faults: FaultFile | None = None,
        *,
        speed: float = 1.0,
        on_chunk: Callable[[Chunk], None] | None = None,
        on_event: Callable[[Event], None] | None = None,
        wall_start: datetime | None = None,
    ) -> None:
        self.upstream = upstream
        self.faults = faults or FaultFile()
        self.speed = speed
        self.on_chunk = on_chunk
        self.on_event = on_event
        self.links: dict[str, ProxyLink] = {}
        self.connections: dict[int, _Connection] = {}
        self.notes: list[str] = []
        self.accepted = 0
        self._wall_start = wall_start or datetime.now()
        self._next = 1
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.loop: asyncio.AbstractEventLoop  # set by start()
        self._t0 = 0.0

    # -- clock ----------------------------------------------------------------------------
    def now(self) -> float:
        """The piles' seconds since the proxy started."""
        return (self.loop.time() - self._t0) * self.speed

    def loop_time(self, t: float) -> float:
        return self._t0 + t / self.speed

    def wall(self, t: float) -> datetime:
        return self._wall_start + timedelta(seconds=t)

    # -- server ---------------------------------------------------------------------------
    async def start(self, host: str, port: int) -> tuple[str, int]:
        """Listen; return the bound address (``port`` 0: a free one)."""
        self.loop = asyncio.get_running_loop()
        self._t0 = self.loop.time()
        self._server = await self.loop.create_server(lambda: _PileSide(self), host, port)
        sock = self._server.sockets[0].getsockname()
        return str(sock[0]), int(sock[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections.values()):
            conn.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
        await asyncio.sleep(0)

    # -- what connections call ------------------------------------------------------------
    def _accepted(self, transport: asyncio.Transport) -> _Connection:
        conn = _Connection(self, self._next, transport)
        self._next += 1
        self.accepted += 1
        self.connections[conn.id] = conn
        return conn

    def _spawn(self, coro: Coroutine[object, object, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _closed(self, conn: _Connection) -> None:
        self.connections.pop(conn.id, None)
        if conn.plink is not None:
            conn.plink.busy = False
            self._event("closed", conn.label, conn=conn.id)

    def _link_for(self, pile: str, conn_id: int) -> ProxyLink:
        plink = self.links.get(pile)
        if plink is None or plink.busy:
            seed = self.faults.seed
            net = self.faults.network_for(pile if pile.isdigit() else "0" * 14)
            link = net.link(
                random.Random(f"{seed}:{pile}:up"), random.Random(f"{seed}:{pile}:down")
            )
            fresh = ProxyLink(pile, link)
            if plink is None:
                self.links[pile] = fresh
            plink = fresh
        plink.busy = True
        plink.connections += 1
        plink.link.new_stream()
        return plink

    def _chunk(self, pile: str, direction: Direction, data: bytes, t: float) -> None:
        if self.on_chunk is not None:
            self.on_chunk(Chunk(self.wall(t), pile, direction, data))

    def _event(self, kind: str, pile: str, **data: object) -> None:
        if self.on_event is not None:
            self.on_event(Event(self.now(), kind, pile, data=dict(data)))

    def _note(self, text: str) -> None:
        if len(self.notes) < 1000:
            self.notes.append(text)
