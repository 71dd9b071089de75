"""Frame dispatch: handlers routed per class by ``@on(...)``, and the inbox that decodes a
connection's bytes and hands each frame to its handler (no module-global registry)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

from simrig.protocol.ykc import Frame, FrameError, Login, Message

from .connections import Conn, Connections
from .events import EventSink
from .rules import PlatformRules

__all__ = ["FrameHandlers", "Handler", "Inbox", "on", "route_table"]

Handler = Callable[[Conn, Frame, float], None]
F = TypeVar("F", bound=Callable[..., None])

_MARK = "__ykc_routes__"


def on(*types: type[Message]) -> Callable[[F], F]:
    """Route frames of ``types`` to the decorated method of a :class:`FrameHandlers` part."""

    def mark(fn: F) -> F:
        setattr(fn, _MARK, types)
        return fn

    return mark


class FrameHandlers:
    """A part that handles frames; its ``@on`` methods are collected per class."""

    #: message type → method name, of this class and its bases
    routes: ClassVar[dict[type[Message], str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        routes = dict(cls.routes)
        for name, member in vars(cls).items():
            for message_type in getattr(member, _MARK, ()):
                routes[message_type] = name
        cls.routes = routes

    def handlers(self) -> dict[type[Message], Handler]:
        return {cls: getattr(self, name) for cls, name in self.routes.items()}


def route_table(*parts: FrameHandlers) -> dict[type[Message], Handler]:
    """The handlers of all ``parts``; a frame type routed twice is a wiring error."""
    table: dict[type[Message], Handler] = {}
    for part in parts:
        for cls, handler in part.handlers().items():
            if cls in table:
                raise TypeError(f"{cls.__name__} is routed twice ({part.__class__.__name__})")
            table[cls] = handler
    return table


class Inbox:
    """Decodes each connection's bytes and routes its frames (protocol §1: framing,
    §3 item 1: nothing but a login before the login)."""

    def __init__(
        self,
        connections: Connections,
        heard: Callable[[str, float], None],
        routes: Mapping[type[Message], Handler],
        rules: PlatformRules,
        events: EventSink,
    ) -> None:
        self._connections = connections
        self._conn = connections.get
        self._heard = heard
        self._routes = routes
        self.rules = rules
        self._events = events
        self.frames = 0
        self.malformed = 0

    def receive(self, conn_id: int, data: bytes, now: float) -> None:
        conn = self._conn(conn_id)
        if conn is None or conn.close:
            return
        for item in conn.framer.feed(data):
            if isinstance(item, FrameError):
                self._on_malformed(conn, item, now)
            else:
                self.frames += 1
                self._on_frame(conn, item, now)
            if conn.close:
                break

    def _on_malformed(self, conn: Conn, error: FrameError, now: float) -> None:
        """Count a malformed frame; ``rules.malformed_frame_budget`` + 1 closes the link."""
        conn.errors += 1
        self.malformed += 1
        self._events.emit(
            now,
            "malformed_frame",
            conn.pile_no or "platform",
            data={
                "conn": conn.cid,
                "kind": error.kind.value,
                "detail": error.detail,
                "hex": error.raw.hex(),
                "count": conn.errors,
            },
        )
        if conn.errors > self.rules.malformed_frame_budget:
            self._connections.close(conn)
            self._events.emit(
                now, "connection_closed", conn.pile_no or "platform", data={"reason": "budget"}
            )

    def _on_frame(self, conn: Conn, frame: Frame, now: float) -> None:
        msg = frame.message
        source: str = conn.pile_no or getattr(msg, "pile_no", None) or "platform"
        self._events.frame(now, "frame_received", source, msg, frame.seq, frame.raw)
        if frame.deviations:
            self._events.emit(now, "deviation", source, data={"deviations": list(frame.deviations)})
        if conn.pile_no is None and not isinstance(msg, Login):
            self._events.emit(now, "frame_before_login", source, data={"name": msg.NAME})
            return
        if conn.pile_no is not None:
            self._heard(conn.pile_no, now)
        handler = self._routes.get(type(msg))
        if handler is not None:
            handler(conn, frame, now)
