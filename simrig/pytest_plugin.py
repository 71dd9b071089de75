"""pytest plugin: ``--simrig-backend`` for users' own regression suites."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("simrig")
    group.addoption(
        "--simrig-backend",
        default="embedded",
        help="Backend for simrig scenarios: embedded, embedded-tcp or tcp://host:port.",
    )


@pytest.fixture
def simrig_backend(request: pytest.FixtureRequest) -> str:
    """The backend chosen with ``--simrig-backend``."""
    return str(request.config.getoption("--simrig-backend"))
