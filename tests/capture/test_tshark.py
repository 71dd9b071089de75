"""The real tool reads the run's capture: one TCP conversation per pile connection and no
sequence/ack problems (``tshark``; installed by ``make setup``/``make test``)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from simrig.report import write_report
from simrig.sim.results import RunResult

TSHARK = shutil.which("tshark")
#: skipped on a machine without tshark, never in CI (``make setup`` installs it there)
pytestmark = pytest.mark.skipif(
    TSHARK is None and not os.environ.get("CI"),
    reason="tshark is not installed (make tshark; CI requires it)",
)


def _tshark(*args: str) -> str:
    assert TSHARK is not None
    done = subprocess.run([TSHARK, *args], capture_output=True, text=True, check=True, timeout=120)
    return done.stdout


def test_tshark_sees_one_conversation_per_connection(zpd12: RunResult, tmp_path: Path) -> None:
    out = write_report([zpd12], tmp_path)
    capture = str(out / "capture.pcapng")
    conv = _tshark("-r", capture, "-q", "-z", "conv,tcp")
    rows = re.findall(r"^(\S+:\d+)\s+<->\s+(\S+:\d+)", conv, re.M)
    connections = sum(e.kind == "connected" for e in zpd12.events)
    assert len(rows) == connections == 2
    assert {server for _client, server in rows} == {"10.0.0.1:8767"}
    assert len({client for client, _server in rows}) == 2  # a new port per connection
    assert _tshark("-r", capture, "-Y", "tcp.analysis.flags") == ""
    bad = "tcp.checksum.status != 1 || ip.checksum.status != 1"
    checked = ("-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE")
    assert _tshark("-r", capture, *checked, "-Y", bad) == ""


def test_tshark_reassembles_split_frames(tmp_path: Path) -> None:
    """tshark follows the stream byte for byte: its payload equals what the pile wrote."""
    from datetime import datetime, timedelta

    from simrig.capture import Chunk
    from simrig.capture.formats import open_writer
    from simrig.protocol.ykc import Heartbeat, encode_frame

    pile = "32010200000001"
    t0 = datetime(2024, 3, 1, 8)
    data = b"".join(encode_frame(Heartbeat(pile_no=pile, gun=1), i) for i in range(100))
    path = tmp_path / "split.pcapng"
    w = open_writer(path, [pile])
    w.connected(pile, t0)
    w.write(Chunk(t0, pile, "up", data[:7]))
    w.write(Chunk(t0, pile, "up", data[7:]))
    for i in range(2, 200):  # a side that keeps sending: the peer's pure ACKs
        w.write(Chunk(t0 + timedelta(seconds=i), pile, "up", data[:30]))
    w.close(t0 + timedelta(seconds=200))
    follow = _tshark("-r", str(path), "-q", "-z", "follow,tcp,raw,0")
    payload = "".join(
        line.strip() for line in follow.splitlines() if re.fullmatch(r"\s*[0-9a-f]+", line)
    )
    assert bytes.fromhex(payload) == data + data[:30] * 198
    assert _tshark("-r", str(path), "-Y", "tcp.analysis.flags") == ""
