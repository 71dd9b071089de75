"""Session-wide hooks: the parity table (scenario × virtual verdict × tcp verdict × speed
× seconds) printed at the end by the process that reports — under pytest-xdist the
controlling one, which never loads ``tests/parity/conftest.py``; and one more run for a
failed ``realtime`` test."""

from __future__ import annotations

from typing import Any

import pytest

from tests.parity.harness import TABLE, ParityRow, table_text

#: A ``realtime`` test drives another process or real sockets at 200-600x: a host
#: stall of 150-300 ms real (seen on the shared CI machines, the rig saying "too short
#: to tell an outage from a hiccup") is a 30-60 s outage there. Such a test runs once
#: more after a failure; a wrong verdict fails both runs.
REALTIME_RERUNS = 1


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("realtime") is not None:
            item.add_marker(pytest.mark.flaky(reruns=REALTIME_RERUNS, reruns_delay=1))


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
