"""``simrig run`` against the reference platform in its own process, both clocks at the
same speed from the same instant (``--backend-epoch`` and ``--start-monotonic``, as the
README's "Testing your own backend" shows)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from simrig.cli import app
from simrig.control.platform_toml import platform_toml
from simrig.exit_codes import ExitCode
from simrig.scenarios import load_scenario
from simrig.sim.world import site_from_scenario

from .backend_process import EPOCH

pytestmark = pytest.mark.realtime

runner = CliRunner()
SCENARIO = Path(__file__).parent.parent / "adapters" / "short_card_session.toml"


def test_run_with_aligned_clocks_bills_the_session_on_the_platform(tmp_path, backend):
    server = backend(platform_toml(site_from_scenario(load_scenario(str(SCENARIO)))))
    out = tmp_path / "out"
    args = ["run", str(SCENARIO), *server.rig_options(), "--out", str(out)]
    result = runner.invoke(app, [*args, "--format", "plain", "--capture", "none"])
    assert result.exit_code == ExitCode.PASS, result.output
    [run] = json.loads((out / "results.json").read_text())["runs"]
    assert run["backend_status"] == "ok" and run["rig_late"] == []
    [session] = run["sessions"]
    assert session["codes"] == [] and session["judged"]
    [bill] = server.get("/bills")
    # the platform's clock is the rig's mapping: the bill starts at EPOCH + 1 min of
    # scenario time (plug at 0:30, card at 1:00), not at the platform's wall clock
    assert bill["start_time"].startswith(EPOCH.strftime("%Y-%m-%dT%H:01"))
