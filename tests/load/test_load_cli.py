"""``simrig load`` against the reference platform in its own process over real sockets
(issue 13): figures, thresholds and exit codes, workers, outage storms, latency."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from simrig.capture import Chunk
from simrig.capture.formats import read_capture
from simrig.cli import app
from simrig.exit_codes import ExitCode

runner = CliRunner()
TEMPLATE = Path(__file__).parent.parent / "control" / "reference_platform.toml"
TOKEN = "load-token"


def _load(server_port: int, out: Path, *options: str) -> tuple[int, dict, str]:
    args = ["load", "--backend", f"tcp://127.0.0.1:{server_port}", "--no-live"]
    result = runner.invoke(app, [*args, *options, "--out", str(out)])
    data = json.loads((out / "load.json").read_text()) if (out / "load.json").exists() else {}
    return result.exit_code, data, result.output


def test_load_reports_figures_bills_and_fails_a_threshold(platform, tmp_path, monkeypatch):
    """12 piles of two profiles at 60× with card and app sessions (app through the
    platform's HTTP API, --backend-control): every pile logs in once, heartbeats, card
    auths and remote starts are timed, bills are uploaded and acked; an impossible
    heartbeat p99 fails (exit 1), the lost-bill threshold holds; load.json and load.png
    are written."""
    mix = ("--profile", "generic-dc@1.0=1", "--profile", "sinexcel-dc@2090404=1")
    server = platform(12, 60.0, *mix, token=TOKEN)
    monkeypatch.setenv("SIMRIG_API", f"http://127.0.0.1:{server.http_port}")
    monkeypatch.setenv("SIMRIG_API_TOKEN", TOKEN)
    code, data, output = _load(
        server.port, tmp_path / "out", *mix, "--app-share", "0.5",
        "--backend-control", str(TEMPLATE),
        "--piles", "12", "--duration", "9s", "--ramp", "1s", "--speed", "60",
        "--sessions-per-pile-hour", "8", "--session-minutes", "1-2",
        "--max-p99-ms", "heartbeat=0.001", "--max-lost-bills", "0", "--max-login-failures", "0",
    )  # fmt: skip
    assert code == ExitCode.EXPECTATIONS_FAILED, output
    assert [line.split(" p99")[0] for line in data["thresholds_failed"]] == ["heartbeat"]
    counters = data["counters"]
    assert counters["logins"] == 12 and data["login_failures"] == 0
    latency = data["latency_ms"]
    assert latency["login"]["backend"]["count"] == 12
    assert latency["heartbeat"]["backend"]["count"] >= 12 * 20  # 10 s beats, 540 s
    assert latency["card_auth"]["backend"]["count"] >= 1
    assert latency["remote_start"]["backend"]["count"] >= 1
    assert counters["remote_unmatched"] == 0 and counters["action_errors"] == 0
    assert counters["bills_uploaded"] >= 1
    assert counters["bills_acked"] + data["bills_in_flight"] >= counters["bills_uploaded"]
    assert data["bills_never_acked"] == 0
    assert latency["bill_ack"]["backend"]["count"] >= 1
    assert data["series"] and data["series"][-1]["logged_in"] == 12
    assert data["timer_lag_ms"]["count"] > 0
    assert (tmp_path / "out" / "load.png").stat().st_size > 10_000


def test_workers_merge_and_storms_drop_piles(platform, tmp_path):
    """Two worker processes; 50 % of the piles lose their link for 50 scenario-s 80 s
    after the ramp (at 20×: 2.5 s every 4 s): the merged figures count every pile once,
    the dropped piles notice the dead link, their connects fail during the outage (the
    link model's, not the backend's) and they reconnect and log in again after it. With
    ``--capture sample`` each worker captures its own sampled piles to its own files."""
    server = platform(10, 20.0)
    code, data, output = _load(
        server.port, tmp_path / "out",
        "--piles", "10", "--duration", "10s", "--ramp", "1s", "--speed", "20",
        "--sessions-per-pile-hour", "0", "--storm", "50%/2.5s/4s", "--workers", "2",
        "--capture", "sample", "--capture-piles", "2",
    )  # fmt: skip
    assert code == ExitCode.PASS, output
    counters = data["counters"]
    assert data["piles"] == 10
    assert counters["reconnects"] >= 3 and counters["connects"] == 10 + counters["reconnects"]
    assert counters["logins"] == counters["connects"] and counters["connect_failures"] == 0
    assert max(row["logged_in"] for row in data["series"]) == 10
    assert data["latency_ms"]["heartbeat"]["backend"]["count"] > 0
    for worker, pile in enumerate(("32010200000001", "32010200000006")):  # one sampled each
        items = list(read_capture(tmp_path / "out" / f"capture-w{worker}.pcapng"))
        assert {i.pile_no for i in items} == {pile} and any(isinstance(i, Chunk) for i in items)
        assert (tmp_path / "out" / f"frames-w{worker}.jsonl").stat().st_size > 0


def test_a_reply_delay_moves_the_pile_seen_p50_and_not_the_backend_s(platform, tmp_path):
    """The latency measurement itself: +200 ms on every backend → pile byte (link model)
    moves the p50 the piles see by 200 ms (±25), and the backend's own p50 by < 25 ms."""
    server = platform(8, 10.0)
    run = ("--piles", "8", "--duration", "5s", "--ramp", "1s", "--speed", "10")
    run += ("--sessions-per-pile-hour", "0")
    _, plain, output = _load(server.port, tmp_path / "plain", *run)
    assert plain, output
    _, delayed, output = _load(server.port, tmp_path / "delayed", *run, "--reply-delay-ms", "200")
    assert delayed, output
    hb0, hb1 = plain["latency_ms"]["heartbeat"], delayed["latency_ms"]["heartbeat"]
    assert hb0["pile"]["count"] >= 20 and hb1["pile"]["count"] >= 20
    assert hb1["pile"]["p50"] - hb0["pile"]["p50"] == pytest.approx(200, abs=25)
    assert abs(hb1["backend"]["p50"] - hb0["backend"]["p50"]) < 25


def test_dead_backend_exits_3_and_bad_input_exits_2(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, data, output = _load(
        port, tmp_path / "dead", "--piles", "3", "--duration", "20s", "--ramp", "1s",
        "--speed", "20", "--sessions-per-pile-hour", "0",
    )  # fmt: skip
    assert code == ExitCode.BACKEND_UNAVAILABLE, output
    assert data["counters"]["connect_failures"] >= 6 and "unreachable" in data["stopped_early"]
    for bad in (
        ["--max-p99-ms", "heartbeet=5"],
        ["--backend", "http://x"],
        ["--profile", "no-such-profile@1"],
        ["--storm", "10%/60s"],
        ["--app-share", "0.5"],
        ["--capture", "all"],
    ):
        args = ["load", "--backend", f"tcp://127.0.0.1:{port}", *bad]
        result = runner.invoke(app, args)
        assert result.exit_code == ExitCode.BAD_INPUT, (bad, result.output)
        assert "error" in result.output


def test_sigterm_ends_the_run_in_order_with_exit_4_and_the_figures_so_far(tmp_path):
    """SIGTERM mid-run (its own process): links closed, load.json written, exit 4."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = [sys.executable, "-m", "simrig", "load", "--backend", f"tcp://127.0.0.1:{port}"]
    args += ["--piles", "2", "--duration", "60s", "--ramp", "1s", "--no-live"]
    args += ["--status-every", "0.5", "--out", str(tmp_path / "out")]
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()  # the first status line: the run is under way
        assert first.startswith("load t="), first
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == ExitCode.INTERRUPTED
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert json.loads((tmp_path / "out" / "load.json").read_text())["interrupted"] is True
