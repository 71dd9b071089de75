"""What the run commands share: option types, progress bar, report, errors, Ctrl-C.

Exit codes: :class:`simrig.exit_codes.ExitCode` (0 pass, 1 expectations failed, 2 bad
input, 3 backend unreachable or incompatible, 4 interrupted by Ctrl-C or SIGTERM).
"""

from __future__ import annotations

import json
import re
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, NoReturn, Protocol

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from simrig.exit_codes import ExitCode
from simrig.report.text import FORMATS

if TYPE_CHECKING:
    from simrig.control import BackendControl
    from simrig.oracle.views import PlatformView
    from simrig.scenarios import Scenario
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
StartMonotonicOption = Annotated[
    float | None,
    typer.Option(
        help="CLOCK_MONOTONIC time of scenario t=0: the value a backend was started with "
        "(simrig platform serve --start-monotonic); default: now."
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


FormatOption = Annotated[
    str,
    typer.Option(
        "--format",
        help="Console output: rich (colour, boxes) | plain (CI logs: no colour, ASCII, "
        "tables stacked rather than cut) | json (results.json's document on stdout). "
        "Default: rich on a terminal, plain otherwise.",
    ),
]


def output_format(text: str) -> str:
    """``--format``: plain | rich | json; empty = rich on a terminal, plain otherwise."""
    from simrig.scenarios import ScenarioError

    if not text:
        return "rich" if Console().is_terminal else "plain"
    if text not in FORMATS:
        raise ScenarioError(f"--format {text}: expected plain, rich or json")
    return text


def make_console(fmt: str) -> Console:
    """The report console of ``--format``: json reports go to stdout as JSON, so its
    console (status lines) is stderr; plain has no colour, markup or highlighting."""
    if fmt == "json":
        return Console(stderr=True, color_system=None, highlight=False)
    if fmt == "plain":
        return Console(color_system=None, highlight=False, emoji=False)
    return Console()


def progress_bar(console: Console) -> Progress:
    """The transient progress bar of a run (kept for callers not yet on :func:`progress`:
    it shows nothing on a non-terminal console)."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def finish(
    results: list[RunResult],
    out: Path,
    console: Console,
    capture: str = "all",
    fmt: str = "rich",
) -> NoReturn:
    """Print and write the report (with the wire capture: ``all``, ``sample`` or
    ``none``), then exit by :func:`simrig.report.exit_code`. ``fmt`` json prints the
    results document on stdout instead of the tables."""
    from simrig.report import exit_code, print_report, write_report
    from simrig.report.results_json import results_document

    if fmt != "json":
        print_report(results, console, plain=fmt == "plain")
    folder = write_report(results, out, capture=capture)
    if fmt == "json":
        document = {**results_document(results), "report": str(folder)}
        sys.stdout.write(json.dumps(document, ensure_ascii=False) + "\n")
    else:
        console.print(Text(f"report: {folder}"), overflow="fold")
    raise typer.Exit(exit_code(results))


def error_line(message: str) -> Text:
    """``error: message`` as text: brackets in the message (``[[users]]``) are not markup."""
    return Text.assemble(("error:", "red"), " ", message)


def fail(message: str) -> NoReturn:
    """One line on stderr, exit 2 (bad input)."""
    _stop(message, ExitCode.BAD_INPUT)


def unavailable(message: str) -> NoReturn:
    """One line on stderr, exit 3: the backend could not be reached, nothing was judged."""
    _stop(message, ExitCode.BACKEND_UNAVAILABLE)


def _stop(message: str, code: ExitCode) -> NoReturn:
    Console(stderr=True, soft_wrap=True, highlight=False).print(error_line(message))
    raise typer.Exit(code)


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@dataclass
class PartialReport:
    """Where an interrupted run writes its partial report: the runs done so far
    (``done``, appended by the command) plus the run cut short, if it could be judged."""

    out: Path
    console: Console
    capture: str = "all"
    fmt: str = "rich"
    done: list[RunResult] = field(default_factory=list)

    def write(self, cut: RunResult | None) -> None:
        from simrig.report import print_report, write_report
        from simrig.report.results_json import results_document

        results = [*self.done, *([cut] if cut is not None else [])]
        folder = write_report(results, self.out, capture=self.capture, interrupted=True)
        if self.fmt == "json":
            document = {**results_document(results, interrupted=True), "report": str(folder)}
            sys.stdout.write(json.dumps(document, ensure_ascii=False) + "\n")
            return
        print_report(results, self.console, plain=self.fmt == "plain", interrupted=True)
        self.console.print(Text(f"partial report: {folder}"), overflow="fold")


class WritesPartial(Protocol):
    """What :func:`interruptible` writes on Ctrl-C/SIGTERM: :class:`PartialReport`, or a
    command's own partial report (``compare``'s A/B)."""

    done: list[RunResult]

    def write(self, cut: RunResult | None) -> None: ...


@contextmanager
def interruptible(report: WritesPartial | None = None) -> Iterator[None]:
    """Ctrl-C or SIGTERM during a run: say so, write ``report`` (a partial report, marked
    so, of the runs done and the one cut short) and exit 4 (ExitCode.INTERRUPTED).

    Child processes (the ``embedded-tcp`` platform) are stopped by the run's orderly end
    before this sees the interruption."""
    try:
        previous = signal.signal(signal.SIGTERM, _terminate)
    except ValueError:  # not the main thread: leave SIGTERM alone
        previous = None
    try:
        yield
    except KeyboardInterrupt as stop:
        Console(stderr=True).print(Text("interrupted", style="yellow"))
        if report is not None:
            report.write(getattr(stop, "result", None))
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


def check_piles(scenario: Scenario, name_or_path: str, profile_dirs: tuple[Path, ...]) -> None:
    """What the scenario names beyond its own schema — every pile's firmware profile and
    quirk overrides, the ``[platform]`` rules, the ``[tariff]`` — loads, or a one-line
    error naming the scenario file, line and field (``case.toml:14: piles[0].profile: ...``)."""
    from simrig.domain import tariff_from_mapping
    from simrig.firmware_models.profile import ProfileError
    from simrig.platform.rules import rules_from_mapping
    from simrig.sim.world import pile_profile

    for i, pile in enumerate(scenario.piles):
        try:
            pile_profile(pile, profile_dirs)
        except (ProfileError, ValueError) as exc:
            prefix = f"piles[{pile.pile_no}]."
            detail = str(exc)
            if detail.startswith(prefix):  # piles[N].quirks.NAME: quirks.NAME.param: why
                field, _, reason = detail.removeprefix(prefix).partition(": ")
                if reason.startswith(f"{field}."):
                    field, _, reason = reason.partition(": ")
                _refuse(name_or_path, ("piles", i, *field.split(".")), reason, detail)
            _refuse(name_or_path, ("piles", i, "profile"), detail, detail)
    try:
        rules_from_mapping(scenario.platform, source="platform")
    except ValueError as exc:
        detail = str(exc)
        unknown = re.match(r"^platform: unknown rule '(\w+)' (.*)$", detail)
        field, _, reason = detail.partition(": ")
        if unknown:
            field, reason = f"platform.{unknown.group(1)}", f"unknown rule {unknown.group(2)}"
        _refuse(name_or_path, tuple(field.split(".")), reason, detail)
    if scenario.tariff is not None:
        try:
            tariff_from_mapping(scenario.tariff, source="")
        except ValueError as exc:
            field, _, reason = str(exc).removeprefix(": ").partition(": ")
            _refuse(name_or_path, tuple(field.split(".")), reason, str(exc))


def _refuse(name_or_path: str, loc: tuple[object, ...], reason: str, detail: str) -> NoReturn:
    """Raise the one-line ScenarioError for field ``loc`` of the scenario file."""
    from simrig.scenarios import ScenarioError
    from simrig.scenarios.loader import locate_error, scenario_file

    path = scenario_file(name_or_path)
    if path is None:
        raise ScenarioError(f"{name_or_path}: {detail}")
    text = path.read_text(encoding="utf-8")
    raise ScenarioError(locate_error(text, str(path), loc, reason))


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
