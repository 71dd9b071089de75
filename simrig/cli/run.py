"""``simrig run``, ``simrig compare``, ``simrig scenarios list`` and ``simrig demo``.

Exit codes: :class:`simrig.exit_codes.ExitCode` (0 pass, 1 expectations failed, 2 bad
input, 3 backend unreachable or incompatible, 4 interrupted by Ctrl-C or SIGTERM).
"""

from __future__ import annotations

import random
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from simrig.exit_codes import ExitCode
from simrig.sim.results import RunResult

DEFAULT_OUT = Path("out")


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _finish(results: list[RunResult], out: Path, console: Console, capture: str = "all") -> None:
    from simrig.report import exit_code, print_report, write_report

    print_report(results, console)
    folder = write_report(results, out, capture=capture)
    console.print(f"report: {folder}")
    raise typer.Exit(exit_code(results))


def _fail(message: str) -> None:
    Console(stderr=True, soft_wrap=True).print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(ExitCode.BAD_INPUT)


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextmanager
def _interruptible() -> Iterator[None]:
    """Ctrl-C or SIGTERM during a run: say so and exit 4 (ExitCode.INTERRUPTED)."""
    try:
        previous = signal.signal(signal.SIGTERM, _terminate)
    except ValueError:  # not the main thread: leave SIGTERM alone
        previous = None
    try:
        yield
    except KeyboardInterrupt:
        Console(stderr=True).print("[yellow]interrupted[/yellow]")
        raise typer.Exit(ExitCode.INTERRUPTED) from None
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def register(app: typer.Typer) -> None:
    scenarios = typer.Typer(help="The scenario library.", no_args_is_help=True)
    app.add_typer(scenarios, name="scenarios")

    @scenarios.command("list")
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
        Console().print(table)

    @app.command()
    def run(
        scenario: Annotated[str, typer.Argument(help="A library name (igo_case#29) or a file.")],
        backend: Annotated[
            str, typer.Option(help="embedded | embedded-tcp | tcp://host:port | serial:URL[,URL]")
        ] = "embedded",
        clock: Annotated[str, typer.Option(help="virtual | realtime")] = "",
        speed: Annotated[float, typer.Option(help="Real-time speed factor.")] = 1.0,
        out: Annotated[Path, typer.Option(help="Report folder.")] = DEFAULT_OUT,
        profile_dir: Annotated[
            list[Path] | None, typer.Option("--profile-dir", help="Extra firmware profiles.")
        ] = None,
        view: Annotated[
            str | None,
            typer.Option(help="Backend driver MODULE:CALLABLE giving the platform view."),
        ] = None,
        view_arg: Annotated[
            str | None, typer.Option(help="Argument for the --view callable (e.g. its API URL).")
        ] = None,
        backend_control: Annotated[
            str | None,
            typer.Option(
                help="How simrig drives a tcp:// backend's API (app start/stop, balances, "
                "provisioning): an HTTP template FILE.toml or MODULE:CALLABLE."
            ),
        ] = None,
        backend_epoch: Annotated[
            str | None,
            typer.Option(
                help="ISO time the backend's clock shows at scenario start (a backend whose "
                "clock is set); default: now for tcp:// and serial:, the scenario epoch for "
                "embedded."
            ),
        ] = None,
        capture: Annotated[
            str, typer.Option(help="Wire capture into --out: all | sample (4 piles) | none.")
        ] = "all",
    ) -> None:
        """Run one scenario, judge every session, write the report.

        Exit 0 pass, 1 expectations failed, 2 bad input, 3 backend unreachable or
        incompatible, 4 interrupted."""
        from simrig.control import load_control
        from simrig.scenarios import ScenarioError, load_scenario
        from simrig.sim.runner import BackendError, load_view_factory, run_scenario

        console = Console()
        try:
            if capture not in ("all", "sample", "none"):
                raise ScenarioError(f"--capture {capture}: expected all, sample or none")
            sc = load_scenario(scenario)
            pinned = None
            if backend_epoch is not None:
                try:
                    pinned = datetime.fromisoformat(backend_epoch)
                    if pinned.tzinfo is not None:  # scenario times are local, naive
                        pinned = pinned.astimezone().replace(tzinfo=None)
                except ValueError:
                    raise ScenarioError(
                        f"--backend-epoch {backend_epoch!r}: expected an ISO date-time"
                    ) from None
            if clock:
                if clock not in ("virtual", "realtime"):
                    raise ScenarioError(f"--clock {clock}: expected virtual or realtime")
                sc = sc.model_copy(update={"meta": sc.meta.model_copy(update={"clock": clock})})
            control = load_control(backend_control, backend) if backend_control else None
            with _interruptible(), _progress(console) as bar:
                task = bar.add_task(sc.meta.name, total=1.0)
                result = run_scenario(
                    sc,
                    backend=backend,
                    speed=speed,
                    profile_dirs=tuple(profile_dir or ()),
                    progress=lambda f: bar.update(task, completed=f),
                    view_factory=load_view_factory(view, view_arg) if view else None,
                    control=control,
                    backend_epoch=pinned,
                )
        except (ScenarioError, BackendError, ValueError, OSError) as exc:
            _fail(str(exc))
            return
        _finish([result], out, console, capture)

    @app.command()
    def compare(
        profile: Annotated[list[str], typer.Option(help="Firmware profiles, e.g. A and B.")],
        piles: Annotated[int, typer.Option(min=1, max=2000)] = 16,
        days: Annotated[float, typer.Option(min=0.1, max=400)] = 30.0,
        seed: Annotated[int, typer.Option()] = 1,
        out: Annotated[Path, typer.Option(help="Report folder.")] = DEFAULT_OUT,
    ) -> None:
        """Firmware A/B: the same station workload on each profile, anomaly table side by side."""
        from simrig.report import compare_bar_png, compare_table, stats_by_profile
        from simrig.scenarios.workload import WorkloadSpec, station_workload
        from simrig.sim.runner import run_scenario

        console = Console()
        results: list[RunResult] = []
        try:
            with _interruptible(), _progress(console) as bar:
                for name in profile:
                    spec = WorkloadSpec(profile=name, piles=piles, days=days, seed=seed)
                    scenario = station_workload(spec, random.Random(seed))
                    task = bar.add_task(name, total=1.0)

                    def advance(fraction: float, task: TaskID = task) -> None:
                        bar.update(task, completed=fraction)

                    results.append(run_scenario(scenario, progress=advance))
        except ValueError as exc:
            _fail(str(exc))
            return
        rows = stats_by_profile(results)
        console.print(compare_table(rows))
        out.mkdir(parents=True, exist_ok=True)
        chart = compare_bar_png(rows, out / "compare.png")
        from simrig.report import write_results_json

        write_results_json(results, out / "results.json")
        for r in results:
            console.print(
                f"{r.profiles and next(iter(r.profiles.values()))}: {len(r.verdicts)} sessions "
                f"in {r.wall_s:.1f} s wall ({r.duration_s / max(r.wall_s, 1e-9):,.0f}× real time)"
            )
        console.print(f"chart: {chart}")

    @app.command()
    def demo(
        out: Annotated[Path, typer.Option(help="Report folder.")] = DEFAULT_OUT,
    ) -> None:
        """Run the whole incident library on the embedded reference platform; write the report."""
        from simrig.scenarios import library_names, load_scenario
        from simrig.sim.runner import run_scenario

        console = Console()
        results = []
        with _interruptible(), _progress(console) as bar:
            task = bar.add_task("incident library", total=len(library_names()))
            for name in library_names():
                results.append(run_scenario(load_scenario(name)))
                bar.advance(task)
        _finish(results, out, console)
