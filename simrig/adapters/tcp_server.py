"""The asyncio YKC TCP server around :class:`simrig.platform.PlatformCore` (issue 3 item 5).

One core serves every connection; the server only pumps bytes, timers and events:
``data_received`` → ``core.receive_data`` → write ``core.data_to_send`` of every connection
that got output → close the ones ``core.should_close`` names → re-arm ``core.get_timer``.
A client that does not read (write buffer above ``max_write_buffer``) or never logs in
(``login_timeout_s``) is dropped; nothing a client does blocks the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, cast

from simrig.endpoint import Event
from simrig.platform import PlatformCore

__all__ = ["PlatformServer", "install_uvloop"]

log = logging.getLogger("simrig.platform")


def install_uvloop() -> bool:
    """Use uvloop's event loop policy when importable."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on POSIX
        return False
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return True


class _YkcProtocol(asyncio.Protocol):
    def __init__(self, server: PlatformServer) -> None:
        self.server = server
        self.cid = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.cid = self.server.register(self, self.transport)

    def data_received(self, data: bytes) -> None:
        server = self.server
        server.core.receive_data(self.cid, data, server.now())
        server.pump()

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.unregister(self.cid)


class PlatformServer:
    """Serve ``core`` on a TCP port (loopback by default)."""

    def __init__(
        self,
        core: PlatformCore,
        *,
        max_write_buffer: int = 1 << 20,
        login_timeout_s: float = 60.0,
        on_event: Callable[[Event], None] | None = None,
        speed: float = 1.0,
        t0: float | None = None,
    ) -> None:
        self.core = core
        self.speed = speed
        self.max_write_buffer = max_write_buffer
        self.login_timeout_s = login_timeout_s
        self.on_event = on_event
        self.loop = asyncio.get_running_loop()
        #: loop time of ``now() == 0``; a shared monotonic start lets a rig align its clock
        self.t0 = self.loop.time() if t0 is None else t0
        self.protocols: dict[int, _YkcProtocol] = {}
        self._next_cid = 0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._server: asyncio.Server | None = None
        self.events = 0
        self._closing = False

    def now(self) -> float:
        """Scenario seconds since the server started (the core's ``now``; × ``speed``)."""
        return max(0.0, self.loop.time() - self.t0) * self.speed

    async def start(self, host: str = "127.0.0.1", port: int = 8767) -> tuple[str, int]:
        self._server = await self.loop.create_server(
            lambda: _YkcProtocol(self), host, port, backlog=4096, reuse_address=True
        )
        sockname = self._server.sockets[0].getsockname()
        self.pump()
        return sockname[0], sockname[1]

    async def close(self) -> None:
        self._closing = True
        if self._timer is not None:
            self._timer.cancel()
        for proto in list(self.protocols.values()):
            if proto.transport is not None:
                proto.transport.abort()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    # -- connections ------------------------------------------------------------------
    def register(self, proto: _YkcProtocol, transport: asyncio.Transport) -> int:
        self._next_cid += 1
        cid = self._next_cid
        self.protocols[cid] = proto
        peer = transport.get_extra_info("peername")
        self.core.connection_made(cid, self.now(), "" if peer is None else f"{peer[0]}:{peer[1]}")
        if self.login_timeout_s > 0:
            self.loop.call_later(self.login_timeout_s, self._check_login, cid)
        return cid

    def unregister(self, cid: int) -> None:
        if self.protocols.pop(cid, None) is not None and not self._closing:
            self.core.connection_lost(cid, self.now())
            self.pump()

    def _check_login(self, cid: int) -> None:
        proto = self.protocols.get(cid)
        if proto is not None and proto.transport and not self.core.is_logged_in(cid):
            log.info("conn %d: no login within %.0f s, closing", cid, self.login_timeout_s)
            proto.transport.close()

    # -- the pump ---------------------------------------------------------------------
    def pump(self) -> None:
        core = self.core
        for cid in core.connections_with_output():
            proto = self.protocols.get(cid)
            data = core.data_to_send(cid)
            if proto is None or proto.transport is None:
                continue
            transport = proto.transport
            if data:
                transport.write(data)
            if core.should_close(cid):
                transport.close()
            elif transport.get_write_buffer_size() > self.max_write_buffer:
                log.warning("conn %d: peer does not read, closing", cid)
                transport.abort()
        self._drain_events()
        self._rearm()

    def _drain_events(self) -> None:
        core = self.core
        while (event := core.next_event()) is not None:
            self.events += 1
            if event.kind in ("malformed_frame", "login_refused", "connection_closed"):
                log.warning("%s %s %s", event.kind, event.source, event.data)
            if self.on_event is not None:
                self.on_event(event)

    def _rearm(self) -> None:
        due = self.core.get_timer()
        if due == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = due
        if due is not None:
            self._timer = self.loop.call_at(self.t0 + due / self.speed, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._timer_at = None
        self.core.handle_timer(self.now())
        self.pump()

    def stats(self) -> dict[str, Any]:
        return {"connections": len(self.protocols), "events": self.events, **self.core.stats}
