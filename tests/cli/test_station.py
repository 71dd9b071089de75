"""``simrig station``: one station workload against the reference platform started as its
own process (``simrig platform serve``), real sockets, clocks aligned (issue 11 item 7)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from simrig.cli import app
from simrig.cli.workload import specs_for, workload_spec
from simrig.control.platform_toml import platform_toml
from simrig.exit_codes import ExitCode
from simrig.scenarios.workload import station_workload
from simrig.sim.world import site_from_scenario

from .backend_process import EPOCH, SEED, WORKLOAD

runner = CliRunner()
PROFILE = "sinexcel-dc@2090404"


def _sessions(out: Path) -> list[dict[str, object]]:
    [run] = json.loads((out / "results.json").read_text())["runs"]
    sessions: list[dict[str, object]] = run["sessions"]
    return sessions


def _station(*options: str, out: Path) -> object:
    args = ["station", "--profile", PROFILE, *WORKLOAD, *options, "--out", str(out)]
    return runner.invoke(app, args)


def test_station_over_tcp_gives_the_virtual_verdicts_and_bills_on_the_platform(
    tmp_path, backend, monkeypatch
):
    """App sessions through the HTTP template, card sessions by the piles, everything
    provisioned through the template, judged through the platform's HTTP view."""
    virtual = _station("--backend-epoch", EPOCH.isoformat(), out=tmp_path / "virtual")
    assert virtual.exit_code == 0, virtual.output
    server = backend()
    assert server.get("/piles") == []  # nothing but what the control provisions
    result = _station(
        *server.rig_options(), *server.control_options(monkeypatch), out=tmp_path / "tcp"
    )
    assert result.exit_code == ExitCode.PASS, result.output
    tcp, expected = _sessions(tmp_path / "tcp"), _sessions(tmp_path / "virtual")
    assert len(tcp) == len(expected) == 2

    def verdicts(sessions: list[dict[str, object]]) -> list[tuple[object, ...]]:
        return [(s["key"], s["codes"], s["false_notifications"]) for s in sessions]

    assert verdicts(tcp) == verdicts(expected)
    billed = [s for s in tcp if s["charged_yuan"]]
    assert billed and all(
        abs(s["charged_yuan"] - s["fair_yuan"]) < 0.01 * s["fair_yuan"] for s in billed
    )
    sessions = server.get("/sessions")
    assert sorted(s["source"] for s in sessions) == ["app", "card"]
    assert all(s["state"] == "finished" and s["bill_serial"] for s in sessions)
    assert {p["pile_no"] for p in server.get("/piles")} == {"32010200000001", "32010200000002"}


def test_card_only_station_needs_no_control(tmp_path, backend):
    """``--app-share 0`` on a backend provisioned by its own config: frames-only verdicts,
    every bill acknowledged, and the bills are in the platform's records."""
    spec = workload_spec(
        piles=2, days=0.2, seed=SEED, sessions_per_pile_day=24, app_share=0.0,
        first_pile_no=None, epoch=EPOCH,
    )  # fmt: skip
    [spec] = specs_for([PROFILE], spec, "embedded")
    scenario = station_workload(spec, random.Random(spec.seed))
    server = backend(platform_toml(site_from_scenario(scenario)))
    result = _station("--app-share", "0", *server.rig_options(), out=tmp_path / "out")
    assert result.exit_code == ExitCode.PASS, result.output
    orders = [o for s in _sessions(tmp_path / "out") for o in s["orders"]]
    assert orders and all(o["bill_state"] in ("acked", "acked_late") for o in orders)
    sessions = server.get("/sessions")
    assert len(sessions) == len(orders)
    assert all(s["source"] == "card" and s["bill_serial"] for s in sessions)


def test_app_sessions_without_a_control_are_refused_in_one_line(tmp_path):
    started = time.monotonic()
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "simrig", "station", "--profile", PROFILE, *WORKLOAD),
            *("--backend", "tcp://127.0.0.1:1", "--backend-epoch", EPOCH.isoformat()),
            *("--out", str(tmp_path)),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == ExitCode.BAD_INPUT, proc.stdout + proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("error: tcp://127.0.0.1:1: the workload's app sessions")
    assert "--backend-control" in line and "--app-share 0" in line
    assert not (tmp_path / "results.json").exists()  # nothing ran
    assert time.monotonic() - started < 30


def test_a_dead_backend_exits_3(tmp_path):
    result = runner.invoke(
        app,
        ["station", "--profile", PROFILE, *WORKLOAD, "--app-share", "0", "--speed", "60",
         "--backend-epoch", EPOCH.isoformat(),
         "--backend", "tcp://127.0.0.1:1", "--out", str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == ExitCode.BACKEND_UNAVAILABLE, result.output
    assert "never connected: connection refused" in result.output
    [run] = json.loads((tmp_path / "results.json").read_text())["runs"]
    assert run["backend_status"] == "unreachable"
