"""The reference platform started as its own process (``simrig platform serve``) for the
workload tests: free loopback ports, an API token, its clock set to the workload's epoch
and aligned with the rig through ``--start-monotonic``."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from simrig.adapters.embedded_server import STARTUP_S
from simrig.adapters.platform_process import PlatformProcess, start_platform

HERE = Path(__file__).parent
TEMPLATE = HERE.parent / "control" / "reference_platform.toml"
TOKEN = "s3cret-token"
#: the speed that keeps the verdicts exact on a loaded 2-core machine (load 6-10): at 600
#: a stall of 50 ms (three heartbeat periods) makes every pile drop its link and the
#: platform falsely finish the charge (code 9), at 300 a stall of 100 ms under load 10
SPEED = 200.0
#: more time before t=0 than the server needs: the rig's run (start-up, provisioning
#: through the template) must be under way by then on a loaded 2-core machine too
LEAD_S = 4.0
#: 08:00, so the tiny workloads draw their arrivals in the morning peak
EPOCH = datetime(2019, 10, 1, 8)
#: 2 piles, 0.2 days, seed 7: an app session on one pile and a card session (charged to
#: full) on the other; the run ends 10 min after the last unplug (1.9 h: 34 s at 200×)
#: instead of idling to 4.8 h
SEED = 7
WORKLOAD = ("--piles", "2", "--days", "0.2", "--sessions-per-pile-day", "24")
WORKLOAD += ("--seed", str(SEED), "--drain-minutes", "10")


#: the platform's liveness rule, relaxed: three heartbeat periods are 150 ms of real time
#: at 200×, about a stall of a loaded 2-core machine; twenty are 1 s. The workload
#: has no outage, so the virtual run (default rule) never tells the difference.
RULES = "[rules]\nmissed_heartbeats_offline = 20\n"


class Backend:
    """``simrig platform serve`` with its clock at :data:`EPOCH` at :attr:`start_monotonic`,
    configured with :data:`RULES` and ``config`` (a ``platform.toml`` text)."""

    def __init__(self, tmp: Path, config: str = "") -> None:
        self.start_monotonic = time.monotonic() + STARTUP_S + LEAD_S
        tmp.mkdir(parents=True, exist_ok=True)
        toml = tmp / "platform.toml"
        toml.write_text(RULES + config)
        args = ["--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--db", str(tmp / "p.sqlite")]
        args += ["--config", str(toml)]
        args += ["--epoch", EPOCH.isoformat(), "--speed", repr(SPEED), "--api-token", TOKEN]
        args += ["--start-monotonic", repr(self.start_monotonic)]
        self.process: PlatformProcess = start_platform(args)
        self.api = f"http://127.0.0.1:{self.process.http_port}"
        self.url = f"tcp://127.0.0.1:{self.process.port}"

    def get(self, path: str) -> list[dict[str, object]]:
        rows: list[dict[str, object]] = httpx.get(
            self.api + path, timeout=5, headers=self.process.api_headers
        ).json()
        return rows

    def rig_options(self) -> list[str]:
        """The options that point a ``simrig`` run at this backend, clocks aligned."""
        return [
            *("--backend", self.url, "--speed", repr(SPEED)),
            *("--backend-epoch", EPOCH.isoformat()),
            *("--start-monotonic", repr(self.start_monotonic)),
        ]

    def control_options(self, monkeypatch: pytest.MonkeyPatch) -> list[str]:
        """The HTTP template of the reference platform, and its HTTP view."""
        monkeypatch.setenv("SIMRIG_API", self.api)
        monkeypatch.setenv("SIMRIG_API_TOKEN", TOKEN)
        return [
            *("--backend-control", str(TEMPLATE)),
            *("--view", "simrig.adapters.http_view:make_view", "--view-arg", self.api),
        ]
