"""``simrig import-trace FILE.csv``: a platform's status log → a scenario skeleton (issue 12).

The CSV columns and the derivation rules: :mod:`simrig.scenarios.trace_import` and
``docs/trace-import.md``. The skeleton is checked by the scenario loader before it is written.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from simrig.exit_codes import ExitCode
from simrig.firmware_models import ProfileError, load_profile
from simrig.scenarios import ScenarioError, parse_scenario
from simrig.scenarios.trace_import import DEFAULT_PROFILE, TraceError, import_trace_file


class StartBy(StrEnum):
    card = "card"
    app = "app"


def register(app: typer.Typer) -> None:
    """Add the ``import-trace`` command to ``app``."""

    @app.command("import-trace")
    def import_trace_cmd(
        file: Annotated[Path, typer.Argument(help="Status log CSV: time,pile,gun,status[,...].")],
        profile: Annotated[
            str, typer.Option("--profile", "-p", help="Firmware profile of every pile.")
        ] = DEFAULT_PROFILE,
        out: Annotated[
            Path | None,
            typer.Option("--out", "-o", help="Scenario TOML to write (default: stdout)."),
        ] = None,
        gap_s: Annotated[
            float | None,
            typer.Option(
                "--gap-s",
                min=1.0,
                help="A silence longer than this between two rows of a pile is an outage "
                "(e.g. 3× the log's heartbeat period); default: only status 8 marks one.",
            ),
        ] = None,
        start: Annotated[
            StartBy,
            typer.Option("--start", help="How sessions start unless a 'start' column says."),
        ] = StartBy.card,
        name: Annotated[
            str | None, typer.Option("--name", help="Scenario name (default: import:<file stem>).")
        ] = None,
    ) -> None:
        """Turn a platform's status log (field status 1/2/3/8) into a runnable scenario."""
        try:
            load_profile(profile)
            text = import_trace_file(
                file, profile=profile, gap_s=gap_s, start=start.value, name=name
            )
            parse_scenario(text, source=str(out or "<import-trace>"))
        except (TraceError, ProfileError, ScenarioError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(ExitCode.BAD_INPUT) from None
        if out is None:
            typer.echo(text, nl=False)
            return
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(text, encoding="utf-8")
        except OSError as exc:
            typer.echo(f"error: {out}: cannot write: {exc}", err=True)
            raise typer.Exit(ExitCode.BAD_INPUT) from None
        typer.echo(f"wrote {out}", err=True)
