"""One exit-code table for every command; a dead backend gives 3 within seconds (issue 11)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

from typer.testing import CliRunner

from simrig.cli import app
from simrig.exit_codes import ExitCode
from simrig.oracle.diagnostics import DEAD_BACKEND_ATTEMPTS
from simrig.scenarios import load_scenario
from simrig.sim.runner import run_scenario

runner = CliRunner()
DEAD = "tcp://127.0.0.1:1"  # nothing listens on port 1: connection refused


def test_the_table_is_the_documented_one():
    assert [(c.name, int(c)) for c in ExitCode] == [
        ("PASS", 0), ("EXPECTATIONS_FAILED", 1), ("BAD_INPUT", 2),
        ("BACKEND_UNAVAILABLE", 3), ("INTERRUPTED", 4),
    ]  # fmt: skip
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    for code in ExitCode:
        assert f"| {int(code)} |" in readme


def test_a_dead_backend_is_given_up_within_ten_seconds_at_speed_1():
    """The stop policy bounds the run: two failed attempts per pile (back-off 5 s ±20 %),
    then the run ends — the scenario clock (= wall clock at speed 1) stays under 10 s,
    where the scenario lasts an hour."""
    result = run_scenario(load_scenario("basic_card_session"), backend=DEAD, speed=1.0)
    attempts = [e for e in result.events if e.kind == "connect_failed"]
    [gave_up] = [e for e in result.events if e.kind == "gave_up"]
    assert len(attempts) == DEAD_BACKEND_ATTEMPTS
    assert gave_up.t < 10.0
    assert result.backend_status == "unreachable" and result.stopped_early
    assert all("not judged" in e.actual for e in result.expectations)


def test_run_against_a_dead_backend_exits_3_with_diagnostics_first(tmp_path: Path):
    args = ["run", "basic_card_session", "--backend", DEAD, "--clock", "realtime"]
    result = runner.invoke(app, [*args, "--speed", "60", "--out", str(tmp_path)])
    assert result.exit_code == ExitCode.BACKEND_UNAVAILABLE, result.output
    out = result.output
    assert "never connected: connection refused" in out
    assert out.index("never connected") < out.index(
        "basic_card_session · backend tcp://127.0.0.1:1 · seed"
    )
    [run] = json.loads((tmp_path / "results.json").read_text())["runs"]
    assert run["backend_status"] == "unreachable"
    assert run["diagnostics"][0]["problems"][0]["kind"] == "connection refused"


def test_bad_input_exits_2():
    result = runner.invoke(app, ["run", "no_such_scenario"])
    assert result.exit_code == ExitCode.BAD_INPUT


def test_sigterm_during_a_run_exits_4(tmp_path: Path):
    """A backend that accepts and never answers; SIGTERM once the pile has connected."""
    server = socket.create_server(("127.0.0.1", 0))
    connected = threading.Event()
    held: list[socket.socket] = []

    def accept() -> None:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        held.append(conn)
        connected.set()

    threading.Thread(target=accept, daemon=True).start()
    port = server.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "simrig", "run", "basic_card_session", "--clock", "realtime",
         "--backend", f"tcp://127.0.0.1:{port}", "--out", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert connected.wait(120), "the pile never connected"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        server.close()
        for conn in held:
            conn.close()
    assert proc.returncode == ExitCode.INTERRUPTED, err
    assert b"interrupted" in err


_SIGINT_WHILE_IMPORTING = """
import importlib.abc, os, signal, sys

class SignalOnImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "simrig.cli":
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C right as the import starts
        return None

sys.meta_path.insert(0, SignalOnImport())
sys.argv = ["simrig", "scenarios", "list"]
from simrig.__main__ import entry
entry()
"""


def test_ctrl_c_while_the_command_line_starts_is_exit_4_without_a_traceback():
    """Start-up (importing the command line) takes a second or more on a loaded machine; a
    Ctrl-C then is an interrupted run too — not a KeyboardInterrupt traceback, nor a
    RuntimeError the import machinery made of it."""
    proc = subprocess.run(
        [sys.executable, "-c", _SIGINT_WHILE_IMPORTING],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == ExitCode.INTERRUPTED, (proc.stdout, proc.stderr)
    assert proc.stderr.strip() == "interrupted" and not proc.stdout
