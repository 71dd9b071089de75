"""Shared runs for the capture tests: a library incident with an outage and a reconnect."""

from __future__ import annotations

import pytest

from simrig.scenarios import load_scenario
from simrig.sim.results import RunResult
from simrig.sim.runner import run_scenario


@pytest.fixture(scope="session")
def zpd12() -> RunResult:
    """zpd_case#12: the link drops mid-charge, the pile reconnects (two connections)."""
    return run_scenario(load_scenario("zpd_case_12"))
