"""Frame dispatch: handlers routed per class by ``@on(...)``, and the inbox that decodes a
connection's bytes and hands each frame to its handler (no module-global registry)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

from simrig.protocol.ykc import (
    AckResult,
    Frame,
    FrameError,
    Login,
    Message,
    RecordAck,
    TransactionRecord,
    TransactionRecordV17,
    encode_frame,
)

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


#: the bills (0x3B / 0x3D): always acked or explicitly refused, whatever goes wrong
_BILLS = (TransactionRecord, TransactionRecordV17)


class Inbox:
    """Decodes each connection's bytes and routes its frames (protocol §1: framing,
    §3 item 1: nothing but a login before the login).

    No frame can hurt its connection: an error while handling one (a handler, the
    storage, the encoder of the reply) is caught for that frame, counted against the
    malformed-frame budget and reported as a ``frame_error`` event; a bill that failed
    is answered all the same (acked if it was stored, else refused as illegal).
    A frame whose body names another pile than the one logged in is refused and
    counted (``pile_mismatch``): one connection speaks for one pile.
    """

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
        #: frames whose handling raised (caught, counted, answered)
        self.frame_errors = 0
        #: frames naming another pile than the connection's
        self.mismatches = 0
        #: asks storage whether a bill serial is stored and illegal (None: not stored)
        self.stored_bill: Callable[[str], bool | None] = lambda serial: None

    def receive(self, conn_id: int, data: bytes, now: float) -> None:
        conn = self._conn(conn_id)
        if conn is None or conn.close:
            return
        for item in conn.framer.feed(data):
            if isinstance(item, FrameError):
                self._on_malformed(conn, item, now)
            else:
                self._handle(conn, item, now)
            if conn.close:
                break

    def take(self, conn_id: int, frame: Frame, now: float) -> None:
        """One whole frame that arrived decoded (no bytes: the virtual driver's paper
        0x13), handled as :meth:`receive` handles it parsed."""
        conn = self._conn(conn_id)
        if conn is not None and not conn.close:
            self._handle(conn, frame, now)

    def _handle(self, conn: Conn, frame: Frame, now: float) -> None:
        self.frames += 1
        conn.frames += 1
        try:
            self._on_frame(conn, frame, now)
        except Exception as exc:  # no frame may hurt its connection
            self._on_frame_error(conn, frame, exc, now)

    def _on_malformed(self, conn: Conn, error: FrameError, now: float) -> None:
        """Count a malformed frame; ``rules.malformed_frame_budget`` + 1 closes the link."""
        self.malformed += 1
        self._count_error(
            conn,
            now,
            "malformed_frame",
            {
                "conn": conn.cid,
                "kind": error.kind.value,
                "detail": error.detail,
                "hex": error.raw.hex(),
            },
        )

    def _count_error(self, conn: Conn, now: float, kind: str, data: dict[str, object]) -> None:
        """One more bad frame on ``conn`` (event ``kind``); over the budget it is closed."""
        conn.errors += 1
        self._events.emit(
            now, kind, conn.pile_no or "platform", data={**data, "count": conn.errors}
        )
        if conn.errors > self.rules.malformed_frame_budget and not conn.close:
            self._connections.close(conn)
            self._events.emit(
                now, "connection_closed", conn.pile_no or "platform", data={"reason": "budget"}
            )

    def _on_frame_error(self, conn: Conn, frame: Frame, exc: Exception, now: float) -> None:
        """A frame whose handling raised: counted; a bill is still answered."""
        self.frame_errors += 1
        detail = f"{frame.name}: {type(exc).__name__}: {exc}"
        self._count_error(
            conn, now, "frame_error", {"conn": conn.cid, "detail": detail, "hex": _hex(frame)}
        )
        if isinstance(frame.message, _BILLS):
            self._answer_bill(conn, frame, now)

    def _answer_bill(self, conn: Conn, frame: Frame, now: float) -> None:
        """0x40 for a bill whose handling failed (protocol §4.12): its stored verdict if it
        was stored, else an explicit refusal (illegal), so the pile never re-sends it forever."""
        msg = frame.message
        assert isinstance(msg, _BILLS)
        try:
            illegal = self.stored_bill(msg.serial)
        except Exception:  # the storage itself failed: refuse
            illegal = None
        result = AckResult.OK if illegal is False else AckResult.ILLEGAL
        try:
            self._connections.send(
                conn, RecordAck(serial=msg.serial, result=result), now, frame.seq
            )
        except Exception as exc:  # pragma: no cover - the encoder echoes what was decoded
            self._events.emit(now, "frame_error", msg.pile_no, data={"detail": repr(exc)})
            return
        if illegal is None:
            self._events.emit(now, "bill_refused", msg.pile_no, data={"serial": msg.serial})

    def _on_frame(self, conn: Conn, frame: Frame, now: float) -> None:
        """One decoded frame: its events, the login and pile guards, liveness, its handler."""
        msg = frame.message
        pile_no = conn.pile_no
        claimed: str | None = getattr(msg, "pile_no", None)
        source: str = pile_no or claimed or "platform"
        self._events.frame(now, "frame_received", source, msg, frame.seq, frame.raw)
        if frame.deviations:
            self._events.emit(now, "deviation", source, data={"deviations": list(frame.deviations)})
        if pile_no is None:
            if not isinstance(msg, Login):
                self._events.emit(now, "frame_before_login", source, data={"name": msg.NAME})
                return
        elif claimed is not None and claimed != pile_no:
            self._on_mismatch(conn, frame, claimed, now)
            return
        else:
            self._heard(pile_no, now)
        handler = self._routes.get(type(msg))
        if handler is not None:
            handler(conn, frame, now)

    def _on_mismatch(self, conn: Conn, frame: Frame, claimed: str, now: float) -> None:
        """A frame for pile B on pile A's connection: not handled, counted; a bill is
        refused as illegal (protocol §4.12) so it is never charged to either pile."""
        self.mismatches += 1
        self._count_error(
            conn,
            now,
            "pile_mismatch",
            {"conn": conn.cid, "name": frame.name, "claimed": claimed, "hex": _hex(frame)},
        )
        if isinstance(frame.message, _BILLS) and not conn.close:
            ack = RecordAck(serial=frame.message.serial, result=AckResult.ILLEGAL)
            self._connections.send(conn, ack, now, frame.seq)


def _hex(frame: Frame) -> str:
    """The frame's bytes in hex (encoded again if it arrived decoded, without them)."""
    return (frame.raw or encode_frame(frame.message, frame.seq)).hex()
