"""Start the parity runs right after collection, order their tests last, and print the
parity table (scenario × virtual verdict × tcp verdict × speed × seconds) at the end."""

from __future__ import annotations

from typing import Any

from .early import EARLY
from .harness import TABLE, table_text

_PARITY_TEST = "test_library_scenario_over_tcp_gives_the_virtual_verdict"


def _is_parity(item: Any) -> bool:
    return getattr(item, "originalname", "") == _PARITY_TEST


def pytest_collection_modifyitems(items: list[Any]) -> None:
    """The parity tests last: their runs go on while everything else runs."""
    items.sort(key=_is_parity)  # stable: the rest keeps its order


def pytest_collection_finish(session: Any) -> None:
    names = [item.callspec.params["name"] for item in session.items if _is_parity(item)]
    if names and not session.config.option.collectonly:
        from .test_parity import SPEEDS

        EARLY.start(names, {name: SPEEDS[name][0] for name in names})


def pytest_sessionfinish() -> None:
    EARLY.stop()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TABLE:
        terminalreporter.write_sep("-", "parity: virtual vs simrig platform serve over TCP")
        terminalreporter.write_line(table_text())
