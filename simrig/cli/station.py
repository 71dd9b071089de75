"""``simrig station``: one station workload (N piles, a profile, D days) on any backend."""

from __future__ import annotations

from typing import Annotated

import typer

from .common import (
    DEFAULT_OUT,
    BackendOption,
    CaptureOption,
    ControlOption,
    EpochOption,
    FormatOption,
    OutOption,
    PartialReport,
    ProfileDirOption,
    SpeedOption,
    StartMonotonicOption,
    ViewArgOption,
    ViewOption,
    backend_driver,
    check_capture,
    check_out,
    fail,
    finish,
    make_console,
    output_format,
    parse_epoch,
    unavailable,
)
from .workload import (
    AppShareOption,
    DaysOption,
    DrainOption,
    FirstPileOption,
    PilesOption,
    RateOption,
    SeedOption,
    WorkloadRun,
    run_workloads,
    specs_for,
    workload_spec,
)

__all__ = ["register", "station"]


def station(
    profile: Annotated[str, typer.Option(help="Firmware profile, e.g. sinexcel-dc@2090404.")],
    backend: BackendOption = "embedded",
    piles: PilesOption = 16,
    days: DaysOption = 30.0,
    speed: SpeedOption = 1.0,
    seed: SeedOption = 1,
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
    out: OutOption = DEFAULT_OUT,
    capture: CaptureOption = "all",
    fmt: FormatOption = "",
) -> None:
    """One station workload (card and app sessions) on any backend; judge every session.

    On embedded it runs in virtual time, on any other backend in real time at --speed.
    Exit 0 pass, 1 expectations failed, 2 bad input, 3 backend unreachable or
    incompatible, 4 interrupted."""
    from simrig.control import ControlUnreachable
    from simrig.scenarios import ScenarioError
    from simrig.sim.runner import BackendError

    try:
        fmt = output_format(fmt)
        console = make_console(fmt)
        check_capture(capture)
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
        report = PartialReport(out, console, "none", fmt)
        results = run_workloads(
            specs_for([profile], spec, backend), how, console=console, report=report
        )
    except ControlUnreachable as exc:
        unavailable(str(exc))
    except (ScenarioError, BackendError, ValueError, OSError) as exc:
        fail(str(exc))
    finish(results, out, console, capture="none", fmt=fmt)  # a workload: no capture by default


def register(app: typer.Typer) -> None:
    """Add ``station`` to the ``simrig`` CLI."""
    app.command()(station)
