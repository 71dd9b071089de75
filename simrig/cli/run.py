"""``simrig run``, ``simrig demo`` and ``simrig scenarios list``.

Workloads: ``simrig station`` (:mod:`.station`) and ``simrig compare`` (:mod:`.compare`).
Exit codes: :class:`simrig.exit_codes.ExitCode`.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from simrig.report.progress import progress
from simrig.report.text import print_table

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
    check_piles,
    fail,
    finish,
    interruptible,
    make_console,
    output_format,
    parse_epoch,
    unavailable,
)

__all__ = ["register"]


def scenarios_list() -> None:
    """Every built-in scenario with its case id and what it reproduces."""
    from simrig.scenarios import library_names, load_scenario

    table = Table(title="simrig scenario library")
    for column in ("name", "case", "profiles", "backend API"):
        table.add_column(column, no_wrap=True)
    table.add_column("description")
    for name in library_names():
        sc = load_scenario(name)
        profiles = ", ".join(sorted({p.profile for p in sc.piles}))
        api = "needed" if sc.meta.needs_backend_api else "not needed"
        table.add_row(sc.meta.name, sc.meta.case or "-", profiles, api, sc.meta.description)
    console = make_console(output_format(""))
    print_table(console, table, plain=not console.is_terminal)  # stacked, never cut


def run(
    scenario: Annotated[str, typer.Argument(help="A library name (igo_case#29) or a file.")],
    backend: BackendOption = "embedded",
    clock: Annotated[str, typer.Option(help="virtual | realtime")] = "",
    speed: SpeedOption = 1.0,
    out: OutOption = DEFAULT_OUT,
    profile_dir: ProfileDirOption = None,
    view: ViewOption = None,
    view_arg: ViewArgOption = None,
    backend_control: ControlOption = None,
    backend_epoch: EpochOption = None,
    start_monotonic: StartMonotonicOption = None,
    capture: CaptureOption = "all",
    fmt: FormatOption = "",
) -> None:
    """Run one scenario, judge every session, write the report.

    Exit 0 pass, 1 expectations failed, 2 bad input, 3 backend unreachable or
    incompatible, 4 interrupted."""
    from simrig.control import ControlUnreachable
    from simrig.scenarios import ScenarioError, load_scenario
    from simrig.sim.runner import BackendError, run_scenario

    try:
        fmt = output_format(fmt)
        console = make_console(fmt)
        check_capture(capture)
        check_out(out)
        sc = load_scenario(scenario)
        check_piles(sc, scenario, tuple(profile_dir or ()))
        pinned = parse_epoch(backend_epoch)
        if clock:
            if clock not in ("virtual", "realtime"):
                raise ScenarioError(f"--clock {clock}: expected virtual or realtime")
            sc = sc.model_copy(update={"meta": sc.meta.model_copy(update={"clock": clock})})
        control, view_factory = backend_driver(backend, backend_control, view, view_arg)
        report = PartialReport(out, console, capture, fmt)
        with interruptible(report), progress(console, sc.meta.name) as bar:
            result = run_scenario(
                sc,
                backend=backend,
                speed=speed,
                profile_dirs=tuple(profile_dir or ()),
                progress=bar.update,
                view_factory=view_factory,
                control=control,
                backend_epoch=pinned,
                start_monotonic=start_monotonic,
            )
    except ControlUnreachable as exc:
        unavailable(str(exc))
    except (ScenarioError, BackendError, ValueError, OSError) as exc:
        fail(str(exc))
    finish([result], out, console, capture, fmt)


def demo(out: OutOption = DEFAULT_OUT, fmt: FormatOption = "") -> None:
    """Run the whole incident library on the embedded reference platform; write the report."""
    from simrig.scenarios import ScenarioError, library_names, load_scenario
    from simrig.sim.runner import run_scenario

    try:
        check_out(out)
        fmt = output_format(fmt)
    except ScenarioError as exc:
        fail(str(exc))
    console = make_console(fmt)
    report = PartialReport(out, console, fmt=fmt)
    results = report.done
    with interruptible(report), progress(console, "incident library", len(library_names())) as bar:
        for name in library_names():
            results.append(run_scenario(load_scenario(name)))
            bar.advance()
    finish(results, out, console, fmt=fmt)


def register(app: typer.Typer) -> None:
    """Add ``run``, ``demo`` and the ``scenarios`` group to the ``simrig`` CLI."""
    scenarios = typer.Typer(help="The scenario library.", no_args_is_help=True)
    scenarios.command("list")(scenarios_list)
    app.add_typer(scenarios, name="scenarios")
    app.command()(run)
    app.command()(demo)
