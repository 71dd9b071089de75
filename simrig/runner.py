"""Run a scenario against a backend and judge it: the main job of simrig (issue 5).

Backends: ``embedded`` (virtual time, the reference platform in-process), ``embedded-tcp``
(the reference platform as a separate server process on loopback, real-time clock) and
``tcp://host:port`` (any YKC backend; frames-only judgement unless a platform view is
given). The platform view of the reference platform is read from its repository.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from simrig.adapters.platform_process import PlatformProcess, PlatformStartError, start_platform
from simrig.adapters.realtime import RealtimeDriver
from simrig.adapters.virtual import VirtualDriver
from simrig.billing.device_view import Chunk, device_orders, refused_card_starts
from simrig.billing.oracle import Oracle, SessionVerdict
from simrig.billing.views import (
    PlatformBill,
    PlatformNotification,
    PlatformSession,
    PlatformView,
    TruthRecord,
)
from simrig.endpoint import Event
from simrig.gc_policy import few_full_collections
from simrig.plant import HandshakeStatus
from simrig.results import ExpectationResult, RunResult
from simrig.rig import World, build_world, register_site, scenario_tariff
from simrig.scenarios import Scenario

BACKENDS = ("embedded", "embedded-tcp")
#: seconds allowed for the embedded server process to come up before scenario t=0
STARTUP_S = 4.0


class BackendError(RuntimeError):
    """The backend could not be reached or started (one-line message)."""


def load_view_factory(spec: str, arg: str | None = None) -> Callable[[str], PlatformView]:
    """``package.module:callable`` → ``backend -> PlatformView`` (the oracle's plugin hook).

    The callable is called as ``callable(backend)`` or, with ``arg``, ``callable(backend, arg)``.
    """
    import importlib

    module_name, _, attr = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError) as exc:
        raise BackendError(f"--view {spec}: {exc}") from None
    if arg is None:
        return factory  # type: ignore[no-any-return]
    return lambda backend: factory(backend, arg)  # type: ignore[no-any-return]


def _yuan(units: int | None) -> float:
    return 0.0 if units is None else units / 10_000


class RepositoryView:
    """:class:`PlatformView` over the reference platform's repository (built-in driver)."""

    def __init__(self, repo: Any) -> None:
        self.repo = repo

    def bills(self) -> list[PlatformBill]:
        return [
            PlatformBill(
                serial=b.serial,
                pile_no=b.pile_no,
                gun=b.gun,
                start=b.start_time,
                end=b.end_time,
                service_end=b.service_end,
                energy_kwh=_yuan(b.total_energy),
                amount_yuan=_yuan(b.total_amount),
                occupancy_fee_yuan=_yuan(b.occupancy_fee),
                total_charged_yuan=_yuan(b.charged_total),
                received_at=b.received_at,
                illegal=b.illegal,
                balance_after_yuan=None if b.balance_after is None else _yuan(b.balance_after),
            )
            for b in self.repo.list_bills()
        ]

    def sessions(self) -> list[PlatformSession]:
        return [
            PlatformSession(
                serial=s.serial,
                pile_no=s.pile_no,
                gun=s.gun,
                state=str(s.state),
                created_at=s.created_at,
                charge_start=s.started_at,
                charge_end=s.charge_end_at,
                service_end=s.unplugged_at,
                last_energy_kwh=_yuan(s.last_energy),
                close_reason=s.close_reason,
            )
            for s in self.repo.list_sessions()
        ]

    def notifications(self) -> list[PlatformNotification]:
        return [
            PlatformNotification(
                at=n.at,
                kind=str(n.kind),
                pile_no=n.pile_no,
                gun=n.gun or None,
                serial=n.session_key or None,
                text=n.text,
            )
            for n in self.repo.list_notifications()
        ]


def offline_windows(events: Iterable[Event], end: float) -> dict[str, list[tuple[float, float]]]:
    """Per pile, the times it had no connection (from connected/disconnected events)."""
    windows: dict[str, list[tuple[float, float]]] = {}
    down_since: dict[str, float] = {}
    seen: set[str] = set()
    for event in events:
        if event.kind == "connected":
            seen.add(event.source)
            start = down_since.pop(event.source, 0.0 if event.source not in windows else None)
            if start is not None and event.t > start:
                windows.setdefault(event.source, []).append((start, event.t))
            windows.setdefault(event.source, [])
        elif event.kind == "disconnected":
            down_since[event.source] = event.t
    for pile, start in down_since.items():
        windows.setdefault(pile, []).append((start, end))
    return windows


def truth_records(
    world: World, end: float, offline: dict[str, list[tuple[float, float]]]
) -> list[TruthRecord]:
    counters: dict[tuple[str, int], int] = {}
    records = []
    # a model may have read the plant just past the end (latency); never go back in time
    end = max([end, *(p.now for p in world.plant.piles())])
    for session in sorted(
        world.plant.truth_sessions(end), key=lambda s: (s.pile_no, s.gun, s.plug_at)
    ):
        key = (session.pile_no, session.gun)
        counters[key] = counters.get(key, 0) + 1
        charge_end = session.charge_end
        # offline *before* the end: a reboot that ends the charge and drops the link at
        # the same instant is a plain loss (1), not a loss while offline (2)
        down = charge_end is not None and any(
            a < charge_end < b for a, b in offline.get(session.pile_no, [])
        )
        failed = [h.deadline for h in session.handshakes if h.status is HandshakeStatus.FAILED]
        stop = charge_end if charge_end is not None else (max(failed) if failed else None)
        records.append(
            TruthRecord(
                pile_no=session.pile_no,
                gun=session.gun,
                index=counters[key],
                plug_at=world.wall(session.plug_at),
                unplug_at=None if session.unplug_at is None else world.wall(session.unplug_at),
                charge_start=None
                if session.charge_start is None
                else world.wall(session.charge_start),
                charge_end=None if charge_end is None else world.wall(charge_end),
                energy_kwh=round(session.metered_kwh, 4),
                link_down_at_charge_end=down,
                service_stop=None if stop is None else world.wall(stop),
            )
        )
    return records


def refused_starts(chunks: list[Chunk], verdict: SessionVerdict) -> int:
    """Card starts the platform refused (0x32 failure) during this plug-in."""
    truth = verdict.truth
    return sum(
        1
        for chunk, msg in refused_card_starts(chunks, truth.pile_no, truth.gun)
        if truth.plug_at <= chunk.at and (truth.unplug_at is None or chunk.at <= truth.unplug_at)
    )


def check_expectations(
    scenario: Scenario,
    verdicts: list[SessionVerdict],
    chunks: list[Chunk] | None = None,
    *,
    frames_only: bool = False,
) -> list[ExpectationResult]:
    """Check every ``[[expect]]``; ``frames_only``: no platform view, a bill counts as
    billed when the backend acknowledged it (0x40)."""
    by_key = {v.key: v for v in verdicts}
    results = []
    for exp in scenario.expect:
        key = f"{exp.pile}:{exp.gun}:{exp.session}"
        verdict = by_key.get(key)
        wanted = []
        problems = []
        if verdict is None:
            results.append(ExpectationResult(key, False, "a session", "no such plug-in session"))
            continue
        wanted.append(f"codes={list(exp.codes)}")
        if set(verdict.codes) != set(exp.codes):
            problems.append(f"codes={sorted(int(c) for c in verdict.codes)}")
        kinds = sorted({n.kind for n in verdict.false_notifications})
        if exp.false_notifications or kinds:
            wanted.append(f"false_notifications={sorted(exp.false_notifications)}")
            if sorted(set(exp.false_notifications)) != kinds:
                problems.append(f"false_notifications={kinds}")
        if exp.billed is not None:
            billed = any(
                o.platform_bill is not None
                or (frames_only and o.device_bill is not None and o.device_bill.acked)
                for o in verdict.orders
            )
            wanted.append(f"billed={exp.billed}")
            if billed != exp.billed:
                problems.append(f"billed={billed}")
        if exp.min_overcharge_yuan is not None:
            wanted.append(f"overcharge>={exp.min_overcharge_yuan}")
            over = verdict.overcharge_yuan
            if over is None or over < exp.min_overcharge_yuan:
                problems.append(f"overcharge={over}")
        if exp.balance_below_yuan is not None:
            wanted.append(f"balance<{exp.balance_below_yuan}")
            balances = [
                o.platform_bill.balance_after_yuan
                for o in verdict.orders
                if o.platform_bill is not None and o.platform_bill.balance_after_yuan is not None
            ]
            if not balances or min(balances) >= exp.balance_below_yuan:
                problems.append(f"balance={min(balances) if balances else None}")
        if exp.refused_starts is not None:
            refused = refused_starts(chunks or [], verdict)
            wanted.append(f"refused_starts={exp.refused_starts}")
            if refused != exp.refused_starts:
                problems.append(f"refused_starts={refused}")
        actual = "as expected" if not problems else ", ".join(problems)
        results.append(ExpectationResult(key, not problems, ", ".join(wanted), actual))
    return results


def check_rates(scenario: Scenario, verdicts: list[SessionVerdict]) -> list[ExpectationResult]:
    """``[[expect_rate]]``: the share of sessions with a code, within a tolerance."""
    results = []
    total = len(verdicts)
    for exp in scenario.expect_rate:
        if exp.codes == "any":
            hits = sum(1 for v in verdicts if v.codes)
        elif exp.codes == "clean":
            hits = sum(1 for v in verdicts if not v.codes)
        else:
            wanted = {int(c) for c in exp.codes.split("+")}
            hits = sum(
                1
                for v in verdicts
                if (wanted <= set(v.codes) if exp.contains else wanted == set(v.codes))
            )
        rate = hits / total if total else 0.0
        ok = abs(rate - exp.rate) <= exp.tolerance
        results.append(
            ExpectationResult(
                f"rate:{exp.codes}",
                ok,
                f"{exp.rate:.3f}±{exp.tolerance:.3f}",
                f"{rate:.3f} ({hits}/{total})",
            )
        )
    return results


def judge(
    world: World,
    scenario: Scenario,
    events: list[Event],
    chunks: list[Chunk],
    view: PlatformView | None,
    end: float,
) -> tuple[list[SessionVerdict], dict[str, list[tuple[float, float]]]]:
    offline = offline_windows(events, end)
    truths = truth_records(world, end, offline)
    verdicts = Oracle(world.tariff).judge(truths, device_orders(chunks), view)
    return verdicts, offline


def run_scenario(
    scenario: Scenario,
    *,
    backend: str = "embedded",
    speed: float = 1.0,
    profile_dirs: tuple[Path, ...] = (),
    elide_heartbeats: bool = True,
    progress: Callable[[float], None] | None = None,
    frame_events: bool | None = None,
    view_factory: Callable[[str], PlatformView] | None = None,
) -> RunResult:
    """Run one scenario and judge every session."""
    with few_full_collections():
        return _run_and_judge(
            scenario, backend, speed, profile_dirs, elide_heartbeats, progress, frame_events,
            view_factory,
        )  # fmt: skip


def _run_and_judge(
    scenario: Scenario,
    backend: str,
    speed: float,
    profile_dirs: tuple[Path, ...],
    elide_heartbeats: bool,
    progress: Callable[[float], None] | None,
    frame_events: bool | None,
    view_factory: Callable[[str], PlatformView] | None,
) -> RunResult:
    started = time.perf_counter()
    end = scenario.meta.duration
    if backend == "embedded" and scenario.meta.clock == "virtual":
        from simrig.platform import MemoryRepository, PlatformCore
        from simrig.platform.rules import rules_from_mapping

        repo = MemoryRepository()
        register_site(scenario, repo, scenario_tariff(scenario), profile_dirs)
        rules = rules_from_mapping(scenario.platform, source=f"{scenario.meta.name}: platform")
        if frame_events is None:  # long runs: the capture holds the bytes anyway
            frame_events = scenario.meta.duration <= 2 * 86400
        rules = dataclasses.replace(rules, emit_frame_events=frame_events)
        core = PlatformCore(repo, rules=rules, epoch=scenario.meta.epoch)
        world = build_world(scenario, core=core, repo=repo, profile_dirs=profile_dirs)
        driver = VirtualDriver(world, elide_heartbeats=elide_heartbeats, frame_events=frame_events)
        driver.run(until=end, progress=progress)
        events, chunks, samples = driver.events, driver.chunks, driver.samples
        view: PlatformView | None = RepositoryView(repo)
        elided = driver.elided_heartbeats
    else:
        world, events, chunks, view = _run_realtime(scenario, backend, speed, profile_dirs)
        if view_factory is not None:  # a backend driver plugin reads the platform's view
            view = view_factory(backend)
        samples, elided = [], 0
    verdicts, offline = judge(world, scenario, events, chunks, view, end)
    result = RunResult(
        scenario_name=scenario.meta.name,
        case=scenario.meta.case,
        epoch=scenario.meta.epoch,
        duration_s=end,
        backend=backend,
        seed=scenario.meta.seed,
        profiles={p: f.firmware.name for p, f in world.piles.items()},
        verdicts=verdicts,
        expectations=check_expectations(scenario, verdicts, chunks, frames_only=view is None)
        + check_rates(scenario, verdicts),
        events=events,
        chunks=chunks,
        samples=samples,
        offline=offline,
        wall_s=time.perf_counter() - started,
        frames=len(chunks),
        elided_heartbeats=elided,
    )
    return result


# -- real time ------------------------------------------------------------------------------


def _run_realtime(
    scenario: Scenario, backend: str, speed: float, profile_dirs: tuple[Path, ...]
) -> tuple[World, list[Event], list[Chunk], PlatformView | None]:
    if backend.startswith("serial:"):
        from simrig.adapters.serial_link import parse_serial_backend, serial_opener

        world = build_world(scenario, profile_dirs=profile_dirs)
        try:
            urls = parse_serial_backend(backend, list(world.piles))
        except ValueError as exc:
            raise BackendError(str(exc)) from None
        driver = RealtimeDriver(world, speed=speed, opener=serial_opener(urls))
        asyncio.run(driver.run(scenario.meta.duration))
        return world, driver.events, driver.chunks, None
    if backend.startswith("tcp://"):
        host, _, port = backend[len("tcp://") :].rpartition(":")
        if not host or not port.isdigit():
            raise BackendError(f"{backend}: expected tcp://host:port")
        world = build_world(scenario, profile_dirs=profile_dirs)
        driver = RealtimeDriver(world, host, int(port), speed=speed)
        asyncio.run(driver.run(scenario.meta.duration))
        return world, driver.events, driver.chunks, None
    if backend in ("embedded-tcp", "embedded"):
        with EmbeddedServer(scenario, profile_dirs, speed) as server:
            world = build_world(scenario, app=server.app_client(), profile_dirs=profile_dirs)
            driver = RealtimeDriver(
                world, "127.0.0.1", server.port, speed=speed, start_monotonic=server.start_monotonic
            )
            asyncio.run(driver.run(scenario.meta.duration))
        return world, driver.events, driver.chunks, server.view()
    raise BackendError(
        f"{backend}: unknown backend (embedded, embedded-tcp, tcp://host:port, serial:URL)"
    )


class EmbeddedServer:
    """The reference platform as a separate server process on loopback (``embedded-tcp``).

    On exit the server is stopped, its records are read once (:meth:`view`) and its
    temporary folder is removed."""

    def __init__(
        self, scenario: Scenario, profile_dirs: tuple[Path, ...] = (), speed: float = 1.0
    ) -> None:
        self.scenario = scenario
        self.speed = speed
        #: both clocks start here (CLOCK_MONOTONIC is shared by processes): after start-up
        self.start_monotonic = 0.0
        self.profile_dirs = profile_dirs
        self.dir = Path(tempfile.mkdtemp(prefix="simrig-embedded-"))
        self.db = self.dir / "platform.sqlite"
        self.server: PlatformProcess | None = None
        self.port = 0
        self.http_port = 0
        self._view: _Snapshot | None = None

    def __enter__(self) -> EmbeddedServer:
        from simrig.adapters.sqlite_store import SqliteRepository

        repo = SqliteRepository(str(self.db))
        register_site(self.scenario, repo, scenario_tariff(self.scenario), self.profile_dirs)
        repo.close()
        self.start_monotonic = time.monotonic() + STARTUP_S
        options = ["--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--db", str(self.db)]
        options += ["--epoch", self.scenario.meta.epoch.isoformat(), "--speed", str(self.speed)]
        options += ["--start-monotonic", repr(self.start_monotonic)]
        if self.scenario.platform:
            config = self.dir / "platform.toml"
            rules = [
                f"{key} = {json.dumps(value)}" for key, value in self.scenario.platform.items()
            ]
            config.write_text("\n".join(["[rules]", *rules]) + "\n")
            options += ["--config", str(config)]
        try:
            self.server = start_platform(options)
        except PlatformStartError as exc:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise BackendError(f"embedded platform: {exc}") from None
        self.port, self.http_port = self.server.port, self.server.http_port or 0
        return self

    def app_client(self) -> Any:
        from simrig.adapters.app_client import HttpAppClient

        return HttpAppClient(f"http://127.0.0.1:{self.http_port}")

    def view(self) -> PlatformView:
        """The platform's records (read at exit, or now while the server runs)."""
        return self._view or self._read()

    def _read(self) -> _Snapshot:
        from simrig.adapters.sqlite_store import SqliteRepository

        return _Snapshot(RepositoryView(SqliteRepository(str(self.db))))

    def __exit__(self, *exc: object) -> None:
        if self.server is not None:
            self.server.stop()
            self._view = self._read()
        shutil.rmtree(self.dir, ignore_errors=True)


class _Snapshot:
    """Read a view once (the server is gone after the run), then serve the copies."""

    def __init__(self, view: RepositoryView) -> None:
        self._bills = view.bills()
        self._sessions = view.sessions()
        self._notifications = view.notifications()
        with contextlib.suppress(Exception):
            view.repo.close()

    def bills(self) -> list[PlatformBill]:
        return self._bills

    def sessions(self) -> list[PlatformSession]:
        return self._sessions

    def notifications(self) -> list[PlatformNotification]:
        return self._notifications


__all__ = ["BACKENDS", "BackendError", "RepositoryView", "check_expectations", "run_scenario"]
