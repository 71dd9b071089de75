"""Synthetic runs for the report tests: views built directly, the wire from real frames."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from simrig.capture import Chunk
from simrig.oracle.judge import OrderVerdict, SessionVerdict
from simrig.oracle.views import (
    DeviceBill,
    PlatformBill,
    PlatformNotification,
    PlatformSession,
    TruthRecord,
)
from simrig.protocol.ykc import (
    AckResult,
    AuthFailure,
    CardAuthReply,
    CardStart,
    Confirm,
    GunHealth,
    GunStatus,
    Heartbeat,
    RealtimeData,
    RecordAck,
    RemoteStop,
    StartMode,
    TransactionRecord,
    encode_frame,
)
from simrig.sim.results import ExpectationResult, RunResult, TruthSample

T0 = datetime(2019, 11, 16, 13, 0, 0)
PILE_A = "32010200000001"
PILE_B = "32010200000002"
CARD = "0000000000000001"
POWER_KW = 60.0


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@dataclass(frozen=True)
class Spec:
    """One plug-in: minutes since the epoch, what got billed, the codes the oracle gave."""

    index: int
    plug: float
    start: float
    end: float
    unplug: float
    codes: frozenset[int] = frozenset()
    billed: bool = True  # the pile sent (and the platform charged) a bill
    billed_energy: float | None = None  # None: the true energy
    stops: int = 1  # 0x36 remote stops sent
    false_notice: float | None = None  # minute of a false "charge finished" notice

    @property
    def energy(self) -> float:
        return round(POWER_KW * (self.end - self.start) / 60, 4)


def serial(pile: str, index: int) -> str:
    return f"{pile}01191116{index:08d}"[-32:].rjust(32, "0")


class Wire:
    def __init__(self, pile: str) -> None:
        self.pile = pile
        self.chunks: list[Chunk] = []
        self.seq = 0

    def send(self, minute: float, direction: str, message) -> None:
        self.seq += 1
        self.chunks.append(Chunk(at(minute), self.pile, direction, encode_frame(message, self.seq)))


def _session_wire(wire: Wire, spec: Spec, sn: str, gun: int = 1) -> None:
    pile = wire.pile
    wire.send(spec.plug + 0.2, "up", CardStart(pile, gun, StartMode.CARD, False, CARD))
    wire.send(
        spec.plug + 0.3,
        "down",
        CardAuthReply(sn, pile, gun, CARD, 100.0, Confirm.OK, AuthFailure.NONE),
    )
    minute = spec.start
    while minute <= spec.end:
        energy = POWER_KW * (minute - spec.start) / 60
        wire.send(
            minute,
            "up",
            RealtimeData(sn, pile, gun, status=GunStatus.CHARGING, plugged=True, energy=energy),
        )
        minute += 0.5
    for k in range(spec.stops):
        wire.send(spec.end - 0.1 + k * 0.5, "down", RemoteStop(pile, gun))
    if spec.billed:
        energy = spec.energy if spec.billed_energy is None else spec.billed_energy
        wire.send(
            spec.end + 0.2,
            "up",
            TransactionRecord(
                sn,
                pile,
                gun,
                start_time=at(spec.start),
                end_time=at(spec.end),
                total_energy=energy,
                total_amount=round(energy * 1.5, 2),
                trade_time=at(spec.end + 0.2),
                stop_reason=0x40,
            ),
        )
        wire.send(spec.end + 0.3, "down", RecordAck(sn, AckResult.OK))


def _verdict(pile: str, spec: Spec) -> SessionVerdict:
    sn = serial(pile, spec.index)
    truth = TruthRecord(
        pile,
        1,
        spec.index,
        at(spec.plug),
        at(spec.unplug),
        at(spec.start),
        at(spec.end),
        spec.energy,
    )
    fair = round(spec.energy * 1.5, 2)
    d_bill = p_bill = None
    if spec.billed:
        energy = spec.energy if spec.billed_energy is None else spec.billed_energy
        d_bill = DeviceBill(
            sn,
            pile,
            1,
            at(spec.start),
            at(spec.end),
            at(spec.end + 0.2),
            energy,
            round(energy * 1.5, 2),
            0x40,
            at(spec.end + 0.2),
            True,
            "68aa",
        )
        p_bill = PlatformBill(
            sn,
            pile,
            1,
            at(spec.start),
            at(spec.end),
            at(spec.unplug),
            energy,
            round(energy * 1.5, 2),
            0.0,
            round(energy * 1.5, 2),
            at(spec.end + 0.2),
        )
    p_session = PlatformSession(
        sn,
        pile,
        1,
        "finished",
        at(spec.plug + 0.3),
        at(spec.start),
        at(spec.end),
        at(spec.unplug),
        spec.energy,
    )
    notes = () if spec.billed else (f"{sn}: no bill reached the platform",)
    order = OrderVerdict(sn, spec.codes, d_bill, p_bill, p_session, notes)
    notices = ()
    if spec.false_notice is not None:
        notices = (PlatformNotification(at(spec.false_notice), "charge_finished", pile, 1, sn),)
    return SessionVerdict(
        truth=truth,
        orders=(order,),
        codes=spec.codes,
        false_notifications=notices,
        charged_yuan=p_bill.total_charged_yuan if p_bill else 0.0,
        fair_yuan=fair,
        evidence=(d_bill.frame_hex,) if d_bill else (),
    )


def _samples(pile: str, specs: list[Spec], minutes: float) -> list[TruthSample]:
    samples = []
    meter = 1000.0
    step = 0.25
    for i in range(int(minutes / step) + 1):
        m = i * step
        plugged = any(s.plug <= m < s.unplug for s in specs)
        charging = any(s.start <= m < s.end for s in specs)
        power = POWER_KW if charging else 0.0
        samples.append(TruthSample(m * 60, pile, 1, round(meter, 4), power, plugged, charging))
        meter += power * step / 60
    return samples


def make_run(
    specs: list[Spec],
    *,
    pile: str = PILE_A,
    profile: str = "sinexcel-dc@2090104",
    scenario: str = "zshy_case23_repeated_stop",
    case: str = "zshy_case#23",
    expectations: list[ExpectationResult] | None = None,
    offline: list[tuple[float, float]] | None = None,
) -> RunResult:
    minutes = max(s.unplug for s in specs) + 5
    wire = Wire(pile)
    m = 0.0
    while m < minutes:  # heartbeats, every minute
        wire.send(m, "up", Heartbeat(pile, 1, GunHealth.NORMAL))
        m += 1.0
    for spec in specs:
        _session_wire(wire, spec, serial(pile, spec.index))
    wire.chunks.sort(key=lambda c: c.at)
    return RunResult(
        scenario_name=scenario,
        case=case,
        epoch=T0,
        duration_s=minutes * 60,
        backend="embedded",
        seed=7,
        profiles={pile: profile},
        verdicts=[_verdict(pile, s) for s in specs],
        expectations=expectations or [],
        chunks=wire.chunks,
        samples=_samples(pile, specs, minutes),
        offline={pile: offline or []},
        frames=len(wire.chunks),
    )


def key(pile: str, index: int) -> str:
    return f"{pile}:1:{index}"


SPECS_A = [
    Spec(1, plug=0, start=1, end=21, unplug=25),
    Spec(2, plug=30, start=31, end=51, unplug=55, codes=frozenset({1}), billed=False, stops=3),
    Spec(
        3,
        plug=60,
        start=61,
        end=81,
        unplug=85,
        codes=frozenset({9, 11}),
        billed_energy=12.0,
        false_notice=70,
    ),
]
SPECS_B = [
    Spec(
        i,
        plug=30 * (i - 1),
        start=30 * (i - 1) + 1,
        end=30 * (i - 1) + 21,
        unplug=30 * (i - 1) + 25,
    )
    for i in range(1, 5)
]


def run_a() -> RunResult:
    """Three sessions on 2090104: clean, bill lost (3 stops, offline), 9+11 with a false notice."""
    return make_run(
        SPECS_A,
        expectations=[
            ExpectationResult(key(PILE_A, 1), True, "none", "none"),
            ExpectationResult(key(PILE_A, 2), True, "1", "1"),
            ExpectationResult(key(PILE_A, 3), False, "9", "9+11"),
            ExpectationResult(key(PILE_A, 9), False, "1", "no session"),
        ],
        offline=[(48 * 60.0, 53 * 60.0)],
    )


def run_b() -> RunResult:
    """Four clean sessions on 2090404."""
    return make_run(
        SPECS_B,
        pile=PILE_B,
        profile="sinexcel-dc@2090404",
        scenario="zpd_case10_clean",
        case="zpd_case#10",
        expectations=[ExpectationResult(key(PILE_B, i), True, "none", "none") for i in (1, 2)],
    )
