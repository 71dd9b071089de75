"""pytest plugin: run simrig scenarios as tests in users' own regression suites.

* ``--simrig-backend``: ``embedded`` (default, virtual time), ``embedded-tcp`` or
  ``tcp://host:port`` (your staging backend; judged from frames).
* Files named ``*.simrig.toml`` are collected as tests, one per scenario.
* ``pytest --pyargs simrig.testing`` runs the built-in incident library.
* JUnit XML comes from pytest itself: ``--junitxml=report.xml``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("simrig")
    group.addoption(
        "--simrig-backend",
        default="embedded",
        help="Backend for simrig scenarios: embedded, embedded-tcp or tcp://host:port.",
    )
    group.addoption(
        "--simrig-speed",
        type=float,
        default=60.0,
        help="Speed factor of real-time runs (scenario seconds per wall second).",
    )


@pytest.fixture
def simrig_backend(request: pytest.FixtureRequest) -> str:
    """The backend chosen with ``--simrig-backend``."""
    return str(request.config.getoption("--simrig-backend"))


@pytest.fixture
def simrig_run(request: pytest.FixtureRequest) -> Any:
    """``simrig_run(name_or_path)`` → RunResult on the chosen backend."""
    from simrig.scenarios import load_scenario
    from simrig.sim.runner import run_scenario

    backend = str(request.config.getoption("--simrig-backend"))
    speed = float(request.config.getoption("--simrig-speed"))

    def run(name_or_path: str | Path) -> Any:
        return run_scenario(load_scenario(name_or_path), backend=backend, speed=speed)

    return run


class ScenarioFailed(AssertionError):
    """A scenario's expectations did not hold."""


def check(result: Any) -> None:
    """Raise :class:`ScenarioFailed` listing every expectation that failed."""
    failed = [e for e in result.expectations if not e.passed]
    if failed:
        lines = [f"{e.key}: expected {e.expected}; got {e.actual}" for e in failed]
        raise ScenarioFailed(f"{result.scenario_name}: " + "; ".join(lines))


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.name.endswith(".simrig.toml"):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    def collect(self) -> Any:
        yield ScenarioItem.from_parent(self, name=self.path.name.removesuffix(".simrig.toml"))


class ScenarioItem(pytest.Item):
    def runtest(self) -> None:
        from simrig.scenarios import load_scenario
        from simrig.sim.runner import run_scenario

        backend = str(self.config.getoption("--simrig-backend"))
        speed = float(self.config.getoption("--simrig-speed"))
        check(run_scenario(load_scenario(self.path), backend=backend, speed=speed))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ScenarioFailed | ValueError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"simrig scenario {self.name}"
