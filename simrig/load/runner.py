"""Run a load plan against a backend: the real-time driver with the load recorder.

The same :class:`~simrig.adapters.realtime.RealtimeDriver` and firmware models as every
real-time run; the driver's recorder is a :class:`~simrig.load.metrics.LoadObserver`
(no per-frame record, no truth samples, no event list), the piles power up along the
plan's ramp, and a ticker takes a :class:`~simrig.load.metrics.Snapshot` every
``tick_s`` for the live view and the time series. The result is plain data
(:class:`LoadFigures`), so ``--workers`` processes can send theirs to the parent, which
adds them up (:func:`merge`).
"""

from __future__ import annotations

import asyncio
import time
from bisect import bisect_right
from collections.abc import Callable
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from simrig.adapters.realtime import RealtimeDriver, tcp_protocol_opener
from simrig.errors import BackendError
from simrig.gc_policy import few_full_collections
from simrig.sim.realtime_run import mapping_starting_now
from simrig.sim.world import build_world, site_from_scenario

from .histograms import encode, merge_into, new_histogram, new_interval_histogram, summary_ms
from .metrics import KINDS, Counters, LoadObserver

if TYPE_CHECKING:
    from simrig.control import BackendControl
    from simrig.protocol.ykc import Message

    from .capture import CaptureSpec
    from .plan import LoadPlan

__all__ = ["LoadFigures", "TimedControl", "merge", "parse_tcp", "run_load"]

#: piles' frame events off, the recorder keeps nothing per frame: the memory of a pile is
#: its firmware, its plant, its link and a few pending requests


def parse_tcp(backend: str) -> tuple[str, int]:
    """``tcp://host:port`` → (host, port); anything else is bad input."""
    if not backend.startswith("tcp://"):
        raise ValueError(f"--backend {backend}: simrig load drives a tcp://host:port backend")
    host, _, port = backend[len("tcp://") :].rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--backend {backend}: expected tcp://host:port")
    return host, int(port)


class TimedControl:
    """A backend control whose app starts and stops are timed to their 0x34/0x36."""

    def __init__(self, inner: BackendControl, observer: LoadObserver) -> None:
        self.inner = inner
        self.observer = observer
        self.name = getattr(inner, "name", type(inner).__name__)

    def supports(self, operation: str) -> bool:
        return self.inner.supports(operation)

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
        self.observer.app_called(pile_no, "remote_start")
        return self.inner.app_start(
            pile_no, gun, account, now, energy_target=energy_target,
            amount_target=amount_target, time_target_min=time_target_min,
        )  # fmt: skip

    def app_stop(self, pile_no: str, gun: int, now: float) -> None:
        self.observer.app_called(pile_no, "remote_stop")
        self.inner.app_stop(pile_no, gun, now)

    def send_command(self, pile_no: str, message: Message, now: float) -> None:
        self.inner.send_command(pile_no, message, now)

    def top_up(self, account: str, yuan: float, now: float) -> None:
        self.inner.top_up(account, yuan, now)

    def set_balance(self, account: str, yuan: float, now: float) -> None:
        self.inner.set_balance(account, yuan, now)

    def provision(self, site: Any) -> None:
        self.inner.provision(site)


@dataclass
class LoadFigures:
    """Everything a load run measured, as plain data (JSON-ready, mergeable)."""

    piles: int
    duration_s: float
    wall_s: float = 0.0
    counters: dict[str, Any] = field(default_factory=dict)
    #: kind → encoded histogram of the backend's and the pile's latency
    backend: dict[str, str] = field(default_factory=dict)
    pile: dict[str, str] = field(default_factory=dict)
    timer_lag: str = ""
    series: list[dict[str, Any]] = field(default_factory=list)
    bills_never_acked: int = 0
    bills_in_flight: int = 0
    deviations: dict[str, int] = field(default_factory=dict)
    deviation_piles: int = 0
    interrupted: bool = False
    stopped_early: str = ""
    errors: list[str] = field(default_factory=list)
    #: one line per process that wrote a sampled capture (``--capture sample``)
    captures: list[str] = field(default_factory=list)


def run_load(
    plan: LoadPlan,
    backend: str,
    *,
    control: BackendControl | None = None,
    on_tick: Callable[[dict[str, Any]], None] | None = None,
    tick_s: float = 1.0,
    start_monotonic: float | None = None,
    provision: bool = True,
    backend_epoch: datetime | None = None,
    capture: CaptureSpec | None = None,
    worker: int | None = None,
) -> LoadFigures:
    """Run ``plan`` against ``backend`` (``tcp://host:port``) in this process; ``capture``:
    the sampled piles this process drives are captured to its own files (``worker``'s)."""
    from simrig.adapters.tcp_server import install_uvloop

    host, port = parse_tcp(backend)
    mapping = mapping_starting_now(plan.speed, start_monotonic, backend_epoch)
    scenario = plan.scenario(mapping.wall_epoch)
    if plan.app_share > 0 and control is None:
        raise BackendError(
            f"{backend}: app sessions (--app-share {plan.app_share:g}) need the backend's API: "
            "give --backend-control FILE.toml|MODULE:CALLABLE, or --app-share 0"
        )
    piles = [p.pile_no for p in scenario.piles]
    observer = LoadObserver(piles, speed=plan.speed, wall=mapping.wall,
                            link_corrupts=False)  # fmt: skip
    timed = TimedControl(control, observer) if control is not None else None
    world = build_world(scenario, app=timed, epoch=mapping.wall_epoch)
    for pile in world.piles.values():
        pile.emit_frame_events = False
    world.links = plan.faults.links(piles, plan.seed, plan.ramp_s, plan.duration_s)
    if provision and control is not None:
        control.provision(site_from_scenario(scenario, world.tariff))
    ramp = plan.ramp()
    tap = None
    if capture is not None and set(capture.piles) & set(piles):  # no sampled pile: no files
        from .capture import CaptureTap

        tap = CaptureTap(observer, capture, piles, mapping.wall, worker)
    driver = RealtimeDriver(
        world, mapping=mapping, sample_truth=False, recorder=tap or observer,
        first_pump=ramp, opener=tcp_protocol_opener(host, port),
    )  # fmt: skip
    driver.give_up = observer.give_up
    starts = sorted(ramp.values())
    series: list[dict[str, Any]] = []
    started = time.monotonic()

    async def ticker(done: asyncio.Event) -> None:
        assert driver.mapping is not None
        t0 = driver.mapping.loop_time(0.0)
        nxt = max(time.monotonic(), t0) + tick_s
        while not done.is_set():
            with suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), max(0.0, nxt - time.monotonic()))
            now = time.monotonic()
            if done.is_set() and now < nxt - tick_s / 2:
                break  # the run ended early in this tick: its figures are in the totals
            nxt += tick_s
            observer.expire(now)
            observer.started = bisect_right(starts, (now - t0) * plan.speed)
            row = asdict(observer.snapshot(now - t0))
            series.append(row)
            if on_tick is not None:
                on_tick(row)

    async def main() -> None:
        done = asyncio.Event()
        tick = asyncio.ensure_future(ticker(done))
        try:
            await driver.run(plan.duration_s)
        finally:
            done.set()
            await tick

    install_uvloop()
    try:
        with few_full_collections():  # the piles' heap, frozen: no full sweep walks it
            asyncio.run(main())
    finally:
        if tap is not None:
            tap.close()
    now = time.monotonic()
    observer.expire(now)
    lost, in_flight = observer.bills_open(now)
    figures = LoadFigures(
        piles=len(piles),
        duration_s=plan.duration_s,
        wall_s=time.monotonic() - started,
        counters=asdict(observer.counters),
        backend={k: encode(observer.backend[k]) for k in KINDS},
        pile={k: encode(observer.pile_seen[k]) for k in KINDS},
        timer_lag=encode(observer.timer_lag),
        series=series,
        bills_never_acked=lost,
        bills_in_flight=in_flight,
        deviation_piles=observer.deviation_piles,
        deviations=observer.deviations(),
        interrupted=driver.interrupted,
        stopped_early=observer.gave_up,
        errors=driver.errors[:20],
        captures=[tap.summary()] if tap is not None else [],
    )
    return figures


def merge(parts: list[LoadFigures]) -> LoadFigures:
    """The figures of several workers as one run (histograms added, counters summed,
    the time series aligned tick by tick)."""
    if len(parts) == 1:
        return parts[0]
    out = LoadFigures(
        piles=sum(p.piles for p in parts),
        duration_s=max(p.duration_s for p in parts),
        wall_s=max(p.wall_s for p in parts),
        interrupted=any(p.interrupted for p in parts),
        stopped_early="; ".join(sorted({p.stopped_early for p in parts if p.stopped_early})),
        deviation_piles=sum(p.deviation_piles for p in parts),
    )
    counters: dict[str, Any] = asdict(Counters())
    for p in parts:
        for key, value in p.counters.items():
            if isinstance(value, dict):
                for k, v in value.items():
                    counters[key][k] = counters[key].get(k, 0) + v
            else:
                counters[key] += value
        for k, v in p.deviations.items():
            out.deviations[k] = out.deviations.get(k, 0) + v
        out.bills_never_acked += p.bills_never_acked
        out.bills_in_flight += p.bills_in_flight
        out.errors += p.errors
        out.captures += p.captures
    out.counters = counters
    for name in ("backend", "pile"):
        merged = {}
        for k in KINDS:
            h = new_histogram()
            for p in parts:
                merge_into(h, getattr(p, name)[k])
            merged[k] = encode(h)
        setattr(out, name, merged)
    lag = new_histogram()
    for p in parts:
        merge_into(lag, p.timer_lag)
    out.timer_lag = encode(lag)
    out.series = merge_series([p.series for p in parts])
    return out


#: the snapshot fields added up across workers
SUMMED = ("piles_started", "connected", "logged_in", "frames_up", "frames_down",
          "bills_uploaded", "bills_acked", "reconnects", "login_failures", "rss_kb")  # fmt: skip


def merge_series(series: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Tick ``i`` of every worker as one tick: counts summed, histograms added."""
    merged = []
    for ticks in zip(*series, strict=False):
        row: dict[str, Any] = {"t": max(t["t"] for t in ticks)}
        for key in SUMMED:
            row[key] = sum(t[key] for t in ticks)
        for key in ("backend_all", "heartbeat", "timer_lag"):
            h = new_interval_histogram()
            for t in ticks:
                merge_into(h, t[key])
            row[key] = encode(h)
        merged.append(row)
    return merged


def latency_table(figures: LoadFigures) -> dict[str, dict[str, dict[str, float | int]]]:
    """Per kind: the backend's and the pile's latency (ms) from the encoded histograms."""
    table = {}
    for k in KINDS:
        row = {}
        for name in ("backend", "pile"):
            h = new_histogram()
            merge_into(h, getattr(figures, name)[k])
            row[name] = summary_ms(h)
        table[k] = row
    return table
