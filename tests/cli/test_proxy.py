"""``simrig proxy`` in its own process between simrig piles and ``simrig platform serve``
(its own process), real sockets: the proxy's frames-only verdicts agree with the rig's
own oracle on the same run, zpd_case#12's outage mid-charge comes from the proxy's fault
file, many connections at once, and garbage either way never crashes it (issue 12)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from simrig.capture.formats import read_chunks
from simrig.cli import app
from simrig.control import load_control
from simrig.exit_codes import ExitCode
from simrig.oracle.device_view import decode_chunks
from simrig.protocol.ykc import Framer, Login, encode_frame
from simrig.scenarios import load_scenario
from simrig.sim.runner import run_scenario

from .backend_process import EPOCH, SPEED, TEMPLATE, TOKEN

pytestmark = pytest.mark.realtime

runner = CliRunner()
CLEAN = "55031412782305"  # basic card session; its first two 0x40 withheld by a rule
OUTAGE = "44030400030012"  # zpd_case#12's pile: an outage 5 min into its charge

SCENARIO = f"""
[meta]
name = "proxy pair"
seed = 12
epoch = 2019-10-01T08:00:00
duration = "32m"
needs_backend_api = true

[[piles]]
pile_no = "{CLEAN}"
profile = "generic-dc@1.0"

[[piles]]
pile_no = "{OUTAGE}"
profile = "sinexcel-dc@2090104"
disable_quirks = ["random_bill_loss", "occupancy_spike", "energy_lost", "duration_mismatch"]

[[vehicles]]
name = "car"
capacity_kwh = 90
initial_soc = 20
max_power_kw = 60
handshake_s = 20

[[users]]
name = "alice"
card = "00000000D14B0A54"
logical_card = "1000000573"
balance = 500.0

[[users]]
name = "bob"
card = "00000000A1B2C3D4"
logical_card = "1000000812"
balance = 500.0

[[timeline]]
at = "08:01:00"
do = "plug"
pile = "{CLEAN}"
vehicle = "car"

[[timeline]]
at = "08:01:00"
do = "plug"
pile = "{OUTAGE}"
vehicle = "car"

[[timeline]]
at = "08:01:30"
do = "card"
pile = "{CLEAN}"
user = "alice"

[[timeline]]
at = "08:01:30"
do = "card"
pile = "{OUTAGE}"
user = "bob"

[[timeline]]
at = "08:12:00"
do = "card"
pile = "{CLEAN}"
user = "alice"

[[timeline]]
at = "08:24:00"
do = "card"
pile = "{OUTAGE}"
user = "bob"

[[timeline]]
at = "08:27:00"
do = "unplug"
pile = "{CLEAN}"

[[timeline]]
at = "08:27:00"
do = "unplug"
pile = "{OUTAGE}"
"""

FAULTS = f"""
seed = 3

[[event_outage]]   # zpd_case#12: offline mid-charge, 5 min after the session's first 0x13
pile = "{OUTAGE}"
on = "realtime_data"
after = "5m"
duration = "8m"

[[rule]]           # the backend's first two 0x40 never reach the clean pile
pile = "{CLEAN}"
direction = "down"
type = "0x40"
action = "drop"
times = 2
"""


class ProxyProcess:
    """``python -m simrig proxy ...`` and its ready line (``listening on H:P ...``)."""

    def __init__(self, upstream: str, out: Path, *options: str) -> None:
        cmd = [sys.executable, "-m", "simrig", "proxy", "--listen", "127.0.0.1:0"]
        cmd += ["--upstream", upstream, "--out", str(out), "--status-every", "1", *options]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("listening on"):
            self.proc.kill()
            raise AssertionError(f"no ready line: {line!r} {self.proc.stderr.read()!r}")
        self.port = int(line.split()[2].rsplit(":", 1)[1])
        self.output: list[str] = []
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)

    def stop(self) -> int:
        """SIGTERM: the orderly end (judgement, proxy.json); returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        self._reader.join(timeout=5)
        return code

    def alive(self) -> bool:
        return self.proc.poll() is None


@pytest.fixture
def proxies() -> Iterator[list[ProxyProcess]]:
    started: list[ProxyProcess] = []
    yield started
    for p in started:
        if p.alive():
            p.proc.kill()
            p.proc.wait()


def test_proxy_verdicts_agree_with_the_rigs_oracle_and_reproduce_zpd_case_12(
    tmp_path, backend, monkeypatch, proxies
):
    server = backend()
    scenario = tmp_path / "pair.toml"
    scenario.write_text(SCENARIO)
    faults = tmp_path / "faults.toml"
    faults.write_text(FAULTS)
    upstream = f"127.0.0.1:{server.process.port}"
    proxy = ProxyProcess(
        upstream, tmp_path / "proxy", "--faults", str(faults), "--speed", repr(SPEED)
    )
    proxies.append(proxy)
    monkeypatch.setenv("SIMRIG_API", server.api)
    monkeypatch.setenv("SIMRIG_API_TOKEN", TOKEN)
    backend_url = f"tcp://127.0.0.1:{proxy.port}"
    result = run_scenario(
        load_scenario(scenario),
        backend=backend_url,
        speed=SPEED,
        start_monotonic=server.start_monotonic,
        backend_epoch=EPOCH,
        control=load_control(str(TEMPLATE), backend_url),  # provisioning, straight to HTTP
    )
    assert result.backend_status == "ok"
    assert proxy.stop() == ExitCode.INTERRUPTED  # SIGTERM ended it, orderly
    report = json.loads((tmp_path / "proxy" / "proxy.json").read_text())
    assert report["proxy"]["notes"] == []  # no connection hit an unexpected error
    mine = {s["serial"]: s for s in report["sessions"]}
    rig = {o.serial: (v.truth.pile_no, o.bill_state) for v in result.verdicts for o in v.orders}
    assert rig and set(mine) == set(rig)
    assert {k: (s["pile"], s["bill"]) for k, s in mine.items()} == rig
    [clean] = [s for s in mine.values() if s["pile"] == CLEAN]
    [cut] = [s for s in mine.values() if s["pile"] == OUTAGE]
    # the rule: two 0x40 withheld, the pile re-sent its bill every 30 s, the third acked
    assert clean["bill"] == "acked_late" and clean["bill_transmissions"] == 3
    assert clean["acks_received"] == 1
    # zpd_case#12's mechanism: the outage opened 5 min after the first 0x13 of the
    # charge, the pile lost its link mid-charge, came back, and its bill is judged
    [window] = report["proxy"]["links"][OUTAGE]["event_outages"]
    assert window[1] - window[0] == pytest.approx(480.0)
    links = report["proxy"]["links"]
    assert links[OUTAGE]["up"]["lost_outage"] > 0 and links[OUTAGE]["connections"] >= 2
    assert links[CLEAN]["connections"] == 1  # the clean pile never lost its link
    charged = datetime.fromisoformat(cut["charging_to"]) - datetime.fromisoformat(
        cut["charging_from"]
    )
    assert charged.total_seconds() > 13 * 60  # charging went on across the outage
    assert cut["bill"] == "acked" and not cut["lost"] and cut["energy_kwh"] > 5
    assert report["proxy"]["links"][CLEAN]["down"]["dropped_by_rule"] == 2
    out = tmp_path / "proxy"
    # the capture: the same frames in the pcapng as in frames.jsonl, piles named
    pcap, jsonl = (
        [(c.pile_no, c.direction, f.raw) for c, f in decode_chunks(read_chunks(out / n))]
        for n in ("capture.pcapng", "frames.jsonl")
    )
    assert pcap == jsonl and {p for p, _d, _r in pcap} == {CLEAN, OUTAGE}


def _login(pile_no: str) -> bytes:
    return encode_frame(Login(pile_no=pile_no), 1)


def test_fifty_connections_at_once_and_garbage_both_ways_never_crash_it(tmp_path, backend, proxies):
    server = backend()
    proxy = ProxyProcess(f"127.0.0.1:{server.process.port}", tmp_path / "p1")
    proxies.append(proxy)
    socks = [socket.create_connection(("127.0.0.1", proxy.port), timeout=10) for _ in range(50)]
    piles = [f"3201020000{i:04d}" for i in range(50)]
    for sock, pile in zip(socks, piles, strict=True):
        sock.sendall(_login(pile))
    replies = 0
    for sock in socks:
        framer = Framer(tolerant=True)
        deadline = time.monotonic() + 10
        got = []
        while not got and time.monotonic() < deadline:
            data = sock.recv(4096)
            if not data:
                break
            got = [f for f in framer.feed(data) if getattr(f, "type", None) == 0x02]
        replies += bool(got)
    assert replies == 50  # every pile got its 0x02 login reply through the proxy
    # garbage from piles: random bytes, a false start, a huge length, then a hard reset
    rnd = os.urandom(20000)
    for i, sock in enumerate(socks[:10]):
        sock.sendall([rnd, b"\x68\xff" + rnd[:100], b"\x68" * 3000, rnd[:7]][i % 4])
    for sock in socks[10:20]:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()
    for sock in socks:
        with contextlib.suppress(OSError):
            sock.close()
    # garbage from the backend: a fake backend that answers a login with junk and resets
    junk = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve_junk() -> None:
        junk.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = junk.accept()
            except OSError:
                continue
            try:
                conn.recv(4096)
                conn.sendall(os.urandom(5000) + b"\x68\x04\x00\x00\x00\x02")
            except OSError:
                pass
            conn.close()

    thread = threading.Thread(target=serve_junk, daemon=True)
    thread.start()
    proxy2 = ProxyProcess(f"127.0.0.1:{junk.getsockname()[1]}", tmp_path / "p2")
    proxies.append(proxy2)
    for i in range(5):
        with socket.create_connection(("127.0.0.1", proxy2.port), timeout=5) as sock:
            sock.sendall(_login(f"3201020000{i:04d}") if i % 2 else os.urandom(300))
            if not i % 2:
                sock.shutdown(socket.SHUT_WR)  # garbage, then the pile's FIN
            sock.settimeout(5)
            try:
                while sock.recv(4096):
                    pass
            except OSError:
                pass
    stop.set()
    thread.join(timeout=5)
    junk.close()
    # both still serve: a clean login through the first gets its reply
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
        sock.sendall(_login("32010200009999"))
        framer = Framer(tolerant=True)
        sock.settimeout(5)
        frames = framer.feed(sock.recv(4096))
        assert any(getattr(f, "type", None) == 0x02 for f in frames)
    assert proxy.alive() and proxy2.alive()
    assert proxy.stop() == ExitCode.INTERRUPTED and proxy2.stop() == ExitCode.INTERRUPTED
    report = json.loads((tmp_path / "p1" / "proxy.json").read_text())
    assert report["proxy"]["connections"] == 51
    assert report["proxy"]["notes"] == []  # garbage is traffic, not an error
    report2 = json.loads((tmp_path / "p2" / "proxy.json").read_text())
    assert report2["proxy"]["notes"] == []
    assert any("non-YKC reply" in p for row in report2["piles"] for p in row["problems"])


def test_a_bad_fault_file_is_one_line_naming_file_line_and_field(tmp_path):
    faults = tmp_path / "f.toml"
    faults.write_text('[[rule]]\ndirection = "down"\ntype = "0x40"\naction = "hold"\n')
    args = ["proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:1"]
    result = runner.invoke(app, [*args, "--faults", str(faults)])
    assert result.exit_code == ExitCode.BAD_INPUT
    [line] = [x for x in result.output.splitlines() if x.strip()]
    assert f"{faults}:4: rule[0].action:" in line
