"""``simrig wireshark path`` / ``simrig wireshark install``: the generated YKC Lua dissector."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from simrig.wireshark import PERSONAL_PLUGINS, install, lua_path


def register(app: typer.Typer) -> None:
    """Add the ``wireshark`` command group to ``app``."""
    group = typer.Typer(help="The YKC dissector for Wireshark/tshark (generated from the codec).")

    @group.command("path")
    def path_cmd() -> None:
        """Print the path of the shipped ykc.lua (for `tshark -X lua_script:PATH`)."""
        typer.echo(str(lua_path()))

    @group.command("install")
    def install_cmd(
        folder: Annotated[
            Path | None,
            typer.Option("--folder", help=f"Plugin folder (default {PERSONAL_PLUGINS})."),
        ] = None,
    ) -> None:
        """Copy ykc.lua into Wireshark's personal plugin folder; restart Wireshark to load it."""
        typer.echo(f"installed {install(folder)}")

    app.add_typer(group, name="wireshark")
