"""``simrig compare --backend tcp://…``: the firmware A/B against the reference platform
started as its own process; both profiles side by side in one real-time run, each on its
own pile numbers, provisioned through the HTTP template (issue 11 item 7)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from simrig.cli import app
from simrig.cli.workload import PILE_NO_STRIDE
from simrig.exit_codes import ExitCode

from .backend_process import EPOCH, WORKLOAD

pytestmark = pytest.mark.realtime

runner = CliRunner()
A, B = "sinexcel-dc@2090104", "sinexcel-dc@2090404"
FIRST = 32010200000001


#: compare's fleet gives each pile its own stream (issue 14): seed 20 gives an app session
#: on one pile and a card session on the other, as :data:`WORKLOAD`'s seed did for the
#: station workload (the last --seed wins)
FLEET_SEED = ("--seed", "20")


def _compare(*options: str, out: Path) -> object:
    args = ["compare", "--profile", A, "--profile", B, *WORKLOAD, *FLEET_SEED, *options]
    args += ["--out", str(out)]
    return runner.invoke(app, args)


def _by_profile(out: Path) -> dict[str, list[tuple[object, ...]]]:
    """Per profile: (pile index within the profile, gun, plug-in, codes, false notices,
    per order whether the platform billed it)."""
    found: dict[str, list[tuple[object, ...]]] = {}
    for run in json.loads((out / "results.json").read_text())["runs"]:
        for s in run["sessions"]:
            pile, gun, index = s["key"].split(":")
            offset = (int(pile) - FIRST) % PILE_NO_STRIDE
            billed = [o["platform_bill"] is not None for o in s["orders"]]
            row = (offset, gun, index, s["codes"], s["false_notifications"], billed)
            found.setdefault(s["profile"], []).append(row)
    return found


def test_compare_over_tcp_runs_both_profiles_side_by_side_with_the_virtual_verdicts(
    tmp_path, backend, monkeypatch
):
    virtual = _compare("--backend-epoch", EPOCH.isoformat(), out=tmp_path / "virtual")
    assert virtual.exit_code == 0, virtual.output
    server = backend()
    result = _compare(
        *server.rig_options(), *server.control_options(monkeypatch), out=tmp_path / "tcp"
    )
    assert result.exit_code == ExitCode.PASS, result.output
    assert A in result.output and B in result.output
    assert (tmp_path / "tcp" / "compare.png").read_bytes()[:4] == b"\x89PNG"
    [run] = json.loads((tmp_path / "tcp" / "results.json").read_text())["runs"]
    piles = {
        str(FIRST): A,
        str(FIRST + 1): A,
        str(FIRST + PILE_NO_STRIDE): B,
        str(FIRST + PILE_NO_STRIDE + 1): B,
    }
    assert run["profiles"] == piles
    assert {p["pile_no"] for p in server.get("/piles")} == set(piles)  # provisioned, apart
    tcp, expected = _by_profile(tmp_path / "tcp"), _by_profile(tmp_path / "virtual")
    assert tcp == expected
    # the A/B finding holds against the real backend: 2090104 loses the app session's
    # bill (code 1), 2090404 bills both; each profile's users are its own, so both
    # profiles' sessions start at once (one account with two open orders is refused)
    assert sorted(row[3:] for row in tcp[A]) == [([], [], [True]), ([1], [], [False])]
    assert [row[3:] for row in tcp[B]] == [([], [], [True])] * 2
    sessions = server.get("/sessions")
    assert sorted((piles[str(s["pile_no"])], s["source"]) for s in sessions) == [
        (A, "app"), (A, "card"), (B, "app"), (B, "card"),
    ]  # fmt: skip
    billed = sorted((piles[str(s["pile_no"])], s["source"]) for s in sessions if s["bill_serial"])
    assert billed == [(A, "card"), (B, "app"), (B, "card")]
    assert "bill lost" in result.output


def test_compare_over_tcp_refuses_app_sessions_without_a_control(tmp_path):
    result = _compare(
        *("--backend", "tcp://127.0.0.1:1", "--backend-epoch", EPOCH.isoformat()),
        out=tmp_path,
    )
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "--backend-control" in result.output and "--app-share 0" in result.output
    assert not (tmp_path / "results.json").exists()


def test_compare_over_tcp_against_a_dead_backend_exits_3(tmp_path):
    result = _compare(
        *("--backend", "tcp://127.0.0.1:1", "--backend-epoch", EPOCH.isoformat()),
        *("--app-share", "0", "--speed", "60"),
        out=tmp_path,
    )
    assert result.exit_code == ExitCode.BACKEND_UNAVAILABLE, result.output
    assert "never connected: connection refused" in result.output
