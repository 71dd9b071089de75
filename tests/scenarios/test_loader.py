"""Scenario files: times resolve, references are checked, errors name file, line and field."""

from pathlib import Path

import pytest

from simrig.scenarios import (
    ScenarioError,
    library_names,
    load_scenario,
    parse_at,
    parse_duration,
    parse_scenario,
)
from simrig.scenarios.loader import library_path

BASE = library_path("basic_card_session").read_text()


def test_library_scenarios_all_load():
    names = library_names()
    assert "basic_card_session" in names
    for name in names:
        scenario = load_scenario(name)
        assert scenario.meta.name
        assert [s.at for s in scenario.timeline] == sorted(s.at for s in scenario.timeline)


def test_times_resolve_against_the_epoch_and_previous_step():
    scenario = load_scenario("basic_card_session")
    assert [s.at for s in scenario.timeline] == [60.0, 90.0, 1290.0, 1470.0]


def test_case_id_names_resolve_to_files():
    assert load_scenario("basic_card_session").meta.name == "basic_card_session"


@pytest.mark.parametrize(
    ("value", "seconds"), [("90s", 90), ("5m", 300), ("2h", 7200), ("1.5d", 129600), (12, 12)]
)
def test_durations(value, seconds):
    assert parse_duration(value) == seconds


def test_day_prefix_and_relative_times():
    from datetime import datetime

    epoch = datetime(2019, 10, 29, 12, 0)
    assert parse_at("d2 01:00", epoch, 0) == 13 * 3600
    assert parse_at("+10m", epoch, 50) == 650


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ('at = "+20m"', 'at = "+20x"'),
            r"x\.toml:\d+: timeline\[2\]\.at: '20x' is not a duration",
        ),
        (("seed = 1", 'seed = "x"'), r"x\.toml:6: meta\.seed: Input should be a valid integer"),
        (
            ('profile = "generic-dc@1.0"', 'profile = "generic-dc@1.0"\nbogus = 1'),
            r"x\.toml:\d+: piles\[0\]\.bogus: Extra inputs are not permitted",
        ),
        (('do = "unplug"', 'do = "explode"'), r"timeline\[3\]\.do: Input should be"),
        (
            ('vehicle = "car"\n', 'vehicle = "bus"\n'),
            r"timeline\[0\]\.vehicle: plug needs a vehicle",
        ),
        (("[meta]", "[meta"), r"x\.toml: TOML syntax"),
    ],
)
def test_bad_input_is_one_line_naming_file_line_field(change, expected):
    text = BASE.replace(*change, 1)
    assert text != BASE
    with pytest.raises(ScenarioError, match=expected) as info:
        parse_scenario(text, source="x.toml")
    assert "\n" not in str(info.value)


def test_error_line_points_at_the_field():
    text = BASE.replace('at = "+20m"', 'at = "+20x"')
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, source="x.toml")
    line = int(str(info.value).split(":")[1])
    assert text.splitlines()[line - 1].strip() == 'at = "+20x"'


def test_unknown_name_lists_the_library(tmp_path: Path):
    with pytest.raises(ScenarioError, match="no such scenario"):
        load_scenario("no_such_case")
