"""The rig's own lateness is never the backend's fault (honest verdicts): a real-time run
against the reference platform in its own process (``embedded-tcp``), at 100x, whose
event loop stalls for 1.5 s mid-charge (150 s of scenario time without a frame — what a
loaded CI machine did to three tests here). The platform rightly calls the pile offline;
the session is "not judged" with the rig's lateness said, never code 9 or a false notice."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

import simrig.sim.runner as runner
from simrig.adapters.realtime import RealtimeDriver
from simrig.oracle.judge import SessionVerdict
from simrig.scenarios import load_scenario
from simrig.sim.lateness import Lateness
from simrig.sim.results import RunResult

SCENARIO = Path(__file__).with_name("short_card_session.toml")
STALL_S = 1.5
SPEED = 100.0


def test_a_stalled_rig_is_not_judged_instead_of_blaming_the_backend(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fire = RealtimeDriver._fire
    stalled: list[float] = []

    def stall_once_mid_charge(driver: RealtimeDriver, pile_no: str) -> None:
        if not stalled and driver.now() > 300.0:  # charging since ~80 s
            stalled.append(driver.now())
            time.sleep(STALL_S)  # the rig's process gets no CPU, as under load
        fire(driver, pile_no)

    seen: list[list[SessionVerdict]] = []
    judge_lateness = runner.judge_rig_lateness

    def spy(result: RunResult, lateness: Lateness, speed: float, links: Any) -> None:
        seen.append(list(result.verdicts))
        judge_lateness(result, lateness, speed, links)

    monkeypatch.setattr(RealtimeDriver, "_fire", stall_once_mid_charge)
    monkeypatch.setattr(runner, "judge_rig_lateness", spy)
    result = runner.run_scenario(load_scenario(SCENARIO), backend="embedded-tcp", speed=SPEED)

    assert stalled, "the run never reached the stall"
    [before] = seen
    # the backend saw 150 s of silence and acted on it: the oracle alone would blame it
    assert before[0].codes or before[0].false_notifications
    [verdict] = result.verdicts
    assert not verdict.judged and verdict.codes == frozenset()
    assert verdict.false_notifications == ()
    assert "the rig ran late, up to 15" in verdict.not_judged  # ≈ 150 s of scenario time
    [line] = result.rig_late
    assert line.startswith("55031412782305: the rig ran late") and "ms real at 100x" in line
    [expectation] = result.expectations
    assert not expectation.passed and expectation.actual.startswith("not judged (")


def test_an_unstalled_run_of_the_same_scenario_is_judged_and_clean() -> None:
    result = runner.run_scenario(load_scenario(SCENARIO), backend="embedded-tcp", speed=SPEED)
    assert result.rig_late == []
    assert [v.codes for v in result.verdicts] == [frozenset()]
    assert result.passed
