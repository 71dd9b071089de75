"""SIGTERM to an ``embedded-tcp`` run: the platform process stops, a partial report, exit 4."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from simrig.exit_codes import ExitCode

from ..process_tree import alive, children


def _has_a_connection(pid: int) -> bool:
    """Whether process ``pid`` holds an established TCP socket (the embedded-tcp platform
    is provisioned from its config file, so its first one is the pile's)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            link = os.readlink(fd)
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[len("socket:[") : -1])
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "01" and fields[9] in inodes:  # 01: ESTABLISHED
                return True
    return False


def test_sigterm_stops_the_platform_and_writes_a_partial_report(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "simrig", "run", "basic_card_session", "--backend",
         "embedded-tcp", "--speed", "30", "--out", str(out), "--format", "plain"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "COLUMNS": "80"},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        servers: set[int] = set()
        while not servers and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            servers = children(proc.pid)
        assert servers, "the platform process never started"
        while not any(map(_has_a_connection, servers)) and time.monotonic() < deadline:
            time.sleep(0.1)  # a loaded machine may take seconds to start the platform
        assert any(map(_has_a_connection, servers)), "the pile never connected"
        time.sleep(2.5)  # the pile logs in and the session starts (scenario 10:01 at 30x)
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == ExitCode.INTERRUPTED, (stdout, stderr)
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert not any(alive(pid) for pid in servers), "the platform process outlived the run"
    assert stdout.startswith("PARTIAL REPORT: the run was interrupted")
    document = json.loads((out / "results.json").read_text())
    assert document["partial"] is True and document["passed"] is False
    [run] = document["runs"]
    assert run["partial"] is True and run["expectations"] == []
    assert (out / "summary.txt").read_text().startswith("PARTIAL REPORT")
