"""The reference platform as its own process for the load tests, provisioned with the
load plan's site (``simrig load --site-toml``), at the run's speed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from simrig.adapters.platform_process import PlatformProcess, start_platform
from simrig.cli import app

runner = CliRunner()


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Callable[..., PlatformProcess]]:
    """``platform(piles, speed, *plan_options, token="")`` starts ``simrig platform serve``
    with the site of that load plan (its HTTP API on, behind ``token``, if one is given);
    every one started is stopped after the test."""
    started: list[PlatformProcess] = []

    def start(piles: int, speed: float, *site_options: str, token: str = "") -> PlatformProcess:
        folder = tmp_path / f"platform{len(started)}"
        folder.mkdir()
        site = folder / "site.toml"
        made = runner.invoke(
            app, ["load", "--piles", str(piles), *site_options, "--site-toml", str(site)]
        )
        assert made.exit_code == 0, made.output
        http = ["--http", "127.0.0.1:0", "--api-token", token] if token else ["--http", "off"]
        args = ["--listen", "127.0.0.1:0", *http, "--db", str(folder / "p.sqlite")]
        args += ["--config", str(site), "--speed", repr(speed)]
        started.append(start_platform(args))
        return started[-1]

    yield start
    for server in started:
        server.stop()
