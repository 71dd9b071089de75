"""Virtual-time driver: simpy runs piles, plant, link faults and the platform in one process.

simpy is only the clock and scheduler here (style-anchors: "use it as the clock of an
adapter, not inside the core"): every input is a timed callback that feeds a sans-IO
endpoint and then pumps it — drain ``data_to_send()`` into the link model, drain events,
re-arm on ``get_timer()``. Every frame is encoded by its sender and decoded by its peer.

Idle heartbeats would dominate a station-month (54 piles × 8,640 a day). When a pile,
the platform and the pile's link are all quiet until a known time, the driver asks both
endpoints to *elide* the heartbeat exchanges in between: the pile advances its schedule
and sequence counter as if each heartbeat had been answered, the platform records the
liveness they would have given. Nothing else may happen in such a window, so the
frames before and after it are the ones a full exchange would have produced.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import simpy
from simpy.events import NORMAL

from simrig.billing.device_view import Chunk
from simrig.endpoint import Event
from simrig.results import TruthSample

if TYPE_CHECKING:
    from simrig.rig import World

#: an elision window shorter than this is not worth the bookkeeping
MIN_ELISION_S = 5.0
#: truth samples (for the timeline plots) at most this often per pile
SAMPLE_EVERY_S = 15.0
#: timer fires at one instant without the endpoint moving on: a model bug
MAX_SAME_INSTANT_FIRES = 10_000


class _Call(simpy.Event):
    """A triggered event that calls ``fn(*args)`` when processed (a leaner Timeout)."""

    def __init__(self, env: simpy.Environment, fn: Callable[..., None], args: tuple[Any, ...]):
        self.env = env
        self.callbacks = [_run_call]
        self._value = None
        self._ok = True
        self.fn = fn
        self.args = args


def _run_call(event: simpy.Event) -> None:
    assert isinstance(event, _Call)
    event.fn(*event.args)


@dataclass
class _Conn:
    id: int
    pile_no: str
    open: bool = True


class VirtualDriver:
    """Run a :class:`~simrig.rig.World` in virtual time."""

    def __init__(
        self,
        world: World,
        *,
        elide_heartbeats: bool = True,
        sample_truth: bool = True,
        frame_events: bool = True,
    ) -> None:
        self.world = world
        self.env = simpy.Environment()
        self.elide = elide_heartbeats
        self.sample_truth = sample_truth
        self.events: list[Event] = []
        self.chunks: list[Chunk] = []
        self.samples: list[TruthSample] = []
        self._conns: dict[str, _Conn | None] = {p: None for p in world.piles}
        self._next_conn = 1
        self._armed: dict[str, float] = {}
        self._fires: dict[str, tuple[float, int]] = {}
        self._step_times = {p: world.pile_action_times.get(p, []) for p in world.piles}
        self._step_index = dict.fromkeys(world.piles, 0)
        self._in_flight: dict[str, int] = dict.fromkeys(world.piles, 0)
        self._next_sample: dict[str, float] = {}
        self._by_id: dict[int, _Conn] = {}
        self.elided_heartbeats = 0
        for pile in world.piles.values():
            pile.emit_frame_events = frame_events

    # -- scheduling ------------------------------------------------------------------------
    def call_at(self, t: float, fn: Callable[..., None], *args: Any) -> None:
        env = self.env
        env.schedule(_Call(env, fn, args), NORMAL, max(0.0, t - env.now))

    def _arm(self, key: str, t: float | None, fire: Callable[[str, float], None]) -> None:
        if t is None:
            return
        current = self._armed.get(key)
        if current is not None and self.env.now <= current <= t:
            return
        self._armed[key] = t
        self.call_at(t, fire, key, t)

    def _take(self, key: str, t: float) -> bool:
        """Consume an armed timer; False if it was superseded."""
        if self._armed.get(key) != t:
            return False
        del self._armed[key]
        last, count = self._fires.get(key, (-1.0, 0))
        count = count + 1 if last == self.env.now else 1
        if count > MAX_SAME_INSTANT_FIRES:
            raise RuntimeError(f"{key}: timer fires forever at t={self.env.now}")
        self._fires[key] = (self.env.now, count)
        return True

    # -- run -------------------------------------------------------------------------------
    def run(self, until: float, progress: Callable[[float], None] | None = None) -> None:
        """Run to ``until`` (scenario seconds); ``progress(fraction)`` after each sim hour."""
        for t, pile_no, action in self.world.actions:
            self.call_at(t, self._act, pile_no, action)
        for pile_no in self.world.piles:
            self.call_at(0.0, self.pump_pile, pile_no)
        self.call_at(0.0, self.pump_platform)
        if progress is None:
            self.env.run(until=until)
            return
        step = 3600.0
        t = 0.0
        while t < until:
            t = min(until, t + step)
            self.env.run(until=t)
            progress(t / until)

    def _act(self, pile_no: str, action: Callable[[float], None]) -> None:
        now = self.env.now
        self._next_sample.clear()  # sample the plant right after every stimulus
        try:
            action(now)
        except Exception as exc:  # a refused app request is an outcome, not a crash
            self._record(Event(now, "action_error", "rig", data={"error": str(exc)}))
        self.pump_pile(pile_no)  # an action touches only its own pile
        self.pump_platform()

    # -- piles -----------------------------------------------------------------------------
    def pump_pile(self, pile_no: str) -> None:
        pile = self.world.piles[pile_no]
        now = self.env.now
        conn = self._conns[pile_no]
        data = pile.data_to_send()
        if data and conn is not None:
            self.chunks.append(Chunk(self.world.wall(now), pile_no, "up", data))
            if self.sample_truth and now >= self._next_sample.get(pile_no, 0.0):
                self._next_sample[pile_no] = now + SAMPLE_EVERY_S
                self._sample(pile_no, now)
            for t, chunk in self.world.links[pile_no].up.send(data, now):
                self._in_flight[pile_no] += 1
                self.call_at(t, self._to_platform, conn, chunk)
        self._drain(pile)
        if conn is not None and pile.close_requested:
            self._close(conn)
        if self._conns[pile_no] is None and pile.wants_connection:
            self._connect(pile_no)
            return
        self._arm(pile_no, pile.get_timer(), self._pile_timer)

    def _pile_timer(self, pile_no: str, t: float) -> None:
        if not self._take(pile_no, t):
            return
        pile = self.world.piles[pile_no]
        now = self.env.now
        if (
            self.elide
            and self._conns[pile_no] is not None
            and pile.heartbeat_due(now)
            and self._elide(pile_no, now)
        ):
            return
        pile.handle_timer(now)
        self.pump_pile(pile_no)

    def _elide(self, pile_no: str, now: float) -> bool:
        if self._in_flight[pile_no] or not self.world.link_is_clean(pile_no):
            return False
        pile = self.world.piles[pile_no]
        core = self.world.core
        quiet = [
            number
            for number, (status, plugged) in pile.quiet_guns(now).items()
            if core.realtime_is_noop(pile_no, number, status, plugged)
        ]
        pile_idle = pile.idle_until(now, quiet)
        if pile_idle - now < MIN_ELISION_S:
            return False
        # the core's idle_until covers its timers except heartbeat liveness
        until = min(pile_idle, core.idle_until(now))
        # the next action aimed at this pile (an action touches only its own pile)
        times, i = self._step_times[pile_no], self._step_index[pile_no]
        while i < len(times) and times[i] <= now:
            i += 1
        self._step_index[pile_no] = i
        if i < len(times) and times[i] < until:
            until = times[i]
        link = self.world.links[pile_no]
        change = link.next_change(now)
        if change is not None and change < until:
            until = change
        if until - now < MIN_ELISION_S or not link.is_up(now):
            return False
        count = pile.elide_idle(now, until, quiet, idle_until=pile_idle)
        if count:
            # liveness as the last skipped heartbeat would have given it (on arrival)
            arrived = pile.last_elided_at + link.up.latency_s
            core.note_elided_heartbeats(pile_no, count, arrived)
            self.elided_heartbeats += count
        self._arm(pile_no, pile.timer_after_elision(pile_idle, quiet), self._pile_timer)
        return True

    def _connect(self, pile_no: str) -> None:
        pile = self.world.piles[pile_no]
        now = self.env.now
        if not self.world.links[pile_no].is_up(now):
            pile.connection_failed(now)
        else:
            conn = _Conn(self._next_conn, pile_no)
            self._next_conn += 1
            self._conns[pile_no] = conn
            self._by_id[conn.id] = conn
            self.world.core.connection_made(conn.id, now, peer=pile_no)
            pile.connection_made(now)
            self._record(Event(now, "connected", pile_no, data={"conn": conn.id}))
        self.pump_pile(pile_no)

    def _close(self, conn: _Conn) -> None:
        if not conn.open:
            return
        conn.open = False
        now = self.env.now
        self._conns[conn.pile_no] = None
        self.world.piles[conn.pile_no].connection_lost(now)
        self._record(Event(now, "disconnected", conn.pile_no, data={"conn": conn.id}))
        link = self.world.links[conn.pile_no]
        # The platform learns of the close when a FIN/RST can reach it.
        when = now if link.is_up(now) else (link.next_change(now) or now)
        self.call_at(when, self._platform_lost, conn)

    def _platform_lost(self, conn: _Conn) -> None:
        self.world.core.connection_lost(conn.id, self.env.now)
        self.pump_platform()

    def _to_pile(self, conn: _Conn, chunk: bytes) -> None:
        self._in_flight[conn.pile_no] -= 1
        if not conn.open:
            return
        self.world.piles[conn.pile_no].receive_data(chunk, self.env.now)
        self.pump_pile(conn.pile_no)

    # -- platform --------------------------------------------------------------------------
    def _to_platform(self, conn: _Conn, chunk: bytes) -> None:
        self._in_flight[conn.pile_no] -= 1
        if not conn.open:
            return
        self.world.core.receive_data(conn.id, chunk, self.env.now)
        self.pump_platform()

    def pump_platform(self) -> None:
        core = self.world.core
        now = self.env.now
        for conn_id in core.connections_with_output():
            conn = self._by_id.get(conn_id)
            if conn is None or not conn.open:
                continue
            data = core.data_to_send(conn.id)
            if data:
                self.chunks.append(Chunk(self.world.wall(now), conn.pile_no, "down", data))
                for t, chunk in self.world.links[conn.pile_no].down.send(data, now):
                    self._in_flight[conn.pile_no] += 1
                    self.call_at(t, self._to_pile, conn, chunk)
            if core.should_close(conn.id):
                self._close(conn)
        self._drain(core)
        self._arm("platform", core.get_timer(), self._platform_timer)

    def _platform_timer(self, key: str, t: float) -> None:
        if not self._take(key, t):
            return
        self.world.core.handle_timer(self.env.now)
        self.pump_platform()

    def _sample(self, pile_no: str, now: float) -> None:
        plant_pile = self.world.plant.pile(pile_no)
        for number, gun in enumerate(plant_pile.guns, start=1):
            self.samples.append(
                TruthSample(
                    now,
                    pile_no,
                    number,
                    gun.meter_kwh(now),
                    gun.power_kw(now),
                    gun.plugged(now),
                    gun.charging(now),
                )
            )

    # -- events ----------------------------------------------------------------------------
    def _drain(self, endpoint: Any) -> None:
        while (event := endpoint.next_event()) is not None:
            self._record(event)

    def _record(self, event: Event) -> None:
        self.events.append(event)
