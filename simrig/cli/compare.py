"""``simrig compare``: firmware A/B, the same station workload on each profile."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from simrig.sim.results import RunResult

from .common import (
    DEFAULT_OUT,
    BackendOption,
    ControlOption,
    EpochOption,
    OutOption,
    ProfileDirOption,
    SpeedOption,
    ViewArgOption,
    ViewOption,
    backend_driver,
    check_out,
    fail,
    parse_epoch,
    print_throughput,
)
from .workload import (
    AppShareOption,
    DaysOption,
    DrainOption,
    FirstPileOption,
    PilesOption,
    RateOption,
    SeedOption,
    StartMonotonicOption,
    WorkloadRun,
    run_workloads,
    specs_for,
    workload_spec,
)

__all__ = ["compare", "register"]


def compare(
    profile: Annotated[list[str], typer.Option(help="Firmware profiles, e.g. A and B.")],
    piles: PilesOption = 16,
    days: DaysOption = 30.0,
    seed: SeedOption = 1,
    out: OutOption = DEFAULT_OUT,
    backend: BackendOption = "embedded",
    speed: SpeedOption = 1.0,
    sessions_per_pile_day: RateOption = 1.0,
    app_share: AppShareOption = 0.6,
    first_pile_no: FirstPileOption = None,
    drain_minutes: DrainOption = None,
    backend_control: ControlOption = None,
    backend_epoch: EpochOption = None,
    start_monotonic: StartMonotonicOption = None,
    view: ViewOption = None,
    view_arg: ViewArgOption = None,
    profile_dir: ProfileDirOption = None,
) -> None:
    """Firmware A/B: the same station workload on each profile, anomaly table side by side.

    On embedded each profile runs on its own in virtual time; on any other backend all
    profiles run side by side in one real-time run at --speed, each profile's piles
    numbered apart (+10000 per profile). Exit 0 pass, 1 expectations failed, 2 bad input,
    3 backend unreachable or incompatible, 4 interrupted."""
    from simrig.report import (
        compare_bar_png,
        compare_table,
        exit_code,
        stats_by_profile,
        write_results_json,
    )
    from simrig.report.folder import print_diagnostics
    from simrig.scenarios import ScenarioError
    from simrig.sim.runner import BackendError

    console = Console()
    try:
        check_out(out)
        pinned = parse_epoch(backend_epoch)
        control, view_factory = backend_driver(backend, backend_control, view, view_arg)
        spec = workload_spec(
            piles=piles,
            days=days,
            seed=seed,
            sessions_per_pile_day=sessions_per_pile_day,
            app_share=app_share,
            first_pile_no=first_pile_no,
            epoch=pinned,
        )
        how = WorkloadRun(
            backend=backend,
            speed=speed,
            control=control,
            view_factory=view_factory,
            backend_epoch=pinned,
            start_monotonic=start_monotonic,
            profile_dirs=tuple(profile_dir or ()),
            drain_s=None if drain_minutes is None else 60 * drain_minutes,
        )
        specs = specs_for(profile, spec, backend)
        results: list[RunResult] = run_workloads(specs, how, together=backend != "embedded")
    except (ScenarioError, BackendError, ValueError, OSError) as exc:
        fail(str(exc))
    print_diagnostics(results, console)
    rows = stats_by_profile(results)
    console.print(compare_table(rows))
    out.mkdir(parents=True, exist_ok=True)
    chart = compare_bar_png(rows, out / "compare.png")
    write_results_json(results, out / "results.json")
    print_throughput(results, console)
    console.print(f"chart: {chart}")
    raise typer.Exit(exit_code(results))


def register(app: typer.Typer) -> None:
    """Add ``compare`` to the ``simrig`` CLI."""
    app.command()(compare)
