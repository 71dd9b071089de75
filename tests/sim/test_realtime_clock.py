"""One time mapping per real-time run (issue 11 item 2): a backend's clock — now, or
pinned with ``backend_epoch`` — and the rig's truth agree, so clocks create no code 3.

The backend is the reference platform as its own process on 127.0.0.1 (speed 300: its
timers run with the rig's); the scenario is cut 2 minutes after its last step."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from simrig.cli import app
from simrig.domain.anomaly import AnomalyCode
from simrig.scenarios import Scenario, load_scenario
from simrig.sim.runner import EmbeddedServer, run_scenario

pytestmark = pytest.mark.realtime

SPEED = 300.0
PINNED = datetime(2031, 7, 1, 23, 50)  # a backend whose clock is set (crosses midnight)


def _basic() -> Scenario:
    scenario = load_scenario("basic_card_session")
    end = max(step.at for step in scenario.timeline) + 120.0
    return scenario.model_copy(update={"meta": scenario.meta.model_copy(update={"duration": end})})


def test_plain_tcp_run_maps_scenario_start_to_now_and_gives_no_clock_skew():
    """A backend living in the present (not the scenario's 2019): truth, the pile's clock
    and the chunk times all start at now, and the clean session has no code 3."""
    scenario = _basic()
    before = datetime.now()
    with EmbeddedServer(scenario, speed=SPEED) as server:  # its clock: now, from its start
        result = run_scenario(
            scenario,
            backend=f"tcp://127.0.0.1:{server.port}",
            speed=SPEED,
            start_monotonic=server.start_monotonic,  # the scenario starts with its clock
        )
    assert before <= result.epoch <= datetime.now()
    assert server.epoch is not None
    assert abs((result.epoch - server.epoch).total_seconds()) < 1.0
    assert result.passed, result.expectations
    [verdict] = result.verdicts
    assert verdict.codes == frozenset()
    bill = verdict.orders[0].device_bill
    assert bill is not None and bill.start is not None
    assert abs((bill.start - verdict.truth.charge_start).total_seconds()) < 60
    end = result.epoch + timedelta(seconds=scenario.meta.duration + 60)
    assert all(result.epoch <= chunk.at <= end for chunk in result.chunks)


def test_a_pinned_backend_clock_is_one_option_and_it_is_needed():
    """``backend_epoch`` pins the backend's wall time at t=0: the run passes with truth in
    2031. Left at the default (now) against that backend, the 2031 time sync moves the
    pile's clock and the oracle sees the bill 5 years off: code 3 — the mapping is real."""
    scenario = _basic()
    with EmbeddedServer(scenario, speed=SPEED, epoch=PINNED) as server:
        pinned = run_scenario(
            scenario,
            backend=f"tcp://127.0.0.1:{server.port}",
            speed=SPEED,
            backend_epoch=PINNED,
            start_monotonic=server.start_monotonic,
        )
    assert pinned.epoch == PINNED and pinned.passed, pinned.expectations
    assert pinned.verdicts[0].truth.plug_at.year == 2031
    with EmbeddedServer(scenario, speed=SPEED, epoch=PINNED) as server:
        unpinned = run_scenario(
            scenario,
            backend=f"tcp://127.0.0.1:{server.port}",
            speed=SPEED,
            start_monotonic=server.start_monotonic,
        )
    assert AnomalyCode.TIME_ANOMALY in unpinned.verdicts[0].codes


def test_embedded_tcp_defaults_to_the_scenario_epoch():
    scenario = _basic()
    result = run_scenario(scenario, backend="embedded-tcp", speed=SPEED)
    assert result.epoch == scenario.meta.epoch and result.passed, result.expectations


def test_cli_backend_epoch_option(tmp_path: Path):
    """``simrig run --backend-epoch``: the run's epoch (results.json); a bad value is a
    one-line input error (exit 2)."""
    runner = CliRunner()
    out = tmp_path / "out"
    args = ["run", "zshy_case#23", "--out", str(out), "--backend-epoch", "2024-02-29T06:00:00"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    [run] = json.loads((out / "results.json").read_text())["runs"]
    assert run["epoch"].startswith("2024-02-29T06:00:00")
    bad = runner.invoke(app, ["run", "zshy_case#23", "--backend-epoch", "yesterday"])
    assert bad.exit_code == 2 and "--backend-epoch" in bad.output
