"""Scenario limits (issue 15 item 8): every number bounded, inf/nan refused, nesting
bounded, each a one-line ``file:line: field: reason``; ``--out`` naming a file is bad
input (exit 2) before the run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from simrig.cli import app
from simrig.exit_codes import ExitCode
from simrig.scenarios import ScenarioError, parse_scenario
from simrig.scenarios.loader import library_path

BASE = library_path("basic_card_session").read_text()


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("capacity_kwh = 60", "capacity_kwh = 1e308", r":\d+: vehicles\[0\]\.capacity_kwh: "),
        ("capacity_kwh = 60", "capacity_kwh = nan", r":\d+: vehicles\[0\]\.capacity_kwh: "),
        ("max_power_kw = 60", "max_power_kw = inf", r":\d+: vehicles\[0\]\.max_power_kw: "),
        ('duration = "1h"', "duration = inf", r":\d+: meta\.duration: .*finite"),
        ('duration = "1h"', "duration = nan", r":\d+: meta\.duration: .*finite"),
        ('duration = "1h"', 'duration = "36500d"', r":\d+: meta\.duration: .*ten years"),
        (
            'epoch = 2019-10-29T10:00:00\nduration = "1h"',
            'epoch = 2095-10-29T10:00:00\nduration = "3000d"',
            r": meta: .*duration: .*2099",
        ),
        ('duration = "1h"', 'duration = "-5m"', r"meta\.duration: "),
        ('at = "+30s"', "at = inf", r":\d+: timeline\[1\]\.at: .*finite"),
        ("balance = 100.0", "balance = 1e300", r":\d+: users\[0\]\.balance: "),
        ("seed = 1", "seed = -1", r":6: meta\.seed: "),
        ("handshake_s = 20", "handshake_s = 1e9", r":\d+: vehicles\[0\]\.handshake_s: "),
    ],
)
def test_out_of_range_numbers_are_one_line_errors(old: str, new: str, expected: str) -> None:
    assert old in BASE
    with pytest.raises(ScenarioError) as info:
        parse_scenario(BASE.replace(old, new, 1), source="x.toml")
    message = str(info.value)
    assert "\n" not in message and message.startswith("x.toml")
    assert re.search(expected, message), message


def test_deep_nesting_is_a_one_line_error_not_a_recursion_error() -> None:
    for depth in (40, 100_000):
        text = BASE + "\n[platform]\nx = " + "[" * depth + "]" * depth + "\n"
        with pytest.raises(ScenarioError) as info:
            parse_scenario(text, source="deep.toml")
        assert str(info.value).startswith("deep.toml") and "\n" not in str(info.value)


def test_out_naming_a_file_exits_2_before_the_run(tmp_path: Path) -> None:
    taken = tmp_path / "report.txt"
    taken.write_text("keep me")
    result = CliRunner().invoke(app, ["run", "basic_card_session", "--out", str(taken)])
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    assert "is a file" in result.output and taken.read_text() == "keep me"
    inside = CliRunner().invoke(app, ["run", "basic_card_session", "--out", str(taken / "sub")])
    assert inside.exit_code == ExitCode.BAD_INPUT
