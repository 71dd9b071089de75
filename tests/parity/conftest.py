"""Start the parity runs right after collection and order their tests (the table is
printed by ``tests/conftest.py``, which the controlling process of pytest-xdist loads)."""

from __future__ import annotations

import os
from typing import Any

from .early import EARLY

_PARITY_TEST = "test_library_scenario_over_tcp_gives_the_virtual_verdict"


def _is_parity(item: Any) -> bool:
    return getattr(item, "originalname", "") == _PARITY_TEST


def _xdist_worker() -> bool:
    return "PYTEST_XDIST_WORKER" in os.environ


def pytest_collection_modifyitems(items: list[Any]) -> None:
    """In one process the parity tests go last: their runs (started right after
    collection) go on while everything else runs. Under pytest-xdist (``--dist loadfile``:
    their file is one unit of work, on one worker) they go first: that worker starts their
    runs and waits on them while the others run the rest."""
    items.sort(key=lambda item: _is_parity(item) != _xdist_worker())  # stable


def pytest_collection_finish(session: Any) -> None:
    if not _xdist_worker() and not session.config.option.collectonly:
        start_parity_runs(session)


def start_parity_runs(session: Any) -> None:
    """Start the TCP runs of the parity tests selected in ``session`` (once)."""
    names = [item.callspec.params["name"] for item in session.items if _is_parity(item)]
    if names and EARLY.runs is None:
        from .test_parity import SPEEDS

        EARLY.start(names, {name: SPEEDS[name][0] for name in names})


def pytest_sessionfinish() -> None:
    EARLY.stop()
