"""Locust master + 2 workers headless on loopback against ``simrig platform serve``: the
shipped locustfile's YKC piles log in and beat, Locust's stats name YKC frame types.

Locust patches the standard library for gevent on import: it runs only in subprocesses
here, never in the pytest process."""

from __future__ import annotations

import csv
import os
import socket
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import simrig.load
from simrig.adapters.platform_process import start_platform
from simrig.control.platform_toml import platform_toml
from simrig.load.plan import FIRST_PILE_NO, Group, LoadPlan
from simrig.sim.world import site_from_scenario

LOCUSTFILE = Path(simrig.load.__file__).parent / "locustfile.py"
PROFILE = "sinexcel-dc@2090404"
STRIDE = 1000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_master_and_two_workers_report_ykc_frame_types(tmp_path):
    assert "locust" not in sys.modules
    groups = (Group(PROFILE, FIRST_PILE_NO, 4, 4), Group(PROFILE, FIRST_PILE_NO + STRIDE, 4, 4))
    plan = LoadPlan(groups=groups, duration_s=60, ramp_s=0, sessions_per_pile_hour=0)

    (tmp_path / "site.toml").write_text(
        platform_toml(site_from_scenario(plan.scenario(datetime.now(), all_users=True)))
    )
    server = start_platform(
        ["--listen", "127.0.0.1:0", "--http", "off", "--db", str(tmp_path / "p.sqlite"),
         "--config", str(tmp_path / "site.toml")]
    )  # fmt: skip
    locust = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE)]
    port = _free_port()
    env = {**os.environ, "SIMRIG_PILE_STRIDE": str(STRIDE)}
    procs: list[subprocess.Popen[str] | subprocess.Popen[bytes]] = []
    try:
        master = subprocess.Popen(
            [*locust, "--master", "--headless", "--expect-workers", "2", "-u", "6", "-r", "6",
             "-t", "13s", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
             "--host", f"tcp://127.0.0.1:{server.port}", "--csv", str(tmp_path / "stats"),
             "--only-summary", "--stop-timeout", "2"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        procs.append(master)
        for _ in range(2):
            worker = [*locust, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
            procs.append(subprocess.Popen(worker, env=env, stdout=subprocess.DEVNULL, text=True))
        output, _ = master.communicate(timeout=90)
        assert master.returncode == 0, output
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)
        server.stop()
    with (tmp_path / "stats_stats.csv").open() as f:
        rows = {row["Name"]: row for row in csv.DictReader(f) if row["Type"] == "YKC"}
    assert {"login", "heartbeat", "model_verify"} <= set(rows), rows.keys()
    assert int(rows["login"]["Request Count"]) == 6  # every pile of both workers logged in
    assert int(rows["heartbeat"]["Request Count"]) >= 6
    assert all(int(row["Failure Count"]) == 0 for row in rows.values()), rows
