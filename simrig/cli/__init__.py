"""The ``simrig`` command line (typer). Each command group lives in its own module.

Exit codes of every command: :class:`simrig.exit_codes.ExitCode`.
"""

from __future__ import annotations

from importlib import import_module

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


def main() -> None:
    app()
