"""``simrig firmware list`` / ``simrig firmware show NAME``: the firmware profile catalogue."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from simrig.exit_codes import ExitCode
from simrig.firmware_models import ProfileError, list_profiles, load_profile
from simrig.firmware_models.quirks import QUIRKS

DirsOption = Annotated[
    list[Path] | None,
    typer.Option("--profile-dir", "-d", help="Extra directory of profile TOML files."),
]


def register(app: typer.Typer) -> None:
    """Add the ``firmware`` command group to ``app``."""
    group = typer.Typer(help="Firmware profiles (vendor-model@version) and their quirks.")

    @group.command("list")
    def list_cmd(profile_dir: DirsOption = None) -> None:
        """Every profile: name, vendor, kind, version, quirks."""
        try:
            profiles = list_profiles(profile_dir or [])
        except ProfileError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(ExitCode.BAD_INPUT) from None
        table = Table(title="firmware profiles")
        for column in ("name", "vendor", "kind", "version", "quirks"):
            table.add_column(column)
        for p in profiles:
            table.add_row(p.name, p.vendor, p.kind, p.version, ", ".join(sorted(p.quirks)) or "-")
        Console(width=200).print(table)

    @group.command("show")
    def show_cmd(name: str, profile_dir: DirsOption = None) -> None:
        """All fields of one profile, with each quirk's incident and parameters."""
        try:
            p = load_profile(name, profile_dir or [])
        except ProfileError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(ExitCode.BAD_INPUT) from None
        console = Console(width=200)
        table = Table(title=p.name, show_header=False)
        table.add_column("field")
        table.add_column("value")
        for key in ("vendor", "model", "version", "kind", "guns", "max_power_kw"):
            table.add_row(key, str(getattr(p, key)))
        table.add_row("firmware_string", p.firmware_string)
        table.add_row("protocol_version", str(p.protocol_version))
        table.add_row("remote_upgrade", str(p.remote_upgrade).lower())
        table.add_row("description", p.description)
        table.add_row("source", p.source)
        for key, value in asdict(p.timings).items():
            table.add_row(f"timings.{key}", str(value))
        for quirk, params in sorted(p.quirks.items()):
            table.add_row(f"quirks.{quirk}", f"({QUIRKS[quirk].case})")
            for key, value in params.items():
                table.add_row(f"quirks.{quirk}.{key}", str(value))
        console.print(table)

    app.add_typer(group, name="firmware")
