"""A scripted platform peer and an in-memory rig for firmware tests (no network).

``ScriptedPlatform`` answers the pile like a minimal YKC backend (login OK, heartbeat
replies, model verify/request, card auth, record acks) and lets a test send commands.
``PileRig`` wires one ``PileFirmware`` to it through a zero-latency byte link with optional
silent outage windows, and runs agenda items (stimuli, commands) in virtual time.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from simrig.domain import Tariff, default_tariff
from simrig.endpoint import Event
from simrig.firmware_models import FirmwareProfile, PileFirmware, load_profile
from simrig.plant import PileSpec, Plant, VehicleSpec
from simrig.protocol.ykc import (
    AckResult,
    CardAuthReply,
    CardStart,
    Confirm,
    Execution,
    Frame,
    Framer,
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
    Reboot,
    RecordAck,
    RemoteStart,
    RemoteStop,
    TimeSync,
    TransactionRecord,
    Upgrade,
    UpgradePileModel,
    WorkParams,
    WorkState,
    encode_frame,
)
from simrig.stimuli import Stimulus

PILE_NO = "32010200000001"
EPOCH = datetime(2019, 10, 29, 8, 0, 0)


def model_reply(pile_no: str, tariff: Tariff) -> ModelReply:
    r = tariff.rates
    return ModelReply(
        pile_no=pile_no,
        model_no=tariff.model_no,
        sharp_rate=r[0].electricity / 100_000,
        sharp_service=r[0].service / 100_000,
        peak_rate=r[1].electricity / 100_000,
        peak_service=r[1].service / 100_000,
        flat_rate=r[2].electricity / 100_000,
        flat_service=r[2].service / 100_000,
        valley_rate=r[3].electricity / 100_000,
        valley_service=r[3].service / 100_000,
        loss_ratio=tariff.loss_ratio_pct,
        periods=tuple(int(p) for p in tariff.periods),
    )


@dataclass
class ScriptedPlatform:
    pile_no: str = PILE_NO
    tariff: Tariff = field(default_factory=default_tariff)
    answer_heartbeats: bool = True
    ack_records: bool = True
    received: list[tuple[float, Message]] = field(default_factory=list)
    out: bytearray = field(default_factory=bytearray)
    serials: int = 0
    seq: int = 0
    framer: Framer = field(default_factory=Framer)

    def reset(self) -> None:
        self.framer = Framer()

    def next_serial(self) -> str:
        self.serials += 1
        return f"{self.pile_no}01{EPOCH:%y%m%d%H%M}{self.serials:04d}"[:32].ljust(32, "0")

    def send(self, msg: Message, seq: int | None = None) -> None:
        if seq is None:
            self.seq += 1
            seq = self.seq
        self.out += encode_frame(msg, seq)

    def take(self) -> bytes:
        data = bytes(self.out)
        self.out.clear()
        return data

    def feed(self, data: bytes, now: float) -> None:
        for item in self.framer.feed(data):
            assert isinstance(item, Frame), f"pile sent a bad frame: {item}"
            msg = item.message
            self.received.append((now, msg))
            self.auto_reply(msg, item.seq)

    def auto_reply(self, msg: Message, seq: int) -> None:
        if isinstance(msg, Login):
            self.send(LoginReply(pile_no=msg.pile_no, result=LoginResult.OK), seq)
        elif isinstance(msg, Heartbeat) and self.answer_heartbeats:
            self.send(HeartbeatReply(pile_no=msg.pile_no, gun=msg.gun, reply=0), seq)
        elif isinstance(msg, ModelVerify):
            same = msg.model_no == self.tariff.model_no
            result = ModelCheck.MATCH if same else ModelCheck.DIFFERS
            self.send(ModelVerifyReply(msg.pile_no, msg.model_no, result), seq)
        elif isinstance(msg, ModelRequest):
            self.send(model_reply(msg.pile_no, self.tariff), seq)
        elif isinstance(msg, CardStart):
            self.send(
                CardAuthReply(
                    serial=self.next_serial(),
                    pile_no=msg.pile_no,
                    gun=msg.gun,
                    logical_card="1000000000000001",
                    balance=1000.0,
                    result=Confirm.OK,
                ),
                seq,
            )
        elif isinstance(msg, TransactionRecord) and self.ack_records:
            self.send(RecordAck(serial=msg.serial, result=AckResult.OK), seq)

    # -- commands
    def remote_start(self, gun: int = 1, balance: float = 1000.0) -> str:
        serial = self.next_serial()
        self.send(
            RemoteStart(
                serial=serial,
                pile_no=self.pile_no,
                gun=gun,
                logical_card="2000000000000001",
                physical_card="00000000ABCDEF01",
                balance=balance,
            )
        )
        return serial

    def remote_stop(self, gun: int = 1) -> None:
        self.send(RemoteStop(pile_no=self.pile_no, gun=gun))

    def time_sync(self, when: datetime) -> None:
        self.send(TimeSync(pile_no=self.pile_no, time=when))

    def reboot(self, execution: Execution = Execution.IMMEDIATELY) -> None:
        self.send(Reboot(pile_no=self.pile_no, execution=execution))

    def upgrade(self, path: str, execution: Execution = Execution.IMMEDIATELY) -> None:
        self.send(
            Upgrade(
                pile_no=self.pile_no,
                pile_model=UpgradePileModel.DC,
                pile_power=120,
                server="10.0.0.1",
                user="ftp",
                password="ftp",
                path=path,
                execution=execution,
                timeout_minutes=10,
            )
        )

    def work_params(self, enabled: bool, pct: int = 100) -> None:
        state = WorkState.ALLOWED if enabled else WorkState.DISABLED
        self.send(WorkParams(pile_no=self.pile_no, enable=state, max_power_pct=pct))

    # -- queries
    def of(self, cls: type[Message]) -> list[Any]:
        return [m for _, m in self.received if type(m) is cls]

    def timed(self, cls: type[Message]) -> list[tuple[float, Any]]:
        return [(t, m) for t, m in self.received if type(m) is cls]


class PileRig:
    """One pile, its plant and a scripted platform over an in-memory link."""

    def __init__(
        self,
        profile: FirmwareProfile | str,
        *,
        seed: int = 1,
        outages: list[tuple[float, float]] | None = None,
        elide: bool = False,
        **peer: Any,
    ) -> None:
        if isinstance(profile, str):
            profile = load_profile(profile)
        self.profile = profile
        self.plant = Plant()
        spec = PileSpec(kind=profile.kind, guns=profile.guns, max_power_kw=profile.max_power_kw)  # type: ignore[arg-type]
        self.plant.add_pile(PILE_NO, spec, meter_start_kwh=1000.0)
        self.pile = PileFirmware(
            pile_no=PILE_NO,
            profile=profile,
            plant_pile=self.plant.pile(PILE_NO),
            rng=random.Random(seed),
            epoch=EPOCH,
        )
        self.peer = ScriptedPlatform(**peer)
        self.now = 0.0
        self.outages = outages or []
        self.elide = elide
        self.connected = False
        self.events: list[Event] = []
        self.wire: list[tuple[float, str, bytes]] = []
        self._agenda: list[tuple[float, int, Callable[[], None]]] = []
        self._n = 0

    # -- scheduling
    def at(self, t: float, fn: Callable[[], None]) -> None:
        self._n += 1
        heapq.heappush(self._agenda, (t, self._n, fn))

    def stim(self, t: float, stimulus: Stimulus) -> None:
        self.at(t, lambda: self.pile.handle_stimulus(stimulus, self.now))

    def link_up(self, t: float) -> bool:
        return not any(a <= t < b for a, b in self.outages)

    def wall(self, t: float) -> datetime:
        return EPOCH + timedelta(seconds=t)

    # -- the pump
    def _settle(self) -> None:
        for _ in range(10_000):
            progress = False
            data = self.pile.data_to_send()
            if data:
                progress = True
                self.wire.append((self.now, "up", data))
                if self.connected and self.link_up(self.now):
                    self.peer.feed(data, self.now)
            if self.pile.close_requested:
                progress = True
                self.connected = False
                self.pile.connection_lost(self.now)
            if self.pile.wants_connection:
                progress = True
                if self.link_up(self.now):
                    self.connected = True
                    self.peer.reset()
                    self.pile.connection_made(self.now)
                else:
                    self.pile.connection_failed(self.now)
            back = self.peer.take()
            if back and self.connected and self.link_up(self.now):
                progress = True
                self.wire.append((self.now, "down", back))
                self.pile.receive_data(back, self.now)
            while (event := self.pile.next_event()) is not None:
                self.events.append(event)
            if not progress:
                return
        raise RuntimeError(f"link pump does not settle at t={self.now}")

    def run(self, until: float) -> None:
        same = 0
        while True:
            self._settle()
            cands = [t for t in (self.pile.get_timer(),) if t is not None]
            if self._agenda:
                cands.append(self._agenda[0][0])
            cands += [b for a, b in self.outages if b > self.now] + [
                a for a, b in self.outages if a > self.now
            ]
            nxt = max(min(cands), self.now) if cands else None
            if nxt is None or nxt > until:
                self.now = until
                self.pile.handle_timer(until)
                self._settle()
                return
            if self.elide:
                limit = min(self._agenda[0][0] if self._agenda else until, until)
                if self._try_elide(limit):
                    continue
            same = same + 1 if nxt == self.now else 0
            if same > 500:
                raise RuntimeError(f"stuck at t={self.now}: timer {self.pile.get_timer()}")
            self.now = nxt
            while self._agenda and self._agenda[0][0] <= self.now:
                heapq.heappop(self._agenda)[2]()
                self._settle()
            self.pile.handle_timer(self.now)

    def _try_elide(self, limit: float) -> bool:
        plan = self.pile.speed.heartbeat_plan
        if self.connected and self.link_up(self.now) and (plan is None or plan.until <= self.now):
            change = min((a for a, _ in self.outages if a > self.now), default=math.inf)
            self.pile.speed.assume_heartbeats(self.now, 0.0, 0.0, change)  # zero-latency link
        target = min(self.pile.speed.idle_until(self.now), limit)
        if target <= self.now + 60:
            return False
        self.pile.speed.elide_idle(self.now, target)
        self.now = target
        return True

    @property
    def elided(self) -> int:
        """Heartbeats the pile sent on paper."""
        return self.pile.speed.virtual_heartbeats

    # -- queries
    def kinds(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.kind == kind]

    def quirks(self, name: str) -> list[Event]:
        return [e for e in self.events if e.kind == "quirk" and e.data["quirk"] == name]

    def up_bytes(self) -> bytes:
        return b"".join(d for _, way, d in self.wire if way == "up")


def vehicle(**kw: Any) -> VehicleSpec:
    base: dict[str, Any] = {
        "capacity_kwh": 60.0,
        "initial_soc": 30.0,
        "max_power_kw": 60.0,
        "handshake_s": 30.0,
    }
    base.update(kw)
    return VehicleSpec(**base)
