"""The reference platform as a separate server process on loopback (``embedded-tcp``):
provisioned with the scenario's site through its ``--config`` file (never by writing its
database), started, stopped, its records read once."""

from __future__ import annotations

import shutil
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from simrig.adapters.platform_process import PlatformProcess, PlatformStartError, start_platform
from simrig.errors import BackendError
from simrig.oracle.repository_view import RepositoryView, ViewSnapshot
from simrig.oracle.views import PlatformView
from simrig.scenarios import Scenario
from simrig.sim.time_mapping import TimeMapping
from simrig.sim.world import site_from_scenario

if TYPE_CHECKING:
    from simrig.adapters.app_client import HttpAppClient

__all__ = ["STARTUP_S", "EmbeddedServer"]

#: seconds allowed for the embedded server process to come up before scenario t=0 (a
#: 2-core machine at load 6 took 3.4 s; a rig starting later than t=0 is late for its
#: first timers, and says so: :mod:`simrig.sim.lateness`)
STARTUP_S = 6.0


class EmbeddedServer:
    """The reference platform as a separate server process on loopback (``embedded-tcp``).

    On exit the server is stopped, its records are read once (:meth:`view`) and its
    temporary folder is removed.

    ``epoch`` is the platform's wall time at scenario t=0 (its ``--epoch``); default: the
    wall clock then, like ``simrig platform serve`` ("now"). The ``embedded-tcp`` backend
    passes the scenario epoch. :meth:`mapping` is the time mapping a rig run shares.

    ``faketime=True`` starts it **without** ``--speed`` (nor ``--epoch`` or
    ``--start-monotonic``) under libfaketime at ``x{speed}`` instead — a stand-in for a
    backend with no speed option of its own. Its clock then starts at the wall time of its
    start and runs ``speed`` times faster; :attr:`epoch` is where that clock stands at
    scenario t=0 (``epoch`` is not accepted with it)."""

    def __init__(
        self,
        scenario: Scenario,
        profile_dirs: tuple[Path, ...] = (),
        speed: float = 1.0,
        *,
        epoch: datetime | None = None,
        faketime: bool = False,
    ) -> None:
        if faketime and epoch is not None:
            raise ValueError("a backend under libfaketime keeps its own clock: no epoch")
        self.scenario = scenario
        self.faketime = faketime
        self.speed = speed
        #: the platform's wall time at scenario t=0 (set on start when not given)
        self.epoch = epoch
        #: both clocks start here (CLOCK_MONOTONIC is shared by processes): after start-up
        self.start_monotonic = 0.0
        self.profile_dirs = profile_dirs
        self.dir = Path(tempfile.mkdtemp(prefix="simrig-embedded-"))
        self.db = self.dir / "platform.sqlite"
        self.server: PlatformProcess | None = None
        self.port = 0
        self.http_port = 0
        self._view: ViewSnapshot | None = None

    def __enter__(self) -> EmbeddedServer:
        from simrig.control.platform_toml import platform_toml

        config = self.dir / "platform.toml"
        config.write_text(platform_toml(site_from_scenario(self.scenario, None, self.profile_dirs)))
        wall_now, mono_now = datetime.now(), time.monotonic()
        self.start_monotonic = mono_now + STARTUP_S
        options = ["--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--db", str(self.db)]
        options += ["--config", str(config)]
        if self.faketime:
            # libfaketime starts its clocks at exec (≈ now) and runs them ``speed`` × fast
            ahead = STARTUP_S * self.speed
            self.epoch = wall_now + timedelta(seconds=ahead)
        else:
            if self.epoch is None:
                self.epoch = wall_now + timedelta(seconds=STARTUP_S)
            options += ["--epoch", self.epoch.isoformat(), "--speed", repr(self.speed)]
            options += ["--start-monotonic", repr(self.start_monotonic)]
        try:
            spec = f"+0 x{self.speed:g}" if self.faketime else None
            self.server = start_platform(options, faketime=spec)
        except PlatformStartError as exc:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise BackendError(f"embedded platform: {exc}") from None
        self.port, self.http_port = self.server.port, self.server.http_port or 0
        return self

    def mapping(self) -> TimeMapping:
        """The time mapping of a run against this server (after start)."""
        assert self.epoch is not None, "start the server first"
        return TimeMapping(self.epoch, self.speed, self.start_monotonic)

    @property
    def api_token(self) -> str | None:
        """The bearer token of the server's HTTP API (after start)."""
        return None if self.server is None else self.server.api_token

    def app_client(self) -> HttpAppClient:
        """The platform's backend control over its HTTP API."""
        from simrig.adapters.app_client import HttpAppClient

        return HttpAppClient(f"http://127.0.0.1:{self.http_port}", token=self.api_token)

    def view(self) -> PlatformView:
        """The platform's records (read at exit, or now while the server runs)."""
        return self._view or self._read()

    def _read(self) -> ViewSnapshot:
        from simrig.adapters.sqlite_store import SqliteRepository

        return ViewSnapshot(RepositoryView(SqliteRepository(str(self.db))))

    def __exit__(self, *exc: object) -> None:
        if self.server is not None:
            self.server.stop()
            self._view = self._read()
        shutil.rmtree(self.dir, ignore_errors=True)
