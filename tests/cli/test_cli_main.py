"""The main commands: run, demo, compare, scenarios list, and the real-time backends."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from simrig.cli import app
from simrig.scenarios import load_scenario
from simrig.sim.runner import EmbeddedServer, run_scenario

pytestmark = pytest.mark.realtime

runner = CliRunner()
#: real-time runs against a platform process: at 600x a 25 ms stall of the rig or of the
#: platform on a loaded CI machine is 15 s of scenario time, which the rig (honestly) does
#: not judge (simrig.sim.lateness); 200x leaves three times the margin
SPEED = 200.0


def test_scenarios_list_shows_every_case():
    result = runner.invoke(app, ["scenarios", "list"])
    assert result.exit_code == 0, result.output
    for case in ("igo_case#29", "zpd_case#12", "zshy_case#23", "basic_card_session"):
        assert case in result.output


def test_run_writes_report_and_passes(tmp_path: Path):
    result = runner.invoke(app, ["run", "zshy_case#23", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["passed"] is True
    [run] = data["runs"]
    assert run["scenario"] == "zshy_case#23"
    assert any(p.suffix == ".png" for p in (tmp_path / "sessions").rglob("*"))


def test_run_exits_1_when_an_expectation_fails(tmp_path: Path):
    text = (Path(__file__).parents[2] / "simrig/scenarios/library/zshy_case_23.toml").read_text()
    broken = tmp_path / "wrong.toml"
    broken.write_text(text.replace("codes = [1]", "codes = [4]"))
    result = runner.invoke(app, ["run", str(broken), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "expectation" in result.output


def test_run_bad_scenario_is_a_one_line_error(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[meta]\nname = 'x'\nseed = 'no'\n")
    result = runner.invoke(app, ["run", str(bad), "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "bad.toml:3: meta.seed" in result.output


def test_run_unknown_backend_is_a_one_line_error(tmp_path: Path):
    result = runner.invoke(
        app, ["run", "basic_card_session", "--backend", "ftp://x", "--clock", "realtime"]
    )
    assert result.exit_code == 2
    assert "unknown backend" in result.output


def test_compare_two_profiles_side_by_side(tmp_path: Path):
    result = runner.invoke(
        app,
        ["compare", "--profile", "sinexcel-dc@2090104", "--profile", "sinexcel-dc@2090404",
         "--piles", "4", "--days", "3", "--out", str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "sinexcel-dc@2090104" in result.output and "sinexcel-dc@2090404" in result.output
    assert (tmp_path / "compare.png").read_bytes()[:4] == b"\x89PNG"
    runs = json.loads((tmp_path / "results.json").read_text())["runs"]
    assert len(runs) == 2


def test_embedded_tcp_backend_runs_the_clean_session_over_loopback():
    """The reference platform in its own process, piles over real sockets (speed 200×)."""
    result = run_scenario(load_scenario("basic_card_session"), backend="embedded-tcp", speed=SPEED)
    assert result.passed, result.expectations
    [verdict] = result.verdicts
    assert verdict.charged_yuan == pytest.approx(verdict.fair_yuan, abs=0.05)
    # the reference platform keeps to the spec: no backend deviation at all
    assert result.backend_status == "ok" and result.deviations == {}


def test_tcp_backend_frames_only_judgement():
    """Against a plain tcp:// backend the verdict comes from the frames (the ack)."""
    scenario = load_scenario("basic_card_session")
    with EmbeddedServer(scenario, speed=SPEED) as server:
        result = run_scenario(
            scenario,
            backend=f"tcp://127.0.0.1:{server.port}",
            speed=SPEED,
            start_monotonic=server.start_monotonic,  # one time mapping with the server
            backend_epoch=server.epoch,
        )
    assert result.passed, result.expectations
    [verdict] = result.verdicts
    assert verdict.charged_yuan is None  # no platform view
    assert verdict.orders and verdict.orders[0].device_bill.acked
    assert verdict.orders[0].bill_state in ("acked", "acked_late")
    assert result.deviations == {}


def test_dead_backend_is_reported_not_crashed():
    scenario = load_scenario("basic_card_session")
    short = scenario.model_copy(
        update={"meta": scenario.meta.model_copy(update={"duration": 120.0})}
    )
    result = run_scenario(short, backend="tcp://127.0.0.1:9", speed=60)
    assert any(e.kind == "connect_failed" for e in result.events)
    assert not result.passed


def test_python_m_simrig_decode_runs():
    out = subprocess.run(
        [sys.executable, "-m", "simrig", "decode", "680C0000000255031412782305 00DA4C"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert out.returncode == 0 and "login_reply" in out.stdout


def test_serial_backend_through_pyserial_socket_url():
    """A pile on a serial line (pyserial URL): here pyserial's socket:// to the platform."""
    scenario = load_scenario("basic_card_session")
    with EmbeddedServer(scenario, speed=SPEED) as server:
        backend = f"serial:socket://127.0.0.1:{server.port}"
        # the pile's clock starts with the server's (at speed 200 a second of start-up
        # would otherwise be over three minutes of clock skew)
        result = run_scenario(
            scenario, backend=backend, speed=SPEED, start_monotonic=server.start_monotonic
        )
    assert result.passed, result.expectations
    assert result.verdicts[0].orders[0].device_bill.acked


def test_serial_backend_needs_one_port_per_pile():
    from simrig.sim.runner import BackendError

    with pytest.raises(BackendError, match="1 pile\\(s\\) need 1 serial port"):
        run_scenario(load_scenario("basic_card_session"), backend="serial:", speed=SPEED)


def test_backend_driver_plugin_reads_the_platform_view_over_http(monkeypatch):
    """``--view MODULE:CALLABLE``: here the built-in HTTP driver of the reference platform
    (its bearer token from ``SIMRIG_API_TOKEN``, as the CLI user gives it)."""
    from simrig.sim.runner import load_view_factory

    scenario = load_scenario("basic_card_session")
    with EmbeddedServer(scenario, speed=SPEED) as server:
        monkeypatch.setenv("SIMRIG_API_TOKEN", server.api_token or "")
        factory = load_view_factory(
            "simrig.adapters.http_view:make_view", f"http://127.0.0.1:{server.http_port}"
        )
        result = run_scenario(
            scenario,
            backend=f"tcp://127.0.0.1:{server.port}",
            speed=SPEED,
            view_factory=factory,
            start_monotonic=server.start_monotonic,
        )
    assert result.passed, result.expectations
    [verdict] = result.verdicts
    assert verdict.charged_yuan == pytest.approx(verdict.fair_yuan, abs=0.05)
    assert verdict.orders[0].platform_bill is not None


def test_bad_view_plugin_is_a_one_line_error():
    from simrig.sim.runner import BackendError, load_view_factory

    with pytest.raises(BackendError, match=r"--view no\.such:thing"):
        load_view_factory("no.such:thing")
