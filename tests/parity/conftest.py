"""Print the parity table (scenario × virtual verdict × tcp verdict × speed × seconds) at
the end of a run that collected ``tests/parity``."""

from __future__ import annotations

from typing import Any

from .harness import TABLE, table_text


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TABLE:
        terminalreporter.write_sep("-", "parity: virtual vs simrig platform serve over TCP")
        terminalreporter.write_line(table_text())
