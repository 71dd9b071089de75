"""``simrig firmware list`` / ``simrig firmware show NAME``: the firmware profile catalogue."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from simrig.exit_codes import ExitCode
from simrig.firmware_models import ProfileError, list_profiles, load_profile

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
        """One profile as TOML (a profile file): every field resolved, each quirk's cases
        and the primitives a preset expands into as comments."""
        from simrig.firmware_models.profile_toml import profile_toml

        try:
            p = load_profile(name, profile_dir or [])
        except ProfileError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(ExitCode.BAD_INPUT) from None
        typer.echo(profile_toml(p), nl=False)

    app.add_typer(group, name="firmware")
