"""Station workloads on any backend: what ``simrig station`` and ``simrig compare`` share.

One :class:`~simrig.scenarios.workload.WorkloadSpec` per firmware profile, run through
:func:`~simrig.sim.runner.run_scenario`. On the embedded platform each profile runs on its
own in virtual time; on any other backend ``compare`` runs the profiles side by side in one
real-time run (one backend clock, the same load, 1/N of the wall time), each profile's
piles numbered :data:`PILE_NO_STRIDE` apart. A ``tcp://`` backend keeps its records between
runs: ``--first-pile-no`` gives a later run fresh piles.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from simrig.report.progress import progress
from simrig.scenarios import Scenario
from simrig.scenarios.workload import WorkloadSpec, station_workload

from .common import PartialReport, WritesPartial, interruptible

if TYPE_CHECKING:
    from pathlib import Path

    from simrig.control import BackendControl
    from simrig.oracle.views import PlatformView
    from simrig.sim.results import RunResult

__all__ = [
    "PILE_NO_STRIDE",
    "WorkloadRun",
    "drained",
    "external",
    "refuse_app_steps",
    "run_scenarios",
    "run_workloads",
    "side_by_side",
    "specs_for",
    "users_in_use",
    "workload_spec",
]

#: pile numbers of consecutive profiles on one backend start this far apart
#: (more than ``--piles`` allows, so the profiles' piles never overlap)
PILE_NO_STRIDE = 10_000
#: the largest pile number (14 BCD digits on the wire)
MAX_PILE_NO = 10**14 - 1

#: the workload options ``station`` and ``compare`` share
MAX_PILES = 2000
PilesOption = Annotated[int, typer.Option(min=1, max=MAX_PILES, help="Piles in the station.")]
DaysOption = Annotated[float, typer.Option(min=0.1, max=400, help="Days of station time.")]
SeedOption = Annotated[int, typer.Option(help="Workload seed (same seed, same sessions).")]
RateOption = Annotated[
    float, typer.Option(min=0.01, max=200, help="Mean sessions per pile and day.")
]
AppShareOption = Annotated[
    float,
    typer.Option(
        min=0.0,
        max=1.0,
        help="Share of sessions started and stopped by app (against tcp:// and serial: "
        "they need --backend-control); the rest by card.",
    ),
]
FirstPileOption = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="Number of the first pile (default 32010200000001); a tcp:// backend keeps its "
        "piles' records between runs.",
    ),
]
DrainOption = Annotated[
    float | None,
    typer.Option(
        min=0.0,
        help="End the run this many minutes after the workload's last step (the last "
        "unplug) instead of after --days: the idle tail costs real time on a real backend.",
    ),
]


def workload_spec(
    *,
    piles: int,
    days: float,
    seed: int,
    sessions_per_pile_day: float,
    app_share: float,
    first_pile_no: int | None,
    epoch: datetime | None,
) -> WorkloadSpec:
    """The spec of the options (profile filled in per run); ``epoch``: the workload's
    clock, so arrivals by hour of day follow the backend's (``--backend-epoch``)."""
    spec = WorkloadSpec(
        profile="",
        piles=piles,
        days=days,
        seed=seed,
        sessions_per_pile_day=sessions_per_pile_day,
        app_share=app_share,
    )
    if first_pile_no is not None:
        spec = replace(spec, first_pile_no=first_pile_no)
    return spec if epoch is None else replace(spec, epoch=epoch)


def external(backend: str) -> bool:
    """A backend simrig does not start: it outlives the run and keeps its records."""
    return backend.startswith(("tcp://", "serial:"))


@dataclass(frozen=True, slots=True)
class WorkloadRun:
    """How the workloads run: backend, speed, control, view, clock alignment."""

    backend: str = "embedded"
    speed: float = 1.0
    control: BackendControl | None = None
    view_factory: Callable[[str], PlatformView] | None = None
    #: the backend's wall time at t=0 (``--backend-epoch``)
    backend_epoch: datetime | None = None
    #: CLOCK_MONOTONIC time of t=0 (``--start-monotonic``; one real-time run only)
    start_monotonic: float | None = None
    profile_dirs: tuple[Path, ...] = ()
    #: end this many seconds after the last step (``--drain-minutes``); None: after the days
    drain_s: float | None = None


def drained(scenario: Scenario, drain_s: float) -> Scenario:
    """The scenario ending ``drain_s`` after its last step (never later than it did)."""
    if not scenario.timeline:
        return scenario
    end = min(scenario.meta.duration, max(step.at for step in scenario.timeline) + drain_s)
    meta = scenario.meta.model_copy(update={"duration": end})
    return scenario.model_copy(update={"meta": meta})


def specs_for(profiles: Sequence[str], spec: WorkloadSpec, backend: str) -> list[WorkloadSpec]:
    """One spec per profile; pile numbers apart unless each runs on its own embedded platform."""
    stride = 0 if backend == "embedded" else PILE_NO_STRIDE
    specs = [
        replace(spec, profile=name, first_pile_no=spec.first_pile_no + k * stride)
        for k, name in enumerate(profiles)
    ]
    last = specs[-1].first_pile_no + spec.piles - 1
    if last > MAX_PILE_NO:
        raise ValueError(f"--first-pile-no {spec.first_pile_no}: pile {last} has over 14 digits")
    return specs


def refuse_app_steps(scenario: Scenario, run: WorkloadRun, app_share: float) -> None:
    """No backend control on an external backend: app steps could not run, so refuse the
    workload (one line) rather than run half of it."""
    from simrig.sim.world import required_operations

    needed = required_operations(scenario)
    if run.control is None and external(run.backend) and needed:
        raise ValueError(
            f"{run.backend}: the workload's app sessions (--app-share {app_share:g}) need "
            f"{', '.join(needed)} through the backend's API: give --backend-control "
            "FILE.toml|MODULE:CALLABLE, or --app-share 0 for card sessions only"
        )


def side_by_side(scenarios: Sequence[Scenario], name: str) -> Scenario:
    """One scenario with every workload's piles (numbered apart) for one real-time run.

    Each workload keeps its own vehicles and users (names ``p{k}.…``, cards and logical
    cards offset per workload): the same user starting on two profiles' piles at once
    would be refused by a backend that allows one open order per account."""
    merged = scenarios[0].model_dump()
    merged["meta"]["name"] = name
    for key in ("piles", "vehicles", "users", "timeline"):
        merged[key] = []
    for k, scenario in enumerate(scenarios):
        data = scenario.model_dump()
        for vehicle in data["vehicles"]:
            vehicle["name"] = f"p{k}.{vehicle['name']}"
        for user in data["users"]:
            for ref in ("name", "account"):
                if user[ref]:
                    user[ref] = f"p{k}.{user[ref]}"
            if user["card"]:
                user["card"] = f"{int(user['card'], 16) + (k << 48):016X}"
            if user["logical_card"]:
                user["logical_card"] = str(int(user["logical_card"]) + k * 10**12)
        for step in data["timeline"]:
            for ref in ("vehicle", "user"):
                if step.get(ref):
                    step[ref] = f"p{k}.{step[ref]}"
        for key in ("piles", "vehicles", "users", "timeline"):
            merged[key] += data[key]
    merged["timeline"].sort(key=lambda step: step["at"])
    return Scenario.model_validate(merged)


def users_in_use(scenario: Scenario) -> Scenario:
    """Only the users the timeline names: a real backend is provisioned with a handful of
    accounts and cards, not the generator's pool of 200 (provisioning runs before t=0)."""
    used = {step.user for step in scenario.timeline if step.user}
    return scenario.model_copy(update={"users": [u for u in scenario.users if u.name in used]})


def run_workloads(
    specs: Sequence[WorkloadSpec],
    run: WorkloadRun,
    *,
    together: bool = False,
    console: Console | None = None,
    report: PartialReport | None = None,
) -> list[RunResult]:
    """Generate each spec's station workload and run them in turn (:func:`run_scenarios`);
    ``together``: all in one run, side by side (one real-time run against one backend)."""
    scenarios = [station_workload(s, random.Random(s.seed)) for s in specs]
    for spec, scenario in zip(specs, scenarios, strict=True):
        refuse_app_steps(scenario, run, spec.app_share)
    if together and len(scenarios) > 1:
        profiles = " vs ".join(s.profile for s in specs)
        name = f"station:{profiles}:{specs[0].piles}x{specs[0].days:g}d"
        scenarios = [side_by_side(scenarios, name)]
    if run.backend != "embedded":  # embedded: the same scenario as ever
        scenarios = [users_in_use(s) for s in scenarios]
    if run.drain_s is not None:
        scenarios = [drained(s, run.drain_s) for s in scenarios]
    return run_scenarios(scenarios, run, console=console, report=report)


def run_scenarios(
    scenarios: Sequence[Scenario],
    run: WorkloadRun,
    *,
    console: Console | None = None,
    report: WritesPartial | None = None,
) -> list[RunResult]:
    """Run prepared workload scenarios in turn with a progress bar (a status line every
    10 s off a terminal) on ``console``. ``report``: Ctrl-C or SIGTERM write a partial
    report there (the workloads done and the one cut short)."""
    from simrig.sim.runner import run_scenario

    results: list[RunResult] = [] if report is None else report.done
    with interruptible(report):
        for scenario in scenarios:
            with progress(console or Console(), scenario.meta.name) as bar:
                results.append(
                    run_scenario(
                        scenario,
                        backend=run.backend,
                        speed=run.speed,
                        profile_dirs=run.profile_dirs,
                        progress=bar.update,
                        view_factory=run.view_factory,
                        control=run.control,
                        start_monotonic=run.start_monotonic,
                        backend_epoch=run.backend_epoch,
                    )
                )
    return results
