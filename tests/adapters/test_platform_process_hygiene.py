"""The platform child process never outlives the rig, and its output never stalls it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import deque

from simrig.adapters.platform_process import _drain

STARTER = """
import sys, time
from simrig.adapters.platform_process import start_platform
server = start_platform(["--listen", "127.0.0.1:0", "--http", "off", "--db", sys.argv[1]])
print(server.proc.pid, flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is dead too
        return stat.read().split()[2] != "Z"


def test_the_server_dies_when_the_rig_is_killed(tmp_path):
    rig = subprocess.Popen(
        [sys.executable, "-c", STARTER, str(tmp_path / "p.sqlite")],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert rig.stdout is not None
    server_pid = int(rig.stdout.readline())
    assert _alive(server_pid)
    rig.send_signal(signal.SIGKILL)  # no cleanup code runs in the rig
    rig.wait()
    for _ in range(100):
        if not _alive(server_pid):
            break
        time.sleep(0.1)
    assert not _alive(server_pid), "the platform server outlived the rig"


def test_a_flood_on_stderr_is_drained_and_its_tail_kept():
    """2 MB of warnings: far beyond a pipe's buffer, which would block a writer nobody reads."""
    flood = "import sys\nfor i in range(40_000): print('warning', i, 'x' * 40, file=sys.stderr)\n"
    proc = subprocess.Popen([sys.executable, "-c", flood], stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    tail: deque[str] = deque(maxlen=5)
    _drain(proc.stderr, tail)
    assert proc.wait(timeout=60) == 0
    for _ in range(100):
        if tail and tail[-1].startswith("warning 39999"):
            break
        time.sleep(0.05)
    assert tail[-1].startswith("warning 39999")
