"""The reference platform core: the server side of YKC v1.5/v1.6, sans-IO (issue 3).

One :class:`PlatformCore` serves many connections. Bytes and ``now`` (seconds since
``epoch``) go in; bytes per connection, events and the next timer deadline come out.
Storage is the injected :class:`~simrig.platform.repository.Repository`; every repository
call returns after commit, so a bill is acked (0x40) only once it is durable.

The core is a composition of parts, each with one job and its collaborators passed in:

* :mod:`.connections` — the connection table, conn ↔ pile binding, outboxes, closing;
* :mod:`.routing` — ``@on`` routes per part class and the inbox that dispatches frames;
* :mod:`.identity` — login (0x01), offline, time sync (0x56);
* :mod:`.liveness` — heartbeats (0x03) and the offline watch;
* :mod:`.configuration` — billing model frames (0x05, 0x09) and commands;
* :mod:`.orders` — app and card starts (0x34, 0x31), stops (0x36), start timeouts;
* :mod:`.charging` — realtime data (0x13): charging, targets, balance, the charge end;
* :mod:`.settlement` — bills (0x3B): charge, :mod:`.checks`, store, ack; lost bills;
* :mod:`.sessions` — the order state table and the order book;
* :mod:`.telemetry` — BMS frames (0x23, 0x25) kept per order;
* :mod:`.balances` — balance push (0x42 → 0x41) to the piles charging for an account;
* :mod:`.speed` — the virtual driver's seam (``speed``).

Every behaviour that differs between the spec and the field platform is a setting in
:class:`~simrig.platform.rules.PlatformRules` whose default is the field platform; each
setting names the part and method where it acts.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Protocol

from simrig.endpoint import Event
from simrig.protocol.ykc import Message, SetModel

from .balances import BalancePush
from .charging import Charging
from .checks import CheckLimits
from .configuration import Configuration, model_message
from .connections import Connections
from .directory import Directory
from .errors import PlatformError
from .events import EventSink
from .identity import Identity
from .liveness import Liveness
from .orders import Orders
from .repository import Repository
from .routing import Inbox, route_table
from .rules import PlatformRules
from .sessions import SessionBook
from .settlement import Settlement
from .speed import PlatformSpeed
from .telemetry import Telemetry
from .timers import Timers
from .wallclock import WallClock

__all__ = ["PlatformCore", "PlatformError", "SetModel", "model_message"]


class RuleReader(Protocol):
    """A part that reads the platform rules; the core swaps them with :meth:`set_rules`."""

    rules: PlatformRules


class PlatformCore:
    """The platform side of every YKC frame, for any number of connections."""

    def __init__(
        self,
        repo: Repository,
        rules: PlatformRules | None = None,
        epoch: datetime = datetime(2019, 10, 29),
    ) -> None:
        self.repo = repo
        self._rules = rules = rules or PlatformRules()
        self.epoch = epoch
        clock = self._clock = WallClock(epoch)
        events = self._events = EventSink(rules)
        timers = self._timers = Timers()
        connections = self._connections = Connections(events)
        directory = self._directory = Directory(repo)
        book = self._book = SessionBook(repo, rules, clock)
        liveness = self._liveness = Liveness(rules, connections, events)
        configuration = self._configuration = Configuration(directory, connections, events)
        settlement = self._settlement = Settlement(
            repo, rules, clock, directory, connections, timers, events
        )
        orders = self._orders = Orders(
            repo, rules, clock, book, directory, connections, timers, settlement, events
        )
        charging = self._charging = Charging(
            repo, rules, clock, book, directory, connections, orders, settlement, events
        )
        identity = self._identity = Identity(
            rules, clock, directory, connections, liveness, timers, charging, events
        )
        telemetry = Telemetry(repo, clock, events)
        balances = self._balances = BalancePush(repo, rules, book, connections, events)
        routes = route_table(
            identity, liveness, configuration, orders, charging, settlement, telemetry, balances
        )
        self._inbox = Inbox(connections, liveness.heard, routes, rules, events)
        self._inbox.stored_bill = self._stored_bill
        self._speed = PlatformSpeed(liveness, charging, timers, connections, self._inbox)
        #: every part that reads the rules (each holds them as ``.rules``)
        self._rule_readers: tuple[RuleReader, ...] = (
            events,
            book,
            liveness,
            settlement,
            orders,
            charging,
            identity,
            self._inbox,
            balances,
        )
        # after a restart: no pile is connected; timers and gun bindings from storage
        directory.mark_all_offline()
        orders.restore(repo.open_sessions())

    @property
    def rules(self) -> PlatformRules:
        """The rules in force."""
        return self._rules

    def set_rules(self, rules: PlatformRules) -> None:
        """Put new rules in force at once (the HTTP API's ``PATCH /rules``)."""
        self._rules = rules
        for part in self._rule_readers:
            part.rules = rules
        self._settlement.limits = rules.check_limits()

    # ------------------------------------------------------------------ server endpoint
    def connection_made(self, conn_id: int, now: float, peer: str = "") -> None:
        self._connections.open(conn_id, now, peer)

    def receive_data(self, conn_id: int, data: bytes, now: float) -> None:
        self._inbox.receive(conn_id, data, now)

    def data_to_send(self, conn_id: int) -> bytes:
        return self._connections.data_to_send(conn_id)

    def should_close(self, conn_id: int) -> bool:
        return self._connections.should_close(conn_id)

    def connection_lost(self, conn_id: int, now: float) -> None:
        self._identity.connection_lost(conn_id, now)

    def connections_with_output(self) -> list[int]:
        """Connections that got bytes to send or a close request since the last call."""
        return self._connections.with_output()

    def is_logged_in(self, conn_id: int) -> bool:
        return self._connections.is_logged_in(conn_id)

    def next_event(self) -> Event | None:
        return self._events.next()

    def events(self) -> Iterator[Event]:
        """Drain all pending events."""
        return self._events.drain()

    def get_timer(self) -> float | None:
        live = self._liveness.next_due()
        due = self._timers.next_due()
        if live is None:
            return due
        return live if due is None else min(due, live)

    def handle_timer(self, now: float) -> None:
        for pile_no in self._liveness.expired(now):
            self._identity.set_offline(pile_no, now, "heartbeat_timeout")
        self._timers.fire_due(now)

    def _stored_bill(self, serial: str) -> bool | None:
        """Whether the bill ``serial`` is stored as illegal (None: not stored)."""
        bill = self.repo.get_bill(serial)
        return None if bill is None else bill.illegal

    def frames_received(self, conn_id: int) -> int:
        """Well-formed frames received on the connection so far (for the server's caps)."""
        conn = self._connections.get(conn_id)
        return 0 if conn is None else conn.frames

    @property
    def speed(self) -> PlatformSpeed:
        """The virtual driver's seam (:class:`simrig.speed_seam.PlatformSpeedHooks`)."""
        return self._speed

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
        parallel_id: str | None = None,
    ) -> str:
        """Start a session for an app user (0x34; 0xA4 with ``parallel_id``); returns the
        order serial.

        ``energy_target`` in kWh, ``amount_target`` in yuan. Raises :class:`PlatformError`.
        """
        return self._orders.app_start(
            pile_no,
            gun,
            account,
            now,
            energy_target=energy_target,
            amount_target=amount_target,
            time_target_min=time_target_min,
            parallel_id=parallel_id,
        )

    def push_balance(self, account_id: str, now: float) -> int:
        """Send the account's balance (0x42) to the piles running its orders
        (``rules.balance_push``); how many."""
        return self._balances.push(account_id, now)

    def app_stop(self, pile_no: str, gun: int, now: float) -> None:
        """Send 0x36 for the gun (every call sends one: zshy_case#23)."""
        self._orders.app_stop(pile_no, gun, now)

    def send_command(self, pile_no: str, message: Message, now: float) -> None:
        """Send a raw downlink frame (Reboot, Upgrade, WorkParams, SetModel, ReadRealtime...)."""
        self._configuration.send_command(pile_no, message, now)

    # ------------------------------------------------------------------ queries
    def wall(self, now: float) -> datetime:
        """Platform wall time of ``now``, to the millisecond."""
        return self._clock.wall(now)

    def is_online(self, pile_no: str) -> bool:
        return self._connections.is_online(pile_no)

    def reload_piles(self) -> None:
        """Re-read piles and tariffs from the repository (after external edits)."""
        self._directory.reload(self._connections.online())

    @property
    def limits(self) -> CheckLimits:
        """The thresholds of the platform's bill checks."""
        return self._settlement.limits

    @property
    def stats(self) -> dict[str, int]:
        """Frames, malformed frames, heartbeats elided and bills so far."""
        return {
            "frames": self._inbox.frames,
            "malformed": self._inbox.malformed,
            "frame_errors": self._inbox.frame_errors,
            "pile_mismatches": self._inbox.mismatches,
            "heartbeats_elided": self._speed.elided,
            "bills": self._settlement.bills,
        }
