"""Session-wide hooks: the parity table (scenario × virtual verdict × tcp verdict × speed
× seconds) printed at the end by the process that reports — under pytest-xdist the
controlling one, which never loads ``tests/parity/conftest.py``."""

from __future__ import annotations

from typing import Any

from tests.parity.harness import TABLE, ParityRow, table_text


def pytest_runtest_logreport(report: Any) -> None:
    """A parity test's row travels in its report's ``user_properties``."""
    if report.when == "call":
        for key, value in getattr(report, "user_properties", ()):
            if key == "parity_row":
                TABLE.append(ParityRow(**value))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TABLE:
        terminalreporter.write_sep("-", "parity: virtual vs simrig platform serve over TCP")
        terminalreporter.write_line(table_text(sorted(TABLE, key=lambda r: r.scenario)))
