"""The ``simrig`` command line (typer). Each command group lives in its own module.

Exit codes of every command: :class:`simrig.exit_codes.ExitCode`.
"""

from __future__ import annotations

import sys
from importlib import import_module

import typer

app = typer.Typer(
    name="simrig",
    # usage errors as plain one-liners in logs (a rich box breaks up when narrow or piped)
    rich_markup_mode="rich" if sys.stderr.isatty() else None,
    help="Charging-pile firmware simulator and test rig (YKC v1.5/v1.6).",
    no_args_is_help=True,
    add_completion=False,
)


def _print_version(value: bool) -> None:
    if value:
        from simrig import __version__

        typer.echo(f"simrig {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Charging-pile firmware simulator and test rig (YKC v1.5/v1.6)."""


#: one module per command group, each with ``register(app)``; order = order in ``--help``
_COMMANDS = (
    "decode",
    "firmware",
    "platform",
    "run",
    "compare",
    "station",
    "import_trace",
    "wireshark",
    "proxy",
    "replay",
    "load",
)


def _register() -> None:
    for name in _COMMANDS:
        import_module(f"{__name__}.{name}").register(app)


_register()


#: the exit status click/typer give a KeyboardInterrupt outside a run (while a command
#: still prepares); simrig's table says 4 (ExitCode.INTERRUPTED) for every Ctrl-C
_CLICK_INTERRUPTED = 130


def main() -> None:
    """``simrig``: the app, with Ctrl-C at any moment exiting 4 and saying so."""
    from simrig.exit_codes import ExitCode

    try:
        app()
        return
    except SystemExit as stop:
        if stop.code != _CLICK_INTERRUPTED:
            raise
    except KeyboardInterrupt:
        pass
    print("interrupted", file=sys.stderr)
    raise SystemExit(ExitCode.INTERRUPTED)
