"""Sans-IO pile firmware: the pile side of YKC (protocol-ykc §3) with profile quirks.

``PileFirmware`` is an Endpoint (design.md): bytes, stimuli and ``now`` go in; bytes,
events and the next deadline come out. It reads and commands its plant pile the way real
firmware reads hardware, writes wall times from its own :class:`PileClock`, and draws
all randomness from the injected rng — same inputs, same bytes.

Choices this model makes where the protocol leaves room (documented for the drivers):

* **Heartbeat** per pile, round-robin over the guns: one 0x03 every ``heartbeat_s`` for
  gun 1, 2, 1, ... (as S6's SDK does). At the tick after ``heartbeat_misses`` unanswered
  heartbeats, ``close_requested`` turns true; the driver drops the link and calls
  ``connection_lost``. Drivers must drain ``data_to_send()`` before acting on it (a
  0x91 reboot reply is queued just before a reboot drops the link).
* **Heartbeats on paper** (for the virtual driver): after :meth:`assume_heartbeats` the
  pile counts its heartbeats (sequence number, gun round-robin) without sending them, as
  if each was answered, until the link drops, the emergency stop is pressed or the plan
  ends where the driver said the link changes (``simrig/heartbeat_plan.py``).
* **Login** on every ``connection_made``; after 0x02 OK the pile uploads stored bills
  first, then stored realtime frames, then 0x05 and a 0x13 per gun. Reconnect backoff:
  ``timings.reconnect_s`` low, doubling per failed attempt up to high, ±20 % rng jitter.
* **No model, no charging**: starts are refused until a 0x0A/0x58 model is held (0x33
  fail 0x03 "equipment fault"; a card scan sends no 0x31 and emits ``start_refused``).
* **Disabled by 0x52**: same as no model: 0x33 fail 0x03, no 0x31. Running sessions go on.
* **Card start** needs the gun plugged first (else ``start_refused``); the same card
  scanned again stops the session (manual stop 0x45).
* **Remote start 0x34** with no gun plugged: 0x33 fail 0x05; a plug within
  ``remote_start_plug_s`` sends a second 0x33 success (same seq) and starts.
* **Balance**: only with ``timings.pile_balance_stop`` does a session with a balance > 0
  (0x32/0x34/0x42) stop by itself at 0x6E when the amount reaches it (checked at each
  realtime tick; balance 0 means "not given"). Otherwise the pile charges on and the
  platform stops on balance from the realtime data (zpd_case#12).
* **Bill timing**: the 0x3B is due ``bill_delay_s`` after the session ends, or, with
  ``timings.bill_at_unplug``, when the gun is reported unplugged (its ``trade_time`` is
  then the unplug time: the YKC service end). A bill waiting for the unplug is *held*;
  it is released when the gun reads unplugged, is plugged again, or gets a new order. A
  session ended by pulling the gun gets its bill at once (§13.3 #5).
* **Link loss while charging**: the session is stopped after ``offline_stop_s`` with
  reason 0x90 (Sinexcel 45 "backend communication lost") unless the profile has
  ``charge_through_outage``. Realtime frames made offline are stored (bounded) when
  ``offline_realtime`` is set.
* **Reboot / power cut**: a running session ends (0x4A reboot, 0x83 power loss); its
  bill is kept in non-volatile storage and uploaded after the next login (unless
  ``reboot_plugged_loses_bill``). The billing model and the clock survive; the rest is RAM.
* **Remote upgrade 0x94**: ``path`` names the target profile (``sinexcel-dc@2090404``);
  same vendor-model family required, else 0x93 status 0x02. Profiles with
  ``remote_upgrade = false`` answer 0x93 status 0x02 (program does not match). Accepted:
  0x93 success at once, download for ``upgrade_download_s``, then (immediately or when
  idle, per the frame) reboot into the new profile (``upgraded`` event).

The parts, each in its own module and given its collaborators explicitly (none holds
the pile): :class:`~.wire.Wire` (outbox), :class:`~.link_session.LinkSession` (power,
login, heartbeats, billing model, back-off), :class:`~.sessions.SessionMachine` (phases
of :mod:`.phases`), :class:`~.bills.BillStore` (the only owner of bill state),
:class:`~.realtime.Telemetry` (0x13 and BMS frames), :class:`~.orders.Orders` (card,
app, cable), :class:`~.maintenance.Maintenance` (0x52, 0x56, 0x94),
:class:`~.hooks.QuirkHooks` (where quirks act), :class:`~.deadlines.Scheduler` (now and
the next deadline) and :class:`~.speed.PileSpeed` (the virtual driver's seam).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simrig.endpoint import Event
from simrig.protocol.ykc import (
    Confirm,
    Execution,
    Frame,
    Framer,
    LoginReply,
    Message,
    StopReason,
    TransactionSource,
)
from simrig.protocol.ykc import Reboot as RebootCommand
from simrig.protocol.ykc import RebootReply as RebootCommandReply
from simrig.stimuli import (
    BmsStop,
    CardScan,
    ChargingFault,
    EmergencyStop,
    LocalReboot,
    Plug,
    PowerCut,
    PowerRestore,
    StopButton,
    Unplug,
)

from .bills import BillStore
from .clock import PileClock
from .deadlines import Scheduler
from .hooks import QuirkHooks
from .image import Image
from .link_session import Heartbeats, LinkSession
from .maintenance import Maintenance
from .orders import Orders
from .phases import BillState, Phase
from .profile import FirmwareProfile, load_profile
from .realtime import Telemetry
from .records import DeviceSession, GunRecord
from .routing import Handler, Router, on
from .sessions import SessionMachine
from .speed import PileSpeed
from .wire import Wire

if TYPE_CHECKING:
    import random
    from collections.abc import Callable, Sequence
    from datetime import datetime
    from pathlib import Path

    from simrig.domain import Tariff
    from simrig.plant import PhysicalPile
    from simrig.stimuli import Stimulus

__all__ = ["DeviceSession", "PileFirmware"]

_INF = float("inf")
_CHARGING = Phase.CHARGING
_BILL_VIEW = {BillState.ACKED: "acked", BillState.DROPPED: "dropped"}


class PileFirmware(Router):
    """One pile's firmware (sans-IO): a composition of parts (see the module docstring
    for the contract). The pile itself only routes frames and stimuli to its parts and
    runs what spans them: the poll loop, login, link loss and reboot."""

    def __init__(
        self,
        pile_no: str,
        profile: FirmwareProfile,
        plant_pile: PhysicalPile,
        rng: random.Random,
        epoch: datetime,
        *,
        clock_offset_s: float = 0.0,
        clock_drift_ppm: float = 0.0,
        profile_dirs: Sequence[Path | str] = (),
        resolve_profile: Callable[[str], FirmwareProfile] | None = None,
    ) -> None:
        if len(pile_no) != 14 or not pile_no.isdigit():
            raise ValueError(f"pile_no must be 14 digits, got {pile_no!r}")
        if plant_pile.spec.kind != profile.kind:
            raise ValueError(
                f"profile {profile.name} is {profile.kind} but plant pile is {plant_pile.spec.kind}"
            )
        self.pile_no = pile_no
        self._plant = plant_pile
        self._clock = clock = PileClock(epoch, clock_offset_s, clock_drift_ppm)
        dirs = tuple(profile_dirs)
        resolve = resolve_profile or (lambda name: load_profile(name, extra_dirs=dirs))
        self._guns = guns = [GunRecord(g.number, g) for g in plant_pile.guns]
        self._framer = Framer(tolerant=True)
        # the parts, each given its collaborators
        self._wire = wire = Wire(pile_no)
        self._image = image = Image(profile)
        self._hooks = hooks = QuirkHooks(profile, rng, wire)
        self._hb = hb = Heartbeats()
        self._link = link = LinkSession(wire, image, plant_pile, rng, hb)
        self._bills = bills = BillStore(wire, image, hooks, link, clock, guns, rng)
        self._sessions = sessions = SessionMachine(
            wire, image, plant_pile, clock, hooks, link, bills
        )
        self._telemetry = telemetry = Telemetry(
            wire, image, plant_pile, hooks, link, sessions, guns
        )
        self._orders = Orders(wire, image, hooks, link, sessions, telemetry, bills, guns)
        self._maintenance = maint = Maintenance(
            wire, image, plant_pile, clock, sessions, guns, rng, resolve
        )
        self._sched = sched = Scheduler(wire, plant_pile, link, hb, hooks, bills, maint, guns)
        self._speed = PileSpeed(wire, image, plant_pile, link, hb, sched, maint, guns)
        self._handlers: dict[type[Message], Handler] = {}
        for part in (self, link, bills, self._orders, maint):
            for kind, handler in part.handlers().items():
                assert kind not in self._handlers, kind
                self._handlers[kind] = handler

    # ------------------------------------------------------------------ properties
    @property
    def firmware(self) -> FirmwareProfile:
        """The running firmware profile (changes after a remote upgrade + reboot)."""
        return self._image.profile

    @property
    def clock(self) -> PileClock:
        return self._clock

    @property
    def tariff(self) -> Tariff | None:
        """The billing model the pile holds (None before the first 0x0A)."""
        return self._link.tariff

    @property
    def emit_frame_events(self) -> bool:
        """frame_sent / frame_received events (off for long runs: the capture has the bytes)."""
        return self._wire.emit_frame_events

    @emit_frame_events.setter
    def emit_frame_events(self, value: bool) -> None:
        self._wire.emit_frame_events = value

    @property
    def telemetry_on_paper(self) -> bool:
        """0x23 / 0x25 counted (sequence numbers taken) instead of sent: they get no reply
        and no platform check reads them, so only a run that keeps no frames (a fleet
        shard) may set it; every 0x23 / 0x25 goes with a 0x13 at the same instant, which
        keeps the platform's liveness the same."""
        return self._wire.telemetry_on_paper

    @telemetry_on_paper.setter
    def telemetry_on_paper(self, value: bool) -> None:
        self._wire.telemetry_on_paper = value

    @property
    def paper_frames(self) -> int:
        """Frames counted as sent on paper (:attr:`telemetry_on_paper`)."""
        return self._wire.paper_frames

    @property
    def wants_connection(self) -> bool:
        """Powered, booted, not connected and the reconnect backoff has elapsed."""
        return self._link.wants_connection(self._sched.now)

    @property
    def close_requested(self) -> bool:
        """The pile wants the link dropped (missed heartbeats, login timeout, reboot)."""
        return self._link.close_requested

    @property
    def connected(self) -> bool:
        return self._wire.connected

    @property
    def logged_in(self) -> bool:
        return self._link.logged_in

    @property
    def speed(self) -> PileSpeed:
        """The virtual driver's seam (:class:`simrig.speed_seam.PileSpeedHooks`)."""
        return self._speed

    # ------------------------------------------------------------------ endpoint API
    def connection_made(self, now: float) -> None:
        self._speed.enter(now)
        if not self._link.open(now):
            return
        self._framer = Framer(tolerant=True)
        self._poll(now)

    def connection_lost(self, now: float) -> None:
        self._speed.enter(now)
        link = self._link
        link.close_requested = False
        if not self._wire.connected:
            return
        self._drop_link(now)
        link.retry_later(now)
        self._poll(now)

    def connection_failed(self, now: float) -> None:
        self._speed.enter(now)
        self._link.failed(now)

    def receive_data(self, data: bytes, now: float) -> None:
        self._speed.enter(now)
        wire = self._wire
        if not wire.connected:
            return
        self._speed.settle_due_by(now)  # one due now was timed before this delivery
        handlers = self._handlers
        for item in self._framer.feed(data):
            if isinstance(item, Frame):
                msg = item.message
                if wire.emit_frame_events:
                    wire.event(
                        now,
                        "frame_received",
                        getattr(msg, "gun", None),
                        {"type": msg.TYPE, "name": msg.NAME, "hex": item.raw.hex()},
                    )
                handler = handlers.get(type(msg))
                if handler is None:
                    wire.event(now, "frame_ignored", None, {"name": msg.NAME})
                else:
                    handler(msg, item.seq, now)
            else:
                wire.event(now, "frame_error", None, {"error": str(item), "hex": item.raw.hex()})
            if not wire.connected:
                break
        self._poll(now)

    def data_to_send(self) -> bytes:
        return self._wire.drain()

    def next_event(self) -> Event | None:
        events = self._wire.events
        return events.popleft() if events else None

    def handle_timer(self, now: float) -> None:
        self._speed.enter(now)
        self._poll(now)

    def get_timer(self) -> float | None:
        t = self._sched.next_deadline(include_heartbeat=True)
        return None if t == _INF else t

    def handle_stimulus(self, stimulus: Stimulus, now: float) -> None:
        """Apply ``stimulus`` to the plant (the physical world), then react as firmware."""
        self._speed.enter(now)
        pile = self._plant
        link = self._link
        if isinstance(stimulus, Plug):
            g = self._gun(stimulus.gun)
            g.plant.plug(now, stimulus.vehicle)
            self._orders.plugged(g, now)
        elif isinstance(stimulus, Unplug):
            g = self._gun(stimulus.gun)
            g.plant.unplug(now)
            self._orders.unplugged(g, now)
        elif isinstance(stimulus, CardScan):
            if link.alive():
                self._orders.card_at_reader(self._gun(stimulus.gun), stimulus.card, now)
        elif isinstance(stimulus, StopButton):
            g = self._gun(stimulus.gun)
            if link.alive() and g.session is not None:
                self._sessions.stop(g, now, StopReason.MANUAL_STOP, pile_side=True)
        elif isinstance(stimulus, ChargingFault):
            g = self._gun(stimulus.gun)
            if g.session is not None and g.session.phase is _CHARGING:
                self._sessions.stop(g, now, StopReason.ABORT_OUTPUT_ABNORMAL, pile_side=True)
        elif isinstance(stimulus, BmsStop):
            g = self._gun(stimulus.gun)
            g.plant.bms_stop(now)  # the poll below sees current end with the BMS stop
        elif isinstance(stimulus, EmergencyStop):
            if stimulus.pressed:
                pile.press_emergency_stop(now)
                self._speed.end_plan()  # heartbeats now carry the fault
                if link.alive():
                    for g in self._guns:
                        if g.session is not None:
                            if g.session.phase is _CHARGING:
                                self._sessions.stop(g, now, StopReason.ABORT_EMERGENCY_STOP, True)
                            else:
                                self._sessions.start_failed(g, now, StopReason.START_EMERGENCY_STOP)
            else:
                pile.release_emergency_stop(now)
        elif isinstance(stimulus, PowerCut):
            pile.power_cut(now)
            if link.powered:
                self._reboot(now, "power_cut")
                link.powered = False
                link.boot_until = None
        elif isinstance(stimulus, PowerRestore):
            pile.power_restore(now)
            if not link.powered:
                link.powered = True
                link.boot_until = now + self._image.timings.boot_s
        elif isinstance(stimulus, LocalReboot):
            if link.powered:
                self._reboot(now, "local")
        else:  # pragma: no cover - exhaustive
            raise TypeError(f"unknown stimulus {stimulus!r}")
        self._poll(now)

    def device_sessions(self) -> list[DeviceSession]:
        """Every session the pile knew (device view), in start order. The bill state is
        a view of the bill store's: open (no bill yet), pending, acked or dropped."""
        out = []
        for s in self._sessions.sessions:
            bill = s.bill
            out.append(
                DeviceSession(
                    serial=s.serial,
                    gun=s.gun,
                    source="app" if s.source is TransactionSource.APP else "card",
                    card=s.card,
                    vin=s.vin,
                    authorised_at=s.auth_wall,
                    start_time=s.charge_start_wall,
                    stop_time=s.end_wall,
                    stop_reason=None if s.stop_reason is None else int(s.stop_reason),
                    energy_kwh=None if bill is None or bill.msg is None else bill.msg.total_energy,
                    meter_start_kwh=s.meter_start / 10_000,
                    meter_end_kwh=None if s.meter_end is None else s.meter_end / 10_000,
                    bill_state="open" if bill is None else _BILL_VIEW.get(bill.state, "pending"),
                    bill_why="" if bill is None else bill.why,
                    stops_received=s.stops,
                    quirks=tuple(s.quirks),
                )
            )
        return out

    # ------------------------------------------------------------------ the poll loop
    def _poll(self, now: float) -> None:
        self._sched.plant_unseen = _INF  # this poll reads the plant as it is now
        link = self._link
        if not link.powered:
            return
        if link.boot_until is not None:
            if now < link.boot_until:
                return
            link.booted(now)
        if self._wire.connected and not link.logged_in and now >= link.login_deadline:
            link.login_timed_out(now)
        if link.logged_in:
            self._speed.settle_due_by(now)
            link.tick_heartbeat(now)
            if link.model_state != "ok" and now >= link.model_retry_at:
                link.request_model(now, again=True)
        orders, sessions, telemetry = self._orders, self._sessions, self._telemetry
        for g in self._guns:
            orders.tick(g, now)
            sessions.tick(g, now)
            if now >= g.next_rt:
                telemetry.send_realtime(g, now)
            if now >= g.next_bms:
                telemetry.tick_bms(g, now)
        self._bills.tick(now)
        if link.alive():
            telemetry.report_changes(now)
        maint = self._maintenance
        up = maint.upgrade
        if (
            up is not None
            and now >= up.ready_at
            and (up.execution == Execution.IMMEDIATELY or self._idle())
        ):
            maint.upgrade = None
            self._reboot(now, "upgrade", into=up.target)
        if maint.reboot_pending and self._idle():
            maint.reboot_pending = False
            self._reboot(now, "remote")

    def _idle(self) -> bool:
        return all(g.session is None and g.pending_remote is None for g in self._guns)

    def _gun(self, number: int) -> GunRecord:
        if not 1 <= number <= len(self._guns):
            raise ValueError(f"pile {self.pile_no} has no gun {number}")
        return self._guns[number - 1]

    # ------------------------------------------------------------------ across the parts
    @on(LoginReply)
    def _on_login_reply(self, msg: LoginReply, seq: int, now: float) -> None:
        """0x02 login reply (§4.2): then stored bills, stored realtime frames, 0x05 and a
        0x13 per gun (§3 item 1)."""
        if not self._link.login_replied(msg, now):
            return
        self._bills.upload_stored(now)
        self._telemetry.flush_store(now)
        self._link.request_model(now, again=False)
        for g in self._guns:
            self._telemetry.send_realtime(g, now)

    @on(RebootCommand)
    def _on_reboot(self, msg: RebootCommand, seq: int, now: float) -> None:
        """0x92 remote reboot → 0x91 (§4.15): now, or when idle."""
        self._wire.send(RebootCommandReply(pile_no=self.pile_no, result=Confirm.OK), now, seq)
        if msg.execution == Execution.WHEN_IDLE and not self._idle():
            self._maintenance.reboot_pending = True
        else:
            self._reboot(now, "remote")

    def _drop_link(self, now: float) -> None:
        self._speed.end_plan()
        self._link.drop(now)
        self._bills.link_down()
        for g in self._guns:
            g.card_pending = None
        self._wire.event(now, "link_down", None, {})

    def _reboot(self, now: float, cause: str, into: FirmwareProfile | None = None) -> None:
        """RAM is lost; sessions end; bills survive unless the ``reboot_plugged`` hook."""
        reason = StopReason.ABORT_POWER_LOSS if cause == "power_cut" else StopReason.UNKNOWN
        sessions = self._sessions
        for g in self._guns:
            plugged = g.plant.plugged(now)
            if g.session is not None:
                if g.session.phase is _CHARGING:
                    sessions.stop(g, now, reason, pile_side=True, notify=False)
                else:
                    fail = StopReason.START_CONTROL_FAULT
                    sessions.stop(g, now, fail, pile_side=True, notify=False)
            if plugged:
                self._hooks.reboot_plugged(g, self._bills, now)
            g.pending_remote = None
            g.card_pending = None
            g.last_reported = None
            g.next_rt = g.next_bms = g.next_boundary = _INF
        self._bills.rebooted()
        self._telemetry.store.clear()
        self._maintenance.reboot_pending = False
        self._maintenance.upgrade = None
        link = self._link
        if self._wire.connected:
            link.close_requested = True
            self._drop_link(now)
        link.offline_since = now
        link.boot_until = now + self._image.timings.boot_s
        old = self._image.profile.name
        if into is not None:
            self._image.install(into)
            self._hooks.install(into)
            self._wire.event(now, "upgraded", None, {"from": old, "to": into.name})
        self._wire.event(
            now, "reboot", None, {"cause": cause, "firmware": into.name if into else old}
        )
