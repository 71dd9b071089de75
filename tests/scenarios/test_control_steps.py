"""Scenario steps for the backend control: app start targets and balance changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from simrig.scenarios import ScenarioError, load_scenario, parse_scenario
from simrig.sim.world import required_operations

APP = Path(__file__).parent.parent / "control" / "app_balance.simrig.toml"
TEXT = APP.read_text()


def test_targets_and_balance_steps_load():
    scenario = load_scenario(APP)
    steps = {(s.do, s.at): s for s in scenario.timeline}
    start = steps["app_start", 240.0]
    assert start.energy_target_kwh == 5.0 and start.amount_target_yuan is None
    top_up = steps["top_up", 180.0]
    assert top_up.user == "bob" and top_up.yuan == 50.0
    assert top_up.pile == "55031412782399"  # a balance step rides on the first pile
    assert required_operations(scenario) == ["set_balance", "app_start", "top_up"]


def test_every_target_reaches_the_step():
    text = TEXT.replace("energy_target_kwh = 5", "amount_target_yuan = 8.5\ntime_target_min = 20")
    start = [s for s in parse_scenario(text).timeline if s.do == "app_start"][-1]
    assert (start.amount_target_yuan, start.time_target_min) == (8.5, 20)


def _line(text: str, needle: str) -> int:
    lines = text.splitlines()
    found = lines.index(needle)
    return found if needle.startswith("at =") else found + 1  # at: its [[timeline]] header


@pytest.mark.parametrize(
    ("old", "new", "needle", "message"),
    [
        (
            "yuan = 50",
            "yuan = -5",
            "yuan = -5",
            "timeline[3].yuan: top_up needs a positive amount",
        ),
        # a missing field: the line of its step's table
        ("yuan = 50", "", 'at = "10:03:00"', "timeline[3].yuan: top_up needs an amount in yuan"),
        (
            'do = "top_up"\nuser = "bob"',
            'do = "top_up"\nuser = "eve"',
            'user = "eve"',
            "timeline[3].user: top_up needs a user from [[users]]",
        ),
        (
            "energy_target_kwh = 5",
            "energy_target_kwh = 0",
            "energy_target_kwh = 0",
            "timeline[4].energy_target_kwh: Input should be greater than 0",
        ),
        (
            'vehicle = "car"\n\n[[timeline]]\nat = "10:01:30"',
            'vehicle = "car"\ntime_target_min = 5\n\n[[timeline]]\nat = "10:01:30"',
            "time_target_min = 5",
            "timeline[0].time_target_min: only app_start takes a target",
        ),
    ],
)
def test_step_errors_are_one_line_naming_file_line_and_field(old, new, needle, message):
    assert old in TEXT
    text = TEXT.replace(old, new, 1)
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, source="s.toml")
    error = str(info.value)
    assert "\n" not in error
    assert error == f"s.toml:{_line(text, needle)}: {message}", error
