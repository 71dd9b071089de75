"""The asyncio YKC TCP server around :class:`simrig.platform.PlatformCore` (issue 3 item 5).

One core serves every connection; the server only pumps bytes, timers and events:
``data_received`` → ``core.receive_data`` → write ``core.data_to_send`` of every connection
that got output → close the ones ``core.should_close`` names → re-arm ``core.get_timer``.
With a ``store`` (group commit, :mod:`.sql_transactions`), the writes made while handling
the bytes of one loop turn join one transaction and the pump runs once at the end of the
turn: it commits them before it sends a byte, so an acknowledgement never precedes its
durable write, and a failed commit withholds the turn's replies (their connections are
closed: the piles send again).
A client that does not read (write buffer above ``max_write_buffer``) or never logs in
(``login_timeout_s``) is dropped; nothing a client does blocks the others.

Caps (issue 15 item 3, :class:`ServerCaps`): bytes and frames per second per connection,
bytes before the login, connections in all, peers outside ``allow_from``; exceeding one
closes the connection with a logged reason. No exception escapes a connection: one
raised while pumping a connection closes that connection only, and is logged.
Warnings are rate-limited per kind (:class:`RateLimitedLog`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import ssl
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, Protocol, cast

from simrig.endpoint import Event
from simrig.platform import PlatformCore

__all__ = ["GroupCommit", "PlatformServer", "RateLimitedLog", "ServerCaps", "install_uvloop"]

log = logging.getLogger("simrig.platform")

#: event kinds the server logs (rate-limited)
_LOGGED_EVENTS = frozenset(
    {"malformed_frame", "frame_error", "pile_mismatch", "login_refused", "connection_closed"}
)


@dataclass(frozen=True, slots=True)
class ServerCaps:
    """Per-connection and server-wide limits; 0 turns one off. The defaults let 15,000
    piles run at once (a pile sends a few frames a minute, a burst of kept frames after
    an outage stays far below them)."""

    max_connections: int = 16_384
    """Open connections in all; one more is closed at once."""
    max_bytes_per_s: int = 65_536
    """Bytes received per connection per second."""
    max_frames_per_s: int = 200
    """Well-formed frames received per connection per second."""
    max_bytes_before_login: int = 65_536
    """Bytes a connection may send before its login is accepted (garbage included)."""
    allow_from: tuple[str, ...] = ()
    """Source networks (CIDR) allowed to connect; empty = any."""


class GroupCommit(Protocol):
    """A store whose writes can be grouped and committed together (the SQL repository)."""

    def grouped(self) -> AbstractContextManager[None]: ...

    def commit(self) -> None: ...


class RateLimitedLog:
    """At most ``per_s`` lines per kind per second; the rest are counted and summed up in
    the next line of that kind (a fuzzer must not fill the disk)."""

    def __init__(self, logger: logging.Logger, per_s: int = 20) -> None:
        self._log = logger
        self._per_s = per_s
        self._window: dict[str, tuple[int, int, int]] = {}  # kind → (second, lines, dropped)

    def warning(self, now: float, kind: str, text: str, *args: object) -> None:
        second = int(now)
        at, lines, dropped = self._window.get(kind, (second, 0, 0))
        if at != second:
            lines = 0
        if lines >= self._per_s:
            self._window[kind] = (second, lines, dropped + 1)
            return
        if dropped:
            self._log.warning("%s: %d more lines suppressed", kind, dropped)
        self._log.warning(text, *args)
        self._window[kind] = (second, lines + 1, 0)


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
        try:
            if server.within_caps(self, len(data)):
                with server.grouped():
                    server.core.receive_data(self.cid, data, server.now())
                server.check_frame_rate(self)
        except Exception:  # no exception escapes a connection: it closes this one only
            server.fault(self, "receive")
        server.pump_soon()

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
        caps: ServerCaps | None = None,
        store: GroupCommit | None = None,
    ) -> None:
        self.core = core
        #: group commit: the store the pump commits before it sends (None: writes alone)
        self.store = store
        self._pump_handle: asyncio.Handle | None = None
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
        self.caps = caps or ServerCaps()
        self._allowed = [ipaddress.ip_network(net, strict=False) for net in self.caps.allow_from]
        self.rate_log = RateLimitedLog(log)
        #: per connection: (window second, bytes, frames at window start, bytes before login)
        self._usage: dict[int, list[int]] = {}
        #: connections closed per reason (caps, faults)
        self.closed: dict[str, int] = {}
        self.faults = 0

    def now(self) -> float:
        """Scenario seconds since the server started (the core's ``now``; × ``speed``)."""
        return max(0.0, self.loop.time() - self.t0) * self.speed

    async def start(
        self, host: str = "127.0.0.1", port: int = 8767, tls: ssl.SSLContext | None = None
    ) -> tuple[str, int]:
        """Listen on ``host:port`` (``tls``: YKC inside TLS, for piles whose modem speaks it;
        with client certificates required, each pile proves itself as well)."""
        self._server = await self.loop.create_server(
            lambda: _YkcProtocol(self), host, port, backlog=4096, reuse_address=True, ssl=tls
        )
        sockname = self._server.sockets[0].getsockname()
        self.pump()
        return sockname[0], sockname[1]

    async def close(self) -> None:
        self._closing = True
        if self._timer is not None:
            self._timer.cancel()
        if self._pump_handle is not None:  # the store commits the group when it closes
            self._pump_handle.cancel()
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
        peer = transport.get_extra_info("peername")
        refused = self._refusal(peer)
        if refused is not None:
            self._count_close(cid, refused, "" if peer is None else str(peer[0]))
            transport.abort()
            return 0
        self.protocols[cid] = proto
        self._usage[cid] = [int(self.loop.time()), 0, 0, 0]
        self.core.connection_made(cid, self.now(), "" if peer is None else f"{peer[0]}:{peer[1]}")
        if self.login_timeout_s > 0:
            self.loop.call_later(self.login_timeout_s, self._check_login, cid)
        return cid

    def _refusal(self, peer: Sequence[Any] | None) -> str | None:
        """Why a new connection is refused (``caps.allow_from``, ``caps.max_connections``)."""
        if self._allowed:
            try:
                address = ipaddress.ip_address(str(peer[0]) if peer else "")
            except ValueError:
                return "source address unknown"
            if not any(address in net for net in self._allowed):
                return "source address not allowed"
        if self.caps.max_connections and len(self.protocols) >= self.caps.max_connections:
            return "max connections"
        return None

    def unregister(self, cid: int) -> None:
        self._usage.pop(cid, None)
        if self.protocols.pop(cid, None) is not None and not self._closing:
            try:
                self.core.connection_lost(cid, self.now())
            except Exception:
                self.faults += 1
                log.exception("conn %d: error while taking it offline", cid)
            self.pump()

    # -- caps -------------------------------------------------------------------------
    def within_caps(self, proto: _YkcProtocol, size: int) -> bool:
        """Count ``size`` received bytes; False (and the connection closed) over a cap."""
        usage = self._usage.get(proto.cid)
        if usage is None:
            return False
        second = int(self.loop.time())
        if usage[0] != second:
            usage[0], usage[1], usage[2] = second, 0, self.core.frames_received(proto.cid)
        usage[1] += size
        caps = self.caps
        if caps.max_bytes_per_s and usage[1] > caps.max_bytes_per_s:
            return self._close_for(proto, "bytes per second")
        if caps.max_bytes_before_login and not self.core.is_logged_in(proto.cid):
            usage[3] += size
            if usage[3] > caps.max_bytes_before_login:
                return self._close_for(proto, "bytes before login")
        return True

    def check_frame_rate(self, proto: _YkcProtocol) -> None:
        """Close the connection when its frames this second exceed ``max_frames_per_s``."""
        usage = self._usage.get(proto.cid)
        cap = self.caps.max_frames_per_s
        if usage is not None and cap and self.core.frames_received(proto.cid) - usage[2] > cap:
            self._close_for(proto, "frames per second")

    def _close_for(self, proto: _YkcProtocol, reason: str) -> bool:
        self._count_close(proto.cid, reason, "")
        self._usage.pop(proto.cid, None)
        if proto.transport is not None:
            proto.transport.abort()
        return False

    def _count_close(self, cid: int, reason: str, peer: str) -> None:
        self.closed[reason] = self.closed.get(reason, 0) + 1
        self.rate_log.warning(self.loop.time(), "cap", "conn %d %s: closed (%s)", cid, peer, reason)

    def fault(self, proto: _YkcProtocol, where: str) -> None:
        """An exception while serving one connection: logged, that connection closed."""
        self.faults += 1
        self.closed["fault"] = self.closed.get("fault", 0) + 1
        log.exception("conn %d: internal error in %s, closing it", proto.cid, where)
        self._usage.pop(proto.cid, None)
        if proto.transport is not None:
            proto.transport.abort()

    def _check_login(self, cid: int) -> None:
        proto = self.protocols.get(cid)
        if proto is not None and proto.transport and not self.core.is_logged_in(cid):
            log.info("conn %d: no login within %.0f s, closing", cid, self.login_timeout_s)
            proto.transport.close()

    # -- the pump ---------------------------------------------------------------------
    def grouped(self) -> AbstractContextManager[None]:
        """Writes made inside join the group the next pump commits (if grouping)."""
        return nullcontext() if self.store is None else self.store.grouped()

    def pump_soon(self) -> None:
        """Grouping: one pump at the end of this loop turn, once every connection's bytes
        of the turn were handled (their writes commit together); else a pump now."""
        if self.store is None:
            self.pump()
        elif self._pump_handle is None:
            self._pump_handle = self.loop.call_soon(self._pump_turn)

    def _pump_turn(self) -> None:
        self._pump_handle = None
        self.pump()

    def pump(self) -> None:
        core = self.core
        if not self._commit():
            self._withhold_replies()
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

    def _commit(self) -> bool:
        """The group's writes committed before a byte goes out; False if that failed."""
        if self.store is None:
            return True
        try:
            self.store.commit()
        except Exception:
            self.faults += 1
            log.exception("group commit failed: the replies of this turn are withheld")
            return False
        return True

    def _withhold_replies(self) -> None:
        """Nothing acknowledges a write that was rolled back: every pending reply is
        dropped and its connection closed (the pile sends its unacknowledged frames
        again after it reconnects)."""
        core = self.core
        for cid in core.connections_with_output():
            core.data_to_send(cid)
            proto = self.protocols.get(cid)
            if proto is not None and proto.transport is not None:
                self.closed["commit failed"] = self.closed.get("commit failed", 0) + 1
                proto.transport.abort()

    def _drain_events(self) -> None:
        core = self.core
        while (event := core.next_event()) is not None:
            self.events += 1
            if event.kind in _LOGGED_EVENTS:
                self.rate_log.warning(
                    self.loop.time(), event.kind, "%s %s %s", event.kind, event.source, event.data
                )
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
        try:
            self.core.handle_timer(self.now())
        except Exception:  # a timer's error must not stop the timers
            self.faults += 1
            log.exception("error in a platform timer")
        self.pump()

    def stats(self) -> dict[str, Any]:
        return {
            "connections": len(self.protocols),
            "events": self.events,
            "faults": self.faults,
            "closed": dict(self.closed),
            **self.core.stats,
        }
