"""Connections and their piles: the connection table, conn ↔ pile binding, each
connection's outbox (with its own sequence numbers, protocol §1.3) and closing."""

from __future__ import annotations

from collections.abc import KeysView
from dataclasses import dataclass, field

from simrig.protocol.ykc import Framer, Message, encode_frame

from .errors import PlatformError
from .events import EventSink

__all__ = ["Conn", "Connections"]


@dataclass(slots=True)
class Conn:
    """One transport connection (TCP socket, serial line, simulated cable)."""

    cid: int
    peer: str
    framer: Framer
    out: bytearray = field(default_factory=bytearray)
    pile_no: str | None = None  #: set by a successful login (0x01)
    errors: int = 0  #: malformed frames so far
    frames: int = 0  #: well-formed frames so far (the server's frame-rate cap reads it)
    close: bool = False
    seq: int = 0  #: the platform's next own sequence number


class Connections:
    """Which connection is which pile, and what to write to each."""

    def __init__(self, events: EventSink) -> None:
        self._events = events
        self._conns: dict[int, Conn] = {}
        self._pile_conn: dict[str, int] = {}
        self._dirty: set[int] = set()

    # ------------------------------------------------------------------ table
    def open(self, conn_id: int, now: float, peer: str) -> None:
        self._conns[conn_id] = Conn(conn_id, peer, Framer(tolerant=True))
        self._events.emit(now, "connection_made", "platform", data={"conn": conn_id, "peer": peer})

    def get(self, conn_id: int) -> Conn | None:
        return self._conns.get(conn_id)

    def drop(self, conn_id: int) -> Conn | None:
        """Forget a connection the driver lost; returns it (None if unknown)."""
        return self._conns.pop(conn_id, None)

    # ------------------------------------------------------------------ identity
    def bind(self, conn: Conn, pile_no: str) -> None:
        """``conn`` is now ``pile_no``; an older connection of the pile is closed."""
        old = self._pile_conn.get(pile_no)
        if old is not None and old != conn.cid and old in self._conns:
            self._conns[old].pile_no = None
            self.close(self._conns[old])
        conn.pile_no = pile_no
        self._pile_conn[pile_no] = conn.cid

    def unbind(self, pile_no: str) -> Conn | None:
        """The pile is offline: forget its binding; returns its still-open connection."""
        cid = self._pile_conn.pop(pile_no, None)
        return None if cid is None else self._conns.get(cid)

    def is_online(self, pile_no: str) -> bool:
        return pile_no in self._pile_conn

    def is_bound(self, conn: Conn) -> bool:
        """``conn`` is the pile's current connection."""
        return conn.pile_no is not None and self._pile_conn.get(conn.pile_no) == conn.cid

    def is_logged_in(self, conn_id: int) -> bool:
        conn = self._conns.get(conn_id)
        return conn is not None and conn.pile_no is not None

    def online(self) -> set[str]:
        return set(self._pile_conn)

    def online_view(self) -> KeysView[str]:
        """The online piles, live and read-only (for parts that ask on every frame)."""
        return self._pile_conn.keys()

    # ------------------------------------------------------------------ output
    def send(self, conn: Conn, message: Message, now: float, seq: int | None = None) -> None:
        """Encode ``message`` into ``conn``'s outbox: a reply echoes ``seq``, a request
        takes the connection's own next sequence number."""
        if seq is None:
            seq = conn.seq
            conn.seq = (conn.seq + 1) & 0xFFFF
        data = encode_frame(message, seq)
        conn.out += data
        self._dirty.add(conn.cid)
        self._events.frame(now, "frame_sent", conn.pile_no or "platform", message, seq, data)

    def send_to_pile(self, pile_no: str, message: Message, now: float) -> None:
        cid = self._pile_conn.get(pile_no)
        if cid is None:
            raise PlatformError(f"pile {pile_no} is offline")
        self.send(self._conns[cid], message, now)

    def close(self, conn: Conn) -> None:
        conn.close = True
        self._dirty.add(conn.cid)

    def data_to_send(self, conn_id: int) -> bytes:
        conn = self._conns.get(conn_id)
        if conn is None or not conn.out:
            return b""
        out = bytes(conn.out)
        conn.out.clear()
        return out

    def should_close(self, conn_id: int) -> bool:
        conn = self._conns.get(conn_id)
        return conn is not None and conn.close

    def with_output(self) -> list[int]:
        """Connections that got bytes to send or a close request since the last call."""
        if not self._dirty:  # the common case: the driver asks after every delivery
            return []
        dirty = [cid for cid in self._dirty if cid in self._conns]
        self._dirty.clear()
        return dirty
