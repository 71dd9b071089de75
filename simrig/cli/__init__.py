"""The ``simrig`` command line (typer). Each command group lives in its own module.

Exit codes of every command: :class:`simrig.exit_codes.ExitCode`.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="simrig",
    help="Charging-pile firmware simulator and test rig (YKC v1.5/v1.6).",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Charging-pile firmware simulator and test rig (YKC v1.5/v1.6)."""


def _register() -> None:
    from . import compare, decode, firmware, import_trace, load, platform, run, station, wireshark

    decode.register(app)
    firmware.register(app)
    platform.register(app)
    run.register(app)
    compare.register(app)
    station.register(app)
    import_trace.register(app)
    wireshark.register(app)
    load.register(app)


_register()


def main() -> None:
    app()
