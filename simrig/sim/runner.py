"""Run a scenario against a backend and judge it: the main job of simrig (issue 5).

Backends: ``embedded`` (virtual time, the reference platform in-process), ``embedded-tcp``
(the reference platform as a separate server process on loopback, real-time clock) and
``tcp://host:port`` (any YKC backend; frames-only judgement unless a platform view is
given). The platform view of the reference platform is read from its repository.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from simrig.adapters.embedded_server import EmbeddedServer
from simrig.adapters.virtual import VirtualDriver
from simrig.capture import Chunk
from simrig.endpoint import Event
from simrig.errors import BackendError
from simrig.gc_policy import few_full_collections
from simrig.oracle.device_view import PaperFrame, device_orders
from simrig.oracle.judge import Oracle, SessionVerdict
from simrig.oracle.pushed_tariff import pushed_models
from simrig.oracle.repository_view import RepositoryView
from simrig.oracle.views import (
    PlatformView,
    TruthRecord,
)
from simrig.plant import HandshakeStatus
from simrig.scenarios import Scenario
from simrig.sim.diagnostics import assess_backend, judge_rig_lateness
from simrig.sim.expectations import check_expectations, check_rates
from simrig.sim.keep import EVERYTHING, Keep
from simrig.sim.realtime_run import RealtimeInterrupted, run_realtime
from simrig.sim.results import INTERRUPTED, RunResult
from simrig.sim.world import (
    World,
    build_world,
    register_site,
    scenario_tariff,
)

if TYPE_CHECKING:
    from simrig.control import BackendControl
    from simrig.plant import TruthSession

BACKENDS = ("embedded", "embedded-tcp")


def load_view_factory(spec: str, arg: str | None = None) -> Callable[[str], PlatformView]:
    """``package.module:callable`` → ``backend -> PlatformView`` (the oracle's plugin hook).

    The callable is called as ``callable(backend)`` or, with ``arg``, ``callable(backend, arg)``.
    """
    import importlib

    module_name, _, attr = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError) as exc:
        raise BackendError(f"--view {spec}: {exc}") from None
    if arg is None:
        return factory
    return lambda backend: factory(backend, arg)


def offline_windows(events: Iterable[Event], end: float) -> dict[str, list[tuple[float, float]]]:
    """Per pile, the times it had no connection (from connected/disconnected events)."""
    windows: dict[str, list[tuple[float, float]]] = {}
    down_since: dict[str, float] = {}
    seen: set[str] = set()
    for event in events:
        if event.kind == "connected":
            seen.add(event.source)
            start = down_since.pop(event.source, 0.0 if event.source not in windows else None)
            if start is not None and event.t > start:
                windows.setdefault(event.source, []).append((start, event.t))
            windows.setdefault(event.source, [])
        elif event.kind == "disconnected":
            down_since[event.source] = event.t
    for pile, start in down_since.items():
        windows.setdefault(pile, []).append((start, end))
    return windows


def truth_records(
    world: World, end: float, offline: dict[str, list[tuple[float, float]]]
) -> list[TruthRecord]:
    counters: dict[tuple[str, int], int] = {}
    records = []
    # a model may have read the plant just past the end (latency); never go back in time
    end = max([end, *(p.now for p in world.plant.piles())])
    for session in sorted(
        world.plant.truth_sessions(end), key=lambda s: (s.pile_no, s.gun, s.plug_at)
    ):
        key = (session.pile_no, session.gun)
        counters[key] = counters.get(key, 0) + 1
        charge_end = session.charge_end
        # offline *before* the end: a reboot that ends the charge and drops the link at
        # the same instant is a plain loss (1), not a loss while offline (2)
        down = charge_end is not None and any(
            a < charge_end < b for a, b in offline.get(session.pile_no, [])
        )
        failed = [h.deadline for h in session.handshakes if h.status is HandshakeStatus.FAILED]
        stop = charge_end if charge_end is not None else (max(failed) if failed else None)
        records.append(
            TruthRecord(
                pile_no=session.pile_no,
                gun=session.gun,
                index=counters[key],
                plug_at=world.wall(session.plug_at),
                unplug_at=None if session.unplug_at is None else world.wall(session.unplug_at),
                charge_start=None
                if session.charge_start is None
                else world.wall(session.charge_start),
                charge_end=None if charge_end is None else world.wall(charge_end),
                energy_kwh=round(session.metered_kwh, 4),
                link_down_at_charge_end=down,
                service_stop=None if stop is None else world.wall(stop),
                episodes=tuple(
                    (world.wall(a), None if b is None else world.wall(b))
                    for a, b in charging_episodes(session)
                ),
            )
        )
    return records


def charging_episodes(session: TruthSession) -> list[tuple[float, float | None]]:
    """(first current start, last current end) per contactor close with current: the
    charging episodes of one plug-in (a restart after a stop is a second one)."""
    episodes = []
    for closed in session.contactor:
        until = math.inf if closed.end is None else closed.end
        flows = [c for c in session.current if closed.start <= c.start <= until]
        if flows:
            episodes.append((flows[0].start, flows[-1].end))
    return episodes


def judge(
    world: World,
    scenario: Scenario,
    events: list[Event],
    chunks: list[Chunk],
    view: PlatformView | None,
    end: float,
    paper: Sequence[PaperFrame] = (),
) -> tuple[list[SessionVerdict], dict[str, list[tuple[float, float]]]]:
    offline = offline_windows(events, end)
    truths = truth_records(world, end, offline)
    pushed = pushed_models(chunks)
    orders = device_orders(chunks, paper=paper)
    verdicts = Oracle(world.tariff).judge(truths, orders, view, pushed)
    return verdicts, offline


def run_scenario(
    scenario: Scenario,
    *,
    backend: str = "embedded",
    speed: float = 1.0,
    profile_dirs: tuple[Path, ...] = (),
    elide_heartbeats: bool = True,
    progress: Callable[[float], None] | None = None,
    keep: Keep = EVERYTHING,
    view_factory: Callable[[str], PlatformView] | None = None,
    start_monotonic: float | None = None,
    control: BackendControl | None = None,
    backend_epoch: datetime | None = None,
) -> RunResult:
    """Run one scenario and judge every session.

    ``start_monotonic``: the CLOCK_MONOTONIC time of scenario t=0 for a real-time run
    against a ``tcp://`` or ``serial:`` backend whose clock started then (default: now).
    ``control``: for ``tcp://`` and ``serial:``, the backend control that provisions the
    site and plays the app (:mod:`simrig.control`); without it app steps are refused.
    ``backend_epoch``: the backend's wall time at scenario t=0 (default: now for
    ``tcp://`` and ``serial:``, the scenario epoch for the reference platform); one
    :class:`~simrig.sim.time_mapping.TimeMapping` then serves truth, device view and oracle.
    ``keep``: what a virtual-time run records besides its verdicts (:class:`Keep`).
    """
    if backend_epoch is not None and backend == "embedded" and scenario.meta.clock == "virtual":
        meta = scenario.meta.model_copy(update={"epoch": backend_epoch})
        scenario = scenario.model_copy(update={"meta": meta})  # virtual: its clock is ours
    with few_full_collections():
        return _run_and_judge(
            scenario, backend, speed, profile_dirs, elide_heartbeats, progress, keep,
            view_factory, start_monotonic, control, backend_epoch,
        )  # fmt: skip


def _run_and_judge(
    scenario: Scenario,
    backend: str,
    speed: float,
    profile_dirs: tuple[Path, ...],
    elide_heartbeats: bool,
    progress: Callable[[float], None] | None,
    keep: Keep,
    view_factory: Callable[[str], PlatformView] | None,
    start_monotonic: float | None,
    control: BackendControl | None = None,
    backend_epoch: datetime | None = None,
) -> RunResult:
    started = time.perf_counter()
    end = scenario.meta.duration
    interrupted_at: float | None = None
    if backend == "embedded" and scenario.meta.clock == "virtual":
        from simrig.platform import MemoryRepository, PlatformCore
        from simrig.platform.rules import rules_from_mapping

        repo = MemoryRepository()
        register_site(scenario, repo, scenario_tariff(scenario), profile_dirs)
        rules = rules_from_mapping(scenario.platform, source=f"{scenario.meta.name}: platform")
        keep = dataclasses.replace(keep, frame_events=keep.frame_events_for(end))
        rules = dataclasses.replace(
            rules,
            emit_frame_events=bool(keep.frame_events),
            store_realtime_samples=keep.realtime_readings,
        )
        core = PlatformCore(repo, rules=rules, epoch=scenario.meta.epoch)
        world = build_world(scenario, core=core, repo=repo, profile_dirs=profile_dirs)
        driver = VirtualDriver(world, elide_heartbeats=elide_heartbeats, keep=keep)
        driver.run(until=end, progress=progress)
        events, chunks, samples = driver.events, driver.chunks, driver.samples
        paper = driver.paper_realtime
        view: PlatformView | None = RepositoryView(repo)
        elided = driver.elided_heartbeats
        realtime = False
    else:
        try:
            rt = run_realtime(
                scenario, backend, speed, profile_dirs, start_monotonic, backend_epoch, control
            )
        except RealtimeInterrupted as stop:  # judge what ran, then say it was cut short
            rt, interrupted_at = stop.partial, min(end, stop.partial.driver.now())
        world, events, chunks, view = rt.world, rt.driver.events, rt.driver.chunks, rt.view
        realtime = True
        if view_factory is not None:  # a backend driver plugin reads the platform's view
            view = view_factory(backend)
        samples, elided, paper = rt.driver.samples, 0, []
    if interrupted_at is not None:
        end = interrupted_at
    verdicts, offline = judge(world, scenario, events, chunks, view, end, paper)
    if interrupted_at is not None:
        verdicts = [_cut_short(v) for v in verdicts]
    result = RunResult(
        scenario_name=scenario.meta.name,
        case=scenario.meta.case,
        epoch=world.epoch,  # the run's time mapping: the backend's wall at t=0
        duration_s=end,
        backend=backend,
        seed=scenario.meta.seed,
        profiles={p: f.firmware.name for p, f in world.piles.items()},
        verdicts=verdicts,
        # a run cut short is not held to the scenario's expectations (report: PARTIAL)
        expectations=[]
        if interrupted_at is not None
        else check_expectations(scenario, verdicts, chunks, frames_only=view is None)
        + check_rates(scenario, verdicts),
        events=events,
        chunks=chunks,
        paper_realtime=paper,
        samples=samples,
        offline=offline,
        wall_s=time.perf_counter() - started,
        frames=len(chunks),
        elided_heartbeats=elided,
    )
    if realtime:  # the rig's own lateness is never the backend's fault
        judge_rig_lateness(result, rt.driver.lateness, rt.driver.speed, rt.driver.world.links)
    if realtime and interrupted_at is None:  # diagnostics, deviations (issue 11 items 4, 5)
        stopped = next((e.data["reason"] for e in events if e.kind == "gave_up"), "")
        assess_backend(result, scenario, stopped)
    if interrupted_at is not None:
        result.stopped_early = INTERRUPTED
        raise RunInterrupted(result)
    return result


def _cut_short(verdict: SessionVerdict) -> SessionVerdict:
    """A session the interruption may have cut (not unplugged yet, or a bill not acked:
    it could still come) is "not judged", so Ctrl-C never becomes a lost bill."""
    settled = verdict.truth.unplug_at is not None and all(
        o.device_bill is not None and o.device_bill.acked for o in verdict.orders
    )
    if settled or not verdict.judged:
        return verdict
    reason = "the run was interrupted before this session ended and was billed"
    return dataclasses.replace(verdict.unjudged(reason), false_notifications=())


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM ended a real-time run in order; ``result`` is the partial run,
    judged up to the interruption (``stopped_early`` = :data:`INTERRUPTED`, no expectations)."""

    def __init__(self, result: RunResult) -> None:
        super().__init__()
        self.result = result


__all__ = [
    "BACKENDS",
    "INTERRUPTED",
    "BackendError",
    "EmbeddedServer",
    "RunInterrupted",
    "load_view_factory",
    "run_scenario",
]
