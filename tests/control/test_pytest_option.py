"""``--simrig-backend-control``: scenarios with app steps run on a tcp:// backend."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from simrig.adapters.platform_process import start_platform
from simrig.pytest_plugin import skip_reason
from simrig.scenarios import load_scenario
from simrig.scenarios.loader import library_path

pytestmark = pytest.mark.realtime

pytest_plugins = ["pytester"]
TEMPLATE = Path(__file__).with_name("reference_platform.toml")


class Config:
    def __init__(self, **options: object) -> None:
        self.options = {f"--simrig-{k.replace('_', '-')}": v for k, v in options.items()}

    def getoption(self, name: str) -> object:
        return self.options.get(name)


def test_skip_reasons_name_the_missing_option():
    app = load_scenario("zshy_case#23")  # app steps; judged from records by default
    rules = load_scenario("igo_case#30")  # app steps and [platform] rules
    tcp = {"backend": "tcp://127.0.0.1:1"}
    assert skip_reason(app, Config(backend="embedded")) is None
    assert skip_reason(app, Config(**tcp)) == (
        "zshy_case#23 needs a backend control for app_start, app_stop (--simrig-backend-control)"
    )
    assert "for app_start, app_stop, set_rules" in str(skip_reason(rules, Config(**tcp)))
    assert skip_reason(app, Config(**tcp, backend_control="c.toml")) == (
        "zshy_case#23 needs the backend's records to judge (--simrig-view)"
    )
    assert skip_reason(app, Config(**tcp, backend_control="c.toml", view="m:v")) is None
    assert skip_reason(load_scenario("basic_card_session"), Config(**tcp)) is None


def test_scenario_file_with_app_steps_runs_on_tcp_with_a_control(pytester, tmp_path, monkeypatch):
    """A separate platform process, provisioned through the template; the scenario file
    is judged from frames. The plugin cannot align the run's clock with an already
    running backend, so the platform does not set the piles' clocks (time sync off):
    the verdict then does not depend on when the run starts."""
    scenario = load_scenario("zshy_case#23")
    config = tmp_path / "platform.toml"
    config.write_text("[rules]\ntime_sync_after_login = false\ntime_sync_interval_s = 0\n")
    server = start_platform(
        [
            *("--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"),
            *("--db", str(tmp_path / "p.sqlite"), "--config", str(config)),
            *("--epoch", scenario.meta.epoch.isoformat(), "--speed", "200"),
            *("--api-token", "tok"),
        ]
    )
    try:
        api = f"http://127.0.0.1:{server.http_port}"
        monkeypatch.setenv("SIMRIG_API", api)
        monkeypatch.setenv("SIMRIG_API_TOKEN", "tok")
        pytester.makefile(".simrig.toml", zshy=library_path("zshy_case#23").read_text())
        result = pytester.runpytest_subprocess(
            *("-p", "no:cacheprovider", "--simrig-speed", "200"),
            *("--simrig-backend", f"tcp://127.0.0.1:{server.port}"),
            *("--simrig-backend-control", str(TEMPLATE)),
        )
        result.assert_outcomes(passed=1)
        sessions = httpx.get(f"{api}/sessions", timeout=5, headers=server.api_headers).json()
        assert [(s["pile_no"], s["source"]) for s in sessions] == [("44030400030023", "app")]
    finally:
        server.stop()
