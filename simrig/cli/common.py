"""What the run commands share: option types, progress bar, report, errors, Ctrl-C.

Exit codes: :class:`simrig.exit_codes.ExitCode` (0 pass, 1 expectations failed, 2 bad
input, 3 backend unreachable or incompatible, 4 interrupted by Ctrl-C or SIGTERM).
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from simrig.exit_codes import ExitCode

if TYPE_CHECKING:
    from simrig.control import BackendControl
    from simrig.oracle.views import PlatformView
    from simrig.sim.results import RunResult

DEFAULT_OUT = Path("out")

#: the ``--backend`` option of every command that runs piles
BackendOption = Annotated[
    str, typer.Option(help="embedded | embedded-tcp | tcp://host:port | serial:URL[,URL]")
]
SpeedOption = Annotated[float, typer.Option(min=0.001, help="Real-time speed factor.")]
OutOption = Annotated[Path, typer.Option(help="Report folder.")]
CaptureOption = Annotated[
    str, typer.Option(help="Wire capture into --out: all | sample (4 piles) | none.")
]
ProfileDirOption = Annotated[
    list[Path] | None, typer.Option("--profile-dir", help="Extra firmware profiles.")
]
ViewOption = Annotated[
    str | None, typer.Option(help="Backend driver MODULE:CALLABLE giving the platform view.")
]
ViewArgOption = Annotated[
    str | None, typer.Option(help="Argument for the --view callable (e.g. its API URL).")
]
ControlOption = Annotated[
    str | None,
    typer.Option(
        help="How simrig drives a tcp:// backend's API (app start/stop, balances, "
        "provisioning): an HTTP template FILE.toml or MODULE:CALLABLE."
    ),
]
EpochOption = Annotated[
    str | None,
    typer.Option(
        help="ISO time the backend's clock shows at scenario start (a backend whose "
        "clock is set); default: now for tcp:// and serial:, the scenario epoch for "
        "embedded."
    ),
]


def progress_bar(console: Console) -> Progress:
    """The transient progress bar of a run."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def finish(results: list[RunResult], out: Path, console: Console, capture: str = "all") -> NoReturn:
    """Print and write the report (with the wire capture: ``all``, ``sample`` or
    ``none``), then exit by :func:`simrig.report.exit_code`."""
    from simrig.report import exit_code, print_report, write_report

    print_report(results, console)
    folder = write_report(results, out, capture=capture)
    console.print(f"report: {folder}")
    raise typer.Exit(exit_code(results))


def fail(message: str) -> NoReturn:
    """One line on stderr, exit 2 (bad input)."""
    Console(stderr=True, soft_wrap=True).print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(ExitCode.BAD_INPUT)


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextmanager
def interruptible() -> Iterator[None]:
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


def check_capture(capture: str) -> None:
    """``--capture``: one of all, sample, none."""
    from simrig.scenarios import ScenarioError

    if capture not in ("all", "sample", "none"):
        raise ScenarioError(f"--capture {capture}: expected all, sample or none")


def check_out(out: Path) -> None:
    """``--out``: a folder that exists or can be made; checked before the run, so a bad
    path is bad input (exit 2) and never a traceback after it."""
    from simrig.scenarios import ScenarioError

    if out.exists() and not out.is_dir():
        raise ScenarioError(f"--out {out}: is a file, not a report folder")
    parent = next((p for p in (out, *out.parents) if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise ScenarioError(f"--out {out}: {parent} is a file, not a folder")


def parse_epoch(text: str | None) -> datetime | None:
    """``--backend-epoch``: an ISO date-time, as naive local time (scenario times are)."""
    from simrig.scenarios import ScenarioError

    if text is None:
        return None
    try:
        pinned = datetime.fromisoformat(text)
    except ValueError:
        raise ScenarioError(f"--backend-epoch {text!r}: expected an ISO date-time") from None
    if pinned.tzinfo is not None:
        pinned = pinned.astimezone().replace(tzinfo=None)
    return pinned


def backend_driver(
    backend: str, control: str | None, view: str | None, view_arg: str | None
) -> tuple[BackendControl | None, Callable[[str], PlatformView] | None]:
    """``--backend-control`` and ``--view`` loaded (one-line errors are BackendError/ValueError)."""
    from simrig.control import load_control
    from simrig.sim.runner import load_view_factory

    return (
        load_control(control, backend) if control else None,
        load_view_factory(view, view_arg) if view else None,
    )


def print_throughput(results: Sequence[RunResult], console: Console) -> None:
    """Per run: its profiles, sessions judged, wall time and the speed-up over real time."""
    for r in results:
        profiles = " + ".join(dict.fromkeys(r.profiles.values()))
        console.print(
            f"{profiles}: {len(r.verdicts)} sessions "
            f"in {r.wall_s:.1f} s wall ({r.duration_s / max(r.wall_s, 1e-9):,.0f}× real time)"
        )
