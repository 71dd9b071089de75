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
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from simrig.billing.tariff import (
    Band,
    BandRate,
    RunningBill,
    Tariff,
    rate_from_yuan,
)
from simrig.endpoint import Event
from simrig.heartbeat_plan import HeartbeatPlan
from simrig.plant import HandshakeStatus
from simrig.protocol.ykc import (
    BalanceUpdate,
    BalanceUpdateReply,
    BalanceUpdateResult,
    BmsInfo,
    BmsStop,
    CardAuthReply,
    CardStart,
    ChargeEnd,
    ChargerStop,
    Confirm,
    DemandOutput,
    Execution,
    Frame,
    Framer,
    GunHealth,
    GunStatus,
    Handshake,
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
    ParameterConfig,
    PileType,
    ReadRealtime,
    RealtimeData,
    RecordAck,
    RemoteStart,
    RemoteStartFailure,
    RemoteStartReply,
    RemoteStop,
    RemoteStopFailure,
    RemoteStopReply,
    SetModel,
    SetModelReply,
    StartMode,
    StopReason,
    TimeSync,
    TimeSyncReply,
    TransactionRecord,
    TransactionSource,
    TriState,
    Upgrade,
    UpgradeReply,
    UpgradeResult,
    WorkParams,
    WorkParamsReply,
    WorkState,
    encode_frame,
)
from simrig.protocol.ykc import Reboot as RebootCommand
from simrig.protocol.ykc import RebootReply as RebootCommandReply
from simrig.stimuli import (
    CardScan,
    EmergencyStop,
    Plug,
    PowerCut,
    PowerRestore,
    Reboot,
    StopButton,
    Unplug,
)

from .clock import PileClock
from .profile import FirmwareProfile, ProfileError, load_profile
from .quirks import QuirkSet
from .records import (
    BillRecord,
    DeviceSession,
    GunRecord,
    PendingRemote,
    PendingUpgrade,
    Reading,
    SessionRecord,
)
from .wire_rounding import meter_units, steady

if TYPE_CHECKING:
    import random
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from simrig.plant import Pile
    from simrig.stimuli import Stimulus

__all__ = ["DeviceSession", "PileFirmware"]

_ZERO_SERIAL = "0" * 32
_ZERO_CARD = "0" * 16
_INF = math.inf


_GUN_STATUS = {int(status): status for status in GunStatus}

_HANDSHAKE_FAILURES = {
    "bhm_timeout": StopReason.START_BHM_TIMEOUT,
    "brm_timeout": StopReason.START_BRM_TIMEOUT,
    "bcp_timeout": StopReason.START_BCP_TIMEOUT,
    "bro_timeout": StopReason.START_BRO_TIMEOUT,
    "insulation": StopReason.START_INSULATION,
    "bms_not_ready": StopReason.START_BMS_NOT_READY,
}
_AUTH_TIMEOUT_S = 30.0


class PileFirmware:
    """One pile's firmware (sans-IO). See the module docstring for the contract."""

    def __init__(
        self,
        pile_no: str,
        profile: FirmwareProfile,
        plant_pile: Pile,
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
        self._profile = profile
        self._q = QuirkSet(profile.quirks)
        self._plant = plant_pile
        self._rng = rng
        self._clock = PileClock(epoch, clock_offset_s, clock_drift_ppm)
        dirs = tuple(profile_dirs)
        self._resolve = resolve_profile or (lambda name: load_profile(name, extra_dirs=dirs))
        self._guns = [GunRecord(g.number, g) for g in plant_pile.guns]
        self._now = 0.0
        self._out = bytearray()
        self._events: deque[Event] = deque()
        #: frame_sent / frame_received events (off for long runs: the capture has the bytes)
        self.emit_frame_events = True
        #: earliest plant change applied by an advance but not yet seen by a poll
        self._plant_unseen = _INF
        #: send time of the last frame :meth:`elide_idle` skipped
        self.last_elided_at = 0.0
        self._hb_base, self._hb_k = _INF, 0
        #: heartbeats sent on paper (see :meth:`assume_heartbeats`): those due before
        #: ``_hb_virtual_until`` (``-inf``: none); the plan the driver hands the platform
        self._hb_virtual_until = -_INF
        self.heartbeat_plan: HeartbeatPlan | None = None
        #: heartbeats counted as sent and answered under a plan
        self.virtual_heartbeats = 0
        self._framer = Framer(tolerant=True)
        self._seq = 0
        # power / link
        self._powered = True
        self._boot_until: float | None = None
        self._connected = False
        self._logged_in = False
        self._login_deadline = _INF
        self._close_requested = False
        self._backoff = profile.timings.reconnect_s[0]
        self._reconnect_at = 0.0
        self._offline_since: float | None = 0.0
        # protocol state
        self._next_hb = _INF
        self._hb_unanswered = 0
        self._hb_index = 0
        self._tariff: Tariff | None = None
        self._model_state: str | None = None
        self._model_retry_at = _INF
        self._enabled = True
        self._reboot_pending = False
        self._upgrade: PendingUpgrade | None = None
        self._bills: list[BillRecord] = []
        self._rt_store: deque[RealtimeData] = deque()
        self._sessions: list[SessionRecord] = []

    # ------------------------------------------------------------------ properties
    @property
    def firmware(self) -> FirmwareProfile:
        """The running firmware profile (changes after a remote upgrade + reboot)."""
        return self._profile

    @property
    def clock(self) -> PileClock:
        return self._clock

    @property
    def tariff(self) -> Tariff | None:
        """The billing model the pile holds (None before the first 0x0A)."""
        return self._tariff

    @property
    def wants_connection(self) -> bool:
        """Powered, booted, not connected and the reconnect backoff has elapsed."""
        return (
            self._powered
            and self._boot_until is None
            and not self._connected
            and not self._close_requested
            and self._now >= self._reconnect_at
        )

    @property
    def close_requested(self) -> bool:
        """The pile wants the link dropped (missed heartbeats, login timeout, reboot)."""
        return self._close_requested

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def logged_in(self) -> bool:
        return self._logged_in

    # ------------------------------------------------------------------ endpoint API
    def connection_made(self, now: float) -> None:
        self._enter(now)
        if not self._powered or self._boot_until is not None:
            return
        self._connected = True
        self._close_requested = False
        self._logged_in = False
        self._framer = Framer(tolerant=True)
        p = self._profile
        self._send(
            Login(
                pile_no=self.pile_no,
                pile_type=PileType.DC if p.kind == "DC" else PileType.AC,
                gun_count=p.guns,
                protocol_version=p.protocol_version,
                firmware_version=p.firmware_string,
            ),
            now,
        )
        self._login_deadline = now + p.timings.login_timeout_s
        self._poll(now)

    def connection_lost(self, now: float) -> None:
        self._enter(now)
        self._close_requested = False
        if not self._connected:
            return
        self._drop_link(now)
        self._reconnect_at = now + self._backoff_delay()
        self._poll(now)

    def connection_failed(self, now: float) -> None:
        self._enter(now)
        self._reconnect_at = now + self._backoff_delay()
        self._backoff = min(self._backoff * 2.0, self._profile.timings.reconnect_s[1])

    def receive_data(self, data: bytes, now: float) -> None:
        self._enter(now)
        if not self._connected:
            return
        self._settle_heartbeats_due_by(now)  # one due now was timed before this delivery
        for item in self._framer.feed(data):
            if isinstance(item, Frame):
                msg = item.message
                if self.emit_frame_events:
                    self._event(
                        now,
                        "frame_received",
                        getattr(msg, "gun", None),
                        {"type": msg.TYPE, "name": msg.NAME, "hex": item.raw.hex()},
                    )
                handler = _HANDLERS.get(type(msg))
                if handler is None:
                    self._event(now, "frame_ignored", None, {"name": msg.NAME})
                else:
                    handler(self, msg, item.seq, now)
            else:
                self._event(now, "frame_error", None, {"error": str(item), "hex": item.raw.hex()})
            if not self._connected:
                break
        self._poll(now)

    def data_to_send(self) -> bytes:
        data = bytes(self._out)
        self._out.clear()
        return data

    def next_event(self) -> Event | None:
        return self._events.popleft() if self._events else None

    def handle_timer(self, now: float) -> None:
        self._enter(now)
        self._poll(now)

    def get_timer(self) -> float | None:
        t = self._next_deadline(include_heartbeat=True)
        return None if t == _INF else t

    def handle_stimulus(self, stimulus: Stimulus, now: float) -> None:
        """Apply ``stimulus`` to the plant (the physical world), then react as firmware."""
        self._enter(now)
        pile = self._plant
        if isinstance(stimulus, Plug):
            g = self._gun(stimulus.gun)
            g.plant.plug(now, stimulus.vehicle)
            self._on_plug(g, now)
        elif isinstance(stimulus, Unplug):
            g = self._gun(stimulus.gun)
            g.plant.unplug(now)
            self._on_unplug(g, now)
        elif isinstance(stimulus, CardScan):
            if self._alive():
                self._on_card_scan(self._gun(stimulus.gun), stimulus.card, now)
        elif isinstance(stimulus, StopButton):
            g = self._gun(stimulus.gun)
            if self._alive() and g.session is not None:
                self._stop(g, now, StopReason.MANUAL_STOP, pile_side=True)
        elif isinstance(stimulus, EmergencyStop):
            if stimulus.pressed:
                pile.press_emergency_stop(now)
                self._end_heartbeat_plan()  # heartbeats now carry the fault
                if self._alive():
                    for g in self._guns:
                        if g.session is not None:
                            if g.session.phase == "charging":
                                self._stop(g, now, StopReason.ABORT_EMERGENCY_STOP, True)
                            else:
                                self._start_failed(g, now, StopReason.START_EMERGENCY_STOP)
            else:
                pile.release_emergency_stop(now)
        elif isinstance(stimulus, PowerCut):
            pile.power_cut(now)
            if self._powered:
                self._reboot(now, "power_cut")
                self._powered = False
                self._boot_until = None
        elif isinstance(stimulus, PowerRestore):
            pile.power_restore(now)
            if not self._powered:
                self._powered = True
                self._boot_until = now + self._profile.timings.boot_s
        elif isinstance(stimulus, Reboot):
            if self._powered:
                self._reboot(now, "local")
        else:  # pragma: no cover - exhaustive
            raise TypeError(f"unknown stimulus {stimulus!r}")
        self._poll(now)

    def device_sessions(self) -> list[DeviceSession]:
        """Every session the pile knew (device view), in start order."""
        out = []
        for s in self._sessions:
            state = {"open": "open", "acked": "acked", "dropped": "dropped"}.get(
                s.bill_state, "pending"
            )
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
                    energy_kwh=s.bill_energy,
                    meter_start_kwh=s.meter_start / 10_000,
                    meter_end_kwh=None if s.meter_end is None else s.meter_end / 10_000,
                    bill_state=state,
                    bill_why=s.bill_why,
                    stops_received=s.stops,
                    quirks=tuple(s.quirks),
                )
            )
        return out

    # ------------------------------------------------------------------ idle elision
    @property
    def speed(self) -> PileFirmware:
        """The virtual driver's seam (:class:`simrig.speed_seam.PileSpeedHooks`)."""
        return self

    def heartbeat_due(self, now: float) -> bool:
        """A heartbeat, or a gun's idle 0x13, is due by ``now``: the only frames the
        driver may elide, so a timer firing for anything else need not try."""
        if self.real_heartbeat_due(now):
            return True
        return any(g.session is None and g.next_rt <= now for g in self._guns)

    def real_heartbeat_due(self, now: float) -> bool:
        """A heartbeat not covered by a plan is due by ``now``."""
        return self._logged_in and self._next_real_heartbeat() <= now

    def quiet_guns(self, now: float) -> dict[int, tuple[int, bool]]:
        """Guns whose next idle 0x13 would repeat the last one sent: no order, idle, same
        plug state. Gun → (status, plugged); the driver may elide their idle 0x13 too if
        the platform confirms such a frame changes nothing there."""
        self._enter(now)
        self._note_unseen_plant_change(now)  # the readings below advance the plant
        out: dict[int, tuple[int, bool]] = {}
        for g in self._guns:
            if g.session is not None or g.pending_remote or g.card_pending:
                continue
            key = self._state_key(g, now)
            if key == g.last_reported and key[0] == int(GunStatus.IDLE):
                out[g.number] = key
        return out

    def _note_unseen_plant_change(self, now: float) -> None:
        """Remember a plant change due by ``now`` before a reading applies it: a poll
        must still see it (handshake done, BMS stop), elision or not."""
        pending = self._plant.pending_event_time()
        if pending is not None and pending <= now and pending < self._plant_unseen:
            self._plant_unseen = pending

    def idle_until(self, now: float, quiet: Collection[int] = ()) -> float:
        """Time until which nothing but heartbeats (and the idle 0x13 of the ``quiet``
        guns) would happen; ``now`` if not idle."""
        self._enter(now)
        if not (self._connected and self._logged_in and self._model_state == "ok"):
            return now
        if self._close_requested or self._hb_unanswered or self._out:
            return now
        if self._reboot_pending or self._upgrade is not None:
            return now
        for g in self._guns:
            # a running session is fine: its realtime, BMS and phase times are deadlines
            if g.pending_remote or g.card_pending:
                return now
        due = self._plant.pending_event_time()
        if self._plant_unseen <= now or (due is not None and due <= now):
            return now  # a plant change (handshake done, BMS stop) no poll has seen yet
        # heartbeats not on paper (see :meth:`assume_heartbeats`) are real frames
        t = self._next_deadline(include_heartbeat=True, quiet=quiet)
        return _INF if t == _INF else max(now, t)

    def elide_idle(
        self,
        now: float,
        until: float,
        quiet: Collection[int] = (),
        *,
        idle_until: float | None = None,
    ) -> int:
        """Advance to ``until`` as if the ``quiet`` guns' idle 0x13 were sent; returns how
        many frames that was. Heartbeats in the window must be on paper (a real one ends
        the idle time), and are counted as sent.

        ``idle_until``: what :meth:`idle_until` just returned for the same ``now`` and
        ``quiet`` (the pile unchanged since), to spare computing it twice."""
        if idle_until is None:
            idle_until = self.idle_until(now, quiet)
        if idle_until < until:
            raise ValueError(f"pile {self.pile_no} is not idle until {until}")
        if self._next_hb < until:
            self._settle_heartbeats(until)  # nothing else happens before ``until``
        count = 0
        idle_s = self._profile.timings.realtime_idle_s
        for number in quiet:
            g = self._gun(number)
            while g.next_rt < until:
                count += 1
                self.last_elided_at = max(self.last_elided_at, g.next_rt)
                self._seq = (self._seq + 1) & 0xFFFF
                g.next_rt += idle_s
        self._now = max(self._now, until)
        return count

    def timer_after_elision(self, idle_until: float, quiet: Collection[int] = ()) -> float | None:
        """:meth:`get_timer` right after :meth:`elide_idle` was given ``idle_until`` and
        ``quiet``: only the heartbeat and the quiet guns' idle 0x13 moved since."""
        t = idle_until
        if self._logged_in:
            t = min(t, self._next_real_heartbeat())
        for number in quiet:
            next_rt = self._gun(number).next_rt
            if next_rt < t:
                t = next_rt
        return None if t == _INF else t

    def assume_heartbeats(
        self, now: float, latency: float, reply_latency: float, change: float = _INF
    ) -> HeartbeatPlan | None:
        """Send heartbeats from now on on paper: the driver vouches that the link (up and
        ``latency``, replies ``reply_latency`` later) stays clean until ``change`` and that
        the platform answers. They count (sequence number, gun round-robin) whenever the
        pile next acts, and stop counting the moment the link drops or the emergency stop
        is pressed. None if this pile's heartbeats are not plain ones now (not logged in,
        one unanswered, emergency stop pressed) or none would be answered in time."""
        self._enter(now)
        if not (
            self._connected
            and self._logged_in
            and not self._close_requested
            and self._hb_unanswered == 0
        ) or self._plant.emergency_stop_pressed(now):
            return None
        plan = HeartbeatPlan.on_link(
            self._hb_base,
            self._profile.timings.heartbeat_s,
            self._hb_k,
            latency,
            reply_latency,
            change,
        )
        if plan.until <= self._next_hb:
            return None
        self._hb_virtual_until = plan.until
        self.heartbeat_plan = plan
        return plan

    def _next_real_heartbeat(self) -> float:
        """When the next heartbeat not on paper is due (a plan ends on a heartbeat)."""
        hb, planned = self._next_hb, self._hb_virtual_until
        return hb if hb >= planned else planned

    def catch_up(self, now: float) -> None:
        """Count the heartbeats sent on paper before ``now`` (at the end of a run; idle
        elision may already have taken the pile further)."""
        if now >= self._now:
            self._enter(now)

    def _settle_heartbeats_due_by(self, now: float) -> None:
        """Count the plan's heartbeats due up to ``now``, the one due at ``now`` included
        (at one instant, a pile's timer runs before bytes arrive)."""
        if self._next_hb <= now and self._next_hb < self._hb_virtual_until:
            self._settle_heartbeats(math.nextafter(now, _INF))

    def _settle_heartbeats(self, before: float) -> None:
        """Count the plan's heartbeats sent before ``before`` as sent and answered."""
        plan = self.heartbeat_plan
        assert plan is not None
        limit = before if before < plan.until else plan.until
        k, base, period = self._hb_k, self._hb_base, plan.period
        if limit - self._next_hb < 8 * period:  # a poll settles one or two: step
            while base + k * period < limit:
                k += 1
            k -= 1
        else:
            k = plan.last_sent_before(limit)
        count = k + 1 - self._hb_k
        if count > 0:
            self._seq = (self._seq + count) & 0xFFFF
            self._hb_index += count
            self._hb_k = k + 1
            self._next_hb = self._hb_base + self._hb_k * plan.period
            self.virtual_heartbeats += count

    def _end_heartbeat_plan(self) -> None:
        """Heartbeats from the next one on are real frames again."""
        if self._hb_virtual_until > -_INF:
            assert self.heartbeat_plan is not None
            self.heartbeat_plan = self.heartbeat_plan.ended_at(self._hb_k)
            self._hb_virtual_until = -_INF

    # ------------------------------------------------------------------ internals: plumbing
    def _enter(self, now: float) -> None:
        if now < self._now:
            raise ValueError(f"pile {self.pile_no}: time went backwards ({now} < {self._now})")
        self._now = now
        if self._next_hb < now and self._next_hb < self._hb_virtual_until:
            self._settle_heartbeats(now)

    def _alive(self) -> bool:
        return self._powered and self._boot_until is None

    def _gun(self, number: int) -> GunRecord:
        if not 1 <= number <= len(self._guns):
            raise ValueError(f"pile {self.pile_no} has no gun {number}")
        return self._guns[number - 1]

    def _event(self, now: float, kind: str, gun: int | None, data: dict[str, Any]) -> None:
        self._events.append(Event(now, kind, self.pile_no, gun, data))

    def _quirk_event(self, now: float, gun: int | None, data: dict[str, Any]) -> None:
        self._event(now, "quirk", gun, data)

    def _send(self, msg: Message, now: float, seq: int | None = None) -> None:
        if not self._connected:
            return
        if seq is None:
            self._seq = (self._seq + 1) & 0xFFFF
            seq = self._seq
        raw = encode_frame(msg, seq)
        self._out += raw
        if self.emit_frame_events:
            self._event(
                now,
                "frame_sent",
                getattr(msg, "gun", None),
                {"type": msg.TYPE, "name": msg.NAME, "hex": raw.hex()},
            )

    def _backoff_delay(self) -> float:
        return self._backoff * self._rng.uniform(0.8, 1.2)

    def _drop_link(self, now: float) -> None:
        self._end_heartbeat_plan()
        self._connected = False
        self._logged_in = False
        self._model_state = None
        self._model_retry_at = _INF
        self._next_hb = _INF
        self._hb_unanswered = 0
        self._login_deadline = _INF
        self._offline_since = now
        for bill in self._bills:
            if bill.state == "sent":
                bill.state, bill.retry_at = "stored", _INF
        for g in self._guns:
            g.card_pending = None
        self._event(now, "link_down", None, {})

    def _meter(self, g: GunRecord, now: float) -> int:
        return meter_units(g.plant.meter_kwh(now))

    def _next_deadline(self, include_heartbeat: bool, quiet: Collection[int] = ()) -> float:
        """Earliest time the pile must act (``_INF``: none); ``quiet`` guns' idle 0x13
        and, without ``include_heartbeat``, heartbeats do not count."""
        if not self._powered:
            return _INF
        if self._boot_until is not None:
            return self._boot_until
        m = _INF
        if not self._connected and not self._close_requested:
            m = self._reconnect_at
        if self._connected and not self._logged_in and self._login_deadline < m:
            m = self._login_deadline
        if self._logged_in:
            if include_heartbeat:
                hb = self._next_real_heartbeat()
                if hb < m:
                    m = hb
            if self._model_state != "ok" and self._model_retry_at < m:
                m = self._model_retry_at
        plant = self._plant
        at = self._now if self._now > plant.now else plant.now
        self._note_unseen_plant_change(at)  # advancing the plant below applies it
        nxt = plant.next_event_time(at)
        if nxt is not None and nxt < m:
            m = nxt
        if self._plant_unseen < m:
            m = self._plant_unseen
        for g in self._guns:
            if g.next_rt < m and g.number not in quiet:
                m = g.next_rt
            if g.next_bms < m:
                m = g.next_bms
            if g.next_boundary < m:
                m = g.next_boundary
            s = g.session
            if s is not None:
                if s.phase_until < m:
                    m = s.phase_until
                if not self._logged_in and self._offline_since is not None:
                    stop_s = self._profile.timings.offline_stop_s
                    if stop_s > 0 and self._q.charge_through_outage is None:
                        m = min(m, self._offline_since + stop_s)
            if g.pending_remote is not None and g.pending_remote.deadline < m:
                m = g.pending_remote.deadline
            if g.card_pending is not None and g.card_pending[1] < m:
                m = g.card_pending[1]
            if g.stale_plug_until is not None and g.stale_plug_until < m:
                m = g.stale_plug_until
        for bill in self._bills:
            if bill.state == "scheduled":
                if bill.due_at < m:
                    m = bill.due_at
            elif bill.state == "sent" and bill.retry_at < m:
                m = bill.retry_at
        if self._upgrade is not None and self._upgrade.ready_at < m:
            m = self._upgrade.ready_at
        return m

    # ------------------------------------------------------------------ the poll loop
    def _poll(self, now: float) -> None:
        self._plant_unseen = _INF  # this poll reads the plant as it is now
        if not self._powered:
            return
        if self._boot_until is not None:
            if now < self._boot_until:
                return
            self._boot_until = None
            self._reconnect_at = now
            self._backoff = self._profile.timings.reconnect_s[0]
            self._event(now, "booted", None, {"firmware": self._profile.name})
        if self._connected and not self._logged_in and now >= self._login_deadline:
            self._close_requested = True
            self._login_deadline = _INF
            self._event(now, "login_timeout", None, {})
        if self._logged_in:
            self._tick_heartbeat(now)
            if self._model_state != "ok" and now >= self._model_retry_at:
                self._request_model(now, again=True)
        for g in self._guns:
            self._tick_gun(g, now)
        self._tick_bills(now)
        self._report_changes(now)
        if self._upgrade is not None and now >= self._upgrade.ready_at:
            up = self._upgrade
            if up.execution == Execution.IMMEDIATELY or self._idle():
                self._upgrade = None
                self._reboot(now, "upgrade", into=up.target)
        if self._reboot_pending and self._idle():
            self._reboot_pending = False
            self._reboot(now, "remote")

    def _idle(self) -> bool:
        return all(g.session is None and g.pending_remote is None for g in self._guns)

    def _tick_heartbeat(self, now: float) -> None:
        t = self._profile.timings
        self._settle_heartbeats_due_by(now)
        while self._logged_in and now >= self._next_hb:
            if self._hb_unanswered >= t.heartbeat_misses:
                self._close_requested = True
                self._next_hb = _INF
                self._event(now, "heartbeat_lost", None, {"missed": self._hb_unanswered})
                return
            gun = self._hb_index % len(self._guns) + 1
            self._hb_index += 1
            estop = self._plant.emergency_stop_pressed(now)
            self._send(
                Heartbeat(
                    pile_no=self.pile_no,
                    gun=gun,
                    gun_state=GunHealth.FAULT if estop else GunHealth.NORMAL,
                ),
                now,
            )
            self._hb_unanswered += 1
            self._hb_k += 1
            self._next_hb = self._hb_base + self._hb_k * t.heartbeat_s

    def _tick_gun(self, g: GunRecord, now: float) -> None:
        t = self._profile.timings
        if g.stale_plug_until is not None and now >= g.stale_plug_until:
            g.stale_plug_until = None
        if g.pending_remote is not None and now >= g.pending_remote.deadline:
            self._event(now, "remote_start_expired", g.number, {})
            g.pending_remote = None
        if g.card_pending is not None and now >= g.card_pending[1]:
            self._event(now, "start_refused", g.number, {"why": "auth_timeout"})
            g.card_pending = None
        s = g.session
        if s is not None:
            if s.phase == "preparing" and now >= s.phase_until:
                s.phase, s.hide_plug = "ready", False
                s.phase_until = now + s.ready_delay
            if s.phase == "ready" and now >= s.phase_until:
                s.phase_until = _INF
                self._start_handshake(g, now)
            if s.phase == "handshake":
                hs = g.plant.handshake_result(now)
                if hs.status is HandshakeStatus.DONE:
                    self._charging_begins(g, now)
                elif hs.status is HandshakeStatus.FAILED:
                    code = _HANDSHAKE_FAILURES.get(hs.reason or "", StopReason.START_CONTROL_FAULT)
                    self._start_failed(g, now, code)
            s = g.session
        if s is not None and s.phase == "charging":
            if now >= g.next_boundary:
                self._sample(g, now)
                g.next_boundary = self._clock.next_half_hour(now)
            if not g.plant.charging(now):
                if g.plant.bms_stopped(now):
                    self._stop(g, now, StopReason.SOC_FULL, pile_side=True)
                else:
                    self._stop(g, now, StopReason.ABORT_NO_CURRENT, pile_side=True)
            else:
                self._check_offline_stop(g, now)
        if now >= g.next_rt:
            self._send_realtime(g, now)
        if now >= g.next_bms:
            if self._logged_in and g.session is not None and g.session.phase == "charging":
                self._send_bms_frames(g, now)
                g.next_bms = now + t.realtime_charging_s
            else:
                g.next_bms = _INF

    def _check_offline_stop(self, g: GunRecord, now: float) -> None:
        """Stop a session after ``offline_stop_s`` without link (quirk: charge on)."""
        stop_s = self._profile.timings.offline_stop_s
        if self._logged_in or self._offline_since is None or stop_s <= 0:
            return
        if now < self._offline_since + stop_s:
            return
        s = g.session
        assert s is not None
        q = self._q.charge_through_outage
        if q is not None:
            if q.name not in s.quirks:
                s.quirks.append(q.name)
                self._quirk_event(now, g.number, q.event("keeps charging while offline"))
            return
        self._stop(g, now, StopReason.UNKNOWN, pile_side=True)

    # ------------------------------------------------------------------ realtime
    def _state_key(self, g: GunRecord, now: float) -> tuple[int, bool]:
        s = g.session
        if self._plant.emergency_stop_pressed(now):
            status = GunStatus.FAULT
        elif s is not None and s.phase == "charging":
            status = GunStatus.CHARGING
        else:
            status = GunStatus.IDLE
        return int(status), self._reported_plugged(g, now)

    def _reported_plugged(self, g: GunRecord, now: float) -> bool:
        if g.stale_plug_until is not None and now < g.stale_plug_until:
            return True
        if g.masked_unplug:
            return False
        s = g.session
        if s is not None and s.hide_plug:
            return False
        return g.plant.plugged(now)

    def _report_changes(self, now: float) -> None:
        if not self._alive():
            return
        for g in self._guns:
            key = self._state_key(g, now)
            if key != g.last_reported:
                self._send_realtime(g, now, key)

    def _send_realtime(self, g: GunRecord, now: float, key: tuple[int, bool] | None = None) -> None:
        t = self._profile.timings
        g.last_reported = key = key or self._state_key(g, now)
        msg = self._realtime(g, now, key)
        charging = g.session is not None and g.session.phase == "charging"
        g.next_rt = now + (t.realtime_charging_s if charging else t.realtime_idle_s)
        if self._logged_in:
            self._send(msg, now)
        elif charging and (t.offline_realtime or self._q.charge_through_outage):
            q = self._q.charge_through_outage
            bound = int(q.p["max_frames"]) if q is not None else t.offline_realtime_max
            self._rt_store.append(msg)
            while len(self._rt_store) > bound:
                self._rt_store.popleft()
        if not charging and not self._logged_in:
            g.next_rt = _INF  # idle frames resume after login
        if charging:
            self._check_balance(g, now, msg.amount)

    def _realtime(self, g: GunRecord, now: float, key: tuple[int, bool]) -> RealtimeData:
        status_i, plugged = key
        status = _GUN_STATUS[status_i]
        s = g.session
        pile = g.plant
        kw: dict[str, Any] = {}
        serial = _ZERO_SERIAL
        if s is not None:
            serial = _ZERO_SERIAL if s.no_bill else s.serial
        if s is not None and s.phase == "charging":
            assert s.charge_start_t is not None
            units = self._meter(g, now) - s.meter_start
            assert s.running is not None
            loss_units, amount = s.running.totals(s.samples, (self._sample_wall(s, now), units))
            q = self._q.inflated_realtime_energy
            if q is not None and s.inflate is None:
                s.inflate = 1.0
                if q.fires(self._rng):
                    lo, hi = q.p["factor"]
                    s.inflate = self._rng.uniform(lo, hi)
                    s.quirks.append(q.name)
                    self._quirk_event(now, g.number, q.event("inflated 0x13 energy"))
            factor = s.inflate or 1.0
            b = self._q.spurious_fault_blip
            if b is not None and s.blip_at is None:
                s.blip_at = _INF
                if b.fires(self._rng):
                    lo, hi = b.p["after_s"]
                    s.blip_at = s.charge_start_t + self._rng.uniform(lo, hi)
            if b is not None and s.blip_at is not None and now >= s.blip_at and not s.blip_done:
                s.blip_done = True
                choice = self._rng.choice(b.p["status"])
                status = GunStatus.FAULT if choice == "fault" else GunStatus.OFFLINE
                s.quirks.append(b.name)
                self._quirk_event(now, g.number, b.event(f"status {int(status)} blip"))
            r = self._read(g, now)
            remaining = r.remaining
            kw = {
                "voltage": r.volts,
                "current": r.amps,
                "gun_temperature": r.gun_c,
                "soc": int(round(pile.soc(now), 6)),  # float noise must not flip a digit
                "charge_minutes": int((now - s.charge_start_t) // 60),
                "remaining_minutes": 0 if remaining is None else min(int(remaining // 60), 65535),
                "energy": round(units * factor) / 10_000,
                "loss_energy": round(loss_units * factor) / 10_000,
                "amount": amount / 10_000,
            }
            if r.bms is not None:
                kw["battery_max_temperature"] = r.battery_c
        faults = 1 if self._plant.emergency_stop_pressed(now) else 0
        return RealtimeData(
            serial=serial,
            pile_no=self.pile_no,
            gun=g.number,
            status=status,
            gun_returned=TriState.NO if pile.plugged(now) else TriState.YES,
            plugged=plugged,
            faults=faults,
            **kw,
        )

    def _read(self, g: GunRecord, now: float) -> Reading:
        """The gun's wire-rounded readings at ``now``, read once per plant state."""
        plant = g.plant
        version = plant.state_version(now)
        r = g.reading
        if r is not None and r.at == now and r.version == version:
            return r
        amps = plant.current_a(now)
        bms = plant.bms(now)
        r = g.reading = Reading(
            at=now,
            version=version,
            volts=steady(plant.voltage_v(now), 1),
            amps=steady(amps, 1),
            amps_capped=steady(min(amps, 400.0), 1),
            gun_c=steady(plant.gun_temp_at(amps), 0),
            remaining=plant.time_until_bms_stop(now) if self._profile.kind == "DC" else None,
            bms=bms,
            battery_c=0.0 if bms is None else steady(bms.battery_temp_c, 0),
        )
        return r

    def _check_balance(self, g: GunRecord, now: float, amount: float) -> None:
        """Pile-side balance stop (only with ``timings.pile_balance_stop``)."""
        if not self._profile.timings.pile_balance_stop:
            return
        s = g.session
        if s is not None and s.balance > 0 and amount >= s.balance:
            self._stop(g, now, StopReason.ABORT_INSUFFICIENT_BALANCE, pile_side=True)

    def _send_bms_frames(self, g: GunRecord, now: float) -> None:
        if self._profile.kind != "DC" or not self._profile.timings.bms_frames:
            return
        s = g.session
        r = self._read(g, now)
        bms = r.bms
        if s is None or bms is None:
            return
        serial = _ZERO_SERIAL if s.no_bill else s.serial
        assert s.charge_start_t is not None
        remaining, volts, amps, battery_c = r.remaining, r.volts, r.amps_capped, r.battery_c
        self._send(
            DemandOutput(
                serial=serial,
                pile_no=self.pile_no,
                gun=g.number,
                demand_voltage=steady(bms.demand_voltage_v, 1),
                demand_current=steady(min(bms.demand_current_a, 400.0), 1),
                measured_voltage=volts,
                measured_current=amps,
                max_cell_voltage_group=400,
                soc=int(round(bms.soc, 6)),
                remaining_minutes=0 if remaining is None else min(int(remaining // 60), 65535),
                output_voltage=volts,
                output_current=amps,
                charge_minutes=int((now - s.charge_start_t) // 60),
            ),
            now,
        )
        self._send(
            BmsInfo(
                serial=serial,
                pile_no=self.pile_no,
                gun=g.number,
                max_cell_voltage_index=1,
                max_temperature=battery_c,
                max_temperature_probe=1,
                min_temperature=battery_c - 2,
                min_temperature_probe=2,
                flags=0x1000,
            ),
            now,
        )

    # ------------------------------------------------------------------ sessions
    def _can_start(self, g: GunRecord, now: float) -> str | None:
        """Why a start is refused, or None."""
        if not self._enabled:
            return "disabled"
        if self._tariff is None:
            return "no_billing_model"
        if self._plant.emergency_stop_pressed(now) or not self._plant.power_present(now):
            return "equipment_fault"
        if g.session is not None:
            return "gun_busy"
        return None

    def _begin_start(
        self,
        g: GunRecord,
        now: float,
        *,
        serial: str,
        source: TransactionSource,
        card: str,
        logical_card: str,
        balance: float,
    ) -> None:
        """An authorised order on a plugged gun (0x32 success / 0x34 accepted)."""
        assert self._tariff is not None
        s = SessionRecord(
            serial=serial,
            gun=g.number,
            source=source,
            card=card or _ZERO_CARD,
            logical_card=logical_card,
            balance=balance,
            tariff=self._tariff,
            auth_t=now,
            auth_wall=self._clock.wall(now),
            meter_start=self._meter(g, now),
        )
        if g.last_session is not None:
            s.prev_end_wall = g.last_session.end_wall
        self._release_held(g, now)
        g.session = s
        self._sessions.append(s)
        self._event(now, "session_started", g.number, {"serial": serial, "source": source.name})
        q = self._q.preparing_before_ready
        if q is not None:
            d1, d2 = q.delays(self._rng)
            s.phase, s.hide_plug, s.phase_until, s.ready_delay = "preparing", True, now + d1, d2
            s.quirks.append(q.name)
            self._quirk_event(now, g.number, q.event(f"preparing {d1:.0f}s, ready {d2:.0f}s"))
            return
        self._start_handshake(g, now)

    def _start_handshake(self, g: GunRecord, now: float) -> None:
        s = g.session
        assert s is not None
        s.phase = "handshake"
        if not g.plant.begin_handshake(now):
            if not g.plant.plugged(now):
                self._start_failed(g, now, StopReason.START_PILOT_DISCONNECTED)
            elif self._plant.emergency_stop_pressed(now):
                self._start_failed(g, now, StopReason.START_EMERGENCY_STOP)
            else:
                self._start_failed(g, now, StopReason.START_CONTROL_FAULT)
            return

    def _charging_begins(self, g: GunRecord, now: float) -> None:
        s = g.session
        assert s is not None
        if not g.plant.close_contactor(now):
            self._start_failed(g, now, StopReason.START_CONTACTOR_FAILED)
            return
        s.phase = "charging"
        s.charge_start_t = now
        s.charge_start_wall = self._clock.wall(now)
        s.samples = [(s.charge_start_wall, 0)]
        s.sample_times = [now]
        s.running = RunningBill(s.tariff)
        g.next_boundary = self._clock.next_half_hour(now)
        g.next_rt = now
        bms = g.plant.bms(now)
        if bms is not None:
            s.vin = bms.vin
        self._event(now, "charging_started", g.number, {"serial": s.serial})
        if bms is not None and self._profile.kind == "DC":
            serial = _ZERO_SERIAL if s.no_bill else s.serial
            self._send(
                Handshake(
                    serial=serial,
                    pile_no=self.pile_no,
                    gun=g.number,
                    bms_protocol="010100",
                    battery_type=bms.battery_type,
                    rated_capacity_ah=steady(bms.capacity_kwh * 1000 / bms.nominal_voltage_v, 1),
                    rated_voltage=steady(bms.nominal_voltage_v, 1),
                    battery_maker="SIMR",
                    vin=bms.vin,
                ),
                now,
            )
            self._send(
                ParameterConfig(
                    serial=serial,
                    pile_no=self.pile_no,
                    gun=g.number,
                    max_cell_voltage=4.2,
                    max_charge_current=steady(min(bms.demand_current_a, 400.0), 1),
                    nominal_energy=steady(bms.capacity_kwh, 1),
                    max_total_voltage=steady(bms.nominal_voltage_v * 1.1, 1),
                    max_temperature=55,
                    soc=steady(bms.soc, 1),
                    battery_voltage=steady(bms.battery_voltage_v, 1),
                    pile_max_voltage=750.0,
                    pile_min_voltage=200.0,
                    pile_max_current=250.0,
                    pile_min_current=0.0,
                ),
                now,
            )
            g.next_bms = now + self._profile.timings.realtime_charging_s

    def _sample_wall(self, s: SessionRecord, now: float) -> datetime:
        wall = self._clock.wall(now)
        if s.samples and wall < s.samples[-1][0]:
            wall = s.samples[-1][0]  # the clock was set back: keep samples ordered
        return wall

    def _sample(self, g: GunRecord, now: float) -> None:
        s = g.session
        assert s is not None
        units = self._meter(g, now) - s.meter_start
        s.samples.append((self._sample_wall(s, now), units))
        s.sample_times.append(now)

    def _start_failed(self, g: GunRecord, now: float, reason: StopReason) -> None:
        """Start failure: zero-energy bill (§3 item 7), unless the late-bill quirk."""
        q = self._q.start_failure_no_logout_late_bill
        s = g.session
        assert s is not None
        if q is not None:
            delay = q.delay(self._rng)
            s.quirks.append(q.name)
            self._quirk_event(now, g.number, q.event(f"no stop notice, bill in {delay:.0f}s"))
            self._stop(g, now, reason, pile_side=True, bill_delay=delay, notify=False)
            return
        self._stop(g, now, reason, pile_side=True)

    def _stop(
        self,
        g: GunRecord,
        now: float,
        reason: StopReason,
        pile_side: bool,
        *,
        bill_delay: float | None = None,
        notify: bool = True,
    ) -> None:
        s = g.session
        assert s is not None
        pile = g.plant
        charged = s.phase == "charging"
        if charged:
            self._sample(g, now)
        if self._plant.power_present(now):
            pile.open_contactor(now)
        s.end_t = now
        s.end_wall = self._sample_wall(s, now)
        s.meter_end = s.meter_start + (s.samples[-1][1] if s.samples else 0)
        s.stop_reason = reason
        s.phase = "ended"
        s.bill_state = "scheduled"
        if pile_side:
            s.stops += 1
        g.session = None
        g.last_session = s
        g.plug_session = s
        g.next_bms = g.next_boundary = _INF
        self._event(
            now, "session_ended", g.number, {"serial": s.serial, "stop_reason": int(reason)}
        )
        if notify:
            if charged and self._profile.kind == "DC" and pile.vehicle is not None:
                self._send_end_frames(g, s, now)
            g.next_rt = now  # the change frame
        else:
            g.last_reported = self._state_key(g, now)  # swallow the change
        if bill_delay is None and self._profile.timings.bill_at_unplug:
            if pile.plugged(now):  # held until the gun is returned (_tick_bills)
                self._bills.append(BillRecord(session=s, due_at=_INF, state="held"))
            else:  # pulled during charging / already unplugged: at once (§13.3 #5)
                self._bills.append(BillRecord(session=s, due_at=now))
            return
        if bill_delay is None:
            bill_delay = self._rng.uniform(*self._profile.timings.bill_delay_s)
        self._bills.append(BillRecord(session=s, due_at=now + bill_delay))

    def _send_end_frames(self, g: GunRecord, s: SessionRecord, now: float) -> None:
        serial = _ZERO_SERIAL if s.no_bill else s.serial
        soc = int(round(g.plant.soc(now), 6))
        if s.stop_reason == StopReason.SOC_FULL:
            self._send(BmsStop(serial=serial, pile_no=self.pile_no, gun=g.number, reason=1), now)
        else:
            self._send(
                ChargerStop(serial=serial, pile_no=self.pile_no, gun=g.number, reason=4), now
            )
        assert s.charge_start_t is not None
        energy = (s.meter_end or s.meter_start) - s.meter_start
        self._send(
            ChargeEnd(
                serial=serial,
                pile_no=self.pile_no,
                gun=g.number,
                end_soc=soc,
                min_cell_voltage=3.9,
                max_cell_voltage=4.0,
                min_temperature=25,
                max_temperature=30,
                charge_minutes=int((now - s.charge_start_t) // 60),
                energy=round(energy / 1000) / 10,
                charger_no=1,
            ),
            now,
        )

    # ------------------------------------------------------------------ bills
    def _tick_bills(self, now: float) -> None:
        for bill in list(self._bills):
            if bill.state == "held" and not self._holds_bill(bill, now):
                bill.state, bill.due_at = "scheduled", now
            if bill.state == "scheduled" and now >= bill.due_at:
                self._emit_bill(bill, now)
            elif bill.state == "sent" and now >= bill.retry_at:
                if bill.retries_left > 0 and self._logged_in:
                    bill.retries_left -= 1
                    self._transmit_bill(bill, now, retry=True)
                else:
                    bill.state, bill.retry_at = "stored", _INF
                    self._event(now, "bill_kept", bill.session.gun, {"serial": bill.session.serial})
        self._bills = [b for b in self._bills if b.state not in ("acked", "dropped")]

    def _holds_bill(self, bill: BillRecord, now: float) -> bool:
        """``bill_at_unplug``: the bill waits while its gun is reported plugged."""
        g = self._gun(bill.session.gun)
        return self._profile.timings.bill_at_unplug and self._reported_plugged(g, now)

    def _release_held(self, g: GunRecord, now: float) -> None:
        """A new plug or order on ``g``: the pile finalises the bill it held there."""
        for bill in self._bills:
            if bill.state == "held" and bill.session.gun == g.number:
                bill.state, bill.due_at = "scheduled", now

    def _drop_bill(self, bill: BillRecord, now: float, why: str) -> None:
        s = bill.session
        bill.state = "dropped"
        s.bill_state, s.bill_why = "dropped", why
        self._event(now, "bill_dropped", s.gun, {"serial": s.serial, "why": why})

    def _emit_bill(self, bill: BillRecord, now: float) -> None:
        """The stored bill is due for upload: loss quirks decide here."""
        s = bill.session
        if s.no_bill:
            self._drop_bill(bill, now, "billing_evasion_sequence")
            return
        q = self._q.repeated_stop_loses_bill
        if q is not None and q.loses(s.stops, self._rng):
            s.quirks.append(q.name)
            self._quirk_event(now, s.gun, q.event(f"{s.stops} stops"))
            self._drop_bill(bill, now, q.name)
            return
        r = self._q.random_bill_loss
        if r is not None and r.fires(self._rng):
            s.quirks.append(r.name)
            self._quirk_event(now, s.gun, r.event("bill lost"))
            self._drop_bill(bill, now, r.name)
            return
        bill.msg = self._build_bill(s, now)
        s.bill_energy = bill.msg.total_energy
        bill.state = "stored"
        s.bill_state = "stored"
        self._event(now, "bill_stored", s.gun, {"serial": s.serial})
        if self._logged_in:
            self._transmit_bill(bill, now)

    def _transmit_bill(self, bill: BillRecord, now: float, retry: bool = False) -> None:
        assert bill.msg is not None
        policy = self._profile.timings.bill_retry
        if not retry:
            bill.retries_left = 3 if policy == "3x30s" else 1
        bill.state = "sent"
        bill.session.bill_state = "sent"
        bill.retry_at = now + (30.0 if policy == "3x30s" else 300.0)
        self._send(bill.msg, now)

    def _build_bill(self, s: SessionRecord, now: float) -> TransactionRecord:
        """The 0x3B of a session: time/energy quirks decide here."""
        samples = list(s.samples)
        start = s.charge_start_wall or s.auth_wall
        assert s.end_wall is not None and s.end_t is not None
        end = s.end_wall
        meter_end = s.meter_end if s.meter_end is not None else s.meter_start
        q_lost = self._q.energy_lost
        if q_lost is not None and s.charge_start_t is not None and q_lost.fires(self._rng):
            stale = self._rng.uniform(*q_lost.p["stale_s"])
            cut = max(s.charge_start_t, s.end_t - stale)
            units = _interpolate(s.sample_times, [u for _, u in samples], cut)
            cut_wall = end - timedelta(seconds=s.end_t - cut)
            samples = [(w, u) for (w, u), t in zip(samples, s.sample_times, strict=True) if t < cut]
            samples.append((max(cut_wall, samples[-1][0]) if samples else cut_wall, units))
            end, meter_end = cut_wall, s.meter_start + units
            s.quirks.append(q_lost.name)
            self._quirk_event(now, s.gun, q_lost.event(f"meter end {stale:.0f}s stale"))
        q_dur = self._q.duration_mismatch
        if q_dur is not None and q_dur.fires(self._rng):
            offset = self._rng.uniform(*q_dur.p["offset_s"])
            end = end + timedelta(seconds=offset)
            s.quirks.append(q_dur.name)
            self._quirk_event(now, s.gun, q_dur.event(f"end time +{offset:.0f}s"))
        q_time = self._q.bill_time_anomaly
        if q_time is not None and q_time.fires(self._rng):
            kind = self._rng.choice(q_time.p["kinds"])
            skew = timedelta(seconds=self._rng.uniform(*q_time.p["skew_s"]))
            if kind == "overlap" and s.prev_end_wall is not None:
                start = s.prev_end_wall - skew
            elif kind == "clock_jump":
                start = start - skew * 10
            else:
                kind = "end_before_start"
                end = start - skew
            s.quirks.append(q_time.name)
            self._quirk_event(now, s.gun, q_time.event(kind))
        lines = s.tariff.bill(samples)
        sharp, peak, flat, valley = lines.lines
        kw: dict[str, Any] = {}
        for prefix, line in (("sharp", sharp), ("peak", peak), ("flat", flat), ("valley", valley)):
            kw[f"{prefix}_price"] = line.unit_price / 100_000
            kw[f"{prefix}_energy"] = line.energy / 10_000
            kw[f"{prefix}_loss_energy"] = line.loss_energy / 10_000
            kw[f"{prefix}_amount"] = line.amount / 10_000
        return TransactionRecord(
            serial=s.serial,
            pile_no=self.pile_no,
            gun=s.gun,
            start_time=start,
            end_time=end,
            meter_start=s.meter_start / 10_000,
            meter_end=meter_end / 10_000,
            total_energy=lines.energy / 10_000,
            total_loss_energy=lines.loss_energy / 10_000,
            total_amount=lines.total_amount / 10_000,
            vin=s.vin,
            source=s.source,
            trade_time=self._clock.wall(now),
            stop_reason=s.stop_reason or StopReason.UNKNOWN,
            physical_card=s.card,
            **kw,
        )

    # ------------------------------------------------------------------ reboot
    def _reboot(self, now: float, cause: str, into: FirmwareProfile | None = None) -> None:
        """RAM is lost; sessions end; bills survive unless ``reboot_plugged_loses_bill``."""
        reason = StopReason.ABORT_POWER_LOSS if cause == "power_cut" else StopReason.UNKNOWN
        q = self._q.reboot_plugged_loses_bill
        for g in self._guns:
            plugged = g.plant.plugged(now)
            if g.session is not None:
                if g.session.phase == "charging":
                    self._stop(g, now, reason, pile_side=True, notify=False)
                else:
                    fail = StopReason.START_CONTROL_FAULT
                    self._stop(g, now, fail, pile_side=True, notify=False)
            if plugged and q is not None:
                victims = [
                    b for b in self._bills if b.session.gun == g.number and b.state != "acked"
                ]
                if victims and q.fires(self._rng, "probability"):
                    for bill in victims:
                        bill.session.quirks.append(q.name)
                        self._drop_bill(bill, now, q.name)
                    g.masked_unplug = True
                    self._quirk_event(now, g.number, q.event("reboot with gun plugged"))
            g.pending_remote = None
            g.card_pending = None
            g.last_reported = None
            g.next_rt = g.next_bms = g.next_boundary = _INF
        self._bills = [b for b in self._bills if b.state != "dropped"]
        for bill in self._bills:
            if bill.state == "sent":
                bill.state, bill.retry_at = "stored", _INF
        self._rt_store.clear()
        self._reboot_pending = False
        self._upgrade = None
        if self._connected:
            self._close_requested = True
            self._drop_link(now)
        self._offline_since = now
        self._boot_until = now + self._profile.timings.boot_s
        old = self._profile.name
        if into is not None:
            self._profile = into
            self._q = QuirkSet(into.quirks)
            self._event(now, "upgraded", None, {"from": old, "to": into.name})
        self._event(now, "reboot", None, {"cause": cause, "firmware": self._profile.name})

    # ------------------------------------------------------------------ stimuli reactions
    def _on_plug(self, g: GunRecord, now: float) -> None:
        g.stale_plug_until = None
        g.masked_unplug = False
        g.plug_session = None
        if self._alive():
            self._release_held(g, now)
        pr = g.pending_remote
        if pr is not None and self._alive():
            g.pending_remote = None
            if self._can_start(g, now) is None:
                self._send(
                    RemoteStartReply(
                        serial=pr.msg.serial,
                        pile_no=self.pile_no,
                        gun=g.number,
                        result=Confirm.OK,
                        failure=RemoteStartFailure.NONE,
                    ),
                    now,
                    seq=pr.seq,
                )
                self._begin_start(
                    g,
                    now,
                    serial=pr.msg.serial,
                    source=TransactionSource.APP,
                    card=pr.msg.physical_card,
                    logical_card=pr.msg.logical_card,
                    balance=pr.msg.balance,
                )

    def _on_unplug(self, g: GunRecord, now: float) -> None:
        """Gun returned; a stale plug report may linger (occupancy_spike decides here)."""
        g.masked_unplug = False
        if not self._alive():
            return
        if g.session is not None:
            if g.session.phase == "charging":
                self._stop(g, now, StopReason.ABORT_PILOT_DISCONNECTED, pile_side=True)
            else:
                self._start_failed(g, now, StopReason.START_PILOT_DISCONNECTED)
        q = self._q.occupancy_spike
        s = g.plug_session
        if q is None or s is None:
            return
        charged = (s.end_t or now) - s.charge_start_t if s.charge_start_t is not None else 0.0
        if q.p["only_short_sessions"] and charged >= q.p["short_s"]:
            return
        if q.fires(self._rng):
            delay = self._rng.uniform(*q.p["delay_s"])
            g.stale_plug_until = now + delay
            s.quirks.append(q.name)
            self._quirk_event(now, g.number, q.event(f"plug reported {delay:.0f}s too long"))

    def _on_card_scan(self, g: GunRecord, card: str, now: float) -> None:
        """Card at the reader: start, stop, or the billing-evasion hole (decides here)."""
        s = g.session
        q = self._q.billing_evasion_sequence
        if (
            q is not None
            and s is not None
            and s.source is TransactionSource.APP
            and s.phase in ("preparing", "ready", "handshake")
            and now - s.auth_t <= q.p["window_s"]
            and not s.no_bill
        ):
            s.no_bill = True
            s.card = card
            s.quirks.append(q.name)
            self._quirk_event(now, g.number, q.event("card scan during remote start"))
            g.next_rt = now
            return
        if s is not None:
            if s.card.upper() == card.upper() and s.source is TransactionSource.CARD:
                self._stop(g, now, StopReason.MANUAL_STOP, pile_side=True)
            else:
                self._event(now, "start_refused", g.number, {"why": "gun_busy"})
            return
        why = self._can_start(g, now)
        if why is None and not self._logged_in:
            why = "offline"
        if why is None and not g.plant.plugged(now):
            why = "not_plugged"
        if why is None and g.card_pending is not None:
            why = "auth_in_progress"
        if why is not None:
            self._event(now, "start_refused", g.number, {"why": why})
            return
        self._send(
            CardStart(
                pile_no=self.pile_no, gun=g.number, start_mode=StartMode.CARD, card=card.upper()
            ),
            now,
        )
        g.card_pending = (card.upper(), now + _AUTH_TIMEOUT_S)

    # ------------------------------------------------------------------ frame handlers
    def _on_login_reply(self, msg: LoginReply, seq: int, now: float) -> None:
        if self._logged_in:
            return
        self._login_deadline = _INF
        if msg.result != LoginResult.OK:
            self._close_requested = True
            self._event(now, "login_refused", None, {})
            return
        self._logged_in = True
        self._offline_since = None
        self._backoff = self._profile.timings.reconnect_s[0]
        self._hb_unanswered = 0
        # heartbeat k of this login is due at base + k × period (computed, not summed,
        # so that skipping n of them in virtual time lands on the very same instants)
        self._hb_base, self._hb_k = now + self._profile.timings.heartbeat_s, 0
        self._next_hb = self._hb_base
        self._event(now, "logged_in", None, {"firmware": self._profile.name})
        for bill in self._bills:  # stored bills first (§3 item 1)
            if bill.state == "stored":
                self._transmit_bill(bill, now)
        while self._rt_store:
            self._send(self._rt_store.popleft(), now)
        self._request_model(now, again=False)
        for g in self._guns:
            self._send_realtime(g, now)

    def _request_model(self, now: float, again: bool) -> None:
        if again and self._model_state == "request":
            self._send(ModelRequest(pile_no=self.pile_no), now)
        else:
            model_no = self._tariff.model_no if self._tariff is not None else "0000"
            self._send(ModelVerify(pile_no=self.pile_no, model_no=model_no), now)
            self._model_state = "verify"
        self._model_retry_at = now + self._profile.timings.model_retry_s

    def _on_heartbeat_reply(self, msg: HeartbeatReply, seq: int, now: float) -> None:
        self._hb_unanswered = 0

    def _on_model_verify_reply(self, msg: ModelVerifyReply, seq: int, now: float) -> None:
        if msg.result == ModelCheck.MATCH and self._tariff is not None:
            self._model_state, self._model_retry_at = "ok", _INF
            return
        self._send(ModelRequest(pile_no=self.pile_no), now)
        self._model_state = "request"
        self._model_retry_at = now + self._profile.timings.model_retry_s

    def _on_model_reply(self, msg: ModelReply, seq: int, now: float) -> None:
        try:
            self._tariff = _tariff_of(msg)
        except ValueError as exc:
            self._event(now, "model_rejected", None, {"error": str(exc)})
            if isinstance(msg, SetModel):
                self._send(SetModelReply(pile_no=self.pile_no, result=Confirm.FAILED), now, seq)
            return
        self._model_state, self._model_retry_at = "ok", _INF
        self._event(now, "model_set", None, {"model_no": msg.model_no})
        if isinstance(msg, SetModel):
            self._send(SetModelReply(pile_no=self.pile_no, result=Confirm.OK), now, seq)

    def _on_read_realtime(self, msg: ReadRealtime, seq: int, now: float) -> None:
        if 1 <= msg.gun <= len(self._guns):
            self._send_realtime(self._guns[msg.gun - 1], now)

    def _on_remote_start(self, msg: RemoteStart, seq: int, now: float) -> None:
        def reply(result: Confirm, failure: RemoteStartFailure) -> None:
            self._send(
                RemoteStartReply(
                    serial=msg.serial,
                    pile_no=self.pile_no,
                    gun=msg.gun,
                    result=result,
                    failure=failure,
                ),
                now,
                seq=seq,
            )

        if msg.pile_no != self.pile_no or not 1 <= msg.gun <= len(self._guns):
            reply(Confirm.FAILED, RemoteStartFailure.PILE_MISMATCH)
            return
        g = self._guns[msg.gun - 1]
        why = self._can_start(g, now)
        if why == "gun_busy" or g.pending_remote is not None:
            reply(Confirm.FAILED, RemoteStartFailure.GUN_BUSY)
            return
        if why is not None:
            self._event(now, "start_refused", g.number, {"why": why})
            reply(Confirm.FAILED, RemoteStartFailure.EQUIPMENT_FAULT)
            return
        if not g.plant.plugged(now):
            reply(Confirm.FAILED, RemoteStartFailure.GUN_NOT_PLUGGED)
            deadline = now + self._profile.timings.remote_start_plug_s
            g.pending_remote = PendingRemote(msg, seq, deadline)
            return
        reply(Confirm.OK, RemoteStartFailure.NONE)
        self._begin_start(
            g,
            now,
            serial=msg.serial,
            source=TransactionSource.APP,
            card=msg.physical_card,
            logical_card=msg.logical_card,
            balance=msg.balance,
        )

    def _on_remote_stop(self, msg: RemoteStop, seq: int, now: float) -> None:
        def reply(result: Confirm, failure: RemoteStopFailure) -> None:
            self._send(
                RemoteStopReply(pile_no=self.pile_no, gun=msg.gun, result=result, failure=failure),
                now,
                seq=seq,
            )

        if msg.pile_no != self.pile_no or not 1 <= msg.gun <= len(self._guns):
            reply(Confirm.FAILED, RemoteStopFailure.PILE_MISMATCH)
            return
        g = self._guns[msg.gun - 1]
        if g.pending_remote is not None:
            g.pending_remote = None
        s = g.session
        if s is not None:
            s.stops += 1
            reply(Confirm.OK, RemoteStopFailure.NONE)
            self._stop(g, now, StopReason.APP_STOP, pile_side=False)
            return
        last = g.last_session
        if last is not None and last.bill_state == "scheduled":
            last.stops += 1  # a stop for a session whose bill is not out yet
        reply(Confirm.FAILED, RemoteStopFailure.GUN_NOT_CHARGING)

    def _on_card_auth_reply(self, msg: CardAuthReply, seq: int, now: float) -> None:
        if not 1 <= msg.gun <= len(self._guns):
            return
        g = self._guns[msg.gun - 1]
        pending = g.card_pending
        if pending is None:
            return
        g.card_pending = None
        if msg.result != Confirm.OK:
            self._event(now, "start_refused", g.number, {"why": f"auth:{int(msg.failure)}"})
            return
        if self._can_start(g, now) is not None or not g.plant.plugged(now):
            self._event(now, "start_refused", g.number, {"why": "state_changed"})
            return
        self._begin_start(
            g,
            now,
            serial=msg.serial,
            source=TransactionSource.CARD,
            card=pending[0],
            logical_card=msg.logical_card,
            balance=msg.balance,
        )

    def _on_record_ack(self, msg: RecordAck, seq: int, now: float) -> None:
        for bill in self._bills:
            if bill.session.serial == msg.serial and bill.state in ("sent", "stored"):
                bill.state = "acked"
                bill.session.bill_state = "acked"
                bill.session.bill_why = "" if int(msg.result) == 0 else "illegal"
                self._event(
                    now,
                    "bill_acked",
                    bill.session.gun,
                    {"serial": msg.serial, "result": int(msg.result)},
                )
        self._bills = [b for b in self._bills if b.state != "acked"]

    def _on_balance_update(self, msg: BalanceUpdate, seq: int, now: float) -> None:
        result = BalanceUpdateResult.CARD_ERROR
        if 1 <= msg.gun <= len(self._guns):
            s = self._guns[msg.gun - 1].session
            card_ok = msg.physical_card.strip("0") == "" or (
                s is not None and s.card.upper() == msg.physical_card.upper()
            )
            if s is not None and card_ok:
                s.balance = msg.balance
                result = BalanceUpdateResult.OK
        self._send(
            BalanceUpdateReply(
                pile_no=self.pile_no, physical_card=msg.physical_card, result=result
            ),
            now,
            seq,
        )

    def _on_work_params(self, msg: WorkParams, seq: int, now: float) -> None:
        ok = 30 <= msg.max_power_pct <= 100
        if ok:
            self._enabled = msg.enable == WorkState.ALLOWED
            self._plant.set_power_limit_percent(now, msg.max_power_pct)
            self._event(now, "work_params", None, {"enabled": self._enabled})
        result = Confirm.OK if ok else Confirm.FAILED
        self._send(WorkParamsReply(pile_no=self.pile_no, result=result), now, seq)

    def _on_time_sync(self, msg: TimeSync, seq: int, now: float) -> None:
        if msg.time is not None:
            delta = self._clock.sync(now, msg.time)
            self._event(now, "clock_set", None, {"delta_s": round(delta, 3)})
            for g in self._guns:
                if g.session is not None and g.session.phase == "charging":
                    g.next_boundary = self._clock.next_half_hour(now)
        self._send(TimeSyncReply(pile_no=self.pile_no, time=msg.time), now, seq)

    def _on_reboot(self, msg: RebootCommand, seq: int, now: float) -> None:
        self._send(RebootCommandReply(pile_no=self.pile_no, result=Confirm.OK), now, seq)
        if msg.execution == Execution.WHEN_IDLE and not self._idle():
            self._reboot_pending = True
        else:
            self._reboot(now, "remote")

    def _on_upgrade(self, msg: Upgrade, seq: int, now: float) -> None:
        def reply(status: UpgradeResult) -> None:
            self._send(UpgradeReply(pile_no=self.pile_no, status=status), now, seq)

        if msg.pile_no != self.pile_no:
            reply(UpgradeResult.PILE_ERROR)
            return
        if not self._profile.remote_upgrade:
            self._event(now, "upgrade_refused", None, {"why": "no remote upgrade"})
            reply(UpgradeResult.MODEL_MISMATCH)
            return
        try:
            target = self._resolve(msg.path.strip().strip("\x00"))
        except ProfileError as exc:
            self._event(now, "upgrade_refused", None, {"why": str(exc)})
            reply(UpgradeResult.MODEL_MISMATCH)
            return
        if target.family != self._profile.family or target.kind != self._profile.kind:
            self._event(now, "upgrade_refused", None, {"why": f"{target.name}: other family"})
            reply(UpgradeResult.MODEL_MISMATCH)
            return
        download = self._rng.uniform(*self._profile.timings.upgrade_download_s)
        if download > msg.timeout_minutes * 60:
            reply(UpgradeResult.DOWNLOAD_TIMEOUT)
            return
        reply(UpgradeResult.SUCCESS)
        self._upgrade = PendingUpgrade(target, now + download, msg.execution)
        self._event(now, "upgrade_started", None, {"to": target.name, "download_s": download})


def _interpolate(times: list[float], values: list[int], t: float) -> int:
    """Linear interpolation of the sampled meter at ``t`` (rounded to 1e-4 kWh)."""
    if not times or t <= times[0]:
        return values[0] if values else 0
    for i in range(1, len(times)):
        t0, t1, v0, v1 = times[i - 1], times[i], values[i - 1], values[i]
        if t0 <= t <= t1:
            return v0 if t1 == t0 else round(v0 + (v1 - v0) * (t - t0) / (t1 - t0))
    return values[-1]


def _tariff_of(msg: ModelReply) -> Tariff:
    """Build a :class:`Tariff` from a 0x0A / 0x58 body (raises ValueError if invalid)."""
    rates = (
        BandRate(rate_from_yuan(msg.sharp_rate), rate_from_yuan(msg.sharp_service)),
        BandRate(rate_from_yuan(msg.peak_rate), rate_from_yuan(msg.peak_service)),
        BandRate(rate_from_yuan(msg.flat_rate), rate_from_yuan(msg.flat_service)),
        BandRate(rate_from_yuan(msg.valley_rate), rate_from_yuan(msg.valley_service)),
    )
    if len(msg.periods) != 48 or any(p not in (0, 1, 2, 3) for p in msg.periods):
        raise ValueError("periods: need 48 bands 0-3")
    tariff = Tariff(
        model_no=msg.model_no,
        rates=rates,
        periods=tuple(Band(p) for p in msg.periods),
        loss_ratio_pct=msg.loss_ratio,
    )
    tariff.validate()
    return tariff


_HANDLERS: dict[type[Message], Callable[[PileFirmware, Any, int, float], None]] = {
    LoginReply: PileFirmware._on_login_reply,
    HeartbeatReply: PileFirmware._on_heartbeat_reply,
    ModelVerifyReply: PileFirmware._on_model_verify_reply,
    ModelReply: PileFirmware._on_model_reply,
    SetModel: PileFirmware._on_model_reply,
    ReadRealtime: PileFirmware._on_read_realtime,
    RemoteStart: PileFirmware._on_remote_start,
    RemoteStop: PileFirmware._on_remote_stop,
    CardAuthReply: PileFirmware._on_card_auth_reply,
    RecordAck: PileFirmware._on_record_ack,
    BalanceUpdate: PileFirmware._on_balance_update,
    WorkParams: PileFirmware._on_work_params,
    TimeSync: PileFirmware._on_time_sync,
    RebootCommand: PileFirmware._on_reboot,
    Upgrade: PileFirmware._on_upgrade,
}
"""Frame type → handler (plain synchronous methods; unknown frames are ignored)."""
