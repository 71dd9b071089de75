"""The reference platform core: the server side of YKC v1.5/v1.6, sans-IO (issue 3).

One :class:`PlatformCore` serves many connections. Bytes and ``now`` (seconds since
``epoch``) go in; bytes per connection, events and the next timer deadline come out.
Storage is the injected :class:`~simrig.platform.repository.Repository`; every repository
call returns after commit, so a bill is acked (0x40) only once it is durable.

Every behaviour that differs between the spec and the field platform is a setting in
:class:`~simrig.platform.rules.PlatformRules` whose default is the field platform.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from simrig.billing.platform_checks import (
    BillFacts,
    CheckLimits,
    PlatformRecord,
    check_bill,
    lost_bill_code,
    occupancy_fee,
    recompute_amount,
)
from simrig.billing.tariff import (
    ENERGY_SCALE,
    MONEY_SCALE,
    RATE_SCALE,
    Tariff,
    default_tariff,
    money_to_yuan,
)
from simrig.endpoint import Event
from simrig.fastdata import evolve, updater
from simrig.heartbeat_plan import HeartbeatPlan
from simrig.protocol.ykc import (
    AckResult,
    AuthFailure,
    CardAuthReply,
    CardStart,
    Confirm,
    Frame,
    FrameError,
    Framer,
    GunHealth,
    GunStatus,
    Heartbeat,
    HeartbeatReply,
    Login,
    LoginReply,
    LoginResult,
    Message,
    ModelCheck,
    ModelReply,
    ModelRequest,
    ModelVerify,
    ModelVerifyReply,
    RealtimeData,
    RecordAck,
    RemoteStart,
    RemoteStartFailure,
    RemoteStartReply,
    RemoteStop,
    SetModel,
    SetModelReply,
    StartMode,
    TimeSync,
    TransactionRecord,
    TransactionRecordV17,
    WorkParams,
    WorkParamsReply,
    WorkState,
    encode_frame,
)

from .records import (
    OPEN_STATES,
    AnomalyRecord,
    Bill,
    Gun,
    Notification,
    NotificationKind,
    Pile,
    RealtimeSample,
    Session,
    SessionState,
)
from .repository import Repository
from .rules import PlatformRules

__all__ = ["PlatformCore", "PlatformError"]

_ZERO_SERIAL = "0" * 32
_ZERO_CARD = "0" * 16


class PlatformError(Exception):
    """A request the platform refuses (app start/stop, command); the message is one line."""


@dataclass(slots=True)
class _Conn:
    cid: int
    peer: str
    framer: Framer
    out: bytearray = field(default_factory=bytearray)
    pile_no: str | None = None
    errors: int = 0
    close: bool = False
    seq: int = 0


_ROUTES: dict[type[Message], str] = {}

#: a session with the fields every 0x13 with its serial updates
_realtime_progress = updater(
    Session,
    "last_rt_at",
    "last_status",
    "rt_samples",
    "last_energy",
    "last_amount",
    "max_energy_seen",
)


def on(*types: type[Message]) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Route frames of ``types`` to the decorated method (collected per class, no globals
    outside this module)."""

    def register(fn: Callable[..., None]) -> Callable[..., None]:
        for cls in types:
            _ROUTES[cls] = fn.__name__
        return fn

    return register


def _yuan(money: int) -> str:
    return f"{money_to_yuan(money):.2f}"


class PlatformCore:
    """The platform side of every YKC frame, for any number of connections."""

    def __init__(
        self,
        repo: Repository,
        rules: PlatformRules | None = None,
        epoch: datetime = datetime(2019, 10, 29),
    ) -> None:
        self.repo = repo
        self.rules = rules or PlatformRules()
        self.epoch = epoch
        self.limits: CheckLimits = self.rules.check_limits()
        self._conns: dict[int, _Conn] = {}
        self._pile_conn: dict[str, int] = {}
        self._last_seen: dict[str, float] = {}
        self._hb_plans: dict[str, HeartbeatPlan] = {}
        self._live_due: dict[str, float] = {}
        self._live_heap: list[tuple[float, str]] = []
        self._heap: list[tuple[float, int, str, str]] = []
        self._tick = 0
        self._events: deque[Event] = deque()
        self._piles: dict[str, Pile] = {p.pile_no: p for p in repo.list_piles()}
        self._tariffs: dict[str, Tariff] = {}
        self._guns: dict[tuple[str, int], Gun] = {(g.pile_no, g.gun): g for g in repo.list_guns()}
        self._gun_session: dict[tuple[str, int], str] = {}
        self._account_open: dict[str, set[str]] = {}  # account → possibly unsettled serials
        self._pending_work: dict[str, WorkState] = {}
        self._counter = 0
        self._dirty: set[int] = set()
        self._wall_at = math.nan
        self._handlers = {cls: getattr(self, name) for cls, name in _ROUTES.items()}
        self._wall = self.epoch
        self.stats = {"frames": 0, "malformed": 0, "heartbeats_elided": 0, "bills": 0}
        self._restore()

    # ------------------------------------------------------------------ time helpers
    def wall(self, now: float) -> datetime:
        """Platform wall time of ``now``, to the millisecond."""
        if now != self._wall_at:  # one frame asks several times at one instant
            self._wall_at = now
            self._wall = self.epoch + timedelta(milliseconds=round(now * 1000))
        return self._wall

    def _now_of(self, when: datetime) -> float:
        return (when - self.epoch).total_seconds()

    def _restore(self) -> None:
        """Rebuild timers and gun bindings from stored sessions (after a restart)."""
        for pile in list(self._piles.values()):
            if pile.online:
                self._put_pile(evolve(pile, online=False))
        for s in self.repo.open_sessions():
            self._gun_session[s.pile_no, s.gun] = s.serial
            self._account_open.setdefault(s.account_id, set()).add(s.serial)
            if s.state is SessionState.STARTING and s.created_at is not None:
                due = self._now_of(s.created_at) + self.rules.start_confirm_timeout_s
                self._schedule(due, "start_timeout", s.serial)
            elif s.state not in OPEN_STATES and s.closed_at is not None:
                self._schedule(
                    self._now_of(s.closed_at) + self.rules.no_bill_grace_s, "bill_grace", s.serial
                )

    # ------------------------------------------------------------------ endpoint API
    def connection_made(self, conn_id: int, now: float, peer: str = "") -> None:
        self._conns[conn_id] = _Conn(conn_id, peer, Framer(tolerant=True))
        self._event(now, "connection_made", "platform", data={"conn": conn_id, "peer": peer})

    def receive_data(self, conn_id: int, data: bytes, now: float) -> None:
        conn = self._conns.get(conn_id)
        if conn is None or conn.close:
            return
        for item in conn.framer.feed(data):
            if isinstance(item, FrameError):
                self._on_malformed(conn, item, now)
            else:
                self.stats["frames"] += 1
                self._on_frame(conn, item, now)
            if conn.close:
                break

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

    def connection_lost(self, conn_id: int, now: float) -> None:
        conn = self._conns.pop(conn_id, None)
        if conn is None:
            return
        self._event(now, "connection_lost", conn.pile_no or "platform", data={"conn": conn_id})
        if conn.pile_no and self._pile_conn.get(conn.pile_no) == conn_id:
            self._set_offline(conn.pile_no, now, "connection_lost")

    def connections_with_output(self) -> list[int]:
        """Connections that got bytes to send or a close request since the last call."""
        dirty = [cid for cid in self._dirty if cid in self._conns]
        self._dirty.clear()
        return dirty

    def is_logged_in(self, conn_id: int) -> bool:
        conn = self._conns.get(conn_id)
        return conn is not None and conn.pile_no is not None

    def _close(self, conn: _Conn) -> None:
        conn.close = True
        self._dirty.add(conn.cid)

    def next_event(self) -> Event | None:
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        self._clean_heap()
        candidates = []
        if self._heap:
            candidates.append(self._heap[0][0])
        if self._live_heap:
            candidates.append(self._live_heap[0][0])
        return min(candidates) if candidates else None

    def idle_until(self, now: float) -> float:
        """Until when no timer fires except heartbeat liveness (the driver may elide up to it)."""
        self._clean_heap()
        return self._heap[0][0] if self._heap else math.inf

    def handle_timer(self, now: float) -> None:
        while self._live_heap and self._live_heap[0][0] <= now:
            due, pile_no = heapq.heappop(self._live_heap)
            if self._live_due.get(pile_no) != due:
                continue  # superseded by an earlier watch
            del self._live_due[pile_no]
            if pile_no not in self._pile_conn:
                continue
            due = self._liveness_due(pile_no, now)
            if due <= now:
                self._set_offline(pile_no, now, "heartbeat_timeout")
            else:
                self._watch(pile_no, due)
        while self._heap and self._heap[0][0] <= now:
            _, _, kind, key = heapq.heappop(self._heap)
            if kind == "start_timeout":
                self._start_timeout(key, now)
            elif kind == "bill_grace":
                self._bill_grace(key, now)
            elif kind == "time_sync":
                self._time_sync(key, now)

    @property
    def speed(self) -> PlatformCore:
        """The virtual driver's seam (:class:`simrig.speed_seam.PlatformSpeedHooks`)."""
        return self

    def assume_heartbeats(self, pile_no: str, plan: HeartbeatPlan, now: float) -> None:
        """The pile sends the heartbeats of ``plan`` on paper (the virtual driver saw to
        it that each would arrive and be answered): liveness reads them from the plan."""
        self._hb_plans[pile_no] = plan
        if pile_no in self._pile_conn:
            self._watch(pile_no, self._liveness_due(pile_no, now))

    def retire_heartbeat_plan(self, pile_no: str, now: float) -> None:
        """Keep what the pile's plan gave before ``now`` (its link closed or a new plan
        starts); later arrivals of it are void."""
        plan = self._hb_plans.pop(pile_no, None)
        if plan is None:
            return
        k = plan.last_arrived_before(now)
        if k >= plan.first_k:
            self.stats["heartbeats_elided"] += k + 1 - plan.first_k
            arrived = plan.sent_at(k) + plan.latency
            if arrived > self._last_seen.get(pile_no, -math.inf):
                self._last_seen[pile_no] = arrived
        if pile_no in self._pile_conn:
            self._watch(pile_no, self._liveness_due(pile_no, now))

    def _seen(self, pile_no: str, now: float) -> float:
        """When the pile was last heard from before ``now`` (``now`` if never)."""
        last = self._last_seen.get(pile_no, now)
        plan = self._hb_plans.get(pile_no)
        if plan is not None:
            arrived = plan.last_arrival_before(now)
            if arrived is not None and arrived > last:
                return arrived
        return last

    def _liveness_due(self, pile_no: str, now: float) -> float:
        """When the pile goes offline unless heard from again (``inf``: not while its
        heartbeat plan holds — each planned one arrives before the last one expires)."""
        off = self._offline_after
        due = self._seen(pile_no, now) + off
        plan = self._hb_plans.get(pile_no)
        if plan is None or plan.period >= off:
            return due
        k = plan.last_arrived_before(now) + 1  # the plan's next arrival
        if plan.sent_at(k) >= plan.until or plan.sent_at(k) + plan.latency >= due:
            return due
        if plan.until == math.inf:
            return math.inf
        return plan.sent_at(plan.last_sent_before(plan.until)) + plan.latency + off

    def note_elided_heartbeats(self, pile_no: str, count: int, last_at: float) -> None:
        """The driver skipped ``count`` successful heartbeat exchanges, the last at ``last_at``."""
        if pile_no in self._pile_conn and count > 0:
            self._last_seen[pile_no] = max(self._last_seen.get(pile_no, last_at), last_at)
            self.stats["heartbeats_elided"] += count

    def realtime_is_noop(self, pile_no: str, gun: int, status: int, plugged: bool) -> bool:
        """Would an order-less 0x13 with this status and plug state change nothing but
        liveness? (The gun record already says so and no session waits on the gun.)
        The virtual driver elides such idle frames like heartbeats."""
        record = self._guns.get((pile_no, gun))
        if record is None or (record.status, record.plugged, record.serial) != (
            status,
            plugged,
            "",
        ):
            return False
        current = self._gun_session.get((pile_no, gun))
        candidate = self.repo.get_session(current) if current else None
        return candidate is None or not (
            (candidate.state in OPEN_STATES or candidate.unplugged_at is None)
            and candidate.bill_serial is None
        )

    def is_online(self, pile_no: str) -> bool:
        return pile_no in self._pile_conn

    # ------------------------------------------------------------------ app and commands
    def app_start(
        self,
        pile_no: str,
        gun: int,
        account: str,
        now: float,
        *,
        energy_target: float | None = None,
        amount_target: float | None = None,
        time_target_min: int | None = None,
    ) -> str:
        """Start a session for an app user (0x34); returns the order serial.

        ``energy_target`` in kWh, ``amount_target`` in yuan. Raises :class:`PlatformError`.
        """
        pile = self._piles.get(pile_no)
        if pile is None:
            raise PlatformError(f"unknown pile {pile_no}")
        if not 1 <= gun <= pile.guns:
            raise PlatformError(f"pile {pile_no} has no gun {gun}")
        acct = self.repo.get_account(account)
        if acct is None:
            raise PlatformError(f"unknown account {account}")
        if acct.frozen:
            raise PlatformError(f"account {account} is frozen")
        if not pile.enabled:
            raise PlatformError(f"pile {pile_no} is disabled")
        if pile_no not in self._pile_conn:
            raise PlatformError(f"pile {pile_no} is offline")
        if acct.balance < self.rules.min_start_balance:
            raise PlatformError(
                f"balance {_yuan(acct.balance)} below {_yuan(self.rules.min_start_balance)} yuan"
            )
        if self._gun_unsettled(pile_no, gun):
            raise PlatformError(f"gun {pile_no}/{gun} has an unsettled order")
        if self._account_unsettled(account):
            raise PlatformError(f"account {account} has an unsettled order")
        serial = self._new_serial(pile_no, gun, now)
        session = Session(
            serial=serial,
            pile_no=pile_no,
            gun=gun,
            source="app",
            account_id=account,
            created_at=self.wall(now),
            energy_target=None if energy_target is None else round(energy_target * ENERGY_SCALE),
            amount_target=None if amount_target is None else round(amount_target * MONEY_SCALE),
            time_target_min=time_target_min,
        )
        self.repo.put_session(session)
        self._gun_session[pile_no, gun] = serial
        self._account_open.setdefault(account, set()).add(serial)
        self._schedule(now + self.rules.start_confirm_timeout_s, "start_timeout", serial)
        start = RemoteStart(
            serial=serial,
            pile_no=pile_no,
            gun=gun,
            logical_card=acct.logical_card,
            physical_card=_ZERO_CARD,
            balance=self._wire_balance(acct.balance),
        )
        self._send_to_pile(pile_no, start, now)
        self._event(now, "app_start", pile_no, gun, {"serial": serial, "account": account})
        return serial

    def app_stop(self, pile_no: str, gun: int, now: float) -> None:
        """Send 0x36 for the gun (every call sends one: zshy_case#23)."""
        pile = self._piles.get(pile_no)
        if pile is None:
            raise PlatformError(f"unknown pile {pile_no}")
        if not 1 <= gun <= pile.guns:
            raise PlatformError(f"pile {pile_no} has no gun {gun}")
        if pile_no not in self._pile_conn:
            raise PlatformError(f"pile {pile_no} is offline")
        serial = self._gun_session.get((pile_no, gun))
        session = self.repo.get_session(serial) if serial else None
        if session is not None and session.state in OPEN_STATES:
            self.repo.put_session(self._stop(session, now, "app"))
        else:
            self._send_to_pile(pile_no, RemoteStop(pile_no=pile_no, gun=gun), now)
        self._event(now, "app_stop", pile_no, gun, {"serial": serial or ""})

    def send_command(self, pile_no: str, message: Message, now: float) -> None:
        """Send a raw downlink frame (Reboot, Upgrade, WorkParams, SetModel, ReadRealtime...)."""
        if pile_no not in self._pile_conn:
            raise PlatformError(f"pile {pile_no} is offline")
        if isinstance(message, WorkParams):
            self._pending_work[pile_no] = WorkState(message.enable)
        self._send_to_pile(pile_no, message, now)

    # ------------------------------------------------------------------ frame dispatch
    def _on_malformed(self, conn: _Conn, error: FrameError, now: float) -> None:
        conn.errors += 1
        self.stats["malformed"] += 1
        self._event(
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
            self._close(conn)
            self._event(
                now, "connection_closed", conn.pile_no or "platform", data={"reason": "budget"}
            )

    def _on_frame(self, conn: _Conn, frame: Frame, now: float) -> None:
        msg = frame.message
        source: str = conn.pile_no or getattr(msg, "pile_no", None) or "platform"
        if self.rules.emit_frame_events:
            self._event(
                now,
                "frame_received",
                source,
                getattr(msg, "gun", None),
                {"type": msg.TYPE, "name": msg.NAME, "seq": frame.seq, "hex": frame.raw.hex()},
            )
        if frame.deviations:
            self._event(now, "deviation", source, data={"deviations": list(frame.deviations)})
        if conn.pile_no is None and not isinstance(msg, Login):
            self._event(now, "frame_before_login", source, data={"name": msg.NAME})
            return
        if conn.pile_no is not None:
            self._last_seen[conn.pile_no] = now
        handler = self._handlers.get(type(msg))
        if handler is not None:
            handler(conn, frame, now)

    def _send(self, conn: _Conn, message: Message, now: float, seq: int | None = None) -> None:
        if seq is None:
            seq = conn.seq
            conn.seq = (conn.seq + 1) & 0xFFFF
        data = encode_frame(message, seq)
        conn.out += data
        self._dirty.add(conn.cid)
        if self.rules.emit_frame_events:
            self._event(
                now,
                "frame_sent",
                conn.pile_no or "platform",
                getattr(message, "gun", None),
                {"type": message.TYPE, "name": message.NAME, "seq": seq, "hex": data.hex()},
            )

    def _send_to_pile(self, pile_no: str, message: Message, now: float) -> None:
        cid = self._pile_conn.get(pile_no)
        if cid is None:
            raise PlatformError(f"pile {pile_no} is offline")
        self._send(self._conns[cid], message, now)

    # ------------------------------------------------------------------ login, liveness
    @on(Login)
    def _on_login(self, conn: _Conn, frame: Frame, now: float) -> None:
        msg = frame.message
        assert isinstance(msg, Login)
        pile = self._piles.get(msg.pile_no)
        if pile is None:
            self._send(
                conn, LoginReply(pile_no=msg.pile_no, result=LoginResult.FAILED), now, frame.seq
            )
            self._close(conn)
            self._event(now, "login_refused", msg.pile_no, data={"reason": "unknown pile"})
            return
        old = self._pile_conn.get(msg.pile_no)
        if old is not None and old != conn.cid and old in self._conns:
            self._conns[old].pile_no = None
            self._close(self._conns[old])
        conn.pile_no = msg.pile_no
        self._pile_conn[msg.pile_no] = conn.cid
        self._last_seen[msg.pile_no] = now
        self._put_pile(
            evolve(
                pile,
                online=True,
                firmware=msg.firmware_version,
                protocol_version=float(msg.protocol_version),
                last_login=self.wall(now),
                last_seen=self.wall(now),
            )
        )
        self._send(conn, LoginReply(pile_no=msg.pile_no, result=LoginResult.OK), now, frame.seq)
        self._event(now, "pile_online", msg.pile_no, data={"firmware": msg.firmware_version})
        self._watch(msg.pile_no, now + self._offline_after)
        if self.rules.time_sync_after_login:
            self._send(conn, TimeSync(pile_no=msg.pile_no, time=self.wall(now)), now)
        if self.rules.time_sync_interval_s > 0:
            self._schedule(now + self.rules.time_sync_interval_s, "time_sync", msg.pile_no)

    @property
    def _offline_after(self) -> float:
        return self.rules.heartbeat_interval_s * self.rules.missed_heartbeats_offline

    def _watch(self, pile_no: str, due: float) -> None:
        """Check the pile's liveness at ``due`` (an earlier check already set stands)."""
        if due < self._live_due.get(pile_no, math.inf):
            self._live_due[pile_no] = due
            heapq.heappush(self._live_heap, (due, pile_no))

    def _set_offline(self, pile_no: str, now: float, reason: str) -> None:
        cid = self._pile_conn.pop(pile_no, None)
        if cid is not None and cid in self._conns and self.rules.close_on_offline:
            self._close(self._conns[cid])
        pile = self._piles.get(pile_no)
        last = self._seen(pile_no, now)
        if pile is not None:
            self._put_pile(evolve(pile, online=False, last_seen=self.wall(last)))
        self._event(now, "pile_offline", pile_no, data={"reason": reason})
        for (p, _gun), serial in list(self._gun_session.items()):
            if p != pile_no:
                continue
            session = self.repo.get_session(serial)
            if session is None or session.bill_serial is not None:
                continue
            if session.state in (SessionState.CHARGING, SessionState.STOPPING):
                if self.rules.fault_reading == "end_of_charge":
                    session = self._finish(evolve(session, offline_at_end=True), now, "offline")
                    self.repo.put_session(session)
                else:
                    self._event(now, "offline_during_charging", pile_no, session.gun)
            elif session.state not in OPEN_STATES and not session.offline_at_end:
                self.repo.put_session(evolve(session, offline_at_end=True))

    def _time_sync(self, pile_no: str, now: float) -> None:
        if pile_no in self._pile_conn:
            self._send_to_pile(pile_no, TimeSync(pile_no=pile_no, time=self.wall(now)), now)
            self._schedule(now + self.rules.time_sync_interval_s, "time_sync", pile_no)

    @on(Heartbeat)
    def _on_heartbeat(self, conn: _Conn, frame: Frame, now: float) -> None:
        msg = frame.message
        assert isinstance(msg, Heartbeat)
        self._send(conn, HeartbeatReply(pile_no=msg.pile_no, gun=msg.gun, reply=0), now, frame.seq)
        if msg.gun_state == GunHealth.FAULT:
            self._event(now, "gun_fault", msg.pile_no, msg.gun)

    # ------------------------------------------------------------------ billing model
    def _tariff(self, model_no: str) -> Tariff:
        tariff = self._tariffs.get(model_no)
        if tariff is None:
            tariff = self.repo.get_tariff(model_no) or default_tariff()
            self._tariffs[model_no] = tariff
        return tariff

    def _pile_tariff(self, pile_no: str) -> Tariff:
        pile = self._piles.get(pile_no)
        return self._tariff(pile.model_no if pile else "0100")

    @on(ModelVerify)
    def _on_model_verify(self, conn: _Conn, frame: Frame, now: float) -> None:
        msg = frame.message
        assert isinstance(msg, ModelVerify)
        model_no = self._pile_tariff(msg.pile_no).model_no
        result = ModelCheck.MATCH if msg.model_no == model_no else ModelCheck.DIFFERS
        reply = ModelVerifyReply(pile_no=msg.pile_no, model_no=model_no, result=result)
        self._send(conn, reply, now, frame.seq)

    @on(ModelRequest)
    def _on_model_request(self, conn: _Conn, frame: Frame, now: float) -> None:
        msg = frame.message
        assert isinstance(msg, ModelRequest)
        self._send(conn, model_message(self._pile_tariff(msg.pile_no), msg.pile_no), now, frame.seq)

    @on(SetModelReply, WorkParamsReply)
    def _on_config_reply(self, conn: _Conn, frame: Frame, now: float) -> None:
        msg = frame.message
        assert isinstance(msg, SetModelReply | WorkParamsReply)
        ok = msg.result == Confirm.OK
        if isinstance(msg, WorkParamsReply) and ok and msg.pile_no in self._pending_work:
            enable = self._pending_work.pop(msg.pile_no)
            pile = self._piles.get(msg.pile_no)
            if pile is not None:
                self._put_pile(evolve(pile, enabled=enable == WorkState.ALLOWED))
        self._event(now, "command_reply", msg.pile_no, data={"name": msg.NAME, "ok": ok})

    # ------------------------------------------------------------------ card start
    @on(CardStart)
    def _on_card_start(self, conn: _Conn, frame: Frame, now: float) -> None:
        msg = frame.message
        assert isinstance(msg, CardStart)
        failure, logical, balance, account_id = self._authorise(msg)
        serial = _ZERO_SERIAL
        if failure is AuthFailure.NONE:
            serial = self._new_serial(msg.pile_no, msg.gun, now)
            session = Session(
                serial=serial,
                pile_no=msg.pile_no,
                gun=msg.gun,
                source="card",
                account_id=account_id,
                card=msg.card.upper(),
                created_at=self.wall(now),
                start_confirmed=True,
            )
            self.repo.put_session(session)
            self._gun_session[msg.pile_no, msg.gun] = serial
            self._account_open.setdefault(account_id, set()).add(serial)
            self._schedule(now + self.rules.start_confirm_timeout_s, "start_timeout", serial)
        reply = CardAuthReply(
            serial=serial,
            pile_no=msg.pile_no,
            gun=msg.gun,
            logical_card=logical,
            balance=self._wire_balance(balance),
            result=Confirm.OK if failure is AuthFailure.NONE else Confirm.FAILED,
            failure=failure,
        )
        self._send(conn, reply, now, frame.seq)
        self._event(
            now,
            "card_auth",
            msg.pile_no,
            msg.gun,
            {"card": msg.card, "serial": serial, "failure": failure.name.lower()},
        )

    def _authorise(self, msg: CardStart) -> tuple[AuthFailure, str, int, str]:
        """(failure, logical card, balance, account) of a 0x31 (protocol §4.8 reasons)."""
        if msg.start_mode == StartMode.VIN:
            return AuthFailure.VIN_NOT_REGISTERED, "0" * 16, 0, ""
        card = self.repo.get_card(msg.card)
        if card is None:
            return AuthFailure.ACCOUNT_NOT_FOUND, "0" * 16, 0, ""
        account = self.repo.get_account(card.account_id)
        if account is None:
            return AuthFailure.ACCOUNT_NOT_FOUND, card.logical, 0, ""
        logical, balance = card.logical, account.balance
        pile = self._piles.get(msg.pile_no)
        if card.frozen or account.frozen:
            return AuthFailure.ACCOUNT_FROZEN, logical, balance, account.account_id
        if pile is None or not pile.enabled:
            return AuthFailure.PILE_DISABLED, logical, balance, account.account_id
        if (
            card.password_md5
            and msg.password_needed
            and (msg.password_md5.lower() != card.password_md5.lower())
        ):
            return AuthFailure.WRONG_PASSWORD, logical, balance, account.account_id
        if self._account_unsettled(account.account_id):
            return AuthFailure.CARD_UNSETTLED_RECORD, logical, balance, account.account_id
        if self._gun_unsettled(msg.pile_no, msg.gun):
            return AuthFailure.PILE_UNSETTLED_RECORD, logical, balance, account.account_id
        if balance < self.rules.min_start_balance:
            return AuthFailure.INSUFFICIENT_BALANCE, logical, balance, account.account_id
        return AuthFailure.NONE, logical, balance, account.account_id

    def _unsettled(self, session: Session) -> bool:
        if session.state in OPEN_STATES:
            return True
        return (
            self.rules.unsettled_includes_unbilled
            and session.bill_serial is None
            and self._bill_expected(session)
        )

    def _gun_unsettled(self, pile_no: str, gun: int) -> bool:
        serial = self._gun_session.get((pile_no, gun))
        session = self.repo.get_session(serial) if serial else None
        return session is not None and self._unsettled(session)

    def _account_unsettled(self, account_id: str) -> bool:
        serials = self._account_open.get(account_id)
        if not serials:
            return False
        for serial in list(serials):
            session = self.repo.get_session(serial)
            if session is not None and self._unsettled(session):
                return True
            if session is None or session.bill_serial is not None or session.lost_flagged:
                serials.discard(serial)  # settled for good
        return False

    # ------------------------------------------------------------------ remote start/stop
    @on(RemoteStartReply)
    def _on_remote_start_reply(self, conn: _Conn, frame: Frame, now: float) -> None:
        msg = frame.message
        assert isinstance(msg, RemoteStartReply)
        session = self.repo.get_session(msg.serial)
        if session is None:
            serial = self._gun_session.get((msg.pile_no, msg.gun))
            session = self.repo.get_session(serial) if serial else None
        ok = msg.result == Confirm.OK
        self._event(
            now,
            "start_reply",
            msg.pile_no,
            msg.gun,
            {"serial": msg.serial, "ok": ok, "failure": int(msg.failure)},
        )
        if session is None or session.state is not SessionState.STARTING:
            return
        if ok:
            self.repo.put_session(evolve(session, start_confirmed=True))
        elif msg.failure != RemoteStartFailure.GUN_NOT_PLUGGED:
            # not plugged: a second 0x33 may follow within 60 s (protocol §3 item 4)
            self._cancel(
                session, now, f"start_failed:{int(msg.failure)}", NotificationKind.START_FAILED
            )

    def _stop(self, session: Session, now: float, why: str) -> Session:
        self._send_to_pile(
            session.pile_no, RemoteStop(pile_no=session.pile_no, gun=session.gun), now
        )
        changes: dict[str, Any] = {"stop_count": session.stop_count + 1}
        if session.stop_requested_at is None:
            changes["stop_requested_at"] = self.wall(now)
        if session.state is SessionState.CHARGING:
            changes["state"] = SessionState.STOPPING
            changes["close_reason"] = why
        return evolve(session, **changes)

    def _cancel(self, session: Session, now: float, reason: str, kind: NotificationKind) -> None:
        at = self.wall(now)
        session = evolve(session, state=SessionState.CANCELLED, close_reason=reason, closed_at=at)
        note = self._note(session, kind, at, f"order {session.serial} cancelled: {reason}")
        self.repo.update(sessions=[session], notifications=[note])
        self._event(
            now,
            "session_cancelled",
            session.pile_no,
            session.gun,
            {"serial": session.serial, "reason": reason},
        )
        if self._bill_expected(session):
            self._schedule(now + self.rules.no_bill_grace_s, "bill_grace", session.serial)

    def _start_timeout(self, serial: str, now: float) -> None:
        session = self.repo.get_session(serial)
        if session is None or session.state is not SessionState.STARTING:
            return
        if self.rules.stop_on_start_timeout and session.pile_no in self._pile_conn:
            session = self._stop(session, now, "start_timeout")
        self._cancel(session, now, "start_timeout", NotificationKind.AUTO_CANCEL)

    @staticmethod
    def _bill_expected(session: Session) -> bool:
        """A record is due for every executed start (protocol §3 item 7, S1 §8.7)."""
        return session.start_confirmed or session.started_at is not None

    # ------------------------------------------------------------------ realtime data
    @on(RealtimeData)
    def _on_realtime(self, conn: _Conn, frame: Frame, now: float) -> None:
        msg = frame.message
        assert isinstance(msg, RealtimeData)
        at = self.wall(now)
        key = (msg.pile_no, msg.gun)
        status = int(msg.status)
        plugged = bool(msg.plugged)
        serial = msg.serial if msg.serial.strip("0") else ""
        gun = self._guns.get(key)
        if gun is None or (gun.status, gun.plugged, gun.serial) != (status, plugged, serial):
            gun = Gun(msg.pile_no, msg.gun, status, plugged, serial, at)
            self._guns[key] = gun
            self.repo.put_gun(gun)
        session: Session | None = None
        if serial:
            session = self.repo.get_session(serial)
            if session is None:
                self._event(now, "unknown_serial", msg.pile_no, msg.gun, {"serial": serial})
        else:
            current = self._gun_session.get(key)
            candidate = self.repo.get_session(current) if current else None
            if (
                candidate is not None
                and (candidate.state in OPEN_STATES or candidate.unplugged_at is None)
                and candidate.bill_serial is None
            ):
                session = candidate
        energy = round(msg.energy * ENERGY_SCALE)
        amount = round(msg.amount * MONEY_SCALE)
        updated = None
        if session is not None:
            updated = self._apply_realtime(
                session, msg, status, plugged, energy, amount, now, bool(serial)
            )
        if serial:
            sample = RealtimeSample(
                session_key=serial,
                pile_no=msg.pile_no,
                gun=msg.gun,
                at=at,
                status=status,
                plugged=plugged,
                voltage=msg.voltage,
                current=msg.current,
                soc=msg.soc,
                charge_minutes=msg.charge_minutes,
                energy=energy,
                loss_energy=round(msg.loss_energy * ENERGY_SCALE),
                amount=amount,
                faults=msg.faults,
            )
            self.repo.add_realtime(sample, updated)
        elif updated is not None and updated != session:
            self.repo.put_session(updated)

    def _apply_realtime(
        self,
        s: Session,
        msg: RealtimeData,
        status: int,
        plugged: bool,
        energy: int,
        amount: int,
        now: float,
        has_serial: bool,
    ) -> Session:
        at = self.wall(now)
        if has_serial:
            s = _realtime_progress(
                s, at, status, s.rt_samples + 1, energy, amount, max(s.max_energy_seen, energy)
            )
        if status == GunStatus.CHARGING:
            if s.state is SessionState.STARTING:
                s = evolve(s, state=SessionState.CHARGING, started_at=at, start_confirmed=True)
                note = self._note(
                    s,
                    NotificationKind.CHARGE_STARTED,
                    at,
                    f"charging started on {s.pile_no}/{s.gun}",
                )
                self.repo.add_notifications([note])
                self._event(now, "charge_started", s.pile_no, s.gun, {"serial": s.serial})
            elif (
                s.state in (SessionState.FINISHED, SessionState.CANCELLED) and s.bill_serial is None
            ):
                if not s.charging_after_finish:
                    self._event(
                        now, "charging_after_finish", s.pile_no, s.gun, {"serial": s.serial}
                    )
                s = evolve(s, charging_after_finish=True)
            if s.state is SessionState.CHARGING and has_serial:
                s = self._check_limits(s, msg, now)
        elif status in (GunStatus.FAULT, GunStatus.OFFLINE):
            if s.state in (SessionState.CHARGING, SessionState.STOPPING):
                if self.rules.fault_reading == "end_of_charge":
                    s = self._finish(s, now, "fault")
                else:
                    self._event(
                        now, "fault_during_charging", s.pile_no, s.gun, {"serial": s.serial}
                    )
        elif (
            status == GunStatus.IDLE
            and s.state in (SessionState.CHARGING, SessionState.STOPPING)
            and (has_serial or self.rules.idle_zero_serial_ends_session)
        ):
            stopping = s.state is SessionState.STOPPING
            reason = (s.close_reason or "stop") if stopping else "pile_end"
            s = self._finish(s, now, reason if has_serial else "idle_without_serial")
        if (
            not plugged
            and s.unplugged_at is None
            and s.state in (SessionState.FINISHED, SessionState.CANCELLED)
        ):
            s = evolve(s, unplugged_at=at)
        return s

    def _check_limits(self, s: Session, msg: RealtimeData, now: float) -> Session:
        if s.stop_count:
            return s
        at = self.wall(now)
        if self.rules.check_targets:
            reached = ""
            if s.energy_target is not None and s.last_energy >= s.energy_target:
                reached = "energy"
            elif s.amount_target is not None and s.last_amount >= s.amount_target:
                reached = "amount"
            elif s.time_target_min is not None and s.started_at is not None:
                minutes = max(msg.charge_minutes, (at - s.started_at) / timedelta(minutes=1))
                if minutes >= s.time_target_min:
                    reached = "time"
            if reached:
                s = self._stop(s, now, f"{reached}_target")
                note = self._note(s, NotificationKind.TARGET_STOP, at, f"{reached} target reached")
                self.repo.add_notifications([note])
                return s
        if self.rules.balance_stop:
            account = self.repo.get_account(s.account_id)
            if (
                account is not None
                and account.balance - s.last_amount <= self.rules.balance_stop_margin
            ):
                s = self._stop(s, now, "balance")
                left = account.balance - s.last_amount
                note = self._note(
                    s,
                    NotificationKind.BALANCE_STOP,
                    at,
                    f"balance stop ({_yuan(left)} yuan left)",
                    left,
                )
                self.repo.add_notifications([note])
        return s

    def _finish(self, s: Session, now: float, reason: str) -> Session:
        """The platform reads the charge as ended (possibly falsely: igo_case#30)."""
        at = self.wall(now)
        s = evolve(
            s,
            state=SessionState.FINISHED,
            charge_end_at=at,
            closed_at=at,
            close_reason=reason,
            offline_at_end=s.offline_at_end or s.pile_no not in self._pile_conn,
        )
        notes = [self._note(s, NotificationKind.CHARGE_FINISHED, at, f"charge finished ({reason})")]
        rule = self._pile_tariff(s.pile_no).occupancy
        if rule is not None:
            notes.append(
                self._note(
                    s,
                    NotificationKind.OCCUPANCY_NOTICE,
                    at,
                    f"please unplug within {rule.free_minutes} min; then "
                    f"{_yuan(rule.rate_per_minute)} yuan/min",
                )
            )
        self.repo.add_notifications(notes)
        self._event(
            now, "charge_finished", s.pile_no, s.gun, {"serial": s.serial, "reason": reason}
        )
        self._schedule(now + self.rules.no_bill_grace_s, "bill_grace", s.serial)
        return s

    # ------------------------------------------------------------------ bills
    @on(TransactionRecord, TransactionRecordV17)
    def _on_bill(self, conn: _Conn, frame: Frame, now: float) -> None:
        msg = frame.message
        assert isinstance(msg, TransactionRecord | TransactionRecordV17)
        at = self.wall(now)
        existing = self.repo.get_bill(msg.serial)
        if existing is not None:
            self.repo.note_duplicate(msg.serial, at)
            result = AckResult.ILLEGAL if existing.illegal else AckResult.OK
            self._send(conn, RecordAck(serial=msg.serial, result=result), now, frame.seq)
            self._event(now, "duplicate_bill", msg.pile_no, msg.gun, {"serial": msg.serial})
            return
        bands = (
            (msg.sharp_price, msg.sharp_energy, msg.sharp_loss_energy, msg.sharp_amount),
            (msg.peak_price, msg.peak_energy, msg.peak_loss_energy, msg.peak_amount),
            (msg.flat_price, msg.flat_energy, msg.flat_loss_energy, msg.flat_amount),
            (msg.valley_price, msg.valley_energy, msg.valley_loss_energy, msg.valley_amount),
        )
        lines = tuple(
            (
                round(price * RATE_SCALE),
                round(e * ENERGY_SCALE),
                round(le * ENERGY_SCALE),
                round(a * MONEY_SCALE),
            )
            for price, e, le, a in bands
        )
        bill = Bill(
            serial=msg.serial,
            pile_no=msg.pile_no,
            gun=msg.gun,
            start_time=msg.start_time,
            end_time=msg.end_time,
            trade_time=msg.trade_time,
            lines=lines,
            meter_start=round(msg.meter_start * ENERGY_SCALE),
            meter_end=round(msg.meter_end * ENERGY_SCALE),
            total_energy=round(msg.total_energy * ENERGY_SCALE),
            total_loss_energy=round(msg.total_loss_energy * ENERGY_SCALE),
            total_amount=round(msg.total_amount * MONEY_SCALE),
            stop_reason=int(msg.stop_reason),
            source=int(msg.source),
            vin=msg.vin,
            physical_card=msg.physical_card,
            received_at=at,
            raw_hex=frame.raw.hex(),
            frame_type=msg.TYPE,
        )
        session = self.repo.get_session(msg.serial) if msg.serial.strip("0") else None
        if session is None:
            bill = evolve(bill, illegal=True)
            self.repo.settle_bill(bill, None, None, (), ())
            self._send(conn, RecordAck(serial=msg.serial, result=AckResult.ILLEGAL), now, frame.seq)
            self._event(now, "illegal_bill", msg.pile_no, msg.gun, {"serial": msg.serial})
            return
        self._settle(conn, frame, bill, session, now)

    def _settle(self, conn: _Conn, frame: Frame, bill: Bill, session: Session, now: float) -> None:
        at = bill.received_at
        tariff = self._pile_tariff(bill.pile_no)
        energies = (bill.lines[0][1], bill.lines[1][1], bill.lines[2][1], bill.lines[3][1])
        platform_amount = recompute_amount(tariff, energies).total_amount
        charge_end = bill.end_time
        service_end = bill.trade_time or at
        if self.rules.occupancy_service_end == "unplug" and session.unplugged_at is not None:
            service_end = session.unplugged_at
        fee, _minutes = occupancy_fee(tariff.occupancy, charge_end, service_end)
        basis = bill.total_amount if self.rules.charge_basis == "bill" else platform_amount
        charged = basis + fee
        account = self.repo.get_account(session.account_id)
        balance_after = None
        if account is not None:
            account = evolve(account, balance=account.balance - charged)
            balance_after = account.balance
        facts = BillFacts(
            start_time=bill.start_time,
            end_time=bill.end_time,
            trade_time=bill.trade_time,
            band_energies=energies,
            total_energy=bill.total_energy,
            meter_start=bill.meter_start,
            meter_end=bill.meter_end,
            received_at=at,
            occupancy_fee=fee,
        )
        record = PlatformRecord(
            created_at=session.created_at,
            started_at=session.started_at,
            charge_end_at=session.charge_end_at,
            unplugged_at=session.unplugged_at,
            realtime_energy=session.max_energy_seen if session.rt_samples else None,
        )
        overlapping: list[str] = []
        if (
            bill.start_time is not None
            and bill.end_time is not None
            and bill.start_time < bill.end_time
        ):
            overlapping = [
                b.serial
                for b in self.repo.bills_overlapping(
                    bill.pile_no, bill.gun, bill.start_time, bill.end_time, bill.serial
                )
            ]
        pile = self._piles.get(bill.pile_no)
        limits = (
            self.limits if pile is None else evolve(self.limits, max_power_kw=pile.max_power_kw)
        )
        findings = check_bill(facts, record, limits, overlapping)
        anomalies = [
            AnomalyRecord(
                code=int(code),
                session_key=session.serial,
                detail=detail,
                detected_at=at,
                pile_no=bill.pile_no,
                gun=bill.gun,
                bill_serial=bill.serial,
            )
            for code, detail in findings
        ]
        bill = evolve(
            bill,
            session_source=session.source,
            account_id=session.account_id,
            platform_amount=platform_amount,
            charge_end=charge_end,
            service_end=service_end,
            occupancy_fee=fee,
            charged_total=charged,
            balance_after=balance_after,
            anomaly_codes=tuple(sorted({int(code) for code, _ in findings})),
        )
        notes: list[Notification] = []
        closed = evolve(session, bill_serial=bill.serial)
        if session.state in OPEN_STATES:
            closed = evolve(
                closed,
                state=SessionState.FINISHED,
                closed_at=at,
                close_reason=session.close_reason or "bill",
            )
            notes.append(
                self._note(closed, NotificationKind.CHARGE_FINISHED, at, "charge finished (bill)")
            )
        if fee:
            notes.append(
                self._note(
                    closed,
                    NotificationKind.OCCUPANCY_FEE,
                    at,
                    f"occupancy fee {_yuan(fee)} yuan",
                    fee,
                )
            )
        if account is not None:
            notes.append(
                self._note(
                    closed,
                    NotificationKind.BALANCE_CHANGE,
                    at,
                    f"charged {_yuan(charged)} yuan, balance {_yuan(account.balance)} yuan",
                    -charged,
                )
            )
        self.repo.settle_bill(bill, closed, account, notes, anomalies)
        # committed: only now acknowledge (issue 3)
        self._send(conn, RecordAck(serial=bill.serial, result=AckResult.OK), now, frame.seq)
        self.stats["bills"] += 1
        self._event(
            now,
            "bill",
            bill.pile_no,
            bill.gun,
            {"serial": bill.serial, "charged": charged, "anomalies": list(bill.anomaly_codes)},
        )
        for anomaly in anomalies:
            self._event(
                now,
                "anomaly",
                bill.pile_no,
                bill.gun,
                {"code": anomaly.code, "serial": bill.serial, "detail": anomaly.detail},
            )

    def _bill_grace(self, serial: str, now: float) -> None:
        session = self.repo.get_session(serial)
        if (
            session is None
            or session.bill_serial is not None
            or session.lost_flagged
            or session.state in OPEN_STATES
            or not self._bill_expected(session)
        ):
            return
        code = lost_bill_code(session.offline_at_end)
        at = self.wall(now)
        anomaly = AnomalyRecord(
            code=int(code),
            session_key=serial,
            detail=f"no bill {self.rules.no_bill_grace_s:.0f} s after close "
            f"({session.close_reason})",
            detected_at=at,
            pile_no=session.pile_no,
            gun=session.gun,
        )
        self.repo.update(sessions=[evolve(session, lost_flagged=True)], anomalies=[anomaly])
        self._event(
            now,
            "anomaly",
            session.pile_no,
            session.gun,
            {"code": int(code), "serial": serial, "detail": anomaly.detail},
        )

    # ------------------------------------------------------------------ helpers
    def _put_pile(self, pile: Pile) -> None:
        self._piles[pile.pile_no] = pile
        self.repo.put_pile(pile)

    def reload_piles(self) -> None:
        """Re-read piles and tariffs from the repository (after external edits)."""
        online = set(self._pile_conn)
        self._piles = {
            p.pile_no: evolve(p, online=p.pile_no in online) for p in self.repo.list_piles()
        }
        self._tariffs.clear()

    def _schedule(self, due: float, kind: str, key: str) -> None:
        self._tick += 1
        heapq.heappush(self._heap, (due, self._tick, kind, key))

    def _clean_heap(self) -> None:
        """Drop stale entries at the heap tops (timers whose reason is gone)."""
        while self._live_heap:
            due, pile_no = self._live_heap[0]
            if pile_no in self._pile_conn and self._live_due.get(pile_no) == due:
                break
            heapq.heappop(self._live_heap)
            if self._live_due.get(pile_no) == due:
                del self._live_due[pile_no]
        while self._heap and not self._timer_live(self._heap[0][2], self._heap[0][3]):
            heapq.heappop(self._heap)

    def _timer_live(self, kind: str, key: str) -> bool:
        if kind == "time_sync":
            return key in self._pile_conn
        session = self.repo.get_session(key)
        if session is None:
            return False
        if kind == "start_timeout":
            return session.state is SessionState.STARTING
        return session.bill_serial is None and not session.lost_flagged

    def _new_serial(self, pile_no: str, gun: int, now: float) -> str:
        """pile (14) + gun (2) + yyMMddHHmmss (12) + counter (4) = 32 digits (§8 item 4)."""
        stamp = self.wall(now).strftime("%y%m%d%H%M%S")
        while True:
            self._counter = (self._counter + 1) % 10_000
            serial = f"{pile_no[-14:]:0>14}{gun % 100:02d}{stamp}{self._counter:04d}"
            if self.repo.get_session(serial) is None:
                return serial

    @staticmethod
    def _wire_balance(balance: int) -> float:
        return max(0, balance // 100) / 100

    def _note(
        self, s: Session, kind: NotificationKind, at: datetime, text: str, amount: int | None = None
    ) -> Notification:
        return Notification(
            at=at,
            kind=kind.value,
            account_id=s.account_id,
            session_key=s.serial,
            pile_no=s.pile_no,
            gun=s.gun,
            text=text,
            amount=amount,
        )

    def _event(
        self,
        now: float,
        kind: str,
        source: str,
        gun: int | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        self._events.append(Event(now, kind, source, gun, data or {}))

    def events(self) -> Iterator[Event]:
        """Drain all pending events."""
        while self._events:
            yield self._events.popleft()


def model_message(tariff: Tariff, pile_no: str, cls: type[ModelReply] = ModelReply) -> ModelReply:
    """The 0x0A (or 0x58 with ``cls=SetModel``) body of ``tariff`` for ``pile_no``."""
    r = [(rate.electricity / RATE_SCALE, rate.service / RATE_SCALE) for rate in tariff.rates]
    return cls(
        pile_no=pile_no,
        model_no=tariff.model_no,
        sharp_rate=r[0][0],
        sharp_service=r[0][1],
        peak_rate=r[1][0],
        peak_service=r[1][1],
        flat_rate=r[2][0],
        flat_service=r[2][1],
        valley_rate=r[3][0],
        valley_service=r[3][1],
        loss_ratio=tariff.loss_ratio_pct,
        periods=tuple(int(b) for b in tariff.periods),
    )


__all__ += ["SetModel", "model_message"]
