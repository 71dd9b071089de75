"""The real-time path of :func:`simrig.sim.runner.run_scenario`: one time mapping, one
driver, one backend (``tcp://``, ``serial:``, or the reference platform in its own
process), issue 11 items 1, 2 and 6.

The mapping is made once, before the world: its wall epoch is the backend's wall time at
scenario t=0 — ``backend_epoch`` if given (a backend whose clock is set), else "now" for
``tcp://`` and ``serial:``, else the scenario epoch for the reference platform (which is
started with that clock). Truth, pile clocks, chunk times and the oracle all use it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from simrig.adapters.embedded_server import EmbeddedServer
from simrig.adapters.realtime import RealtimeDriver
from simrig.control import require_operations
from simrig.errors import BackendError
from simrig.oracle.views import PlatformView
from simrig.scenarios import Scenario
from simrig.sim.diagnostics import GiveUp
from simrig.sim.time_mapping import TimeMapping
from simrig.sim.world import World, build_world, required_operations, site_from_scenario

if TYPE_CHECKING:
    from simrig.control import BackendControl

__all__ = [
    "START_LEAD_S",
    "RealtimeInterrupted",
    "RealtimeRun",
    "mapping_starting_now",
    "run_realtime",
]

#: scenario t=0 of a ``tcp://``/``serial:`` run: this long after the mapping is made
START_LEAD_S = 0.2


@dataclass
class RealtimeRun:
    """What a real-time run leaves: the world (truth), the driver (events, chunks,
    deliveries, samples), the platform view if simrig can read one, and the mapping."""

    world: World
    driver: RealtimeDriver
    view: PlatformView | None
    mapping: TimeMapping


class RealtimeInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM ended the run in order (links closed, an embedded platform
    stopped and read); ``partial`` is what ran until then."""

    def __init__(self, partial: RealtimeRun) -> None:
        super().__init__()
        self.partial = partial


def _ended(run: RealtimeRun, interrupted: bool) -> RealtimeRun:
    if interrupted:
        raise RealtimeInterrupted(run)
    return run


def mapping_starting_now(
    speed: float, start_monotonic: float | None = None, backend_epoch: datetime | None = None
) -> TimeMapping:
    """Scenario t=0 at ``start_monotonic`` (default: in :data:`START_LEAD_S`); the backend
    shows ``backend_epoch`` then (default: the wall clock then)."""
    wall_now, mono_now = datetime.now(), time.monotonic()
    t0 = mono_now + START_LEAD_S if start_monotonic is None else start_monotonic
    return TimeMapping.starting_now(
        wall_now, mono_now, speed=speed, loop_t0=t0, wall_epoch=backend_epoch
    )


def run_realtime(
    scenario: Scenario,
    backend: str,
    speed: float,
    profile_dirs: tuple[Path, ...] = (),
    start_monotonic: float | None = None,
    backend_epoch: datetime | None = None,
    control: BackendControl | None = None,
) -> RealtimeRun:
    """Run ``scenario`` in real time against ``backend``; see the module docstring.

    ``control`` (``tcp://`` and ``serial:`` only) provisions the site before the piles
    log in and plays the app; a control lacking an operation the steps need is refused
    before anything starts. A dead backend ends the run early (:class:`GiveUp`)."""
    until = scenario.meta.duration
    if control is not None and not backend.startswith(("tcp://", "serial:")):
        raise BackendError(f"{backend}: a backend control is for tcp:// and serial: backends")
    if control is not None:
        require_operations(control, required_operations(scenario))
    if backend.startswith("serial:"):
        from simrig.adapters.serial_link import parse_serial_backend, serial_opener

        mapping = mapping_starting_now(speed, start_monotonic, backend_epoch)
        world = build_world(
            scenario, app=control, profile_dirs=profile_dirs, epoch=mapping.wall_epoch
        )
        try:
            urls = parse_serial_backend(backend, list(world.piles))
        except ValueError as exc:
            raise BackendError(str(exc)) from None
        _provision(world, control, profile_dirs)
        driver = RealtimeDriver(world, opener=serial_opener(urls), mapping=mapping)
        driver.give_up = GiveUp(world.piles)
        return _ended(RealtimeRun(world, driver, None, mapping), _drive(driver, until))
    if backend.startswith("tcp://"):
        host, _, port = backend[len("tcp://") :].rpartition(":")
        if not host or not port.isdigit():
            raise BackendError(f"{backend}: expected tcp://host:port")
        mapping = mapping_starting_now(speed, start_monotonic, backend_epoch)
        world = build_world(
            scenario, app=control, profile_dirs=profile_dirs, epoch=mapping.wall_epoch
        )
        _provision(world, control, profile_dirs)
        driver = RealtimeDriver(world, host, int(port), mapping=mapping)
        driver.give_up = GiveUp(world.piles)
        return _ended(RealtimeRun(world, driver, None, mapping), _drive(driver, until))
    if backend in ("embedded-tcp", "embedded"):
        epoch = backend_epoch or scenario.meta.epoch
        with EmbeddedServer(scenario, profile_dirs, speed, epoch=epoch) as server:
            mapping = server.mapping()
            world = build_world(
                scenario,
                app=server.app_client(),
                profile_dirs=profile_dirs,
                epoch=mapping.wall_epoch,
            )
            driver = RealtimeDriver(world, "127.0.0.1", server.port, mapping=mapping)
            interrupted = _drive(driver, until)
        return _ended(RealtimeRun(world, driver, server.view(), mapping), interrupted)
    raise BackendError(
        f"{backend}: unknown backend (embedded, embedded-tcp, tcp://host:port, serial:URL)"
    )


def _drive(driver: RealtimeDriver, until: float) -> bool:
    """Run the driver; True when Ctrl-C or SIGTERM ended it (the caller raises
    :class:`RealtimeInterrupted` once the backend is stopped and read)."""
    asyncio.run(driver.run(until))
    return driver.interrupted


def _provision(
    world: World, control: BackendControl | None, profile_dirs: tuple[Path, ...]
) -> None:
    """Register the site on the backend through its control (before the piles log in)."""
    if control is not None:
        control.provision(site_from_scenario(world.scenario, world.tariff, profile_dirs))
