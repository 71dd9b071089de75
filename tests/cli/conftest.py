"""Fixtures of the CLI tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .backend_process import Backend


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[object]:
    """``backend(config="")`` starts one; every one started is stopped after the test."""
    started: list[Backend] = []

    def start(config: str = "") -> Backend:
        started.append(Backend(tmp_path / f"backend{len(started)}", config))
        return started[-1]

    yield start
    for server in started:
        server.process.stop()
