"""Locust: YKC piles of the real firmware models across machines (issue 13 item 5).

Run by Locust only (``locust -f simrig/load/locustfile.py``): Locust patches the
standard library for gevent when imported, so no other simrig path imports this file.

Each Locust user is one pile: the same sans-IO firmware (:mod:`simrig.firmware_models`)
and station sessions as ``simrig load`` (a one-pile :class:`~simrig.load.plan.LoadPlan`),
pumped over a gevent TCP socket (the pump of :mod:`simrig.endpoint`). Every reply is timed
by the same :class:`~simrig.load.metrics.LoadObserver` and reported to Locust as a request
event named by frame type (``login``, ``heartbeat``, ``model_verify``, ``card_auth``,
``bill_ack``, …; request type ``YKC``). A request unanswered within 30 s and a bill never
acknowledged when the user stops are failures.

Settings (environment variables, the same on every machine):

* ``SIMRIG_PROFILE`` firmware profile (default ``sinexcel-dc@2090404``);
* ``SIMRIG_FIRST_PILE_NO`` the first pile number (default 32010200000001); worker ``i``
  numbers its piles from ``first + i * SIMRIG_PILE_STRIDE`` (default 100000);
* ``SIMRIG_SESSIONS_PER_PILE_HOUR`` session arrivals (default 0), ``SIMRIG_SEED``.

Host: ``--host tcp://HOST:PORT`` (the backend under load). Distributed::

    locust -f simrig/load/locustfile.py --master --headless -u 1000 -r 20 --host tcp://...
    locust -f simrig/load/locustfile.py --worker --master-host MASTER   # on each machine
"""

from __future__ import annotations

import itertools
import os
import time
from datetime import datetime
from typing import Any

import gevent
from gevent import socket
from locust import User, task

from simrig.endpoint import Event
from simrig.load.metrics import LoadObserver
from simrig.load.plan import FIRST_PILE_NO, Group, LoadPlan
from simrig.sim.world import build_world

CONNECT_TIMEOUT_S = 5.0
#: the longest the pump sleeps between looks at its timers
MAX_WAIT_S = 1.0
_numbers = itertools.count()


def _setting(name: str, default: str) -> str:
    return os.environ.get(name, default)


class GeventPile:
    """One pile's firmware pumped over a gevent socket, timed by a :class:`LoadObserver`."""

    def __init__(self, pile_no: str, host: str, port: int, observer: LoadObserver) -> None:
        profile = _setting("SIMRIG_PROFILE", "sinexcel-dc@2090404")
        rate = float(_setting("SIMRIG_SESSIONS_PER_PILE_HOUR", "0"))
        plan = LoadPlan(
            groups=(Group(profile, int(pile_no), 1, 1),),
            duration_s=7 * 86400,
            ramp_s=0.0,
            sessions_per_pile_hour=rate,
            seed=int(_setting("SIMRIG_SEED", "1")),
        )
        self.t0 = time.monotonic()
        self.world = build_world(plan.scenario(datetime.now()), epoch=datetime.now())
        self.pile = self.world.piles[pile_no]
        self.pile.emit_frame_events = False
        self.pile_no, self.host, self.port = pile_no, host, port
        self.observer = observer
        self.actions = [(t, action) for t, _, action in self.world.actions]
        self.sock: Any = None

    def now(self) -> float:
        return time.monotonic() - self.t0

    def _event(self, kind: str, **data: Any) -> None:
        self.observer.event(Event(self.now(), kind, self.pile_no, data=data))

    def pump(self) -> None:
        """Bytes out, events drained, a close the pile asks for, a connect it wants."""
        pile, now = self.pile, self.now()
        data = pile.data_to_send()
        if data and self.sock is not None:
            self.observer.sent(self.pile_no, data, now)
            try:
                self.sock.sendall(data)
                self.observer.delivered(self.pile_no, "up", data, now)
            except OSError:
                self._lost()
        while (event := pile.next_event()) is not None:
            self.observer.event(event)
        if self.sock is not None and pile.close_requested:
            self._lost()
        if self.sock is None and pile.wants_connection:
            self._connect()

    def _connect(self) -> None:
        try:
            self.sock = socket.create_connection((self.host, self.port), CONNECT_TIMEOUT_S)
        except OSError as exc:
            self._event("connect_failed", error=str(exc), outage=False)
            self.pile.connection_failed(self.now())
            return
        self.pile.connection_made(self.now())
        self._event("connected")
        self.pump()

    def _lost(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
            self.pile.connection_lost(self.now())
            self._event("disconnected")

    def step(self) -> None:
        """Run the due actions and timers, then wait for bytes or the next deadline."""
        now = self.now()
        while self.actions and self.actions[0][0] <= now:
            _, action = self.actions.pop(0)
            try:
                action(now)
            except Exception as exc:  # a scenario step must not end the pile
                self._event("action_error", error=str(exc))
        timer = self.pile.get_timer()
        if timer is not None and timer <= now:
            self.pile.handle_timer(now)
        self.pump()
        deadline = min(
            self.pile.get_timer() or float("inf"),
            self.actions[0][0] if self.actions else float("inf"),
            now + MAX_WAIT_S,
        )
        wait = max(0.0, deadline - self.now())
        if self.sock is None:
            gevent.sleep(wait)
            return
        self.sock.settimeout(wait)
        try:
            data = self.sock.recv(4096)
        except TimeoutError:
            return
        except OSError:
            self._lost()
            return
        if not data:  # the backend closed
            self._lost()
            return
        now = self.now()
        self.observer.received(self.pile_no, data, now)
        self.observer.delivered(self.pile_no, "down", data, now)
        self.pile.receive_data(data, now)
        self.pump()

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class YkcPile(User):
    """A YKC pile (one Locust user); see the module docstring."""

    host = "tcp://127.0.0.1:8767"

    def on_start(self) -> None:
        address = (self.host or "").removeprefix("tcp://")
        host, _, port = address.rpartition(":")
        index = getattr(self.environment.runner, "worker_index", 0) or 0
        first = int(_setting("SIMRIG_FIRST_PILE_NO", str(FIRST_PILE_NO)))
        stride = int(_setting("SIMRIG_PILE_STRIDE", "100000"))
        pile_no = str(first + index * stride + next(_numbers))
        observer = LoadObserver([pile_no], speed=1.0, wall=lambda t: datetime.now(),
                                deviation_sample=0)  # fmt: skip
        observer.on_reply = self._reply
        observer.on_unanswered = self._failed
        self.observer = observer
        self.driver = GeventPile(pile_no, host, int(port), observer)
        self.last_expire = time.monotonic()

    def _reply(self, kind: str, seconds: float) -> None:
        self.environment.events.request.fire(
            request_type="YKC", name=kind, response_time=seconds * 1000,
            response_length=0, exception=None, context={},
        )  # fmt: skip

    def _failed(self, kind: str, why: str) -> None:
        self.environment.events.request.fire(
            request_type="YKC", name=kind, response_time=0, response_length=0,
            exception=RuntimeError(why), context={},
        )  # fmt: skip

    @task
    def live(self) -> None:
        """The pile's life: pumped until Locust stops the user."""
        while True:
            self.driver.step()
            if time.monotonic() - self.last_expire > 5.0:
                self.last_expire = time.monotonic()
                self.observer.expire(self.last_expire)

    def on_stop(self) -> None:
        lost, _ = self.observer.bills_open(time.monotonic())
        for _ in range(lost):
            self._failed("bill_ack", "bill never acknowledged")
        self.driver.close()
