"""pytest plugin: run simrig scenarios as tests in users' own regression suites.

* ``--simrig-backend``: ``embedded`` (default, virtual time), ``embedded-tcp`` or
  ``tcp://host:port`` (your staging backend; judged from frames).
* ``--simrig-backend-control FILE.toml|MODULE:CALLABLE``: how simrig drives that backend's
  API (provisioning, app start/stop, balances), so scenarios with app steps run on it.
* ``--simrig-view MODULE:CALLABLE`` (``--simrig-view-arg``): the backend's records for
  the oracle, so scenarios that need them (``needs_backend_api``) run on it.
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
        "--simrig-backend-control",
        default=None,
        help="Backend control for tcp:// runs: an HTTP template FILE.toml or MODULE:CALLABLE.",
    )
    group.addoption(
        "--simrig-view",
        default=None,
        help="Platform view MODULE:CALLABLE for tcp:// runs (the backend's records).",
    )
    group.addoption("--simrig-view-arg", default=None, help="Argument of --simrig-view.")
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


def run_options(config: pytest.Config) -> dict[str, Any]:
    """``run_scenario`` keyword arguments from the command line (a fresh control each call)."""
    from simrig.control import load_control
    from simrig.sim.runner import load_view_factory

    backend = str(config.getoption("--simrig-backend"))
    control = config.getoption("--simrig-backend-control")
    view = config.getoption("--simrig-view")
    return {
        "backend": backend,
        "speed": float(config.getoption("--simrig-speed")),
        "control": load_control(control, backend) if control else None,
        "view_factory": load_view_factory(view, config.getoption("--simrig-view-arg"))
        if view
        else None,
    }


def skip_reason(scenario: Any, config: pytest.Config) -> str | None:
    """Why a scenario cannot be judged on the chosen backend, or None if it can."""
    from simrig.sim.world import required_operations

    backend = str(config.getoption("--simrig-backend"))
    if not backend.startswith(("tcp://", "serial:")):
        return None
    name = scenario.meta.name
    has_control = config.getoption("--simrig-backend-control") is not None
    needed = required_operations(scenario) + (["set_rules"] if scenario.platform else [])
    if needed and not has_control:
        return f"{name} needs a backend control for {', '.join(needed)} (--simrig-backend-control)"
    if scenario.meta.needs_backend_api and config.getoption("--simrig-view") is None:
        return f"{name} needs the backend's records to judge (--simrig-view)"
    return None


@pytest.fixture
def simrig_run(request: pytest.FixtureRequest) -> Any:
    """``simrig_run(name_or_path)`` → RunResult on the chosen backend."""
    from simrig.scenarios import load_scenario
    from simrig.sim.runner import run_scenario

    def run(name_or_path: str | Path) -> Any:
        return run_scenario(load_scenario(name_or_path), **run_options(request.config))

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

        check(run_scenario(load_scenario(self.path), **run_options(self.config)))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ScenarioFailed | ValueError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"simrig scenario {self.name}"
