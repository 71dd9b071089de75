"""Virtual-time driver: simpy runs piles, plant, link faults and the platform in one process.

simpy is only the clock and scheduler here (style-anchors: "use it as the clock of an
adapter, not inside the core"): every input is a timed callback that feeds a sans-IO
endpoint and then pumps it — drain ``data_to_send()`` into the link model, drain events,
re-arm on ``get_timer()``. Every frame is encoded by its sender; its peer parses it, or
takes the frame the sender decoded already (:class:`~simrig.protocol.ykc.FramedBytes`).

Heartbeats would dominate a station-month (54 piles × 8,640 a day). Two ways keep them
exact yet cheap:

* **Heartbeat plans**: while a pile's link is clean and up and the platform answers it,
  its 0x03s are sent on paper (:mod:`simrig.heartbeat_plan`): no frame, no timer; the
  pile counts them whenever it next acts, the platform reads liveness from the plan.
  The plan ends when the link is due to change, drops, or the emergency stop is pressed.
  This lets a charging pile, busy every 15 s, skip its heartbeats too.
* **Idle elision**: when a pile, the platform and the pile's link are all quiet until a
  known time, the driver also skips the idle 0x13 that would repeat the last one: the
  pile advances its schedule and sequence counter, the platform records the liveness
  they would have given. Nothing else may happen in such a window.

Either way the frames before and after are the ones a full exchange would have produced.

* **Realtime on paper** (runs that keep no frames, ``Keep.realtime_frames``): a 0x13
  sent on a clean link travels as the decoded frame, not as bytes. The platform handles
  it when and where its bytes would have arrived (same instant, same order), so
  everything it decides is the same; no encoding, link model, framing or parsing. The
  device view reads these frames from :attr:`VirtualDriver.paper_realtime`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import simpy
from simpy.events import EventPriority

from simrig.capture import Chunk
from simrig.endpoint import Endpoint, Event, PileEndpoint, ServerEndpoint
from simrig.heartbeat_plan import HeartbeatPlan
from simrig.oracle.device_view import PaperFrame
from simrig.protocol.ykc import Frame
from simrig.sim.keep import EVERYTHING, Keep
from simrig.sim.results import TruthSample
from simrig.sim.sampling import TruthSampler

if TYPE_CHECKING:
    from simrig.sim.world import World

#: an elision window shorter than this is not worth the bookkeeping
MIN_ELISION_S = 5.0
#: keeps skipped frames' arrivals clear of a link change despite float rounding
_MARGIN_S = 1e-6
#: timer fires at one instant without the endpoint moving on: a model bug
MAX_SAME_INSTANT_FIRES = 10_000

# What happens first at one instant, whatever was scheduled first: scenario actions,
# then pile timers, then platform timers, then bytes arriving (in the order sent). A
# fixed order keeps a run independent of when each timer happened to be armed, so
# skipping a heartbeat exchange cannot reorder what is left.
ACTION, PILE_TIMER, PLATFORM_TIMER, DELIVERY = (EventPriority(i) for i in range(4))


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


class _RealtimeOnPaper:
    """One pile's 0x13 (§4.6) carried decoded (a :class:`~simrig.firmware_models.wire.
    RealtimeSink`) while their bytes would arrive on its clean link."""

    __slots__ = ("_driver", "_pile_no", "_up", "without_readings")

    def __init__(self, driver: VirtualDriver, pile_no: str, without_readings: bool) -> None:
        self._driver = driver
        self._pile_no = pile_no
        self._up = driver.world.links[pile_no].up
        #: the run keeps no realtime sample and no check reads a 0x13's readings
        self.without_readings = without_readings

    def takes(self, now: float) -> bool:
        """The bytes of a 0x13 sent at ``now`` would arrive: connected, the link up and
        no outage starting while they are in flight (else they go as bytes, to be lost)."""
        up = self._up
        if self._driver._conns[self._pile_no] is None or not up.is_up(now):
            return False
        change = up.next_change(now)
        return change is None or change > now + up.latency_s

    def carry(self, frame: Frame, now: float) -> None:
        self._driver.carry_realtime(self._pile_no, frame, now)


@dataclass
class _Conn:
    id: int
    pile_no: str
    open: bool = True


class VirtualDriver:
    """Run a :class:`~simrig.sim.world.World` in virtual time."""

    def __init__(
        self,
        world: World,
        *,
        elide_heartbeats: bool = True,
        keep: Keep = EVERYTHING,
    ) -> None:
        self.world = world
        if world.core is None:
            raise ValueError("the virtual driver needs the embedded platform (world.core)")
        self.platform: ServerEndpoint = world.core
        self.env = simpy.Environment()
        self.elide = elide_heartbeats
        sample_truth = self.sample_truth = keep.truth_samples
        self.events: list[Event] = []
        self.chunks: list[Chunk] = []
        self._sampler = TruthSampler(world.plant, watch=sample_truth)
        self.samples: list[TruthSample] = self._sampler.samples
        self._conns: dict[str, _Conn | None] = {p: None for p in world.piles}
        self._next_conn = 1
        self._armed: dict[str, float] = {}
        self._fires: dict[str, tuple[float, int]] = {}
        self._step_times = {p: world.pile_action_times.get(p, []) for p in world.piles}
        self._step_index = dict.fromkeys(world.piles, 0)
        self._in_flight: dict[str, int] = dict.fromkeys(world.piles, 0)
        self._by_id: dict[int, _Conn] = {}
        #: each pile's plan as last seen, and the plans the platform holds
        self._plans: dict[str, HeartbeatPlan | None] = dict.fromkeys(world.piles)
        self._held: dict[str, HeartbeatPlan] = {}
        self.elided_heartbeats = 0
        #: the 0x13 carried decoded, each with the place its chunk would have had
        self.paper_realtime: list[PaperFrame] = []
        frame_events = keep.frame_events is not False  # None: the runner's to decide
        realtime_on_paper = not (keep.realtime_frames or frame_events)
        for pile_no, pile in world.piles.items():
            pile.emit_frame_events = frame_events
            pile.telemetry_on_paper = not keep.bms_frames
            if realtime_on_paper and world.link_is_clean(pile_no):
                sink = _RealtimeOnPaper(self, pile_no, not keep.realtime_readings)
                pile.speed.hand_realtime_to(sink)

    # -- scheduling ------------------------------------------------------------------------
    def call_at(self, t: float, order: EventPriority, fn: Callable[..., None], *args: Any) -> None:
        """Call ``fn(*args)`` at ``t``; ``order`` ranks it among calls at the same instant."""
        env = self.env
        env.schedule(_Call(env, fn, args), order, max(0.0, t - env.now))

    def _arm(self, key: str, t: float | None, fire: Callable[[str, float], None]) -> None:
        if t is None:
            return
        current = self._armed.get(key)
        if current is not None and self.env.now <= current <= t:
            return
        self._armed[key] = t
        self.call_at(t, PLATFORM_TIMER if key == "platform" else PILE_TIMER, fire, key, t)

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
            self.call_at(t, ACTION, self._act, pile_no, action)
        for pile_no in self.world.piles:
            self.call_at(0.0, PILE_TIMER, self.pump_pile, pile_no)
        self.call_at(0.0, PLATFORM_TIMER, self.pump_platform)
        if progress is None:
            self.env.run(until=until)
        else:
            t = 0.0
            while t < until:
                t = min(until, t + 3600.0)
                self.env.run(until=t)
                progress(t / until)
        self._settle_plans(until)

    def _settle_plans(self, now: float) -> None:
        """Count the heartbeats piles sent on paper up to the end of the run."""
        for pile_no, pile in self.world.piles.items():
            pile.speed.catch_up(now)
            self.elided_heartbeats += pile.speed.virtual_heartbeats
            self._retire_plan(pile_no, now)

    def _act(self, pile_no: str, action: Callable[[float], None]) -> None:
        now = self.env.now
        self._sampler.stimulus()  # sample the plant right after every stimulus
        try:
            action(now)
        except Exception as exc:  # a refused app request is an outcome, not a crash
            self._record(Event(now, "action_error", "rig", data={"error": str(exc)}))
        self.pump_pile(pile_no)  # an action touches only its own pile
        self.pump_platform()

    # -- piles -----------------------------------------------------------------------------
    def pump_pile(self, pile_no: str) -> None:
        pile: PileEndpoint = self.world.piles[pile_no]
        now = self.env.now
        conn = self._conns[pile_no]
        data = pile.data_to_send()
        if data and conn is not None:
            self.chunks.append(Chunk(self.world.wall(now), pile_no, "up", data))
            if self.sample_truth:
                self._sampler.on_send(pile_no, now)
            take = self.platform.receive_data
            for t, chunk in self.world.links[pile_no].up.send(data, now):
                self._in_flight[pile_no] += 1
                self.call_at(t, DELIVERY, self._to_platform, conn, take, chunk)
        self._drain(pile)
        if pile.speed.heartbeat_plan is not self._plans[pile_no]:
            self._hand_over(pile_no, now)
        if conn is not None and pile.close_requested:
            self._close(conn)
        if self._conns[pile_no] is None and pile.wants_connection:
            self._connect(pile_no)
            return
        self._arm(pile_no, pile.get_timer(), self._pile_timer)

    def carry_realtime(self, pile_no: str, frame: Frame, now: float) -> None:
        """Carry the 0x13 ``frame`` that pile ``pile_no`` sent at ``now`` decoded: the
        platform gets it when its bytes would arrive on the clean link (latency only,
        FIFO; :class:`_RealtimeOnPaper` said they would)."""
        conn = self._conns[pile_no]
        assert conn is not None
        if self.sample_truth:
            self._sampler.on_send(pile_no, now)
        self.paper_realtime.append(
            PaperFrame(len(self.chunks), now, self.world.epoch, pile_no, frame)
        )
        self._in_flight[pile_no] += 1
        take = self.platform.speed.take_frame
        arrival = now + self.world.links[pile_no].up.latency_s
        self.call_at(arrival, DELIVERY, self._to_platform, conn, take, frame)

    def _pile_timer(self, pile_no: str, t: float) -> None:
        if not self._take(pile_no, t):
            return
        pile: PileEndpoint = self.world.piles[pile_no]
        now = self.env.now
        conn = self._conns[pile_no]
        if self.elide and conn is not None and pile.speed.heartbeat_due(now):
            if pile.speed.real_heartbeat_due(now):
                self._plan_heartbeats(conn, now)
            if self._elide(pile_no, now):
                return
        pile.handle_timer(now)
        self.pump_pile(pile_no)

    def _plan_heartbeats(self, conn: _Conn, now: float) -> None:
        """Let the pile send its heartbeats on paper until its link is due to change,
        if the link is clean and up, the platform answers it and a heartbeat's round
        trip ends before the next one is due."""
        pile_no = conn.pile_no
        link = self.world.links[pile_no]
        pile = self.world.piles[pile_no]
        if not (
            self.world.link_is_clean(pile_no)
            and link.is_up(now)
            and self.platform.is_logged_in(conn.id)
            and link.up.latency_s + link.down.latency_s < pile.firmware.timings.heartbeat_s
        ):
            return
        change = link.next_change(now)
        plan = pile.speed.assume_heartbeats(
            now, link.up.latency_s, link.down.latency_s, math.inf if change is None else change
        )
        if plan is not None:
            self._hand_over(pile_no, now)

    def _hand_over(self, pile_no: str, now: float) -> None:
        """Give the platform the pile's current heartbeat plan: a new one, or the one it
        holds cut short by the pile."""
        plan = self.world.piles[pile_no].speed.heartbeat_plan
        old, self._plans[pile_no] = self._plans[pile_no], plan
        if plan is None:
            return
        core = self.platform
        if old is not None and (old.base, old.first_k) == (plan.base, plan.first_k):
            if pile_no in self._held:
                self._held[pile_no] = plan
                core.speed.assume_heartbeats(pile_no, plan, now)
            return
        self._retire_plan(pile_no, now)
        self._held[pile_no] = plan
        core.speed.assume_heartbeats(pile_no, plan, now)

    def _retire_plan(self, pile_no: str, now: float) -> None:
        """The platform keeps what the pile's plan gave before ``now``; the run records
        the heartbeats it covered (the timelines draw them)."""
        plan = self._held.pop(pile_no, None)
        if plan is None:
            return
        self.platform.speed.retire_heartbeat_plan(pile_no, now)
        last = plan.last_sent_before(now)
        if last >= plan.first_k:
            data = {
                "first": plan.sent_at(plan.first_k),
                "last": plan.sent_at(last),
                "period": plan.period,
                "count": last + 1 - plan.first_k,
            }
            self._record(Event(now, "heartbeats_on_paper", pile_no, data=data))

    def _elide(self, pile_no: str, now: float) -> bool:
        if self._in_flight[pile_no] or not self.world.link_is_clean(pile_no):
            return False
        pile: PileEndpoint = self.world.piles[pile_no]
        core = self.platform
        quiet = [
            number
            for number, (status, plugged) in pile.speed.quiet_guns(now).items()
            if core.speed.realtime_is_noop(pile_no, number, status, plugged)
        ]
        pile_idle = pile.speed.idle_until(now, quiet)
        if pile_idle - now < MIN_ELISION_S:
            return False
        # the core's idle_until covers its timers except heartbeat liveness
        until = min(pile_idle, core.speed.idle_until(now))
        # the next action aimed at this pile (an action touches only its own pile)
        times, i = self._step_times[pile_no], self._step_index[pile_no]
        while i < len(times) and times[i] <= now:
            i += 1
        self._step_index[pile_no] = i
        if i < len(times) and times[i] < until:
            until = times[i]
        link = self.world.links[pile_no]
        change = link.next_change(now)
        if change is not None and change - link.up.latency_s - _MARGIN_S < until:
            until = change - link.up.latency_s - _MARGIN_S  # each skipped frame arrives
        if until - now < MIN_ELISION_S or not link.is_up(now):
            return False
        count = pile.speed.elide_idle(now, until, quiet, idle_until=pile_idle)
        if count:
            # liveness as the last skipped heartbeat would have given it (on arrival)
            arrived = pile.speed.last_elided_at + link.up.latency_s
            core.speed.note_elided_heartbeats(pile_no, count, arrived)
            self.elided_heartbeats += count
        self._arm(pile_no, pile.speed.timer_after_elision(pile_idle, quiet), self._pile_timer)
        return True

    def _connect(self, pile_no: str) -> None:
        pile: PileEndpoint = self.world.piles[pile_no]
        now = self.env.now
        if not self.world.links[pile_no].is_up(now):
            pile.connection_failed(now)
        else:
            conn = _Conn(self._next_conn, pile_no)
            self._next_conn += 1
            self._conns[pile_no] = conn
            self._by_id[conn.id] = conn
            self.platform.connection_made(conn.id, now, peer=pile_no)
            pile.connection_made(now)
            self._record(Event(now, "connected", pile_no, data={"conn": conn.id}))
        self.pump_pile(pile_no)

    def _close(self, conn: _Conn) -> None:
        if not conn.open:
            return
        conn.open = False
        now = self.env.now
        self._conns[conn.pile_no] = None
        pile: PileEndpoint = self.world.piles[conn.pile_no]
        pile.connection_lost(now)
        # heartbeats on paper still in flight die with the link, like real ones
        self._retire_plan(conn.pile_no, now)
        self._plans[conn.pile_no] = pile.speed.heartbeat_plan
        self._arm(conn.pile_no, pile.get_timer(), self._pile_timer)  # its reconnect time
        self._record(Event(now, "disconnected", conn.pile_no, data={"conn": conn.id}))
        link = self.world.links[conn.pile_no]
        # The platform learns of the close when a FIN/RST can reach it.
        when = now if link.is_up(now) else (link.next_change(now) or now)
        self.call_at(when, DELIVERY, self._platform_lost, conn)

    def _platform_lost(self, conn: _Conn) -> None:
        self.platform.connection_lost(conn.id, self.env.now)
        self.pump_platform()

    def _to_pile(self, conn: _Conn, chunk: bytes) -> None:
        self._in_flight[conn.pile_no] -= 1
        if not conn.open:
            return
        self.world.piles[conn.pile_no].receive_data(chunk, self.env.now)
        self.pump_pile(conn.pile_no)

    # -- platform --------------------------------------------------------------------------
    def _to_platform(
        self, conn: _Conn, take: Callable[[int, Any, float], None], arrived: bytes | Frame
    ) -> None:
        """Bytes (``take``: the platform's ``receive_data``) or a 0x13 carried on paper
        (its ``speed.take_frame``) arrive on ``conn``."""
        self._in_flight[conn.pile_no] -= 1
        if not conn.open:
            return
        take(conn.id, arrived, self.env.now)
        self.pump_platform()

    def pump_platform(self) -> None:
        core = self.platform
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
                    self.call_at(t, DELIVERY, self._to_pile, conn, chunk)
            if core.should_close(conn.id):
                self._close(conn)
        self._drain(core)
        self._arm("platform", core.get_timer(), self._platform_timer)

    def _platform_timer(self, key: str, t: float) -> None:
        if not self._take(key, t):
            return
        self.platform.handle_timer(self.env.now)
        self.pump_platform()

    # -- events ----------------------------------------------------------------------------
    def _drain(self, endpoint: Endpoint | ServerEndpoint) -> None:
        while (event := endpoint.next_event()) is not None:
            self._record(event)

    def _record(self, event: Event) -> None:
        self.events.append(event)
