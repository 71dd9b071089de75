"""Identity: which pile a connection is (login 0x01 → 0x02, protocol §4.1/§4.2), when it
goes offline, and its time sync (0x56, protocol §4.14)."""

from __future__ import annotations

from simrig.fastdata import evolve
from simrig.protocol.ykc import Frame, Login, LoginReply, LoginResult, TimeSync

from .charging import Charging
from .connections import Conn, Connections
from .directory import Directory
from .events import EventSink
from .liveness import Liveness
from .routing import FrameHandlers, on
from .rules import PlatformRules
from .timers import TimerKind, Timers
from .wallclock import WallClock

__all__ = ["Identity"]


class Identity(FrameHandlers):
    """Logs piles in, takes them offline, keeps their clocks in sync."""

    def __init__(
        self,
        rules: PlatformRules,
        clock: WallClock,
        directory: Directory,
        connections: Connections,
        liveness: Liveness,
        timers: Timers,
        charging: Charging,
        events: EventSink,
    ) -> None:
        self.rules = rules
        self._wall = clock.wall
        self._directory = directory
        self._connections = connections
        self._liveness = liveness
        self._timers = timers
        self._charging = charging
        self._events = events
        self._sync_timer = TimerKind("time_sync", self._time_sync, connections.is_online)

    @on(Login)
    def _on_login(self, conn: Conn, frame: Frame, now: float) -> None:
        """0x01 → 0x02 (protocol §4.1, §4.2): an unknown pile is refused and closed; a
        known one takes over from its older connection and gets a time sync."""
        msg = frame.message
        assert isinstance(msg, Login)
        pile = self._directory.piles.get(msg.pile_no)
        if pile is None:
            refused = LoginReply(pile_no=msg.pile_no, result=LoginResult.FAILED)
            self._connections.send(conn, refused, now, frame.seq)
            self._connections.close(conn)
            self._events.emit(now, "login_refused", msg.pile_no, data={"reason": "unknown pile"})
            return
        self._connections.bind(conn, msg.pile_no)
        self._liveness.heard(msg.pile_no, now)
        self._directory.put(
            evolve(
                pile,
                online=True,
                firmware=msg.firmware_version,
                protocol_version=float(msg.protocol_version),
                last_login=self._wall(now),
                last_seen=self._wall(now),
            )
        )
        reply = LoginReply(pile_no=msg.pile_no, result=LoginResult.OK)
        self._connections.send(conn, reply, now, frame.seq)
        self._events.emit(now, "pile_online", msg.pile_no, data={"firmware": msg.firmware_version})
        self._liveness.start_watch(msg.pile_no, now)
        if self.rules.time_sync_after_login:
            self._connections.send(conn, TimeSync(pile_no=msg.pile_no, time=self._wall(now)), now)
        self._schedule_time_sync(msg.pile_no, now)

    def _schedule_time_sync(self, pile_no: str, now: float) -> None:
        """The next daily sync (``rules.time_sync_interval_s``; 0 = none)."""
        if self.rules.time_sync_interval_s > 0:
            self._timers.schedule(now + self.rules.time_sync_interval_s, self._sync_timer, pile_no)

    def _time_sync(self, pile_no: str, now: float) -> None:
        if self._connections.is_online(pile_no):
            sync = TimeSync(pile_no=pile_no, time=self._wall(now))
            self._connections.send_to_pile(pile_no, sync, now)
            self._schedule_time_sync(pile_no, now)

    def connection_lost(self, conn_id: int, now: float) -> None:
        """The driver lost the connection: if it was the pile's current one, it is offline."""
        conn = self._connections.drop(conn_id)
        if conn is None:
            return
        self._events.emit(
            now, "connection_lost", conn.pile_no or "platform", data={"conn": conn_id}
        )
        if conn.pile_no and self._connections.is_bound(conn):
            self.set_offline(conn.pile_no, now, "connection_lost")

    def set_offline(self, pile_no: str, now: float, reason: str) -> None:
        """The pile is offline (``rules.close_on_offline`` also closes its connection)."""
        conn = self._connections.unbind(pile_no)
        if conn is not None and self.rules.close_on_offline:
            self._connections.close(conn)
        pile = self._directory.piles.get(pile_no)
        last = self._liveness.seen(pile_no, now)
        if pile is not None:
            self._directory.put(evolve(pile, online=False, last_seen=self._wall(last)))
        self._events.emit(now, "pile_offline", pile_no, data={"reason": reason})
        self._charging.pile_offline(pile_no, now)
