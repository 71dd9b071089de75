"""``simrig replay`` against the reference platform in its own process (issue 12 item 3).

A library scenario is recorded once against ``simrig platform serve`` (the ``embedded-tcp``
backend), then replayed against fresh servers whose clock (another ``--epoch``) and order
serials differ from the recorded run's, so that every fresh value is really rewritten.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from simrig.adapters.platform_process import PlatformProcess, start_platform
from simrig.capture.formats import read_chunks
from simrig.cli import app
from simrig.control.platform_toml import platform_toml
from simrig.exit_codes import ExitCode
from simrig.oracle.device_view import decode_chunks, device_orders
from simrig.report import write_report
from simrig.scenarios import Scenario, load_scenario
from simrig.scenarios.schema import PileDef
from simrig.sim.runner import run_scenario
from simrig.sim.world import site_from_scenario

pytestmark = pytest.mark.realtime

runner = CliRunner()
#: scenario seconds per second of the fresh servers and the replays (a capture's times are
#: on the backend's clock, whatever the speed it was recorded at)
SPEED = 600.0
#: of the recording: a pile drops its link after three unanswered heartbeats, 150 ms of a
#: loaded 2-core machine at 200× (tests/cli/backend_process.py)
API_TOKEN = "replay-test-token"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
RECORD_SPEED = 200.0
PILE = "55031412782305"
NEW_PILE = "55031412780077"
#: the fresh servers' clock: another day and time than the scenario's 2019-10-29 10:00
FRESH_EPOCH = datetime(2025, 6, 10, 14, 0)
#: reply delays on the recorded clock: 300 s at 600× is half a second of a loaded machine
TOLERANCE = ["--timing-tolerance", "300"]


def _scenario() -> Scenario:
    """basic_card_session, cut to the 26 minutes its session takes, in real time; the
    platform's liveness rule relaxed (three heartbeat periods are 50 ms at 600×)."""
    sc = load_scenario("basic_card_session")
    meta = sc.meta.model_copy(update={"clock": "realtime", "duration": 26 * 60.0})
    return sc.model_copy(update={"meta": meta, "platform": {"missed_heartbeats_offline": 20}})


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    result = run_scenario(_scenario(), backend="embedded-tcp", speed=RECORD_SPEED)
    assert result.verdicts and all(e.passed for e in result.expectations)
    out = tmp_path_factory.mktemp("recorded")
    write_report([result], out)
    return out / "capture.pcapng"


@contextmanager
def fresh_platform(tmp: Path, missed_heartbeats: int = 20) -> Iterator[PlatformProcess]:
    """A new reference platform for the scenario's site (and a second pile, ``NEW_PILE``),
    its clock at :data:`FRESH_EPOCH` when it starts, running at :data:`SPEED`."""
    sc = _scenario()
    extra = PileDef(pile_no=NEW_PILE, profile=sc.piles[0].profile)
    rules = {"missed_heartbeats_offline": missed_heartbeats}
    site = site_from_scenario(
        sc.model_copy(update={"piles": [*sc.piles, extra], "platform": rules})
    )
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "platform.toml").write_text(platform_toml(site))
    options = ["--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--db", str(tmp / "p.sqlite")]
    options += ["--config", str(tmp / "platform.toml"), "--epoch", FRESH_EPOCH.isoformat()]
    # as fast as replies, a pile's frames come far faster than the platform's per-connection
    # caps allow a real pile (200 frames/s): a replay target runs with them off (0)
    options += ["--api-token", API_TOKEN, "--max-frames-per-s", "0", "--max-bytes-per-s", "0"]
    server = start_platform([*options, "--speed", repr(SPEED)])
    try:
        yield server
    finally:
        server.stop()


def _replay(capture: Path, server: PlatformProcess, out: Path, *extra: str) -> dict:
    args = ["replay", str(capture), "--backend", f"tcp://127.0.0.1:{server.port}"]
    result = runner.invoke(app, [*args, "--out", str(out), *TOLERANCE, *extra])
    report = json.loads((out / "replay.json").read_text())
    assert result.exit_code == report["exit_code"], result.output
    return report


def _bills(capture: Path) -> list:
    return [b for o in device_orders(read_chunks(capture)) for b in o.bills]


def test_replay_reproduces_the_bills_on_a_platform_with_another_clock_and_serials(
    recording: Path, tmp_path: Path
):
    [recorded] = _bills(recording)
    with fresh_platform(tmp_path / "server") as server:
        first = _replay(recording, server, tmp_path / "r1", "--as-fast-as-replies")
        # the same server again, at the recorded timing and as another pile: the backend
        # now holds an order already, so its serial counter is elsewhere too; the card's
        # balance back where the recording had it (else 0x32 tells another balance)
        api = f"http://127.0.0.1:{server.http_port}"
        body = {"yuan": 100.0, "mode": "set"}
        set_balance = httpx.post(f"{api}/accounts/alice/balance", json=body, headers=AUTH)
        set_balance.raise_for_status()
        second = _replay(
            recording, server, tmp_path / "r2", "--speed", repr(SPEED),
            "--pile-map", f"{PILE}={NEW_PILE}",
        )  # fmt: skip
        stored = httpx.get(f"{api}/bills", headers=AUTH, timeout=5).json()
    frames = decode_chunks(read_chunks(recording))
    recorded_up = sum(1 for chunk, _ in frames if chunk.direction == "up")
    recorded_down = sum(1 for chunk, _ in frames if chunk.direction == "down")
    for report in (first, second):
        assert report["exit_code"] == ExitCode.PASS, report["differences"]
        # every recorded pile frame sent, every recorded reply matched (how many there
        # are is the real-time run's: a loaded machine records fewer 0x13)
        assert report["sent"] == recorded_up > 150
        replies = report["replies"]
        assert replies["matched"] == replies["recorded"] == recorded_down > 50
        assert report["clock_offset_from"] == "time_sync"
        assert abs(report["clock_offset_s"] - (FRESH_EPOCH - recorded.start).total_seconds()) < (
            3600
        )
    [(old1, new1)] = first["serials"].items()
    [(old2, new2)] = second["serials"].items()
    assert old1 == old2 == recorded.serial
    assert len({recorded.serial, new1, new2}) == 3
    assert new1.startswith(PILE) and new2.startswith(NEW_PILE)
    assert new1[16:22] == new2[16:22] == FRESH_EPOCH.strftime("%y%m%d")
    for out, serial, pile in ((tmp_path / "r1", new1, PILE), (tmp_path / "r2", new2, NEW_PILE)):
        [bill] = _bills(out / "capture.pcapng")
        assert (bill.serial, bill.pile_no) == (serial, pile)
        assert (bill.ack_state, bill.acked) == (recorded.ack_state, True)
        assert (bill.energy_kwh, bill.amount_yuan) == (recorded.energy_kwh, recorded.amount_yuan)
        assert bill.end - bill.start == recorded.end - recorded.start
        assert bill.start.date() == FRESH_EPOCH.date()
    assert sorted(b["serial"] for b in stored) == sorted([new1, new2])
    # the second replay kept the recorded timing: the bill went out as long after the
    # connection opened as in the recording (on the recorded clock, within the tolerance)
    fresh = tmp_path / "r2" / "capture.pcapng"
    [timed] = _bills(fresh)
    recorded_after = recorded.sent_at - min(c.at for c in read_chunks(recording))
    timed_after = timed.sent_at - min(c.at for c in read_chunks(fresh))
    assert abs((timed_after - recorded_after).total_seconds()) < 300


def test_a_virtual_runs_capture_replays_at_its_timing_with_its_heartbeats_put_back(
    tmp_path: Path,
):
    """A virtual run sends heartbeats on paper: its capture has none, and an idle gap of
    three minutes (card stop to unplug) that a liveness watch of 120 s would not survive:
    the backend would close the link before the unplug's 0x13."""
    sc = _scenario()
    sc = sc.model_copy(update={"meta": sc.meta.model_copy(update={"clock": "virtual"})})
    write_report([run_scenario(sc)], tmp_path / "virtual")
    capture = tmp_path / "virtual" / "capture.pcapng"
    assert not any(c.data[5] == 0x03 for c in read_chunks(capture) if c.direction == "up")
    with fresh_platform(tmp_path / "server", missed_heartbeats=12) as server:
        report = _replay(capture, server, tmp_path / "r", "--speed", repr(SPEED))
    assert report["exit_code"] == ExitCode.PASS, report["differences"]
    assert report["notes"] == [] and report["heartbeats_put_back"] > 150
    [recorded] = _bills(capture)
    [bill] = _bills(tmp_path / "r" / "capture.pcapng")
    assert (bill.ack_state, bill.energy_kwh) == (recorded.ack_state, recorded.energy_kwh)


def test_a_platform_that_refuses_the_card_is_the_reported_difference(
    recording: Path, tmp_path: Path
):
    with fresh_platform(tmp_path / "server") as server:
        api = f"http://127.0.0.1:{server.http_port}/rules"
        patched = httpx.patch(api, json={"min_start_balance": 500}, headers=AUTH, timeout=5)
        patched.raise_for_status()
        report = _replay(recording, server, tmp_path / "r", "--as-fast-as-replies")
    assert report["exit_code"] == ExitCode.EXPECTATIONS_FAILED
    found = {(d["kind"], d["what"], d["field"]) for d in report["differences"]}
    assert found == {
        ("field", "0x32 card_auth_reply #1", "serial"),
        ("field", "0x32 card_auth_reply #1", "result"),
        ("field", "0x32 card_auth_reply #1", "failure"),
        ("field", "0x40 record_ack #1", "result"),
        ("verdict", f"order {report['refused_serials'][0]}", "bill ack_state"),
    }
    failure = next(d for d in report["differences"] if d["field"] == "failure")
    assert (failure["recorded"], failure["fresh"]) == ("none (0)", "insufficient_balance (3)")
    assert report["serials"] == {}


def test_an_unreadable_capture_exits_2_with_one_line(recording: Path, tmp_path: Path):
    broken = tmp_path / "broken.pcapng"
    broken.write_bytes(recording.read_bytes()[:5000])
    result = runner.invoke(app, ["replay", str(broken), "--backend", "tcp://127.0.0.1:1"])
    assert result.exit_code == ExitCode.BAD_INPUT
    [line] = result.stderr.strip().splitlines()
    assert str(broken) in line and "unreadable capture after record" in line
    lines = tmp_path / "frames.jsonl"
    lines.write_text('{"t": "2019-10-29T10:00:00", "pile": "1", "hex": "68zz"}\n')
    result = runner.invoke(app, ["replay", str(lines), "--backend", "tcp://127.0.0.1:1"])
    assert result.exit_code == ExitCode.BAD_INPUT
    assert result.stderr.strip().splitlines() == [
        f"error: {lines}:1: not a frames.jsonl line "
        "(non-hexadecimal number found in fromhex() arg at position 2)"
    ]


def test_sigterm_during_a_replay_exits_4_with_the_diff_so_far(recording: Path, tmp_path: Path):
    """At 100× the replay would take 16 s; stopped after 2 s, it compares what it sent."""
    with fresh_platform(tmp_path / "server") as server:
        proc = subprocess.Popen(
            [sys.executable, "-m", "simrig", "replay", str(recording), "--speed", "100",
             "--backend", f"tcp://127.0.0.1:{server.port}", "--out", str(tmp_path / "r"),
             *TOLERANCE],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            time.sleep(2.0)
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=30)
        finally:
            proc.kill()
    assert proc.returncode == ExitCode.INTERRUPTED, out
    report = json.loads((tmp_path / "r" / "replay.json").read_text())
    assert report["exit_code"] == ExitCode.INTERRUPTED
    assert 0 < report["sent"] < 400 and report["differences"] == []
    assert any(note.startswith("interrupted: compared up to") for note in report["notes"])


def test_a_pile_map_of_an_unknown_pile_exits_2(recording: Path):
    args = ["replay", str(recording), "--backend", "tcp://127.0.0.1:1"]
    result = runner.invoke(app, [*args, "--pile-map", f"{NEW_PILE}={PILE}"])
    assert result.exit_code == ExitCode.BAD_INPUT
    assert result.stderr.strip() == f"error: --pile-map {NEW_PILE}: no such pile in {recording}"


def test_a_dead_or_silent_backend_exits_3(recording: Path, tmp_path: Path):
    result = runner.invoke(
        app, ["replay", str(recording), "--backend", "tcp://127.0.0.1:1", "--out", str(tmp_path)]
    )
    assert result.exit_code == ExitCode.BACKEND_UNAVAILABLE
    assert "unavailable" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    server = socket.create_server(("127.0.0.1", 0))  # accepts, never says a word
    held: list[socket.socket] = []

    def accept() -> None:
        with suppress(OSError):
            held.append(server.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    try:
        args = ["--as-fast-as-replies", "--reply-cap", "0.05", "--out", str(tmp_path)]
        url = f"tcp://127.0.0.1:{server.getsockname()[1]}"
        result = runner.invoke(app, ["replay", str(recording), "--backend", url, *args])
    finally:
        server.close()
        for conn in held:
            conn.close()
    assert result.exit_code == ExitCode.BACKEND_UNAVAILABLE
    assert "never answered" in result.stderr
