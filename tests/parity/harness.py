"""Parity harness: one scenario in virtual time and against the reference platform started
as its own ``simrig platform serve`` process, over real sockets on 127.0.0.1.

The server starts empty (no ``--config``, a fresh database), with an API token; the site
(piles, users, cards, tariff and the scenario's ``[platform]`` rules) is provisioned
through the declarative HTTP template ``tests/control/reference_platform.toml`` — never by
writing its database — and the run is judged through its HTTP view
(:func:`simrig.adapters.http_view.http_view`). Its clock shows the scenario epoch at
scenario t=0 and runs at the run's speed (``--epoch``, ``--speed``, ``--start-monotonic``).

Used by ``tests/parity/test_parity.py`` and ``benchmarks/parity_speed1.py``.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from simrig.adapters.http_view import http_view
from simrig.adapters.platform_process import PlatformProcess, start_platform
from simrig.control.template import HttpTemplateControl, load_template
from simrig.oracle.repository_view import RepositoryView
from simrig.scenarios import Scenario, load_scenario
from simrig.sim.results import RunResult
from simrig.sim.runner import run_scenario

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = ROOT / "simrig" / "scenarios" / "library"
TEMPLATE = ROOT / "tests" / "control" / "reference_platform.toml"
TOKEN = "parity-token"
#: overcharges are shown on this grid and must agree within it (yuan)
OVERCHARGE_STEP = 0.05


def library_names() -> list[str]:
    """The name of every library scenario (``[meta] name``), in file order."""
    names = []
    for path in sorted(LIBRARY.glob("*.toml")):
        with path.open("rb") as f:
            names.append(tomllib.load(f)["meta"]["name"])
    return names


#: a cut scenario ends this long after its last step or last bill received
CUT_MARGIN_S = 120.0
#: wall seconds from launching the server to scenario t=0 (it starts in ~2.5 s on a loaded
#: 2-core machine); a server not ready this much before t=0 is restarted with a longer lead
START_LEAD_S = 4.5
#: leads of 4.5, 9, 18 and 36 s (a start under heavy load took over 10 s)
START_ATTEMPTS = 4
READY_BEFORE_S = 1.0


def cut_end(scenario: Scenario, uncut: RunResult) -> float:
    """Scenario second a little after the last thing the verdict rests on: the last
    timeline step and the last bill the platform received in the uncut virtual run."""
    last = max(step.at for step in scenario.timeline)
    for verdict in uncut.verdicts:
        for order in verdict.orders:
            bill = order.platform_bill
            if bill is not None and bill.received_at is not None:
                last = max(last, (bill.received_at - uncut.epoch).total_seconds())
    return last + CUT_MARGIN_S


def cut(scenario: Scenario, end_s: float) -> Scenario:
    """``scenario`` ending at scenario second ``end_s`` (never later than it did)."""
    end = min(end_s, scenario.meta.duration)
    return scenario.model_copy(update={"meta": scenario.meta.model_copy(update={"duration": end})})


@dataclass(frozen=True)
class SessionRow:
    """What parity compares of one session's verdict."""

    key: str
    codes: tuple[int, ...]
    notices: tuple[str, ...]
    billed: tuple[bool, ...]  # per order: the platform holds its bill
    overcharge: float | None  # yuan (charged - fair); None: nothing charged

    def text(self) -> str:
        """``[6,10] BBB +1586.20``: codes, false notices, B/x per order (billed or not),
        the overcharge rounded to :data:`OVERCHARGE_STEP`."""
        codes = ",".join(map(str, self.codes)) or "-"
        notices = "".join(f" {n.removesuffix('_notice')}" for n in self.notices)
        billed = "".join("B" if b else "x" for b in self.billed) or "-"
        if self.overcharge is None:
            over = "n/a"
        else:
            over = f"{round(self.overcharge / OVERCHARGE_STEP) * OVERCHARGE_STEP:+.2f}"
        return f"[{codes}]{notices} {billed} {over}"


def verdict_rows(result: RunResult) -> list[SessionRow]:
    return [
        SessionRow(
            key=v.key,
            codes=tuple(sorted(int(c) for c in v.codes)),
            notices=tuple(sorted(n.kind for n in v.false_notifications)),
            billed=tuple(o.platform_bill is not None for o in v.orders),
            overcharge=v.overcharge_yuan,
        )
        for v in result.verdicts
    ]


def rows_text(rows: list[SessionRow]) -> str:
    return "; ".join(r.text() for r in rows)


def same_verdicts(a: list[SessionRow], b: list[SessionRow]) -> bool:
    """Equal sessions, codes, false notices and billed; overcharges within
    :data:`OVERCHARGE_STEP` of each other (compared unrounded: two close values either side
    of a rounding midpoint would round a step apart)."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if (x.key, x.codes, x.notices, x.billed) != (y.key, y.codes, y.notices, y.billed):
            return False
        if x.overcharge is None or y.overcharge is None:
            if x.overcharge is not y.overcharge:
                return False
        elif abs(x.overcharge - y.overcharge) > OVERCHARGE_STEP:
            return False
    return True


class _RecordsUntil:
    """The platform's records without the notices it sent after the run's end: hanging up
    at the end, the rig makes the platform see a pile go offline, and the platform reads
    that as a session's end ("charge finished"); a virtual run just stops. Only matters
    for a scenario cut while a session runs (``parity_speed1.py --minutes``)."""

    def __init__(self, records: Any, until: datetime) -> None:
        self.records, self.until = records, until

    def list_bills(self) -> list[Any]:
        return list(self.records.list_bills())

    def list_sessions(self) -> list[Any]:
        return list(self.records.list_sessions())

    def list_notifications(self) -> list[Any]:
        return [n for n in self.records.list_notifications() if n.at <= self.until]


def view_until(api: str, until: datetime) -> RepositoryView:
    """The platform's HTTP view (:func:`~simrig.adapters.http_view.http_view`) as of
    ``until`` (its wall time at the scenario's end)."""
    return RepositoryView(_RecordsUntil(http_view(api, token=TOKEN).repo, until))


class ReferencePlatform:
    """``simrig platform serve`` on free loopback ports, empty, with an API token; its
    clock shows the scenario epoch at scenario t=0 and runs ``speed`` times fast."""

    def __init__(
        self, scenario: Scenario, speed: float, workdir: Path, lead_s: float = START_LEAD_S
    ) -> None:
        self.start_monotonic = time.monotonic() + lead_s
        args = ["--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"]
        args += ["--db", str(workdir / "platform.sqlite"), "--api-token", TOKEN]
        args += ["--epoch", scenario.meta.epoch.isoformat(), "--speed", repr(speed)]
        args += ["--start-monotonic", repr(self.start_monotonic)]
        self.process: PlatformProcess = start_platform(args)
        self.api = f"http://127.0.0.1:{self.process.http_port}"
        self.backend = f"tcp://127.0.0.1:{self.process.port}"

    @property
    def pid(self) -> int:
        return self.process.proc.pid

    def control(self) -> HttpTemplateControl:
        """The reference template, filled for this server (``${env:...}`` at load)."""
        saved = {k: os.environ.get(k) for k in ("SIMRIG_API", "SIMRIG_API_TOKEN")}
        os.environ["SIMRIG_API"], os.environ["SIMRIG_API_TOKEN"] = self.api, TOKEN
        try:
            return HttpTemplateControl(load_template(TEMPLATE))
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def stop(self) -> None:
        self.process.stop()


#: the server's database on a RAM disk if there is one: other jobs' disk I/O must not
#: stall its commits (a bill's is fsynced before the ack)
_RAM_DIR = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None

#: every server this process started (the tests check each has exited)
STARTED: list[ReferencePlatform] = []


@contextmanager
def reference_platform(scenario: Scenario, speed: float) -> Iterator[ReferencePlatform]:
    """A fresh server for ``scenario``, ready at least :data:`READY_BEFORE_S` before its
    t=0 (a start-up slowed by load is retried with a longer lead, not run late)."""
    with tempfile.TemporaryDirectory(prefix="simrig-parity-", dir=_RAM_DIR) as tmp:
        for attempt in range(START_ATTEMPTS):
            workdir = Path(tmp) / str(attempt)
            workdir.mkdir()
            server = ReferencePlatform(scenario, speed, workdir, START_LEAD_S * 2**attempt)
            STARTED.append(server)
            if time.monotonic() <= server.start_monotonic - READY_BEFORE_S:
                break
            server.stop()
        else:
            raise RuntimeError(
                f"simrig platform serve did not start in time, {START_ATTEMPTS} times"
            )
        try:
            yield server
        finally:
            server.stop()


def run_over_tcp(scenario: Scenario, speed: float) -> RunResult:
    """``scenario`` at ``speed`` against its own reference platform process: provisioned
    through the HTTP template, the app played through it, judged through its HTTP view."""
    end = scenario.meta.epoch + timedelta(seconds=scenario.meta.duration)
    with reference_platform(scenario, speed) as server:
        control = server.control()
        try:
            return run_scenario(
                scenario,
                backend=server.backend,
                speed=speed,
                control=control,
                view_factory=lambda _backend: view_until(server.api, end),
                start_monotonic=server.start_monotonic,
                backend_epoch=scenario.meta.epoch,  # the server's clock shows it at t=0
            )
        finally:
            control.close()


@dataclass(frozen=True)
class TcpOutcome:
    """What a worker process returns of one run over TCP (picklable)."""

    name: str
    speed: float
    rows: list[SessionRow]
    seconds: float  # wall time, server start and stop included
    passed: bool
    expectations: str
    deviations: str
    stopped_early: str
    servers_exited: bool  # every server the run started has exited
    link_events: str = ""  # the piles' link drops and reconnects (scenario seconds)


def worker_init() -> None:
    """Initializer of a worker process: it gets SIGTERM when its parent dies (Linux: the
    parent-death signal), and on SIGTERM it stops its servers and exits — a killed test
    run leaves no worker and no ``simrig platform serve`` behind."""

    def stop_and_exit(signum: int, frame: object) -> None:
        for server in STARTED:
            server.stop()
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, stop_and_exit)
    if sys.platform == "linux":
        import ctypes

        pr_set_pdeathsig = 1
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
        if os.getppid() == 1:  # the parent died before the signal was armed
            raise SystemExit(1)


def tcp_job(name: str, end_s: float, speed: float) -> TcpOutcome:
    """Worker entry point: library scenario ``name`` cut at ``end_s``, over TCP at ``speed``
    (each run in its own worker process, so runs in parallel do not share a GIL)."""
    scenario = cut(load_scenario(name), end_s)
    first = len(STARTED)
    started = time.perf_counter()
    result = run_over_tcp(scenario, speed)
    seconds = time.perf_counter() - started
    return TcpOutcome(
        name=name,
        speed=speed,
        rows=verdict_rows(result),
        seconds=seconds,
        passed=result.passed,
        expectations=repr([e for e in result.expectations if not e.passed]),
        deviations=repr(result.deviations) if result.deviations else "",
        stopped_early=result.stopped_early,
        servers_exited=all(s.process.proc.poll() is not None for s in STARTED[first:]),
        link_events=", ".join(
            f"{e.t:.1f} {e.kind}"
            for e in result.events
            if e.kind in ("heartbeat_lost", "login_timeout", "disconnected", "connected")
        ),
    )


@dataclass(frozen=True)
class ParityRow:
    """One line of the parity table."""

    scenario: str
    virtual: str
    tcp: str
    speed: float
    seconds: float  # wall time of the run over TCP, server start and stop included
    same: bool


#: the rows of this test session, printed by ``tests/parity/conftest.py``
TABLE: list[ParityRow] = []


def table_text(rows: list[ParityRow] | None = None) -> str:
    rows = TABLE if rows is None else rows
    head = ("scenario", "virtual verdict", "tcp verdict", "speed", "s", "")
    lines = [
        (
            r.scenario,
            r.virtual,
            r.tcp,
            f"{r.speed:g}x",
            f"{r.seconds:.1f}",
            "" if r.same else "DIFFERS",
        )
        for r in rows
    ]
    widths = [max(len(str(c)) for c in col) for col in zip(head, *lines, strict=True)]
    out = [
        "  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
        for line in (head, *lines)
    ]
    total = sum(r.seconds for r in rows)
    out.append(
        f"{len(rows)} scenarios over TCP, {total:.0f} s of runs (in parallel); verdict: "
        "[codes] false notices, B/x per order = billed/not, overcharge (yuan, ±0.05)"
    )
    return "\n".join(out)
