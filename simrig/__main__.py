"""``python -m simrig`` and the ``simrig`` command (:func:`entry`)."""

from __future__ import annotations

import sys


def entry() -> None:
    """Import the command line, then run it. Ctrl-C during the import (a second or more
    on a loaded machine) is an interrupted run too: "interrupted", exit 4, no traceback."""
    try:
        from simrig.cli import main
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        raise SystemExit(4) from None  # ExitCode.INTERRUPTED (not imported: it is start-up)
    main()


if __name__ == "__main__":
    entry()
